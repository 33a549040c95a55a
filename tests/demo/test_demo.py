"""The demo towns: users, référentiel, and a year of requests that look like real work.

Building the demo takes a few seconds, so one build serves the whole module: it is
committed once and flushed at the end, and each test runs in its own rolled-back
transaction on top of it.
"""

import datetime as dt
import io
from collections import Counter

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db.models import F
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext

from qualicite.charter.models import Commitment, Direction, Indicator, SourceKind
from qualicite.core import permissions
from qualicite.core.choices import Channel, RequestKind
from qualicite.core.models import Membership, Organisation, Role, Service
from qualicite.core.permissions import Perm
from qualicite.demo import requests_year
from qualicite.demo.loader import DEMO_PASSWORD
from qualicite.demo.towns import INDICATOR_SETUPS, REQUEST_SETUPS, ROLE_LOGIN_WORDS
from qualicite.indicators import queries, rollups
from qualicite.indicators.models import Alert, ManualValue, Rollup, RollupState
from qualicite.indicators.periods import last_closed, series
from qualicite.requests import services
from qualicite.requests.models import (
    OPEN_STATUSES,
    Delivery,
    Prestation,
    Reply,
    ReplyStatus,
    ReplyTemplate,
    Request,
    RequestEvent,
    Status,
    Theme,
)

TOWN_SLUGS = ("beaulieu", "saint-aubin")


@pytest.fixture(scope="module")
def demo_output(django_db_setup, django_db_blocker):
    out = io.StringIO()
    # The tests' fast hasher (tests/conftest.py) is per test; this build runs before any test.
    fast = override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"])
    with django_db_blocker.unblock(), fast:
        call_command("demo", stdout=out)
    yield out.getvalue()
    with django_db_blocker.unblock():
        call_command("flush", interactive=False, verbosity=0)


@pytest.fixture
def demo(demo_output, db):
    return demo_output


def requests_of(slug):
    return Request.objects.filter(organisation__slug=slug)


# Towns and users -------------------------------------------------------------------------


def test_it_creates_the_two_towns_with_one_login_per_role(demo):
    assert set(Organisation.objects.values_list("slug", flat=True)) == set(TOWN_SLUGS)
    for organisation in Organisation.objects.all():
        roles = set(
            Membership.objects.filter(organisation=organisation).values_list("role", flat=True)
        )
        assert roles == set(Role.values)
    expected = gettext("Password for every demo login: %(password)s") % {"password": DEMO_PASSWORD}
    assert expected in demo
    assert "beaulieu-qualite" in demo and "saint-aubin-agent" in demo


def test_the_smaller_town_keeps_three_services_outside_the_scope(demo):
    outside = Service.objects.filter(organisation__slug="saint-aubin", in_scope=False)
    assert set(outside.values_list("code", flat=True)) == {"ccas", "police", "technique"}


def test_each_town_has_adopted_its_referentiel(demo):
    for slug in TOWN_SLUGS:
        assert Commitment.objects.filter(organisation__slug=slug).count() >= 8


def test_running_it_twice_changes_nothing(demo):
    def counts():
        return [
            model.objects.count()
            for model in (
                Organisation,
                Service,
                Commitment,
                Membership,
                get_user_model(),
                Request,
                Reply,
                RequestEvent,
                Delivery,
                Theme,
                Prestation,
                ReplyTemplate,
                ManualValue,
                Rollup,
                Alert,
            )
        ]

    before = counts()
    call_command("demo", stdout=io.StringIO())
    assert counts() == before


def test_every_printed_login_works_with_the_demo_password(demo, client):
    for membership in Membership.objects.select_related("user", "organisation"):
        assert client.login(username=membership.user.username, password=DEMO_PASSWORD)
        response = client.get(
            reverse("core:workspace", kwargs={"org_slug": membership.organisation.slug})
        )
        assert response.status_code == 200
        client.logout()


def test_a_demo_user_sees_nothing_of_the_other_town(demo, client):
    client.login(username="beaulieu-qualite", password=DEMO_PASSWORD)
    assert (
        client.get(reverse("core:workspace", kwargs={"org_slug": "saint-aubin"})).status_code == 403
    )
    user = get_user_model().objects.get(username="beaulieu-qualite")
    assert not permissions.has_perm(
        user, Organisation.objects.get(slug="saint-aubin"), Perm.VIEW_WORKSPACE
    )


