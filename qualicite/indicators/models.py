"""Measurements: daily roll-ups of every computed indicator, values entered by hand, alerts."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from qualicite.charter.models import Indicator
from qualicite.core.events import register_event_model
from qualicite.core.models import EventBase, OrganisationScoped, Service
from qualicite.core.storage import PrivateStorage


def one_per_service(*fields: str, name: str, unrouted_name: str) -> list:
    """One row per service and `fields`, and one row for "no service" (the organisation's).

    A plain unique constraint would let several rows with no service through, NULLs being
    distinct to SQL: each case gets its own partial constraint.
    """
    return [
        models.UniqueConstraint(
            fields=["indicator", "service", *fields], condition=Q(service__isnull=False), name=name
        ),
        models.UniqueConstraint(
            fields=["indicator", *fields], condition=Q(service__isnull=True), name=unrouted_name
        ),
    ]


class Rollup(OrganisationScoped):
    """One indicator's numerator and denominator for one service and one local day.

    `service` is empty for records that belong to no service yet (an unrouted request): they
    count in the organisation's figure only. `histogram` maps a measured value (whole days,
    seconds…) to how many records had it, so that a median or a 90th percentile over any
    period is computed exactly from the sum of the days' histograms.
    """

    indicator = models.ForeignKey(
        Indicator, on_delete=models.CASCADE, related_name="+", verbose_name=_("indicator")
    )
    service = models.ForeignKey(
        Service,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("service"),
    )
    day = models.DateField(_("day"))
    numerator = models.BigIntegerField(_("numerator"), default=0)
    denominator = models.BigIntegerField(_("denominator"), default=0)
    histogram = models.JSONField(_("distribution"), default=dict, blank=True)

    class Meta:
        ordering = ["indicator", "day", "service"]
        verbose_name = _("daily roll-up")
        verbose_name_plural = _("daily roll-ups")
        indexes = [models.Index(fields=["indicator", "day"], name="rollup_indicator_day")]
        constraints = one_per_service(
            "day", name="rollup_one_per_service_day", unrouted_name="rollup_one_unrouted_per_day"
        )

    def __str__(self):
        return (
            f"{self.indicator_id} {self.service_id} {self.day}: {self.numerator}/{self.denominator}"
        )


class MonthlyRollup(OrganisationScoped):
    """The sum of a month's daily roll-ups (histograms summed too), written with them.

    Dashboards show months, quarters and years with twelve-month trends: reading twelve rows
    per indicator and service instead of 365 keeps a page's cost flat however busy the days
    are. Always derived from `Rollup` in the same transaction, never computed apart.
    """

    indicator = models.ForeignKey(
        Indicator, on_delete=models.CASCADE, related_name="+", verbose_name=_("indicator")
    )
    service = models.ForeignKey(
        Service,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("service"),
    )
    month = models.DateField(_("month"))  # its first day
    numerator = models.BigIntegerField(_("numerator"), default=0)
    denominator = models.BigIntegerField(_("denominator"), default=0)
    histogram = models.JSONField(_("distribution"), default=dict, blank=True)

    class Meta:
        ordering = ["indicator", "month", "service"]
        verbose_name = _("monthly roll-up")
        verbose_name_plural = _("monthly roll-ups")
        indexes = [models.Index(fields=["indicator", "month"], name="monthly_indicator_month")]
        constraints = one_per_service(
            "month", name="monthly_one_per_service", unrouted_name="monthly_one_unrouted"
        )

    def __str__(self):
        return (
            f"{self.indicator_id} {self.service_id} {self.month}: "
            f"{self.numerator}/{self.denominator}"
        )


class PendingRollup(OrganisationScoped):
    """Work for tick: a day whose records changed, or an indicator to roll up again whole.

    `family` is the records' source family ("requests", "deliveries"…): every indicator fed by
    that family is rolled up again for `day`. With `indicator` set and no day, that indicator's
    whole history is (its definition changed what it counts).
    """

    family = models.CharField(_("source family"), max_length=40, blank=True)
    day = models.DateField(_("day"), null=True, blank=True)
    indicator = models.ForeignKey(
        Indicator, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("pending roll-up")
        verbose_name_plural = _("pending roll-ups")
        indexes = [models.Index(fields=["organisation", "family", "day"], name="pending_day")]

    def __str__(self):
        return f"{self.family or self.indicator_id} {self.day or ''}"


class RollupState(OrganisationScoped):
    """When an organisation's roll-ups were last brought up to date (shown on dashboards)."""

    updated_at = models.DateTimeField(_("roll-ups updated"), null=True, blank=True)
    rebuilt_at = models.DateTimeField(_("last full rebuild"), null=True, blank=True)

    class Meta:
        verbose_name = _("roll-up state")
        verbose_name_plural = _("roll-up states")
        constraints = [models.UniqueConstraint(fields=["organisation"], name="one_rollup_state")]

    def __str__(self):
        return str(self.organisation)


