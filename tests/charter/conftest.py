"""Fixtures of the référentiel tests: an organisation that adopted a template."""

import pytest
from django.utils import translation

from qualicite.charter import services
from qualicite.charter.models import (
    CharterEvent,
    Commitment,
    Indicator,
    Programme,
    ServiceTarget,
)


@pytest.fixture(autouse=True)
def english():
    """Messages are asserted in their English source; pages may be French (LocaleMiddleware)."""
    with translation.override("en"):
        yield


@pytest.fixture
def adopted(org):
    """`org` after adopting the Qualivilles-style template."""
    services.adopt_template(org, "qualivilles", actor=None)
    return org


def snapshot(organisation) -> dict:
    """Every référentiel row of `organisation`, field by field, and the number of events."""
    rows = {
        model.__name__: list(
            model.objects.filter(organisation=organisation).order_by("pk").values()
        )
        for model in (Programme, Commitment, Indicator, ServiceTarget)
    }
    rows["services"] = sorted(
        Commitment.services.through.objects.filter(
            commitment__organisation=organisation
        ).values_list("commitment_id", "service_id")
    )
    rows["events"] = CharterEvent.objects.filter(organisation=organisation).count()
    return rows