def test_the_demo_agent_is_restricted_to_the_front_desk(demo):
    user = get_user_model().objects.get(username="beaulieu-agent")
    visible = permissions.visible_services(user, Organisation.objects.get(slug="beaulieu"))
    assert list(visible.values_list("code", flat=True)) == ["accueil"]


def test_scale_adds_agents_deterministically(demo):
    call_command("demo", "--scale", "2", verbosity=0, stdout=io.StringIO())
    first = sorted(get_user_model().objects.values_list("username", "first_name", "last_name"))
    call_command("demo", "--scale", "2", verbosity=0, stdout=io.StringIO())
    assert first == sorted(
        get_user_model().objects.values_list("username", "first_name", "last_name")
    )
    assert Membership.objects.filter(user__username__startswith="beaulieu-agent-").count() == 5


# Request configuration -------------------------------------------------------------------


def test_each_town_offers_the_usual_prestations_with_their_delays(demo):
    for slug in TOWN_SLUGS:
        offered = dict(
            Prestation.objects.filter(organisation__slug=slug).values_list(
                "name", "announced_delay_days"
            )
        )
        for name in (
            "Passeport",
            "Carte nationale d'identité",
            "Copie d'acte d'état civil",
            "Attestation fiscale",
            "Réservation de salle",
        ):
            assert offered[name] >= 1
        # A copy of a civil-status act comes much sooner than an identity document.
        assert offered["Copie d'acte d'état civil"] < offered["Passeport"]
        assert Theme.objects.filter(organisation__slug=slug).count() == len(
            REQUEST_SETUPS[slug]["themes"]
        )
        kinds = set(
            ReplyTemplate.objects.filter(organisation__slug=slug).values_list("kind", flat=True)
        )
        assert kinds == set(RequestKind.values)


# A year of requests ----------------------------------------------------------------------


def test_each_town_has_requests_on_every_channel_and_of_every_kind(demo):
    for slug in TOWN_SLUGS:
        rows = requests_of(slug)
        assert set(rows.values_list("channel", flat=True)) == set(Channel.values)
        assert set(rows.values_list("kind", flat=True)) == set(RequestKind.values)
        assert rows.count() >= 1500


def test_the_requests_cover_a_year_ending_before_today(demo):
    today = timezone.localdate()
    for slug in TOWN_SLUGS:
        received = [
            timezone.localtime(r).date()
            for r in requests_of(slug).values_list("received_at", flat=True)
        ]
        assert max(received) < today
        assert min(received) >= today - dt.timedelta(days=365)


def test_september_and_january_are_busier_than_august(demo):
    for slug in TOWN_SLUGS:
        by_month = Counter(
            timezone.localtime(received).month
            for received in requests_of(slug).values_list("received_at", flat=True)
        )
        assert by_month[9] > by_month[8] and by_month[1] > by_month[8]


def test_most_requests_are_answered_in_time_with_a_sent_reply(demo):
    for slug in TOWN_SLUGS:
        answered = requests_of(slug).filter(replied_at__isnull=False)
        in_time = answered.filter(replied_at__lte=F("due_at")).count()
        assert 0.85 <= in_time / answered.count() < 1
        # Every answered request has the reply that answered it, sent at that moment.
        sent = Reply.objects.filter(
            request__in=answered, status=ReplyStatus.SENT, sent_at=F("request__replied_at")
        )
        assert sent.values("request").distinct().count() == answered.count()


def test_a_few_requests_are_overdue_and_a_few_still_open(demo):
    now = timezone.now()
    for slug in TOWN_SLUGS:
        rows = requests_of(slug)
        still_open = rows.filter(status__in=OPEN_STATUSES)
        overdue = still_open.filter(replied_at__isnull=True, paused_at__isnull=True, due_at__lt=now)
        assert 0 < overdue.count() < still_open.count() < rows.count() * 0.05


