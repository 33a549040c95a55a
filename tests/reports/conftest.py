"""Fixtures of the report tests: a year of complaints, suggestions and thanks, and the figures
a person would compute from those rows by hand (never by the report's own code)."""

import datetime as dt

import pytest

from qualicite.core import services as core_services
from qualicite.core.choices import Channel, RequestKind
from qualicite.core.models import Role, Service
from qualicite.requests.models import Outcome, Request, Status, Theme
from tests.conftest import make_user
from tests.reports.expected import Expected  # noqa: F401 - used by the test modules
from tests.requests.conftest import aware, make_request, referentiel  # noqa: F401 - fixtures


def answer(request, *, replied_at, outcome="", close=False):
    """Set the reply and the outcome directly (the reply services are not the subject here)."""
    Request.objects.filter(pk=request.pk).update(
        replied_at=replied_at,
        outcome=outcome if close else "",
        status=Status.CLOSED if close else Status.IN_PROGRESS,
        closed_at=replied_at if close else None,
    )


@pytest.fixture
def themes(org):
    return {
        "voirie": Theme.objects.create(organisation=org, name="Voirie", position=1),
        "proprete": Theme.objects.create(organisation=org, name="Propreté", position=2),
        "ancien": Theme.objects.create(
            organisation=org, name="Ancien thème", position=3, is_active=False
        ),
    }


@pytest.fixture
def year_of_requests(org, make_request, referentiel, themes):  # noqa: F811 - fixture
    """About forty requests over 2025 (and a few in 2024), replies and outcomes of all sorts.

    The cycles below mix every kind, channel, service (and none), theme (and none), month,
    reply delay, outcome and open state; the edges of the year are in Paris time.
    """
    services = [*Service.objects.filter(organisation=org).order_by("pk"), None]
    channels = [Channel.LETTER, Channel.EMAIL, Channel.PHONE, Channel.DESK, Channel.WEB]
    kinds = [
        RequestKind.COMPLAINT,
        RequestKind.SUGGESTION,
        RequestKind.COMPLAINT,
        RequestKind.THANKS,
        RequestKind.COMPLAINT,
        RequestKind.INFORMATION,  # not counted by the report
    ]
    theme_cycle = [themes["voirie"], themes["proprete"], None]
    outcomes = [Outcome.FOUNDED, Outcome.UNFOUNDED, Outcome.PARTLY_FOUNDED, Outcome.FOUNDED]
    created = []
    for i in range(40):
        kind = kinds[i % len(kinds)]
        received = aware(2025, 1 + i % 12, 1 + (i * 7) % 28, 8 + i % 9, (i * 13) % 60)
        request = make_request(
            kind=kind,
            channel=channels[i % len(channels)],
            service=services[(i * 3 + i // 7) % len(services)],
            theme=theme_cycle[i % len(theme_cycle)],
            received_at=received,
            subject=f"Demande {i}",
        )
        created.append(request)
        if kind == RequestKind.COMPLAINT and i % 5 != 4:
            # Delays from the same day to seven weeks, some beyond the 30 calendar days.
            replied = received + dt.timedelta(days=(i * 11) % 50, hours=i % 5)
            answer(request, replied_at=replied, outcome=outcomes[(i // 2) % 4], close=i % 3 != 0)
    # The edges of the year, in Paris time: 31 December 23:30 is still 2024 in Paris.
    created.append(
        make_request(
            kind=RequestKind.COMPLAINT,
            received_at=aware(2024, 12, 31, 23, 30),
            subject="Dernière heure de 2024",
        )
    )
    created.append(
        make_request(
            kind=RequestKind.SUGGESTION,
            received_at=aware(2025, 1, 1, 0, 30),
            subject="Première heure de 2025",
        )
    )
    # The previous year: two complaints answered, one not, a thanks.
    for day, delay in ((3, 2), (10, 20), (20, None)):
        request = make_request(
            kind=RequestKind.COMPLAINT, received_at=aware(2024, 6, day, 10), subject="2024"
        )
        if delay is not None:
            answer(
                request,
                replied_at=request.received_at + dt.timedelta(days=delay),
                outcome=Outcome.FOUNDED,
                close=True,
            )
        created.append(request)
    created.append(make_request(kind=RequestKind.THANKS, received_at=aware(2024, 9, 9, 9)))
    return created


@pytest.fixture
def restricted_head(org):
    """A service head restricted to État civil (and so Naissances): may read reports."""
    user = make_user(f"{org.slug}-restricted-head")
    core_services.grant_membership(
        org,
        actor=None,
        user=user,
        role=Role.SERVICE_HEAD,
        services=[org.service_set.get(code="etat-civil")],
    )
    return user
