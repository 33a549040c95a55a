"""The report's figures match what a person counts from the requests, year by year."""

import datetime as dt

import pytest
from django.utils import translation
from hypothesis import given
from hypothesis import strategies as st

from qualicite.core.choices import Channel, DayKind, RequestKind
from qualicite.reports import complaints
from qualicite.reports.complaints import nearest_rank
from qualicite.requests.models import Outcome, Request
from tests.reports.conftest import Expected, answer, aware


def values(table, key_or_label):
    for row in table.rows:
        if key_or_label in (row.key, row.label):
            return row.values
    raise AssertionError(f"no row {key_or_label!r} in {table.key}")


def key_figure(report, key):
    return values(report.tables["key_figures"], key)


# --- Nearest rank -----------------------------------------------------------------------------


def test_the_median_of_ten_delays_is_the_fifth_and_the_90th_percentile_the_ninth():
    delays = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3]
    ordered = sorted(delays)
    assert nearest_rank(ordered, 50) == ordered[4]
    assert nearest_rank(ordered, 90) == ordered[8]


def test_a_single_delay_is_its_own_median_and_90th_percentile():
    assert nearest_rank([7], 50) == nearest_rank([7], 90) == 7


def test_no_delay_gives_no_percentile_rather_than_zero():
    assert nearest_rank([], 50) is None
    assert nearest_rank([], 90) is None


@given(st.lists(st.integers(min_value=0, max_value=400), min_size=1), st.integers(1, 100))
def test_the_nearest_rank_is_an_observed_delay_covering_at_least_p_percent(delays, percentile):
    ordered = sorted(delays)
    found = nearest_rank(ordered, percentile)
    assert found in ordered
    # At least p % of the delays are within it, and fewer than p % are strictly below it.
    assert 100 * sum(1 for d in ordered if d <= found) >= percentile * len(ordered)
    assert 100 * sum(1 for d in ordered if d < found) < percentile * len(ordered)


# --- A whole year -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_every_count_of_the_year_matches_the_requests(org, year_of_requests):
    report = complaints.build(org, 2025)
    expected = Expected(org, 2025)
    assert expected.count(RequestKind.COMPLAINT) > 10  # the data set is not trivial
    figures = report.tables["key_figures"]
    assert key_figure(report, "complaints")[0] == expected.count(RequestKind.COMPLAINT)
    assert key_figure(report, "suggestions")[0] == expected.count(RequestKind.SUGGESTION)
    assert key_figure(report, "thanks")[0] == expected.count(RequestKind.THANKS)
    assert key_figure(report, "founded")[0] == expected.outcomes[Outcome.FOUNDED]
    assert key_figure(report, "partly_founded")[0] == expected.outcomes[Outcome.PARTLY_FOUNDED]
    assert key_figure(report, "unfounded")[0] == expected.outcomes[Outcome.UNFOUNDED]
    assert key_figure(report, "open")[0] == expected.open
    assert key_figure(report, "answered")[0] == expected.answered
    assert key_figure(report, "unanswered")[0] == expected.unanswered
    assert key_figure(report, "in_time")[0] == pytest.approx(expected.share_in_time)
    assert key_figure(report, "median")[0] == expected.median
    assert key_figure(report, "p90")[0] == expected.p90
    assert figures.columns[1:3] == ["2025", "2024"]


@pytest.mark.django_db
def test_the_tables_by_service_channel_theme_and_month_add_up(org, year_of_requests):
    report = complaints.build(org, 2025)
    expected = Expected(org, 2025)
    by_service = expected.by(lambda r: r.service.name if r.service else None)
    table = report.tables["by_service"]
    labels = [row.label for row in table.rows]
    assert sorted(labels[:-1]) == sorted(org.service_set.values_list("name", flat=True))
    assert labels.index("État civil") + 1 == labels.index("Naissances")  # a child follows
    assert table.rows[-1].key == ""  # the requests of no service come last
    for row in table.rows:
        key = None if row.key == "" else row.label
        assert row.values == by_service.get(key, [0, 0, 0, 0]), row.label
    with translation.override("fr"):
        by_channel = expected.by(lambda r: str(Channel(r.channel).label))
    for row in report.tables["by_channel"].rows:
        assert row.values == by_channel.get(row.label, [0, 0, 0, 0]), row.label
    by_theme = expected.by(lambda r: r.theme.name if r.theme else "")
    for row in report.tables["by_theme"].rows:
        assert row.values == by_theme[row.label if row.key else ""], row.label
    assert "Ancien thème" not in [row.label for row in report.tables["by_theme"].rows]
    by_month = expected.by_month()
    assert [(row.label, row.values) for row in report.tables["by_month"].rows] == list(
        by_month.items()
    )
    for key in ("by_service", "by_channel", "by_theme", "by_month"):
        assert report.tables[key].total.values == expected.totals(), key


