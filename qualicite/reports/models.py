"""What the reports keep of their own: the texts people write into them, and the event log."""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from qualicite.core.events import register_event_model
from qualicite.core.models import EventBase, OrganisationScoped

# A report is for a calendar year; year + 1 must still be a valid date for its end.
FIRST_YEAR, LAST_YEAR = 1900, 9998


class ComplaintActions(OrganisationScoped):
    """The improvements decided from a year's complaints, written by the quality manager."""

    year = models.PositiveIntegerField(
        _("year"), validators=[MinValueValidator(FIRST_YEAR), MaxValueValidator(LAST_YEAR)]
    )
    text = models.TextField(_("actions decided from complaints"), blank=True)
    updated_at = models.DateTimeField(_("last changed"), default=timezone.now)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("last changed by"),
    )

    class Meta:
        ordering = ["organisation", "-year"]
        verbose_name = _("actions decided from complaints")
        verbose_name_plural = _("actions decided from complaints")
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "year"], name="complaint_actions_one_per_year"
            )
        ]

    def __str__(self):
        return _("Actions decided from the complaints of %(year)s") % {"year": self.year}


@register_event_model
class ReportEvent(EventBase):
    """Changes to what the reports hold: the actions text of the complaints report."""

    class Meta(EventBase.Meta):
        verbose_name = _("report event")
        verbose_name_plural = _("report events")
        indexes = [models.Index(fields=["organisation", "-at"], name="reports_event_org_at")]
