"""Fixtures of the requests tests: a town with a référentiel that sets delays, and requests."""

import datetime as dt

import pytest

from qualicite.charter.models import Commitment, Indicator, Programme
from qualicite.core.choices import Channel, DayKind, RequestKind
from qualicite.requests import services


@pytest.fixture
def referentiel(org):
    """Letters 15 working days, e-mails and web 5, complaints 30 calendar days, ack 2 days."""
    programme = Programme.objects.create(
        organisation=org, key="qualivilles", kind="qualivilles", name="Qualivilles"
    )

    def commitment(number, title, channels, source, days, day_kind=DayKind.WORKING):
        found = Commitment.objects.create(
            organisation=org,
            programme=programme,
            number=str(number),
            position=number,
            title=title,
            channels=channels,
        )
        Indicator.objects.create(
            organisation=org,
            commitment=found,
            code=f"delay-{number}",
            name=title,
            source=source,
            target=90,
            delay_days=days,
            day_kind=day_kind,
        )
        return found

    commitment(
        1, "Courriers sous 15 jours ouvrés", [Channel.LETTER], "requests.answered_in_time", 15
    )
    commitment(
        2,
        "Courriels sous 5 jours ouvrés",
        [Channel.EMAIL, Channel.WEB],
        "requests.answered_in_time",
        5,
    )
    commitment(
        3,
        "Réclamations sous un mois",
        [],
        "requests.complaints_answered_in_time",
        30,
        DayKind.CALENDAR,
    )
    commitment(4, "Accusé de réception sous 2 jours", [], "requests.acknowledged_in_time", 2)
    return programme


@pytest.fixture
def make_request(org, users):
    """make_request(**fields): a request of `org` entered by its agent (defaults: a phone call)."""

    def make(**fields):
        organisation = fields.pop("organisation", org)
        fields.setdefault("kind", RequestKind.INFORMATION)
        fields.setdefault("channel", Channel.PHONE)
        fields.setdefault("subject", "Horaires de la mairie")
        fields.setdefault("citizen_name", "Camille Martin")
        fields.setdefault("citizen_phone", "06 12 34 56 78")
        fields.setdefault("service", organisation.service_set.get(code="accueil"))
        actor = fields.pop("actor", users["agent"] if organisation == org else None)
        return services.create_request(organisation, actor=actor, **fields)

    return make


def aware(*args) -> dt.datetime:
    """A Paris wall-clock time as an aware datetime."""
    from zoneinfo import ZoneInfo

    return dt.datetime(*args, tzinfo=ZoneInfo("Europe/Paris"))