@pytest.mark.django_db
def test_a_request_is_counted_in_the_year_of_paris_not_of_utc(org, make_request):
    make_request(kind=RequestKind.COMPLAINT, received_at=aware(2024, 12, 31, 23, 30))
    make_request(kind=RequestKind.SUGGESTION, received_at=aware(2025, 1, 1, 0, 30))
    report = complaints.build(org, 2025)
    assert key_figure(report, "complaints")[:2] == [0, 1]
    assert key_figure(report, "suggestions")[:2] == [1, 0]
    assert values(report.tables["by_month"], "1")[:2] == [0, 1]


@pytest.mark.django_db
def test_information_and_service_requests_are_left_out(org, make_request):
    make_request(kind=RequestKind.INFORMATION, received_at=aware(2025, 3, 3, 10))
    make_request(kind=RequestKind.SERVICE, received_at=aware(2025, 3, 3, 10))
    report = complaints.build(org, 2025)
    assert report.tables["by_month"].total.values == [0, 0, 0, 0]


@pytest.mark.django_db
def test_the_outcomes_table_gives_each_outcome_and_its_share(org, year_of_requests):
    report = complaints.build(org, 2025)
    expected = Expected(org, 2025)
    total = expected.count(RequestKind.COMPLAINT)
    table = report.tables["outcomes"]
    for key, count in (
        (Outcome.FOUNDED, expected.outcomes[Outcome.FOUNDED]),
        (Outcome.PARTLY_FOUNDED, expected.outcomes[Outcome.PARTLY_FOUNDED]),
        (Outcome.UNFOUNDED, expected.outcomes[Outcome.UNFOUNDED]),
        ("open", expected.open),
    ):
        assert values(table, key) == [count, pytest.approx(100 * count / total)]
    assert table.total.values == [total, 100.0]
    assert sum(row.values[0] for row in table.rows) == total


@pytest.mark.django_db
def test_the_delay_distribution_covers_every_answered_complaint(org, year_of_requests):
    report = complaints.build(org, 2025)
    expected = Expected(org, 2025)
    table = report.tables["delays"]
    assert table.total.values == [expected.answered]
    assert sum(row.values[0] for row in table.rows) == expected.answered
    assert values(table, "0-0") == [sum(1 for d in expected.delays if d == 0)]
    assert values(table, "31-") == [sum(1 for d in expected.delays if d > 30)]


# --- Delays, counted by the calendar ----------------------------------------------------------


@pytest.mark.django_db
def test_delays_are_counted_in_working_days_without_holidays_and_weekends(org, make_request):
    # No référentiel: complaints take the default 15 working days.
    # Received Friday 2 May 2025; Thursday 8 May is a holiday. Replied:
    #   Monday 5 May → 1 day; Friday 9 May → 4 days (5, 6, 7, 9); Friday 16 May → 9 days.
    replies = [aware(2025, 5, 5, 11), aware(2025, 5, 9, 16), aware(2025, 5, 16, 9)]
    for replied in replies:
        request = make_request(kind=RequestKind.COMPLAINT, received_at=aware(2025, 5, 2, 10))
        assert request.day_kind == DayKind.WORKING
        answer(request, replied_at=replied)
    report = complaints.build(org, 2025)
    assert key_figure(report, "median")[0] == 4
    assert key_figure(report, "p90")[0] == 9


@pytest.mark.django_db
def test_each_complaint_keeps_its_own_kind_of_days(org, make_request, referentiel):
    # The référentiel counts complaints in calendar days: 2 → 16 May is 14 days.
    calendar_days = make_request(kind=RequestKind.COMPLAINT, received_at=aware(2025, 5, 2, 10))
    assert calendar_days.day_kind == DayKind.CALENDAR
    answer(calendar_days, replied_at=aware(2025, 5, 16, 9))
    report = complaints.build(org, 2025)
    assert key_figure(report, "median")[0] == 14


