"""Organisations, their services and sites, and who may do what in them."""

import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from qualicite.core.branding import validate_logo, validate_primary_colour
from qualicite.core.choices import HolidayRegion
from qualicite.core.events import register_event_model

# Top-level paths the application itself uses: an organisation may not take them.
RESERVED_SLUGS = frozenset(
    {
        "admin",
        "api",
        "compte",
        "connexion",
        "deconnexion",
        "healthz",
        "i18n",
        "media",
        "mot-de-passe",
        "open311",
        "static",
    }
)


def validate_slug_not_reserved(value: str) -> None:
    if value in RESERVED_SLUGS:
        raise ValidationError(
            _("“%(slug)s” is used by the application itself."), params={"slug": value}
        )


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(_("“%(zone)s” is not a known time zone."), params={"zone": value})


insee_code_validator = RegexValidator(
    r"^(\d{5}|2[AB]\d{3})$", _("An INSEE code has 5 characters, for example 75056 or 2A004.")
)
hex_colour_help = _("Used behind white text: it must keep a contrast of at least 4.5:1.")


class Organisation(models.Model):
    name = models.CharField(_("name"), max_length=200)
    slug = models.SlugField(
        _("address name"),
        unique=True,
        max_length=60,
        validators=[validate_slug_not_reserved],
        help_text=_("Used in the public address: /<address name>/."),
    )
    insee_code = models.CharField(
        _("INSEE code"), max_length=5, blank=True, validators=[insee_code_validator]
    )
    time_zone = models.CharField(
        _("time zone"), max_length=64, default="Europe/Paris", validators=[validate_time_zone]
    )
    holiday_region = models.CharField(
        _("public holidays"),
        max_length=4,
        choices=HolidayRegion.choices,
        default=HolidayRegion.MAINLAND,
        blank=True,
    )
    logo = models.FileField(_("logo"), upload_to="logos/", blank=True, validators=[validate_logo])
    primary_colour = models.CharField(
        _("primary colour"),
        max_length=7,
        default="#1f4e8c",
        validators=[validate_primary_colour],
        help_text=hex_colour_help,
    )
    data_protection_contact = models.CharField(
        _("data protection contact"),
        max_length=300,
        blank=True,
        help_text=_(
            "Where citizens exercise their rights on personal data: the e-mail or postal "
            "address of the data protection officer. Shown on the public form."
        ),
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]
        verbose_name = _("organisation")
        verbose_name_plural = _("organisations")

    def __str__(self):
        return self.name

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)