def test_complaints_are_closed_with_an_outcome(demo):
    for slug in TOWN_SLUGS:
        complaints = requests_of(slug).filter(kind=RequestKind.COMPLAINT)
        closed = complaints.filter(status=Status.CLOSED)
        assert closed.exists() and not closed.filter(outcome="").exists()
        assert len(set(closed.values_list("outcome", flat=True))) == 3
        assert not complaints.exclude(status=Status.CLOSED).exclude(outcome="").exists()


def test_deliveries_are_mostly_on_time_and_some_are_still_expected(demo):
    for slug in TOWN_SLUGS:
        deliveries = Delivery.objects.filter(organisation__slug=slug)
        delivered = deliveries.filter(delivered_at__isnull=False)
        in_time = delivered.filter(delivered_at__lte=F("due_at")).count()
        assert 0.85 <= in_time / delivered.count() < 1
        assert deliveries.filter(delivered_at__isnull=True).exists()
        assert deliveries.filter(request__isnull=False).exists()
        assert deliveries.filter(request__isnull=True).exists()


def test_every_request_tells_its_story_in_events_in_order(demo):
    stories = {}
    rows = RequestEvent.objects.filter(request__organisation__slug="beaulieu").order_by("id")
    for request_id, verb, at in rows.values_list("request_id", "verb", "at"):
        stories.setdefault(request_id, []).append((verb, at))
    closed = set(requests_of("beaulieu").filter(status=Status.CLOSED).values_list("pk", flat=True))
    assert len(stories) == requests_of("beaulieu").count()
    for request_id, story in stories.items():
        verbs = [verb for verb, _at in story]
        assert verbs[0] == "request.received"
        assert (verbs[-1] == "request.closed") == (request_id in closed), verbs
        times = [at for _verb, at in story]
        assert times == sorted(times), verbs


def test_the_same_seed_and_day_plan_the_same_year(demo):
    organisation = Organisation.objects.get(slug="saint-aubin")
    # A smaller year is enough to show the plan depends on the seed and nothing else.
    setup = {**REQUEST_SETUPS["saint-aubin"], "per_year": 200}
    config = requests_year.configure(organisation, setup)

    def plan(seed):
        year = requests_year.Year(organisation, setup, config, seed=seed, today=dt.date(2026, 6, 1))
        return [
            (life.request.code, life.request.status, life.request.received_at)
            for life in year.requests()
        ]

    assert plan(7) == plan(7)
    assert plan(7) != plan(8)


# Indicators: a year that is mostly met, and a busy last month ----------------------------


def _monthly_results(organisation, month, *, services=()):
    """Results of the month for the indicators judged monthly against a target."""
    indicators = [
        i
        for i in queries.indicators_of(organisation)
        if i.period == "month" and i.direction != Direction.WATCH and i.target is not None
    ]
    return queries.results(organisation, indicators, month, services=services).values()


def _busy_month(organisation):
    # requests_year makes the month before the demo's day the busy one.
    return last_closed("month", rollups.today(organisation))


def test_the_dashboard_is_filled_at_once(demo):
    for organisation in Organisation.objects.all():
        assert RollupState.objects.get(organisation=organisation).rebuilt_at is not None
        computed = rollups.computed_indicators(organisation)
        rolled = set(
            Rollup.objects.filter(organisation=organisation).values_list("indicator_id", flat=True)
        )
        assert computed and rolled == {i.pk for i in computed}


def test_most_monthly_commitments_are_met_over_the_year_before_the_busy_month(demo):
    for organisation in Organisation.objects.all():
        busy = _busy_month(organisation)
        judged = Counter(
            result.status
            for month in series(busy.previous(), 11)
            for result in _monthly_results(organisation, month)
            if result.has_data
        )
        met = judged[queries.Status.MET]
        assert met >= 5 * (judged[queries.Status.WARNING] + judged[queries.Status.MISSED])


def _failing(organisation, month, services) -> Counter:
    return Counter(
        result.status
        for result in _monthly_results(organisation, month, services=services)
        if result.status in (queries.Status.MISSED, queries.Status.WARNING)
    )