@pytest.mark.django_db
def test_a_reply_on_the_due_date_is_within_the_delay_and_a_day_later_is_not(org, make_request):
    on_time = make_request(kind=RequestKind.COMPLAINT, received_at=aware(2025, 3, 3, 10))
    late = make_request(kind=RequestKind.COMPLAINT, received_at=aware(2025, 3, 3, 10))
    answer(on_time, replied_at=on_time.due_at)
    answer(late, replied_at=late.due_at + dt.timedelta(seconds=1))
    make_request(kind=RequestKind.COMPLAINT, received_at=aware(2025, 3, 4, 10))  # unanswered
    report = complaints.build(org, 2025)
    assert key_figure(report, "in_time")[0] == pytest.approx(50.0)
    assert key_figure(report, "answered")[0] == 2
    assert key_figure(report, "unanswered")[0] == 1


@pytest.mark.django_db
def test_without_any_answered_complaint_the_delays_are_no_data_and_not_zero(org, make_request):
    make_request(kind=RequestKind.COMPLAINT, received_at=aware(2025, 3, 3, 10))
    report = complaints.build(org, 2025)
    for key in ("median", "p90", "in_time"):
        assert key_figure(report, key) == [None, None, None], key
    assert values(report.tables["outcomes"], "open") == [1, 100.0]


@pytest.mark.django_db
def test_an_empty_year_has_zero_counts_and_no_shares(org):
    report = complaints.build(org, 2025)
    assert key_figure(report, "complaints") == [0, 0, 0]
    assert values(report.tables["outcomes"], "open") == [0, None]
    assert report.tables["outcomes"].total.values == [0, None]


# --- The previous year ------------------------------------------------------------------------


@pytest.mark.django_db
def test_each_key_figure_is_compared_with_the_previous_year(org, year_of_requests):
    report = complaints.build(org, 2025)
    now, before = Expected(org, 2025), Expected(org, 2024)
    assert before.answered == 2  # the 2024 data set is what the fixture says
    pairs = {
        "complaints": (now.count(RequestKind.COMPLAINT), before.count(RequestKind.COMPLAINT)),
        "suggestions": (now.count(RequestKind.SUGGESTION), before.count(RequestKind.SUGGESTION)),
        "thanks": (now.count(RequestKind.THANKS), before.count(RequestKind.THANKS)),
        "founded": (now.outcomes[Outcome.FOUNDED], before.outcomes[Outcome.FOUNDED]),
        "unanswered": (now.unanswered, before.unanswered),
        "median": (now.median, before.median),
        "p90": (now.p90, before.p90),
    }
    for key, (current, previous) in pairs.items():
        assert key_figure(report, key) == [current, previous, current - previous], key
    share = key_figure(report, "in_time")
    assert share[1] == pytest.approx(before.share_in_time)
    assert share[2] == pytest.approx(now.share_in_time - before.share_in_time)


@pytest.mark.django_db
def test_a_change_from_a_year_without_data_is_no_data(org, make_request):
    request = make_request(kind=RequestKind.COMPLAINT, received_at=aware(2025, 3, 3, 10))
    answer(request, replied_at=aware(2025, 3, 5, 10))
    report = complaints.build(org, 2025)
    assert key_figure(report, "median") == [2, None, None]
    assert key_figure(report, "complaints") == [1, 0, 1]


# --- Who sees what ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_restricted_member_sees_only_their_services_and_sub_services(
    org, year_of_requests, restricted_head
):
    report = complaints.build(org, 2025, user=restricted_head)
    expected = Expected(org, 2025, service_codes={"etat-civil", "naissances"})
    assert report.scope.restricted
    assert [row.label for row in report.tables["by_service"].rows] == ["État civil", "Naissances"]
    assert report.tables["by_month"].total.values == expected.totals()
    assert key_figure(report, "median")[0] == expected.median
    assert expected.totals()[3] < Expected(org, 2025).totals()[3]


@pytest.mark.django_db
def test_another_organisations_requests_never_count(org, other_org, make_request):
    make_request(
        organisation=other_org,
        kind=RequestKind.COMPLAINT,
        received_at=aware(2025, 3, 3, 10),
        service=other_org.service_set.get(code="accueil"),
    )
    assert Request.objects.filter(organisation=other_org).count() == 1
    report = complaints.build(org, 2025)
    assert report.tables["by_month"].total.values == [0, 0, 0, 0]