class ManualValue(OrganisationScoped):
    """A value entered by hand for one period of an indicator (signage check, desk count…)."""

    indicator = models.ForeignKey(
        Indicator, on_delete=models.CASCADE, related_name="+", verbose_name=_("indicator")
    )
    service = models.ForeignKey(
        Service,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("service"),
        help_text=_("Empty when the value is for the whole organisation."),
    )
    period_start = models.DateField(_("period from"))
    period_end = models.DateField(_("period to"))
    value = models.DecimalField(_("value"), max_digits=12, decimal_places=2)
    # For a share: what was counted, so that longer periods add counts instead of averaging.
    numerator = models.PositiveIntegerField(_("counted yes"), null=True, blank=True)
    denominator = models.PositiveIntegerField(_("counted in all"), null=True, blank=True)
    comment = models.TextField(_("comment"), blank=True)
    evidence = models.FileField(
        _("evidence"), storage=PrivateStorage, upload_to="evidence/%Y/%m/", blank=True
    )
    evidence_name = models.CharField(_("evidence file name"), max_length=255, blank=True)
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("entered by"),
    )
    entered_at = models.DateTimeField(_("entered"), default=timezone.now)

    class Meta:
        ordering = ["indicator", "-period_start", "service"]
        verbose_name = _("value entered by hand")
        verbose_name_plural = _("values entered by hand")
        constraints = one_per_service(
            "period_start",
            name="manual_value_one_per_service_period",
            unrouted_name="manual_value_one_per_period",
        )

    def __str__(self):
        return f"{self.indicator} {self.period_start}: {self.value}"


class ManualReminder(OrganisationScoped):
    """A reminder sent for a value due by hand, so it is sent once per period."""

    indicator = models.ForeignKey(Indicator, on_delete=models.CASCADE, related_name="+")
    service = models.ForeignKey(
        Service, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    period_start = models.DateField()
    sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("manual value reminder")
        verbose_name_plural = _("manual value reminders")
        constraints = one_per_service(
            "period_start",
            name="manual_reminder_once_per_service",
            unrouted_name="manual_reminder_once",
        )


class AlertStatus(models.TextChoices):
    WARNING = "warning", _("Warning")
    MISSED = "missed", _("Missed")


class Alert(OrganisationScoped):
    """An indicator that missed its target (or fell into the warning band) for a closed period."""

    indicator = models.ForeignKey(
        Indicator, on_delete=models.CASCADE, related_name="+", verbose_name=_("indicator")
    )
    service = models.ForeignKey(
        Service,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("service"),
        help_text=_("Empty for the organisation's consolidated figure."),
    )
    period = models.CharField(_("period"), max_length=10)
    period_start = models.DateField(_("period from"))
    period_end = models.DateField(_("period to"))
    status = models.CharField(_("status"), max_length=10, choices=AlertStatus.choices)
    value = models.DecimalField(_("result"), max_digits=14, decimal_places=4)
    target = models.DecimalField(_("target"), max_digits=10, decimal_places=2)
    numerator = models.BigIntegerField(_("numerator"), null=True, blank=True)
    denominator = models.BigIntegerField(_("denominator"), null=True, blank=True)
    raised_at = models.DateTimeField(_("raised"), default=timezone.now)
    notified_at = models.DateTimeField(_("e-mail sent"), null=True, blank=True)
    recipients = models.JSONField(_("sent to"), default=list, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("closed by"),
    )
    closing_comment = models.TextField(_("what was done"), blank=True)

    class Meta:
        ordering = ["-period_start", "indicator", "service"]
        verbose_name = _("alert")
        verbose_name_plural = _("alerts")
        indexes = [models.Index(fields=["organisation", "closed_at"], name="alert_open")]
        constraints = one_per_service(
            "period",
            "period_start",
            name="alert_once_per_service_period",
            unrouted_name="alert_once_per_period",
        )

    def __str__(self):
        return f"{self.indicator} {self.period_start}–{self.period_end}: {self.status}"

    @property
    def is_open(self) -> bool:
        return self.closed_at is None


@register_event_model
class IndicatorEvent(EventBase):
    """Values entered by hand, alerts raised and closed, roll-ups rebuilt."""

    class Meta(EventBase.Meta):
        verbose_name = _("indicator event")
        verbose_name_plural = _("indicator events")