def test_the_busy_month_misses_commitments_more_than_the_month_before(demo):
    for organisation in Organisation.objects.all():
        busy = _busy_month(organisation)
        services = list(organisation.service_set.all())

        in_busy = _failing(organisation, busy, services)
        before = _failing(organisation, busy.previous(), services)
        assert in_busy[queries.Status.MISSED] >= 1 and in_busy[queries.Status.WARNING] >= 1
        assert in_busy.total() > before.total()
        # The busy service is the one behind its due dates.
        code = REQUEST_SETUPS[organisation.slug]["busy"]["service"]
        missed_by = {
            result.service.code
            for result in _monthly_results(organisation, busy, services=services)
            if result.status == queries.Status.MISSED and result.service is not None
        }
        assert code in missed_by


def test_the_alerts_of_the_busy_month_are_open_and_were_sent_nowhere_real(demo, mailoutbox):
    for organisation in Organisation.objects.all():
        busy = _busy_month(organisation)
        open_alerts = Alert.objects.filter(organisation=organisation, closed_at__isnull=True)
        assert open_alerts.filter(period="month", period_start=busy.start).exists()
        # Every alert stands for a result of its period that is not met.
        for alert in open_alerts.select_related("indicator", "service"):
            period = last_closed(alert.period, alert.period_end + dt.timedelta(days=1))
            found = queries.results(
                organisation,
                queries.indicators_of(organisation, pks=[alert.indicator_id]),
                period,
                services=[alert.service] if alert.service else (),
            )[(alert.indicator_id, alert.service_id)]
            assert found.status == alert.status
            assert all(address.endswith("@demo.qualicite.invalid") for address in alert.recipients)
    assert mailoutbox == []


def test_values_measured_by_hand_are_entered_for_each_closed_period_by_the_quality_manager(
    demo,
):
    today = timezone.localdate()
    for organisation in Organisation.objects.all():
        manager = f"{organisation.slug}-{ROLE_LOGIN_WORDS[Role.QUALITY_MANAGER]}"
        for indicator in Indicator.objects.filter(
            organisation=organisation, source_kind=SourceKind.MANUAL
        ):
            values = ManualValue.objects.filter(indicator=indicator)
            last = last_closed(indicator.period, today)
            assert values.filter(period_start=last.start, period_end=last.end).exists()
            assert not values.filter(period_end__gte=today).exists()
            assert set(values.values_list("entered_by__username", flat=True)) == {manager}
        # A check slipped into the warning band in the busy month.
        for code in INDICATOR_SETUPS[organisation.slug]["slipping"]:
            indicator = queries.indicators_of(
                organisation, pks=Indicator.objects.filter(code=code).values("pk")
            )
            result = queries.results(organisation, indicator, _busy_month(organisation))
            assert result[(indicator[0].pk, None)].status == queries.Status.WARNING


def test_each_town_publishes_results_with_someone_responsible(demo, client):
    for organisation in Organisation.objects.all():
        setup = INDICATOR_SETUPS[organisation.slug]
        published = Indicator.objects.filter(organisation=organisation, results_published=True)
        assert set(published.values_list("code", flat=True)) == set(setup["published"])
        owners = dict(
            Indicator.objects.filter(organisation=organisation, owner__isnull=False).values_list(
                "code", "owner__username"
            )
        )
        assert owners == {
            code: f"{organisation.slug}-{ROLE_LOGIN_WORDS[role]}"
            for code, role in setup["owners"].items()
        }
        page = client.get(reverse("public_results:index", kwargs={"org_slug": organisation.slug}))
        assert page.status_code == 200
        shown = [i.name for i in published if i.name in page.content.decode()]
        assert shown


# The simulated rows are the rows the services write ------------------------------------

IGNORED_FIELDS = {
    # Its own identity, and when things happened: the demo back-dates them.
    "id",
    "code",
    "entered_at",
    "acknowledged_at",
    "replied_at",
    "replied_day",  # the local day of replied_at
    "answer_days",  # counted from the back-dated receipt to the answer
    "closed_at",
    "paused_at",
    # Keys that must be unique in the organisation: the replay cannot reuse them.
    "message_id",
    "idempotency_key",
}


