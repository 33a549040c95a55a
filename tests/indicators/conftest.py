"""Fixtures of the indicator tests: a référentiel measured from requests, and a year of them.

`measured` builds one programme whose indicators use every request source (and one entered
by hand); `year_of_requests` writes requests through the real services, then moves their
receipt and answer to chosen instants with `save()`, as a later edit would, so the roll-up
signals see every change.
"""

import datetime as dt
import random
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from qualicite.charter import services as charter_services
from qualicite.charter.models import Direction, Period, SourceKind, Unit
from qualicite.core.choices import Channel, RequestKind
from qualicite.requests import deadlines
from qualicite.requests import services as request_services
from qualicite.requests.models import Prestation

PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture
def measured(org):
    """{code: Indicator}: one indicator per request source, plus one entered by hand."""
    programme = charter_services.create_programme(
        org, actor=None, key="qualivilles", kind="qualivilles", name="Qualivilles"
    )
    etat_civil = org.service_set.get(code="etat-civil")

    def commitment(number, title, services=()):
        return charter_services.create_commitment(
            programme, actor=None, number=str(number), title=title, services=list(services)
        )

    found = {}

    def indicator(commitment_, code, source, **fields):
        fields.setdefault("name", code)
        fields.setdefault("target", Decimal(90))
        fields.setdefault("warning_threshold", Decimal(80))
        found[code] = charter_services.create_indicator(
            commitment_, actor=None, code=code, source=source, **fields
        )

    answers = commitment(1, "Nous répondons à toutes vos demandes")
    indicator(answers, "answered", "requests.answered", target=Decimal(100), warning_threshold=None)
    indicator(answers, "in-time", "requests.answered_in_time")
    indicator(answers, "letters-in-time", "requests.answered_in_time", channels=[Channel.LETTER])
    indicator(answers, "complaints-in-time", "requests.complaints_answered_in_time")
    indicator(answers, "acknowledged", "requests.acknowledged_in_time", target=Decimal(95))
    indicator(
        answers,
        "median",
        "requests.answer_delay_median",
        unit=Unit.DAYS,
        direction=Direction.LOWER_IS_BETTER,
        target=Decimal(5),
        warning_threshold=Decimal(8),
    )
    indicator(
        answers,
        "p90",
        "requests.answer_delay_p90",
        unit=Unit.DAYS,
        direction=Direction.WATCH,
        target=None,
        warning_threshold=None,
    )
    indicator(
        answers,
        "complaint-rate",
        "requests.complaint_rate",
        direction=Direction.WATCH,
        target=None,
        warning_threshold=None,
    )
    acts = commitment(2, "Vos actes dans le délai annoncé", services=[etat_civil])
    indicator(acts, "acts", "requests.deliveries_in_time", target=Decimal(95))
    indicator(acts, "civil-status-in-time", "requests.answered_in_time", target=Decimal(90))
    signage = commitment(3, "Une signalétique claire")
    indicator(
        signage,
        "signage",
        "",
        source_kind=SourceKind.MANUAL,
        target=Decimal(100),
        warning_threshold=None,
        period=Period.MONTH,
    )
    return found


def _moved(request, *, received, replied=None, acknowledged=None):
    """Give a request a receipt (and answer) instant as if it had happened then."""
    organisation = request.organisation
    request.received_at = received
    site = deadlines.site_for(organisation, site=request.site, service=request.service)
    delay = deadlines.Delay(request.delay_days, request.day_kind, request.delay_source)
    request.due_at = deadlines.due_moment(organisation, received, delay, site=site)
    if request.acknowledgement_due_at is not None:
        ack = deadlines.Delay(2, "working", "")
        request.acknowledgement_due_at = deadlines.due_moment(
            organisation, received, ack, site=site
        )
    request.acknowledged_at = acknowledged
    request.replied_at = replied
    request.answer_days = deadlines.answer_days(request) if replied else None
    request.save()
    return request


@pytest.fixture
def year_of_requests(org, users, measured):
    """About 300 requests over 2025 and early 2026 with known receipts, answers and kinds."""
    rng = random.Random(20261123)
    services = [org.service_set.get(code=c) for c in ("accueil", "naissances", "finances")]
    kinds = [
        RequestKind.INFORMATION,
        RequestKind.SERVICE,
        RequestKind.COMPLAINT,
        RequestKind.THANKS,
    ]
    channels = [Channel.LETTER, Channel.EMAIL, Channel.PHONE, Channel.WEB, Channel.DESK]
    made = []
    start = dt.datetime(2025, 1, 1, tzinfo=PARIS)
    for index in range(300):
        anonymous = index % 17 == 0
        fields = {
            "kind": rng.choice(kinds),
            "channel": rng.choice(channels),
            "subject": f"Demande {index}",
            "service": rng.choice(services + [None]) if index % 23 else None,
            "is_anonymous": anonymous,
        }
        if not anonymous:
            fields.update(citizen_name="Camille Martin", citizen_email="camille@example.org")
        request = request_services.create_request(org, actor=users["agent"], **fields)
        # Some arrive late in the evening, when the UTC day is already the next one.
        received = start + dt.timedelta(
            days=rng.randrange(0, 420), hours=rng.choice([9, 14, 23]), minutes=rng.randrange(60)
        )
        replied = None
        if rng.random() < 0.85:
            replied = received + dt.timedelta(days=rng.randrange(0, 30), hours=rng.randrange(10))
        acknowledged = None
        if not anonymous and rng.random() < 0.9:
            acknowledged = received + dt.timedelta(hours=rng.choice([1, 30, 80]))
        made.append(_moved(request, received=received, replied=replied, acknowledged=acknowledged))
    prestation = Prestation.objects.create(
        organisation=org,
        service=org.service_set.get(code="naissances"),
        name="Copie d'acte de naissance",
        announced_delay_days=5,
    )
    for _index in range(40):
        requested = start + dt.timedelta(days=rng.randrange(0, 400), hours=10)
        delivered = requested + dt.timedelta(days=rng.randrange(1, 12))
        request_services.record_delivery(
            prestation, actor=users["agent"], requested_at=requested, delivered_at=delivered
        )
    return made
