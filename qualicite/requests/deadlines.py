"""Which delay applies to a request, read from the référentiel; the dates from the calendar.

A commitment covers a request when its indicator measures answers (`requests.answered_in_time`
for every kind, `requests.complaints_answered_in_time` for complaints) with a delay, and its
channels (the indicator's, or else the commitment's; none means all) include the request's
channel, and its services (none means all) include the request's service or a parent of it.

When several commitments cover a request the most specific wins — one naming the kind, then
one naming the service, then one naming the channel — and among equally specific ones the
shortest delay, the promise the citizen would hold the town to. A service request for a
prestation takes the prestation's announced delay. Nothing covering it: the organisation's
default delay (RequestSettings).

Dates are only ever computed by `qualicite.core.calendar`.
"""

from dataclasses import dataclass
from datetime import datetime

from django.utils.translation import gettext as _

from qualicite.charter.models import Indicator
from qualicite.core.calendar import Calendar
from qualicite.core.choices import DayKind, RequestKind
from qualicite.core.models import Service, Site

# Data source → the request kinds it measures (None: every kind).
ANSWER_SOURCES = {
    "requests.answered_in_time": None,
    "requests.complaints_answered_in_time": {RequestKind.COMPLAINT},
}
ACKNOWLEDGEMENT_SOURCES = {"requests.acknowledged_in_time": None}


@dataclass(frozen=True)
class Delay:
    days: int
    day_kind: str
    source: str  # for people: which commitment or setting decided it


def _service_chain(service: Service | None) -> set[int]:
    """The service and its parents: a commitment naming État civil covers Naissances."""
    chain = set()
    while service is not None:
        chain.add(service.pk)
        service = service.parent
    return chain


def _covering(organisation, sources: dict, *, kind, channel, service) -> list[tuple]:
    chain = _service_chain(service)
    candidates = []
    indicators = (
        Indicator.objects.filter(
            organisation=organisation, source__in=list(sources), delay_days__isnull=False
        )
        .select_related("commitment")
        .prefetch_related("commitment__services")
    )
    for indicator in indicators:
        kinds = sources[indicator.source]
        if kinds is not None and kind not in kinds:
            continue
        channels = indicator.channels or indicator.commitment.channels
        if channels and channel not in channels:
            continue
        services = {s.pk for s in indicator.commitment.services.all()}
        if services and not services & chain:
            continue
        specificity = (kinds is not None, bool(services), bool(channels))
        candidates.append((specificity, indicator))
    return candidates


def _best(candidates) -> Indicator | None:
    if not candidates:
        return None
    best = max(specificity for specificity, _indicator in candidates)
    tied = [indicator for specificity, indicator in candidates if specificity == best]
    return min(tied, key=lambda i: (i.delay_days, i.commitment.position, i.pk))


def _described(indicator: Indicator) -> str:
    return _("commitment %(number)s “%(title)s” (indicator %(code)s)") % {
        "number": indicator.commitment.number,
        "title": indicator.commitment.title,
        "code": indicator.code,
    }


def answer_delay(organisation, *, kind, channel, service=None, prestation=None) -> Delay:
    if prestation is not None and kind == RequestKind.SERVICE:
        return Delay(
            prestation.announced_delay_days,
            prestation.day_kind,
            _("announced delay of “%(name)s”") % {"name": prestation.name},
        )
    found = _best(
        _covering(organisation, ANSWER_SOURCES, kind=kind, channel=channel, service=service)
    )
    if found is not None:
        return Delay(found.delay_days, found.day_kind, _described(found))
    from qualicite.requests.models import RequestSettings

    settings = RequestSettings.of(organisation)
    return Delay(
        settings.default_delay_days, settings.default_day_kind, _("default delay of the settings")
    )


def acknowledgement_delay(organisation, *, kind, channel, service=None) -> Delay:
    found = _best(
        _covering(
            organisation, ACKNOWLEDGEMENT_SOURCES, kind=kind, channel=channel, service=service
        )
    )
    if found is not None:
        return Delay(found.delay_days, found.day_kind, _described(found))
    from qualicite.requests.models import RequestSettings

    settings = RequestSettings.of(organisation)
    return Delay(
        settings.acknowledgement_delay_days,
        DayKind.WORKING,
        _("default acknowledgement delay of the settings"),
    )


def site_for(organisation, *, site: Site | None, service: Service | None) -> Site | None:
    """The site whose opening hours and closures count: the request's, else its service's."""
    if site is not None:
        return site
    if service is None:
        return None
    return (
        Site.objects.filter(organisation=organisation, services=service)
        .prefetch_related("opening_hours", "closures")
        .order_by("pk")
        .first()
    )


def calendar(organisation, *, site: Site | None, day_kind: str) -> Calendar:
    return Calendar.for_organisation(organisation, site=site, day_kind=day_kind)


def due_moment(organisation, start: datetime, delay: Delay, *, site: Site | None) -> datetime:
    return calendar(organisation, site=site, day_kind=delay.day_kind).add_days(start, delay.days)


def days_left(
    organisation, now: datetime, due_at: datetime, *, day_kind: str, site: Site | None
) -> int:
    """Counted days still to run from `now` to `due_at` (what a paused clock keeps)."""
    if due_at <= now:
        return 0
    return calendar(organisation, site=site, day_kind=day_kind).count_days(now, due_at)


def answer_days(request) -> int | None:
    """Days counted from a request's receipt to its first answer (None while unanswered)."""
    if request.replied_at is None:
        return None
    site = site_for(request.organisation, site=request.site, service=request.service)
    return calendar(request.organisation, site=site, day_kind=request.day_kind).count_days(
        request.received_at, request.replied_at
    )