def _replay(demo_request: Request) -> Request:
    """Run the demo request's story through the services, as an agent would have."""
    events = list(demo_request.events.order_by("at", "id"))
    citizen = {name: getattr(demo_request, name) for name in services.CITIZEN_FIELDS}
    request = services.create_request(
        demo_request.organisation,
        actor=events[0].actor,
        kind=demo_request.kind,
        channel=demo_request.channel,
        subject=demo_request.subject,
        body=demo_request.body,
        service=demo_request.service,
        theme=demo_request.theme,
        prestation=demo_request.prestation,
        received_at=demo_request.received_at,
        is_anonymous=demo_request.is_anonymous,
        **citizen,
    )
    demo_reply = demo_request.replies.get()
    reply = delivery = None
    for event in events[1:]:
        if event.verb == "delivery.recorded":
            delivery = services.record_delivery(
                demo_request.prestation,
                actor=event.actor,
                requested_at=demo_request.received_at,
                reference=event.details["reference"],
                request=request,
            )
        elif event.verb == "delivery.delivered":
            services.mark_delivered(
                delivery, actor=event.actor, delivered_at=demo_request.delivery.delivered_at
            )
        elif event.verb == "request.acknowledged":
            services.acknowledge(request, actor=event.actor, channel=event.details["channel"])
        elif event.verb == "request.assigned":
            services.assign(request, actor=event.actor, assignee=demo_request.assigned_to)
        elif event.verb in ("reply.sent", "reply.submitted") and reply is None:
            reply = services.submit_reply(
                request,
                actor=demo_reply.author,
                channel=demo_reply.channel,
                body=demo_reply.body,
                subject=demo_reply.subject,
                template=demo_reply.template,
            )
        elif event.verb == "reply.validated":
            services.review_reply(reply, actor=event.actor, approve=True)
        elif event.verb == "request.closed":
            services.close(request, actor=event.actor, outcome=demo_request.outcome)
    request.refresh_from_db()
    return request


def _story(request: Request) -> list:
    # The reply's own id; what depends on when it happened (the replay happens today).
    ignored = {"reply", "back_dated", "in_time"}
    return [
        (e.verb, e.actor_id, e.actor_name, {k: v for k, v in e.details.items() if k not in ignored})
        for e in request.events.order_by("at", "id")
    ]


@pytest.mark.parametrize(
    "scenario",
    [
        # A complaint by e-mail, acknowledged by the platform, its reply validated by a head.
        {"kind": RequestKind.COMPLAINT, "events__verb": "reply.validated"},
        # A letter acknowledged by an agent's letter.
        {"channel": Channel.LETTER, "acknowledgement_channel": Channel.LETTER},
        # A passport asked for at the desk, the delivery recorded with it.
        {"kind": RequestKind.SERVICE, "prestation__name": "Passeport"},
    ],
    ids=["validated-complaint", "acknowledged-letter", "passport"],
)
def test_a_demo_request_is_what_the_services_would_have_written(demo, scenario, mailoutbox):
    demo_request = (
        requests_of("beaulieu")
        .filter(status=Status.CLOSED, **scenario)
        .exclude(replies=None)
        .order_by("id")
        .first()
    )
    assert demo_request is not None, scenario
    replayed = _replay(demo_request)
    fields = [f.attname for f in Request._meta.concrete_fields if f.attname not in IGNORED_FIELDS]
    assert {f: getattr(replayed, f) for f in fields} == {
        f: getattr(demo_request, f) for f in fields
    }
    assert _story(replayed) == _story(demo_request)
    sent = demo_request.events.get(verb="reply.sent")
    assert sent.details["in_time"] == demo_request.answered_in_time
    demo_reply, reply = demo_request.replies.get(), replayed.replies.get()
    same = ("channel", "subject", "status", "template_id", "author_id", "validated_by_id")
    assert {f: getattr(reply, f) for f in same} == {f: getattr(demo_reply, f) for f in same}
    if demo_request.prestation_id:
        same = ("prestation_id", "reference", "requested_at", "due_at", "delivered_at")
        delivery, demo_delivery = replayed.delivery, demo_request.delivery
        assert {f: getattr(delivery, f) for f in same} == {
            f: getattr(demo_delivery, f) for f in same
        }
