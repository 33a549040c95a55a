"""The référentiel: programmes, their public commitments and the indicators that prove them."""

from datetime import date
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.utils import formats
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from qualicite.core.choices import Channel, DayKind
from qualicite.core.events import register_event_model
from qualicite.core.models import EventBase, OrganisationScoped, Service

# A revision in force "since always": the definition an indicator was created with.
EARLIEST = date(1900, 1, 1)


def validate_channels(channels) -> None:
    """Raise when `channels` is not a list of known channel codes."""
    if not isinstance(channels, list):
        raise ValidationError(_("Channels must be a list of channel codes."))
    unknown = sorted({str(c) for c in channels} - set(Channel.values))
    if unknown:
        raise ValidationError(
            _("Unknown channel: %(codes)s. Known channels: %(known)s."),
            params={"codes": ", ".join(unknown), "known": ", ".join(Channel.values)},
        )


def ordered_channels(channels) -> list[str]:
    """Channels without duplicates, in the order of the Channel choices (stable exports).

    Unknown codes are kept, at the end, for validation to report them.
    """
    chosen = list(dict.fromkeys(channels or []))
    known = [code for code in Channel.values if code in chosen]
    return known + [code for code in chosen if code not in Channel.values]


def channel_labels(channels) -> list[str]:
    labels = dict(Channel.choices)
    return [str(labels[c]) for c in channels or [] if c in labels]


class ProgrammeKind(models.TextChoices):
    QUALIVILLES = "qualivilles", _("Qualivilles-style (AFNOR)")
    QUALIPARIS = "qualiparis", _("QualiPARIS")
    SERVICES_PUBLICS_PLUS = "services_publics_plus", _("Services Publics+")
    CUSTOM = "custom", _("Own référentiel")


