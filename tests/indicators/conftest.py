"""Fixtures of the indicator tests: a référentiel measured from requests, and a year of them.

`measured` builds one programme whose indicators use every request source (and one entered
by hand); `year_of_requests` writes a year of requests with the due dates the services would
give them.
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
from qualicite.requests.models import Prestation, Request, Status, new_code

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


class _Planner:
    """Due dates as the services compute them, with the référentiel read once per case."""

    def __init__(self, organisation):
        self.organisation = organisation
        self.delays, self.sites, self.calendars = {}, {}, {}

    def delays_for(self, kind, channel, service):
        key = (kind, channel, service.pk if service else None)
        if key not in self.delays:
            answer = deadlines.answer_delay(
                self.organisation, kind=kind, channel=channel, service=service
            )
            ack = deadlines.acknowledgement_delay(
                self.organisation, kind=kind, channel=channel, service=service
            )
            self.delays[key] = (answer, ack)
        return self.delays[key]

    def calendar(self, service, day_kind):
        key = service.pk if service else None
        if key not in self.sites:
            self.sites[key] = deadlines.site_for(self.organisation, site=None, service=service)
        site = self.sites[key]
        if (key, day_kind) not in self.calendars:
            self.calendars[(key, day_kind)] = deadlines.calendar(
                self.organisation, site=site, day_kind=day_kind
            )
        return self.calendars[(key, day_kind)]


@pytest.fixture
def year_of_requests(org, users, measured):
    """About 300 requests over 2025 and early 2026 with known receipts, answers and kinds.

    They are written in bulk with the due dates the services would compute (the référentiel
    of `measured` and the calendar): going through `create_request` 300 times would cost each
    test several seconds. Tests of the services' own path make their requests themselves.
    """
    rng = random.Random(20261123)
    planner = _Planner(org)
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
        kind, channel = rng.choice(kinds), rng.choice(channels)
        service = rng.choice(services + [None]) if index % 23 else None
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
        answer, ack = planner.delays_for(kind, channel, service)
        calendar = planner.calendar(service, answer.day_kind)
        request = Request(
            organisation=org,
            code=new_code(),
            kind=kind,
            channel=channel,
            status=Status.IN_PROGRESS if replied else Status.NEW,
            subject=f"Demande {index}",
            service=service,
            is_anonymous=anonymous,
            received_at=received,
            entered_at=received,
            entered_by=users["agent"],
            delay_days=answer.days,
            day_kind=answer.day_kind,
            delay_source=answer.source[:300],
            due_at=calendar.add_days(received, answer.days),
            acknowledged_at=acknowledged,
            replied_at=replied,
            answer_days=calendar.count_days(received, replied) if replied else None,
        )
        if not anonymous:
            request.citizen_name, request.citizen_email = "Camille Martin", "camille@example.org"
            request.acknowledgement_due_at = planner.calendar(service, ack.day_kind).add_days(
                received, ack.days
            )
        request.stamp_days()  # bulk_create skips save(), which stamps them
        made.append(request)
    made = Request.objects.bulk_create(made)
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
