"""The desk tablet's writes: arrival, call, done, left, undo; each logged, none done twice."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from qualicite.core.models import Role
from qualicite.indicators.models import PendingRollup
from qualicite.reception import desk_queries, desk_services
from qualicite.reception.models import DeskVisit, ReceptionEvent, VisitSource


@pytest.fixture
def site(org):
    return org.site_set.get(code="mairie")


def test_an_arrival_is_recorded_with_its_reason_service_and_agent(org, users, site):
    agent = users[Role.AGENT]
    accueil = org.service_set.get(code="accueil")
    visit = desk_services.record_arrival(site, actor=agent, service=accueil, reason=" Passeport ")
    assert visit.reason == "Passeport"
    assert visit.service == accueil
    assert visit.recorded_by == agent
    assert visit.source == VisitSource.TABLET
    assert visit.called_at is None and not visit.left_without_service
    event = ReceptionEvent.objects.get(verb="desk.arrived")
    assert event.actor == agent and event.subject_id == str(visit.pk)
    assert event.details["service"] == "accueil"


def test_an_arrival_marks_its_day_for_the_indicators(org, site):
    visit = desk_services.record_arrival(site, actor=None)
    day = timezone.localtime(visit.arrived_at, org.zone).date()
    assert PendingRollup.objects.filter(organisation=org, family="desk_visits", day=day).exists()


def test_it_refuses_a_service_of_another_organisation(org, other_org, site):
    with pytest.raises(ValidationError):
        desk_services.record_arrival(
            site, actor=None, service=other_org.service_set.get(code="accueil")
        )
    assert not DeskVisit.objects.exists()


def test_a_visit_goes_from_waiting_to_called_to_done(site):
    arrived = timezone.now() - dt.timedelta(minutes=12)
    visit = desk_services.record_arrival(site, actor=None, at=arrived)
    called = desk_services.call_visitor(visit, actor=None)
    assert called.called_at >= arrived
    done = desk_services.finish_visit(called, actor=None, right_first_time=False)
    assert done.done_at >= done.called_at
    assert done.right_first_time is False
    verbs = list(ReceptionEvent.objects.order_by("pk").values_list("verb", flat=True))
    assert verbs == ["desk.arrived", "desk.called", "desk.done"]


def test_a_second_tap_on_called_changes_nothing(site):
    visit = desk_services.record_arrival(site, actor=None)
    first = desk_services.call_visitor(visit, actor=None)
    with pytest.raises(desk_services.TooLate):
        desk_services.call_visitor(visit, actor=None)
    visit.refresh_from_db()
    assert visit.called_at == first.called_at
    assert ReceptionEvent.objects.filter(verb="desk.called").count() == 1


def test_done_needs_the_visitor_at_the_counter(site):
    visit = desk_services.record_arrival(site, actor=None)
    with pytest.raises(desk_services.TooLate):
        desk_services.finish_visit(visit, actor=None, right_first_time=True)


def test_a_visitor_who_left_is_not_in_the_queue_any_more(org, users, site):
    visit = desk_services.record_arrival(site, actor=None)
    desk_services.visitor_left(visit, actor=None)
    visit.refresh_from_db()
    assert visit.left_without_service and visit.done_at is not None
    assert desk_queries.queue(users[Role.AGENT], site, timezone.now()) == []
    with pytest.raises(desk_services.TooLate):
        desk_services.visitor_left(visit, actor=None)


def test_undo_takes_back_the_last_step(site):
    visit = desk_services.record_arrival(site, actor=None)
    desk_services.call_visitor(visit, actor=None)
    desk_services.finish_visit(visit, actor=None, right_first_time=True)
    desk_services.reopen_visit(visit, actor=None)
    visit.refresh_from_db()
    assert visit.called_at is not None and visit.done_at is None
    assert visit.right_first_time is None
    desk_services.reopen_visit(visit, actor=None)
    visit.refresh_from_db()
    assert visit.called_at is None
    with pytest.raises(desk_services.TooLate):
        desk_services.reopen_visit(visit, actor=None)


def test_the_queue_lists_todays_open_visits_longest_waiting_first(org, users, site):
    now = timezone.now().astimezone(org.zone).replace(hour=12, minute=0)
    late = desk_services.record_arrival(site, actor=None, at=now - dt.timedelta(minutes=20))
    early = desk_services.record_arrival(site, actor=None, at=now - dt.timedelta(minutes=2))
    finished = desk_services.record_arrival(site, actor=None, at=now - dt.timedelta(minutes=30))
    desk_services.call_visitor(finished, actor=None)
    desk_services.finish_visit(finished, actor=None, right_first_time=None)
    queue = desk_queries.queue(users[Role.AGENT], site, now)
    assert [v.pk for v in queue] == [late.pk, early.pk]
    assert queue[0].elapsed == 20


def test_a_restricted_agent_sees_only_the_visits_of_their_services(org, users, site):
    etat_civil = org.service_set.get(code="etat-civil")
    mine = desk_services.record_arrival(site, actor=None, service=etat_civil)
    desk_services.record_arrival(site, actor=None, service=org.service_set.get(code="accueil"))
    desk_services.record_arrival(site, actor=None)
    queue = desk_queries.queue(users["restricted_agent"], site, timezone.now())
    assert [v.pk for v in queue] == [mine.pk]
    assert len(desk_queries.queue(users[Role.AGENT], site, timezone.now())) == 3


def test_quick_reasons_start_with_the_sites_most_used(org, site):
    for reason in ["Passeport", "Passeport", "Passeport", "Urbanisme", "Urbanisme", "Taxe"]:
        desk_services.record_arrival(site, actor=None, reason=reason)
    reasons = desk_queries.quick_reasons(site, timezone.now())
    assert reasons[:3] == ["Passeport", "Urbanisme", "Taxe"]
    assert len(reasons) == desk_queries.QUICK_REASONS


def test_the_staffing_grid_counts_arrivals_by_local_weekday_and_hour(org, users, site):
    zone = org.zone
    monday_9 = dt.datetime(2025, 3, 3, 9, 15, tzinfo=zone)
    for minutes in (0, 5, 50):
        visit = desk_services.record_arrival(
            site, actor=None, at=monday_9 + dt.timedelta(minutes=minutes)
        )
        desk_services.call_visitor(
            visit, actor=None, at=visit.arrived_at + dt.timedelta(minutes=4 + minutes)
        )
    tuesday_14 = dt.datetime(2025, 3, 4, 14, 0, tzinfo=zone)
    gone = desk_services.record_arrival(site, actor=None, at=tuesday_14)
    desk_services.visitor_left(gone, actor=None, at=tuesday_14 + dt.timedelta(minutes=50))
    figures = desk_queries.staffing(
        users[Role.QUALITY_MANAGER], org, dt.date(2025, 3, 1), dt.date(2025, 3, 9)
    )
    assert figures.grid == {(0, 9): 2, (0, 10): 1, (1, 14): 1}
    assert figures.hours == list(range(9, 15))
    assert figures.weekdays == [0, 1, 2, 3, 4]
    nine = figures.by_hour[0]
    assert (nine.arrivals, nine.served, nine.within) == (2, 2, 2)
    assert figures.total.served == 3 and figures.total.left == 1
    assert figures.total.within == 2  # the third waited 54 minutes