class OrganisationScoped(models.Model):
    """Every domain row belongs to one organisation."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, verbose_name=_("organisation")
    )

    class Meta:
        abstract = True


class Service(OrganisationScoped):
    parent = models.ForeignKey(
        "self",
        # RESTRICT: a parent with sub-services cannot be deleted on its own, but the
        # whole organisation can (PROTECT would block that cascade too).
        on_delete=models.RESTRICT,
        null=True,
        blank=True,
        related_name="children",
        verbose_name=_("parent service"),
    )
    code = models.SlugField(_("code"), max_length=40)
    name = models.CharField(_("name"), max_length=200)
    email = models.EmailField(_("e-mail"), blank=True)
    in_scope = models.BooleanField(
        _("in the certified scope"),
        default=True,
        help_text=_("Whether the programme's certification or label covers this service."),
    )
    position = models.PositiveIntegerField(_("position"), default=0)

    class Meta:
        ordering = ["position", "name"]
        verbose_name = _("service")
        verbose_name_plural = _("services")
        constraints = [
            models.UniqueConstraint(fields=["organisation", "code"], name="service_code_unique")
        ]

    def __str__(self):
        return self.name

    def clean(self):
        super().clean()
        if self.parent_id is None:
            return
        if self.parent.organisation_id != self.organisation_id:
            raise ValidationError(
                {"parent": _("The parent service belongs to another organisation.")}
            )
        ancestor, seen = self.parent, set()
        while ancestor is not None:
            if ancestor.pk == self.pk or ancestor.pk in seen:
                raise ValidationError({"parent": _("A service cannot be nested inside itself.")})
            seen.add(ancestor.pk)
            ancestor = ancestor.parent


class Site(OrganisationScoped):
    """A place that receives the public, with weekly opening hours and closures."""

    code = models.SlugField(_("code"), max_length=40)
    name = models.CharField(_("name"), max_length=200)
    address = models.TextField(_("address"), blank=True)
    phone = models.CharField(_("phone"), max_length=30, blank=True)
    email = models.EmailField(_("e-mail"), blank=True)
    services = models.ManyToManyField(
        Service, blank=True, related_name="sites", verbose_name=_("services received here")
    )

    class Meta:
        ordering = ["name"]
        verbose_name = _("site")
        verbose_name_plural = _("sites")
        constraints = [
            models.UniqueConstraint(fields=["organisation", "code"], name="site_code_unique")
        ]

    def __str__(self):
        return self.name


class Weekday(models.IntegerChoices):
    # A context of their own: "Lundi" heads a row of opening hours, while dates in running
    # text keep Django's "lundi 19 novembre" (the same msgid would override it).
    MONDAY = 0, pgettext_lazy("weekday heading", "Monday")
    TUESDAY = 1, pgettext_lazy("weekday heading", "Tuesday")
    WEDNESDAY = 2, pgettext_lazy("weekday heading", "Wednesday")
    THURSDAY = 3, pgettext_lazy("weekday heading", "Thursday")
    FRIDAY = 4, pgettext_lazy("weekday heading", "Friday")
    SATURDAY = 5, pgettext_lazy("weekday heading", "Saturday")
    SUNDAY = 6, pgettext_lazy("weekday heading", "Sunday")


class OpeningHours(models.Model):
    """One opening span of a site on a weekday; a day may have several (morning, afternoon)."""

    site = models.ForeignKey(
        Site, on_delete=models.CASCADE, related_name="opening_hours", verbose_name=_("site")
    )
    weekday = models.PositiveSmallIntegerField(_("day"), choices=Weekday.choices)
    opens = models.TimeField(_("opens"))
    closes = models.TimeField(_("closes"))

    class Meta:
        ordering = ["weekday", "opens"]
        verbose_name = _("opening hours")
        verbose_name_plural = _("opening hours")

    def __str__(self):
        return f"{self.get_weekday_display()} {self.opens:%H:%M}–{self.closes:%H:%M}"

    def clean(self):
        super().clean()
        if self.opens is not None and self.closes is not None and self.closes <= self.opens:
            raise ValidationError(
                {"closes": _("The closing time must come after the opening time.")}
            )


class SiteClosure(models.Model):
    """Dated closure of a site (bridge day, works, staff training)."""

    site = models.ForeignKey(
        Site, on_delete=models.CASCADE, related_name="closures", verbose_name=_("site")
    )
    start_date = models.DateField(_("first closed day"))
    end_date = models.DateField(_("last closed day"))
    reason = models.CharField(_("reason"), max_length=200, blank=True)

    class Meta:
        ordering = ["start_date"]
        verbose_name = _("closure")
        verbose_name_plural = _("closures")

    def __str__(self):
        return f"{self.start_date:%d/%m/%Y}–{self.end_date:%d/%m/%Y} {self.reason}".strip()

    def clean(self):
        super().clean()
        if self.start_date and self.end_date and self.end_date < self.start_date:
            raise ValidationError(
                {"end_date": _("The last closed day cannot come before the first.")}
            )


class Role(models.TextChoices):
    AGENT = "agent", _("Agent")
    SERVICE_HEAD = "service_head", _("Service head")
    QUALITY_MANAGER = "quality_manager", _("Quality manager")
    AUDITOR = "auditor", _("Auditor")
    DIRECTION = "direction", _("Direction (read only)")
    ADMINISTRATOR = "administrator", _("Administrator")


class Membership(OrganisationScoped):
    """A user's role in one organisation, optionally restricted to some services."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="memberships",
        verbose_name=_("user"),
    )
    role = models.CharField(_("role"), max_length=20, choices=Role.choices)
    services = models.ManyToManyField(
        Service,
        blank=True,
        related_name="memberships",
        verbose_name=_("restricted to services"),
        help_text=_("Leave empty for the whole organisation; sub-services are included."),
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["organisation", "role"]
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [
            models.UniqueConstraint(fields=["user", "organisation"], name="one_membership_per_org")
        ]

    def __str__(self):
        return f"{self.user} — {self.get_role_display()} — {self.organisation}"


class EventBase(models.Model):
    """What every app's event log records (Zulip-style: one event per write).

    Names are frozen when the event is written so the history still reads right
    after the user, or the record the event is about, has been renamed or deleted.
    """

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="+", verbose_name=_("organisation")
    )
    at = models.DateTimeField(_("when"), default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("who"),
    )
    actor_name = models.CharField(_("who (as then)"), max_length=200)
    verb = models.CharField(_("what"), max_length=60)
    subject_kind = models.CharField(_("record kind"), max_length=60, blank=True)
    subject_id = models.CharField(_("record id"), max_length=40, blank=True)
    subject_name = models.CharField(_("record (as then)"), max_length=300, blank=True)
    details = models.JSONField(_("details"), default=dict, blank=True)

    class Meta:
        abstract = True
        ordering = ["-at", "-id"]

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_name} {self.verb} {self.subject_name}"


@register_event_model
class OrganisationEvent(EventBase):
    """Changes to an organisation's set-up: services, sites, memberships, branding."""

    class Meta(EventBase.Meta):
        verbose_name = _("organisation event")
        verbose_name_plural = _("organisation events")
        indexes = [models.Index(fields=["organisation", "-at"], name="core_event_org_at")]
