"""Every write of the reports app: atomic, with the actor, logged as a ReportEvent."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from qualicite.core import events
from qualicite.reports.models import FIRST_YEAR, LAST_YEAR, ComplaintActions, ReportEvent

MAX_ACTIONS_LENGTH = 20_000


@transaction.atomic
def save_complaint_actions(organisation, *, actor, year: int, text: str) -> ComplaintActions:
    """Keep the "actions decided from complaints" text of `year`; log it when it changed."""
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise ValidationError({"year": _("Choose a year between 1900 and 9998.")})
    text = (text or "").replace("\r\n", "\n").strip()
    if len(text) > MAX_ACTIONS_LENGTH:
        raise ValidationError(
            {"text": _("Keep the text under %(count)s characters.") % {"count": MAX_ACTIONS_LENGTH}}
        )
    actions, created = ComplaintActions.objects.select_for_update().get_or_create(
        organisation=organisation, year=year
    )
    if not created and actions.text == text:
        return actions
    before = len(actions.text)
    actions.text = text
    actions.updated_at = timezone.now()
    actions.updated_by = actor if actor is not None and actor.pk else None
    actions.save(update_fields=["text", "updated_at", "updated_by"])
    events.record(
        ReportEvent,
        organisation=organisation,
        actor=actor,
        verb="report.complaint_actions_saved",
        subject=actions,
        details={"year": year, "characters_before": before, "characters_after": len(text)},
    )
    return actions
