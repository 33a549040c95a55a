import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qualicite.charter import services as charter_services
from qualicite.charter.models import Direction
from qualicite.indicators import periods, queries, rollups
from qualicite.indicators.models import ManualValue, Rollup
from qualicite.indicators.queries import Status

OCTOBER = periods.containing(dt.date(2025, 10, 1), "month")


@given(st.lists(st.integers(0, 60), min_size=1, max_size=200), st.sampled_from([0.5, 0.9, 0.25]))
def test_a_percentile_is_the_nearest_rank_of_the_records(values, q):
    histogram = {}
    for value in values:
        histogram[str(value)] = histogram.get(str(value), 0) + 1
    ordered = sorted(values)
    # The smallest value with at least q of the records at or below it.
    expected = next(v for v in ordered if sum(1 for w in ordered if w <= v) >= q * len(ordered))
    assert queries._quantile(histogram, q) == expected


def test_a_percentile_of_nothing_is_no_data():
    assert queries._quantile({}, 0.5) is None


@pytest.mark.django_db
def test_a_share_without_records_is_no_data_never_zero_or_a_hundred(org, measured):
    indicator = measured["in-time"]
    assert queries.value_of(indicator, 0, 0) is None
    result = queries.results(org, [indicator], OCTOBER)[(indicator.pk, None)]
    assert result.value is None and result.status == Status.NO_DATA
    assert result.numerator is None and result.denominator is None


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("value", "status"),
    [
        (95, Status.MET),
        (90, Status.MET),
        (85, Status.WARNING),
        (80, Status.WARNING),
        (79, Status.MISSED),
    ],
)
def test_the_status_compares_with_the_target_then_the_warning_threshold(measured, value, status):
    indicator = measured["in-time"]  # ≥ 90 %, warning from 80 %
    assert queries.status_of(indicator, Decimal(value), Decimal(90), Decimal(80)) == status


@pytest.mark.django_db
def test_lower_is_better_turns_the_comparison_around(measured):
    median = measured["median"]  # ≤ 5 days, warning up to 8
    assert median.direction == Direction.LOWER_IS_BETTER
    assert queries.status_of(median, Decimal(5), Decimal(5), Decimal(8)) == Status.MET
    assert queries.status_of(median, Decimal(7), Decimal(5), Decimal(8)) == Status.WARNING
    assert queries.status_of(median, Decimal(9), Decimal(5), Decimal(8)) == Status.MISSED


@pytest.mark.django_db
def test_a_watched_indicator_has_no_status_but_its_value(measured):
    rate = measured["complaint-rate"]
    assert queries.status_of(rate, Decimal(12), None, None) == Status.WATCHED
    assert queries.status_of(rate, None, None, None) == Status.NO_DATA


def _rollup(org, indicator, day, numerator, denominator, service=None):
    Rollup.objects.create(
        organisation=org,
        indicator=indicator,
        service=service,
        day=day,
        numerator=numerator,
        denominator=denominator,
    )
    rollups.roll_months([indicator], day, day)  # as roll_up() does after writing days


@pytest.mark.django_db
def test_a_period_sums_its_days_and_a_service_includes_its_sub_services(org, measured):
    indicator = measured["in-time"]
    etat_civil = org.service_set.get(code="etat-civil")
    naissances = org.service_set.get(code="naissances")
    accueil = org.service_set.get(code="accueil")
    _rollup(org, indicator, dt.date(2025, 10, 1), 9, 10, naissances)
    _rollup(org, indicator, dt.date(2025, 10, 31), 1, 10, etat_civil)
    _rollup(org, indicator, dt.date(2025, 10, 15), 5, 5, accueil)
    _rollup(org, indicator, dt.date(2025, 11, 1), 0, 50, accueil)  # the next month
    _rollup(org, indicator, dt.date(2025, 10, 2), 2, 4)  # a request of no service
    found = queries.results(org, [indicator], OCTOBER, services=[etat_civil, accueil])
    assert (
        found[(indicator.pk, etat_civil.pk)].numerator,
        found[(indicator.pk, etat_civil.pk)].denominator,
    ) == (10, 20)
    assert found[(indicator.pk, etat_civil.pk)].value == Decimal("50.00")
    assert found[(indicator.pk, accueil.pk)].value == Decimal("100.00")
    consolidated = found[(indicator.pk, None)]
    assert (consolidated.numerator, consolidated.denominator) == (17, 29)
    assert consolidated.value == Decimal("58.62")


