"""The stored local days of requests (`received_day`, `replied_day`), filled in bulk.

`Request.save()` and the services keep them in step one request at a time; this fills them
for many at once — the migration that added them, and a change of an organisation's time
zone, which moves every instant to another local day — with one UPDATE computed by the
database (`core.localday`).
"""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from django.db.models import Max, Min
from django.dispatch import receiver

from qualicite.core.localday import local_date
from qualicite.core.signals import time_zone_changed


def stamp_organisation(request_model, organisation) -> int:
    """Set received_day and replied_day of every request of `organisation`; how many."""
    requests = request_model.objects.filter(organisation_id=organisation.pk)
    bounds = requests.aggregate(
        low=Min("received_at"), high=Max("received_at"), last=Max("replied_at")
    )
    if bounds["low"] is None:
        return 0
    zone = ZoneInfo(organisation.time_zone)
    low = bounds["low"] - timedelta(days=1)
    high = max(bounds["high"], bounds["last"] or bounds["high"]) + timedelta(days=1)
    return requests.update(
        received_day=local_date("received_at", zone, low, high),
        replied_day=local_date("replied_at", zone, low, high),
    )


@receiver(time_zone_changed, dispatch_uid="requests-restamp-days")
def _restamp(sender, organisation, **kwargs):
    from qualicite.requests.models import Request

    stamp_organisation(Request, organisation)
