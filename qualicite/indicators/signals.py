"""Mark the days whose records changed, for tick to roll them up again.

The request, delivery and reception services (lower apps) know nothing of indicators: a
saved or deleted record (post_save, post_delete, `requests.signals.request_updated` for the
services' conditional updates, `reception.signals.records_changed` for bulk imports) marks the
local days it counts on, before and after the change, and a change to what an indicator
counts (source, channels, services) marks the whole indicator.
Writes that bypass `save()` (bulk loads such as the demo) are caught by `indicators rebuild`
and by the first tick, which rolls up an organisation never rolled up before.
"""

from django.db.models.signals import m2m_changed, post_delete, post_init, post_save, pre_save
from django.dispatch import receiver

from qualicite.charter.models import Commitment, Indicator, IndicatorRevision, SourceKind
from qualicite.core.signals import time_zone_changed
from qualicite.indicators import rollups, sources
from qualicite.reception.models import Appointment, Call, DeskVisit
from qualicite.reception.signals import records_changed
from qualicite.requests.models import Delivery, Request
from qualicite.requests.signals import request_updated

# The instants whose local day decides where a record counts, per model and family.
WATCHED = {
    Request: ("requests", ("received_at", "replied_at")),
    Delivery: ("deliveries", ("delivered_at",)),
    Call: ("calls", ("entered_at",)),
    DeskVisit: ("desk_visits", ("arrived_at",)),
    Appointment: ("appointments", ("starts_at",)),
}
_ORIGINAL = "_indicators_original"


def _instants(instance, fields) -> list:
    return [getattr(instance, name) for name in fields if getattr(instance, name, None)]


def _remember(sender, instance, **kwargs):
    _family, fields = WATCHED[sender]
    # Deferred fields are not read here: reading one would query the database per row.
    deferred = instance.get_deferred_fields()
    if deferred & set(fields):
        return
    setattr(instance, _ORIGINAL, _instants(instance, fields))


def _mark(sender, instance, **kwargs):
    family, fields = WATCHED[sender]
    instants = _instants(instance, fields) + getattr(instance, _ORIGINAL, [])
    if instants:
        zone = instance.organisation.zone
        rollups.mark_days(
            instance.organisation_id, family, [i.astimezone(zone).date() for i in instants]
        )
    _remember(sender, instance)


@receiver(request_updated, dispatch_uid="indicators-request-updated")
def _request_updated(sender, instance, **kwargs):
    _mark(Request, instance)


@receiver(records_changed, dispatch_uid="indicators-reception-records-changed")
def _records_changed(sender, organisation_id, days, **kwargs):
    family, _fields = WATCHED[sender]
    rollups.mark_days(organisation_id, family, days)


for model in WATCHED:
    post_init.connect(_remember, sender=model, dispatch_uid=f"indicators-remember-{model.__name__}")
    post_save.connect(_mark, sender=model, dispatch_uid=f"indicators-mark-{model.__name__}")
    post_delete.connect(_mark, sender=model, dispatch_uid=f"indicators-delete-{model.__name__}")


# What an indicator counts ---------------------------------------------------------------

COUNTING_FIELDS = ("source", "source_kind", "channels", "commitment_id")


@receiver(pre_save, sender=Indicator, dispatch_uid="indicators-indicator-before")
def _indicator_before(sender, instance, **kwargs):
    if instance.pk is None:
        instance._indicators_recount = True
        return
    stored = Indicator.objects.filter(pk=instance.pk).values(*COUNTING_FIELDS).first()
    instance._indicators_recount = stored is None or any(
        stored[name] != getattr(instance, name) for name in COUNTING_FIELDS
    )


@receiver(post_save, sender=Indicator, dispatch_uid="indicators-indicator-after")
def _indicator_after(sender, instance, **kwargs):
    if (
        getattr(instance, "_indicators_recount", False)
        and instance.source_kind == SourceKind.COMPUTED
    ):
        rollups.mark_indicator(instance)


def _revision_changed(sender, instance, **kwargs):
    # A source that counts against the delay or threshold in force each day (answered
    # within 25 s…) gives other day rows under a new revision; others only judge differently.
    indicator = instance.indicator
    source = sources.get(indicator.source)
    if indicator.source_kind == SourceKind.COMPUTED and source is not None and source.versioned:
        rollups.mark_indicator(indicator)


# Saves only: revisions are deleted with their indicator, which needs no roll-up then.
post_save.connect(_revision_changed, sender=IndicatorRevision, dispatch_uid="indicators-rev")


@receiver(pre_save, sender=Commitment, dispatch_uid="indicators-commitment-before")
def _commitment_before(sender, instance, **kwargs):
    stored = Commitment.objects.filter(pk=instance.pk).values_list("channels", flat=True).first()
    instance._indicators_recount = instance.pk is not None and stored != instance.channels


@receiver(post_save, sender=Commitment, dispatch_uid="indicators-commitment-after")
def _commitment_after(sender, instance, **kwargs):
    if getattr(instance, "_indicators_recount", False):
        _recount_commitment(instance)


@receiver(m2m_changed, sender=Commitment.services.through, dispatch_uid="indicators-scope")
def _scope_changed(sender, instance, action, **kwargs):
    if action in ("post_add", "post_remove", "post_clear") and isinstance(instance, Commitment):
        _recount_commitment(instance)


def _recount_commitment(commitment: Commitment) -> None:
    for indicator in commitment.indicators.filter(source_kind=SourceKind.COMPUTED):
        rollups.mark_indicator(indicator)


@receiver(time_zone_changed, dispatch_uid="indicators-time-zone")
def _time_zone_changed(sender, organisation, **kwargs):
    # Every record may now count on another local day: roll up the whole history again.
    for indicator in rollups.computed_indicators(organisation):
        rollups.mark_indicator(indicator)