class Programme(OrganisationScoped):
    key = models.SlugField(
        _("key"), max_length=60, help_text=_("Short identifier used in exports, e.g. qualivilles.")
    )
    kind = models.CharField(_("kind"), max_length=30, choices=ProgrammeKind.choices)
    name = models.CharField(_("name"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    template = models.CharField(
        _("adopted from template"), max_length=60, blank=True, editable=False
    )
    position = models.PositiveIntegerField(_("position"), default=0)

    class Meta:
        ordering = ["position", "name"]
        verbose_name = _("programme")
        verbose_name_plural = _("programmes")
        constraints = [
            models.UniqueConstraint(fields=["organisation", "key"], name="programme_key_unique")
        ]

    def __str__(self):
        return self.name


class Commitment(OrganisationScoped):
    """A public promise, e.g. “we answer written requests within 15 working days”."""

    programme = models.ForeignKey(
        Programme,
        on_delete=models.CASCADE,
        related_name="commitments",
        verbose_name=_("programme"),
    )
    number = models.CharField(_("number"), max_length=12)
    position = models.PositiveIntegerField(_("position"), default=0)
    group = models.CharField(_("group"), max_length=200, blank=True)
    title = models.CharField(_("title"), max_length=300)
    public_text = models.TextField(_("public text"), blank=True)
    services = models.ManyToManyField(
        Service,
        blank=True,
        related_name="commitments",
        verbose_name=_("services in scope"),
        help_text=_("Leave empty when the commitment covers every service in scope."),
    )
    channels = models.JSONField(
        _("channels concerned"),
        default=list,
        blank=True,
        help_text=_("Empty means every channel."),
    )
    is_published = models.BooleanField(_("shown to the public"), default=True)

    class Meta:
        ordering = ["programme", "position", "id"]
        verbose_name = _("commitment")
        verbose_name_plural = _("commitments")
        constraints = [
            models.UniqueConstraint(fields=["programme", "number"], name="commitment_number_unique")
        ]

    def __str__(self):
        return f"{self.number}. {self.title}"

    def clean(self):
        super().clean()
        try:
            validate_channels(self.channels)
        except ValidationError as error:
            raise ValidationError({"channels": error.messages}) from None

    def get_channels_display(self) -> list[str]:
        return channel_labels(self.channels)

    @property
    def public_targets(self) -> list:
        """The indicators with a target, as the public pages show them."""
        return [
            indicator
            for indicator in self.indicators.all()
            if indicator.direction != Direction.WATCH and indicator.target is not None
        ]


class Unit(models.TextChoices):
    PERCENT = "percent", _("percentage")
    DAYS = "days", _("days")
    SECONDS = "seconds", _("seconds")
    MINUTES = "minutes", _("minutes")
    COUNT = "count", _("count")
    SCORE = "score", _("score")


class SourceKind(models.TextChoices):
    COMPUTED = "computed", _("Computed from a data source")
    MANUAL = "manual", _("Entered by hand")


class Direction(models.TextChoices):
    HIGHER_IS_BETTER = "higher", _("Higher is better")
    LOWER_IS_BETTER = "lower", _("Lower is better")
    WATCH = "watch", _("Watched, no target")


class Period(models.TextChoices):
    DAY = "day", _("Day")
    WEEK = "week", _("Week")
    MONTH = "month", _("Month")
    QUARTER = "quarter", _("Quarter")
    YEAR = "year", _("Year")


UNIT_SYMBOLS = {
    Unit.PERCENT: _("%(value)s %%"),
    Unit.DAYS: _("%(value)s days"),
    Unit.SECONDS: _("%(value)s s"),
    Unit.MINUTES: _("%(value)s min"),
    Unit.COUNT: _("%(value)s"),
    Unit.SCORE: _("%(value)s points"),
}


DAY_KIND_WORDS = {
    DayKind.WORKING: _("working days"),
    DayKind.BUSINESS: _("business days"),
    DayKind.CALENDAR: _("calendar days"),
}


def plain_number(value: Decimal | None) -> str:
    """90.00 → "90", 92.50 → "92.5": what people write, without trailing zeros."""
    if value is None:
        return ""
    value = Decimal(value)
    if value == value.to_integral_value():
        return str(value.quantize(Decimal(1)))
    return format(value.normalize(), "f")


def target_errors(unit, direction, target, warning_threshold) -> dict[str, str]:
    """What is wrong with a target and its warning threshold, by field (shared with overrides)."""
    errors = {}
    for field, value in (("target", target), ("warning_threshold", warning_threshold)):
        if value is None:
            continue
        if value < 0:
            errors[field] = _("This value cannot be negative.")
        elif unit == Unit.PERCENT and value > 100:
            errors[field] = _("A percentage lies between 0 and 100.")
    if target is not None and warning_threshold is not None and not errors:
        if direction == Direction.HIGHER_IS_BETTER and warning_threshold > target:
            errors["warning_threshold"] = _(
                "When higher is better, the warning threshold lies below the target."
            )
        if direction == Direction.LOWER_IS_BETTER and warning_threshold < target:
            errors["warning_threshold"] = _(
                "When lower is better, the warning threshold lies above the target."
            )
    return errors


class Indicator(OrganisationScoped):
    commitment = models.ForeignKey(
        Commitment,
        on_delete=models.CASCADE,
        related_name="indicators",
        verbose_name=_("commitment"),
    )
    code = models.SlugField(
        _("code"),
        max_length=60,
        help_text=_("Unique in the organisation, e.g. qv-phone-answer-rate. Used in exports."),
    )
    name = models.CharField(_("name"), max_length=300)
    unit = models.CharField(_("unit"), max_length=10, choices=Unit.choices, default=Unit.PERCENT)
    source_kind = models.CharField(
        _("obtained"), max_length=10, choices=SourceKind.choices, default=SourceKind.COMPUTED
    )
    source = models.CharField(
        _("data source"),
        max_length=80,
        blank=True,
        help_text=_("Name of the data source that computes it, e.g. requests.answered_in_time."),
    )
    direction = models.CharField(
        _("direction"), max_length=10, choices=Direction.choices, default=Direction.HIGHER_IS_BETTER
    )
    target = models.DecimalField(
        _("target"), max_digits=10, decimal_places=2, null=True, blank=True
    )
    warning_threshold = models.DecimalField(
        _("warning threshold"),
        max_digits=10,
        decimal_places=2,
        null=True,
        blank=True,
        help_text=_("Between the threshold and the target the result is shown as a warning."),
    )
    period = models.CharField(
        _("period"), max_length=10, choices=Period.choices, default=Period.MONTH
    )
    channels = models.JSONField(
        _("channels measured"),
        default=list,
        blank=True,
        help_text=_("Empty means the channels of the commitment."),
    )
    day_kind = models.CharField(
        _("days counted"), max_length=10, choices=DayKind.choices, default=DayKind.WORKING
    )
    delay_days = models.PositiveIntegerField(
        _("delay in days"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text=_(
            "The announced delay the indicator measures against, e.g. 15 for letters. "
            "Empty means each request's own due date."
        ),
    )
    threshold_seconds = models.PositiveIntegerField(
        _("threshold in seconds"),
        null=True,
        blank=True,
        help_text=_("For waiting-time indicators, e.g. 25 seconds to pick up the phone."),
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("responsible person"),
        help_text=_(
            "Receives the alerts and enters the values entered by hand. Empty: the heads of the "
            "services concerned, else the quality managers."
        ),
    )
    results_published = models.BooleanField(
        _("result published"),
        default=False,
        help_text=_("Shown with its latest result on the public results page and poster."),
    )
    position = models.PositiveIntegerField(_("position"), default=0)

    class Meta:
        ordering = ["commitment", "position", "id"]
        verbose_name = _("indicator")
        verbose_name_plural = _("indicators")
        constraints = [
            models.UniqueConstraint(fields=["organisation", "code"], name="indicator_code_unique")
        ]

    def __str__(self):
        return self.name

    def clean(self):
        super().clean()
        errors = {}
        if self.source_kind == SourceKind.COMPUTED and not self.source:
            errors["source"] = _("A computed indicator needs a data source.")
        if self.direction != Direction.WATCH and self.target is None:
            errors["target"] = _("An indicator with a direction needs a target.")
        errors.update(
            (field, message)
            for field, message in target_errors(
                self.unit, self.direction, self.target, self.warning_threshold
            ).items()
            if field not in errors
        )
        try:
            validate_channels(self.channels)
        except ValidationError as error:
            errors["channels"] = error.messages
        else:
            commitment = (
                self.commitment if self.commitment_id or _cached(self, "commitment") else None
            )
            if commitment is not None and commitment.channels:
                outside = [c for c in self.channels if c not in commitment.channels]
                if outside:
                    errors["channels"] = _(
                        "These channels are not concerned by the commitment: %(codes)s."
                    ) % {"codes": ", ".join(outside)}
        if errors:
            raise ValidationError(errors)

    def get_channels_display(self) -> list[str]:
        return channel_labels(self.channels)

    def format_value(self, value) -> str:
        if value is None:
            return ""
        # Localised digits (92,5 in French), without trailing zeros.
        shown = formats.number_format(Decimal(plain_number(value)), use_l10n=True)
        if self.unit == Unit.DAYS:
            return ngettext("%(value)s day", "%(value)s days", int(value)) % {"value": shown}
        return str(UNIT_SYMBOLS.get(self.unit, "%(value)s")) % {"value": shown}

    def target_text(self, target=None) -> str:
        """“≥ 90 %”, “≤ 10 %”, or “watched” — the sign carries the meaning, not a colour."""
        target = self.target if target is None else target
        if self.direction == Direction.WATCH or target is None:
            return str(_("watched, no target"))
        sign = "≥" if self.direction == Direction.HIGHER_IS_BETTER else "≤"
        return f"{sign} {self.format_value(target)}"

    @property
    def target_display(self) -> str:
        return self.target_text()

    @property
    def warning_display(self) -> str:
        return self.format_value(self.warning_threshold)

    @property
    def delay_display(self) -> str:
        if self.delay_days is None:
            return ""
        return _("%(days)s %(kind)s") % {
            "days": self.delay_days,
            "kind": str(DAY_KIND_WORDS.get(self.day_kind, self.get_day_kind_display())),
        }

    @property
    def source_display(self) -> str:
        if self.source_kind == SourceKind.MANUAL:
            return str(_("entered by hand"))
        return _("computed from %(source)s") % {"source": self.source}

    def revision_rows(self) -> list[dict]:
        """The targets in force over time, formatted for the référentiel page."""
        return [
            {
                "since": None if revision.effective_from == EARLIEST else revision.effective_from,
                "target": self.target_text(revision.target),
                "warning": self.format_value(revision.warning_threshold),
                "delay_days": revision.delay_days,
                "service_targets": len(revision.service_targets),
            }
            for revision in sorted(self.revisions.all(), key=lambda r: r.effective_from)
        ]

    def target_for(self, service: Service | None):
        """(target, warning threshold) for a service, its own override when it has one."""
        if service is not None:
            for override in self.service_targets.all():
                if override.service_id == service.pk:
                    return override.target, override.warning_threshold
        return self.target, self.warning_threshold


def _cached(instance, field_name: str) -> bool:
    return instance._meta.get_field(field_name).is_cached(instance)


class ServiceTarget(OrganisationScoped):
    """A service's own target for an indicator, overriding the default."""

    indicator = models.ForeignKey(
        Indicator,
        on_delete=models.CASCADE,
        related_name="service_targets",
        verbose_name=_("indicator"),
    )
    service = models.ForeignKey(
        Service, on_delete=models.CASCADE, related_name="+", verbose_name=_("service")
    )
    target = models.DecimalField(_("target"), max_digits=10, decimal_places=2)
    warning_threshold = models.DecimalField(
        _("warning threshold"), max_digits=10, decimal_places=2, null=True, blank=True
    )

    class Meta:
        ordering = ["indicator", "service__name"]
        verbose_name = _("service target")
        verbose_name_plural = _("service targets")
        constraints = [
            models.UniqueConstraint(fields=["indicator", "service"], name="service_target_unique")
        ]

    def __str__(self):
        return f"{self.indicator} — {self.service}: {plain_number(self.target)}"

    @property
    def target_display(self) -> str:
        return self.indicator.target_text(self.target)

    @property
    def warning_display(self) -> str:
        return self.indicator.format_value(self.warning_threshold)

    def clean(self):
        super().clean()
        errors = {}
        if (
            self.service_id
            and self.organisation_id
            and self.service.organisation_id != self.organisation_id
        ):
            errors["service"] = _("This service belongs to another organisation.")
        indicator = self.indicator if self.indicator_id or _cached(self, "indicator") else None
        if indicator is not None:
            if indicator.direction == Direction.WATCH:
                errors["target"] = _("A watched indicator has no target to override.")
            else:
                errors.update(
                    target_errors(
                        indicator.unit, indicator.direction, self.target, self.warning_threshold
                    )
                )
        if errors:
            raise ValidationError(errors)


class IndicatorRevision(OrganisationScoped):
    """What an indicator promised from a date on: past periods keep the target in force then.

    Targets, warning thresholds, delays and thresholds in seconds are versioned; what the
    indicator counts (source, channels, services) applies to its whole history.
    """

    indicator = models.ForeignKey(
        Indicator, on_delete=models.CASCADE, related_name="revisions", verbose_name=_("indicator")
    )
    effective_from = models.DateField(_("in force from"))
    target = models.DecimalField(
        _("target"), max_digits=10, decimal_places=2, null=True, blank=True
    )
    warning_threshold = models.DecimalField(
        _("warning threshold"), max_digits=10, decimal_places=2, null=True, blank=True
    )
    delay_days = models.PositiveIntegerField(_("delay in days"), null=True, blank=True)
    threshold_seconds = models.PositiveIntegerField(
        _("threshold in seconds"), null=True, blank=True
    )
    # {"<service id>": ["<target>", "<warning threshold or null>"]}
    service_targets = models.JSONField(_("service targets"), default=dict, blank=True)

    class Meta:
        ordering = ["indicator", "effective_from"]
        verbose_name = _("indicator revision")
        verbose_name_plural = _("indicator revisions")
        constraints = [
            models.UniqueConstraint(
                fields=["indicator", "effective_from"], name="indicator_revision_unique"
            )
        ]

    def __str__(self):
        return f"{self.indicator} — {self.effective_from}"

    def target_for(self, service_id: int | None):
        """(target, warning threshold) in force for a service (its override when it has one)."""
        if service_id is not None:
            override = self.service_targets.get(str(service_id))
            if override is not None:
                target, warning = override
                return Decimal(target), (Decimal(warning) if warning is not None else None)
        return self.target, self.warning_threshold


@register_event_model
class CharterEvent(EventBase):
    """Changes to the référentiel: adoption, imports, edits of commitments and indicators."""

    class Meta(EventBase.Meta):
        verbose_name = _("référentiel event")
        verbose_name_plural = _("référentiel events")
        indexes = [models.Index(fields=["organisation", "-at"], name="charter_event_org_at")]