@pytest.mark.django_db
def test_a_service_outside_the_commitment_gets_no_result(org, measured):
    acts = measured["acts"]  # État civil only
    accueil = org.service_set.get(code="accueil")
    naissances = org.service_set.get(code="naissances")
    found = queries.results(org, [acts], OCTOBER, services=[accueil, naissances])
    assert (acts.pk, accueil.pk) not in found
    assert (acts.pk, naissances.pk) in found


@pytest.mark.django_db
def test_a_period_keeps_the_target_in_force_when_it_ended(org, users, measured):
    indicator = measured["in-time"]
    charter_services.update_indicator(
        indicator,
        actor=users["quality_manager"],
        target=Decimal(95),
        warning_threshold=Decimal(85),
        effective_from=dt.date(2025, 11, 1),
    )
    indicator = queries.indicators_of(org, [indicator.pk])[0]
    _rollup(org, indicator, dt.date(2025, 10, 10), 92, 100)
    _rollup(org, indicator, dt.date(2025, 11, 10), 92, 100)
    october = queries.results(org, [indicator], OCTOBER)[(indicator.pk, None)]
    november = queries.results(org, [indicator], OCTOBER.next())[(indicator.pk, None)]
    assert (october.target, october.status) == (Decimal(90), Status.MET)
    assert (november.target, november.status) == (Decimal(95), Status.WARNING)


@pytest.mark.django_db
def test_a_service_target_applies_to_its_service_from_its_date(org, users, measured):
    indicator = measured["in-time"]
    accueil = org.service_set.get(code="accueil")
    charter_services.set_service_targets(
        indicator,
        [(accueil, Decimal(80), Decimal(70))],
        actor=users["quality_manager"],
        effective_from=dt.date(2025, 10, 15),
    )
    indicator = queries.indicators_of(org, [indicator.pk])[0]
    september = OCTOBER.previous()
    assert queries.target_in_force(indicator, accueil, september) == (Decimal(90), Decimal(80))
    assert queries.target_in_force(indicator, accueil, OCTOBER) == (Decimal(80), Decimal(70))
    assert queries.target_in_force(indicator, None, OCTOBER) == (Decimal(90), Decimal(80))


@pytest.mark.django_db
def test_values_entered_by_hand_add_their_counts_or_average_their_values(org, measured):
    signage = measured["signage"]
    for month, value, counts in ((10, 100, (4, 4)), (11, 50, (1, 2)), (12, 80, None)):
        start = dt.date(2025, month, 1)
        ManualValue.objects.create(
            organisation=org,
            indicator=signage,
            period_start=start,
            period_end=periods.containing(start, "month").end,
            value=Decimal(value),
            numerator=counts[0] if counts else None,
            denominator=counts[1] if counts else None,
        )
    autumn = periods.custom(dt.date(2025, 10, 1), dt.date(2025, 11, 30))
    counted = queries.results(org, [signage], autumn)[(signage.pk, None)]
    assert (counted.numerator, counted.denominator, counted.value) == (5, 6, Decimal("83.33"))
    quarter = periods.containing(dt.date(2025, 10, 1), "quarter")
    mixed = queries.results(org, [signage], quarter)[(signage.pk, None)]
    assert mixed.value == Decimal("76.67")  # (100 + 50 + 80) / 3: one value came without counts
    assert mixed.status == Status.MISSED


@pytest.mark.django_db
def test_a_trend_gives_one_result_per_month_oldest_first(org, measured, year_of_requests):
    rollups.rebuild(org)
    indicator = queries.indicators_of(org, [measured["answered"].pk])[0]
    found = queries.trend(org, [indicator], OCTOBER, 12)[indicator.pk]
    assert [r.period for r in found] == periods.series(OCTOBER, 12)
    for result in found:
        single = queries.results(org, [indicator], result.period)[(indicator.pk, None)]
        assert (result.numerator, result.denominator) == (single.numerator, single.denominator)
