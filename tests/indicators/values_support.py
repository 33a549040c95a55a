"""Helpers of the tests of values entered by hand and alerts (plain functions, no fixtures)."""

import datetime as dt
from decimal import Decimal

from django.utils import translation

from qualicite.charter import services as charter_services
from qualicite.charter.models import Period, SourceKind
from qualicite.core import services as core_services
from qualicite.core.models import Role
from tests.conftest import make_user

# A PDF as the sniffer sees it, and a Windows executable it refuses.
PDF = b"%PDF-1.4 fiche de controle signaletique"
EXECUTABLE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00"


def fr(message: str) -> str:
    with translation.override("fr"):
        return str(translation.gettext(message))


def desk_count(organisation, signage):
    """A manual indicator of a commitment that names two services (Accueil, État civil)."""
    services = [organisation.service_set.get(code=c) for c in ("accueil", "etat-civil")]
    commitment = charter_services.create_commitment(
        signage.commitment.programme,
        actor=None,
        number="4",
        title="Nous vous recevons en moins de 10 minutes",
        services=services,
    )
    return charter_services.create_indicator(
        commitment,
        actor=None,
        code="desk-count",
        name="Usagers reçus en moins de 10 minutes (comptage)",
        source="",
        source_kind=SourceKind.MANUAL,
        target=Decimal(90),
        warning_threshold=Decimal(80),
        period=Period.MONTH,
    )


def head_of(organisation, code: str, username: str | None = None):
    """A service head restricted to one service."""
    user = make_user(username or f"{organisation.slug}-head-{code}")
    core_services.grant_membership(
        organisation,
        actor=None,
        user=user,
        role=Role.SERVICE_HEAD,
        services=[organisation.service_set.get(code=code)],
    )
    return user


def own(indicator, user):
    charter_services.update_indicator(indicator, actor=None, owner=user)
    indicator.refresh_from_db()
    return indicator


def month_after(day: dt.date) -> dt.date:
    return (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
