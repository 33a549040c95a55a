"""The request sources computed together in one scan give each source's own rows."""

import datetime as dt
from decimal import Decimal

import pytest

from qualicite.charter import services as charter_services
from qualicite.charter.models import Direction, Unit
from qualicite.core.choices import Channel
from qualicite.indicators import rollups, sources

pytestmark = pytest.mark.django_db


def _as_set(rows):
    return {
        (r.service_id, r.day, r.numerator, r.denominator, tuple(sorted(r.histogram.items())))
        for r in rows
    }


@pytest.fixture
def mean_by_phone(measured):
    """A mean delay limited to a channel, so that the scan's channel filter is exercised."""
    return charter_services.create_indicator(
        measured["answered"].commitment,
        actor=None,
        code="phone-mean",
        name="phone-mean",
        source="requests.answer_delay_mean",
        channels=[Channel.PHONE],
        unit=Unit.DAYS,
        direction=Direction.LOWER_IS_BETTER,
        target=Decimal(5),
    )


def test_the_scan_gives_every_request_indicator_the_rows_of_its_own_source(
    org, measured, mean_by_phone, year_of_requests
):
    indicators = [
        i for i in rollups.computed_indicators(org) if sources.get(i.source).scan is not None
    ]
    assert {i.source for i in indicators} >= {
        "requests.answered",
        "requests.answered_in_time",
        "requests.complaints_answered_in_time",
        "requests.acknowledged_in_time",
        "requests.answer_delay_median",
        "requests.answer_delay_p90",
        "requests.answer_delay_mean",
        "requests.complaint_rate",
    }
    start, end = dt.date(2025, 1, 1), dt.date(2026, 6, 30)
    scanned = rollups.compute_all(org, start, end, indicators)
    for indicator in indicators:
        own = rollups.compute(indicator, start, end)
        assert own, indicator.code
        assert _as_set(scanned[indicator.pk]) == _as_set(own), indicator.code


def test_the_scan_of_a_few_days_gives_the_rows_of_those_days_only(org, measured, year_of_requests):
    indicators = [i for i in rollups.computed_indicators(org) if i.source.startswith("requests.")]
    start, end = dt.date(2025, 3, 3), dt.date(2025, 3, 9)
    scanned = rollups.compute_all(org, start, end, indicators)
    for indicator in indicators:
        rows = scanned[indicator.pk]
        assert all(start <= row.day <= end for row in rows)
        assert _as_set(rows) == _as_set(rollups.compute(indicator, start, end)), indicator.code
