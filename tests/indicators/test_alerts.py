"""Alerts: raised once for the last closed period, e-mailed over SMTP, closed with a comment;
reminders of values due by hand."""

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import NoReverseMatch, reverse

from qualicite.charter import services as charter_services
from qualicite.core.models import Role, Service
from qualicite.indicators import alerts, periods, queries, rollups, services, tasks
from qualicite.indicators.models import Alert, AlertStatus, IndicatorEvent, ManualReminder
from tests.indicators.values_support import desk_count, fr, head_of, own

PARIS = ZoneInfo("Europe/Paris")
DECEMBER = dt.date(2025, 12, 1)
NOVEMBER = dt.date(2025, 11, 1)
JANUARY = dt.date(2026, 1, 1)
# December's entry closed on 10 January: it is the period judged on the 20th.
JUDGED_ON = dt.date(2026, 1, 20)


def at(day: dt.date, hour: int = 9) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, 0, tzinfo=PARIS)


def entered(indicator, users, period_start, value, **fields):
    return services.enter_value(
        indicator,
        actor=users[Role.QUALITY_MANAGER],
        period_start=period_start,
        value=value,
        today=JUDGED_ON,
        **fields,
    )


def expected_link(settings, org, indicator, period_start, service=None) -> str:
    """The dashboard cell when the dashboard is installed, else the list of alerts."""
    try:
        path = reverse("indicators:drilldown", kwargs={"org_slug": org.slug, "pk": indicator.pk})
    except NoReverseMatch:
        return settings.QUALICITE_BASE_URL + reverse(
            "indicator_alerts:index", kwargs={"org_slug": org.slug}
        )
    query = f"period=month&date={period_start.isoformat()}"
    if service is not None:
        query = f"service={service.code}&{query}"
    return f"{settings.QUALICITE_BASE_URL}{path}?{query}"


def test_a_missed_result_raises_one_alert_and_one_email_to_the_quality_managers(
    org, measured, users, smtp_server, settings
):
    signage = measured["signage"]
    entered(signage, users, NOVEMBER, 50)
    entered(signage, users, DECEMBER, 80, numerator=8, denominator=10)

    [alert] = alerts.raise_alerts(org, today=JUDGED_ON)

    # Only the last closed period is judged: November's 50 % raises nothing.
    assert (alert.indicator, alert.service, alert.period_start) == (signage, None, DECEMBER)
    assert (alert.status, alert.value, alert.target) == (AlertStatus.MISSED, 80, 100)
    assert (alert.numerator, alert.denominator) == (8, 10)
    assert alert.notified_at is not None
    assert alert.recipients == [users[Role.QUALITY_MANAGER].email]
    [message] = smtp_server.messages
    assert message["To"] == users[Role.QUALITY_MANAGER].email
    assert "signage" in message["Subject"]
    assert periods.containing(DECEMBER, "month").label in message["Subject"]
    body = message.get_content()
    for text in ("80 %", "≥ 100 %", "01/12/2025", "31/12/2025"):
        assert text in body
    assert "8" in body and "10" in body
    assert expected_link(settings, org, signage, DECEMBER) in body
    assert IndicatorEvent.objects.filter(verb="alert.raised", subject_id=str(alert.pk)).exists()

    # Raising again finds the same result: nothing new, no second e-mail.
    assert alerts.raise_alerts(org, today=JUDGED_ON) == []
    assert alerts.raise_alerts(org, today=JUDGED_ON + dt.timedelta(days=5)) == []
    assert Alert.objects.count() == 1 and len(smtp_server.messages) == 1


def test_a_result_in_the_warning_band_alerts_the_heads_of_its_service(
    org, measured, users, smtp_server
):
    desk = desk_count(org, measured["signage"])
    accueil = org.service_set.get(code="accueil")
    etat_civil = org.service_set.get(code="etat-civil")
    head_accueil = head_of(org, "accueil")
    head_of(org, "etat-civil")
    entered(desk, users, DECEMBER, 85, service=accueil)
    entered(desk, users, DECEMBER, 95, service=etat_civil)

    [alert] = alerts.raise_alerts(org, today=JUDGED_ON)

    # 85 % is under 90 % but above 80 %; the town's mean, 90 %, meets the target.
    assert (alert.service, alert.status) == (accueil, AlertStatus.WARNING)
    # The head of Accueil, and the head with no restriction; not the head of État civil.
    assert alert.recipients == sorted([head_accueil.email, users[Role.SERVICE_HEAD].email])
    [message] = smtp_server.messages
    assert set(message["X-Envelope-To"].split(", ")) == set(alert.recipients)
    assert accueil.name in message["Subject"]


def test_the_responsible_person_of_the_indicator_gets_the_alert(org, measured, users, mailoutbox):
    signage = own(measured["signage"], users[Role.AGENT])
    entered(signage, users, DECEMBER, 80)
    [alert] = alerts.raise_alerts(org, today=JUDGED_ON)
    assert alert.recipients == [users[Role.AGENT].email]
    assert mailoutbox[0].to == [users[Role.AGENT].email]


def test_alerts_use_the_target_in_force_for_their_period(org, measured, users, mailoutbox):
    signage = measured["signage"]
    entered(signage, users, DECEMBER, 80)
    entered(signage, users, JANUARY, 80)
    charter_services.update_indicator(
        signage, actor=None, target=Decimal(70), effective_from=JANUARY
    )

    [december] = alerts.raise_alerts(org, today=JUDGED_ON)
    assert december.target == 100  # the target in force in December

    # January is judged against 70 %, in force since 1 January: 80 % meets it.
    assert alerts.raise_alerts(org, today=dt.date(2026, 2, 20)) == []
    result = queries.results(org, [signage], periods.containing(JANUARY, "month"))
    assert result[(signage.pk, None)].target == 70
    assert Alert.objects.count() == 1


def test_results_without_data_or_without_target_raise_nothing(org, measured, users, mailoutbox):
    assert alerts.raise_alerts(org, today=JUDGED_ON) == []
    watched = charter_services.create_indicator(
        measured["signage"].commitment,
        actor=None,
        code="visitors",
        name="Visiteurs",
        source="",
        source_kind="manual",
        direction="watch",
    )
    entered(watched, users, DECEMBER, 3)
    assert alerts.raise_alerts(org, today=JUDGED_ON) == []
    assert mailoutbox == []


def test_computed_results_alert_for_the_organisation_and_each_service_in_scope(
    org, year_of_requests, mailoutbox
):
    rollups.rebuild(org)
    today = dt.date(2026, 2, 20)  # every source's January has settled
    created = alerts.raise_alerts(org, today=today)

    january = periods.containing(JANUARY, "month")
    indicators = [i for i in queries.indicators_of(org) if i.source_kind == "computed"]
    top = list(Service.objects.filter(organisation=org, parent__isnull=True))
    named = [s for i in indicators for s in i.commitment.services.all()]
    expected = {
        (key, result.status.value, result.value)
        for key, result in queries.results(
            org, indicators, january, services=list({s.pk: s for s in top + named}.values())
        ).items()
        if result.has_data and result.status in (queries.Status.MISSED, queries.Status.WARNING)
    }
    got = {
        ((a.indicator_id, a.service_id), a.status, a.value)
        for a in Alert.objects.filter(period_start=january.start)
    }
    assert expected and got == expected
    assert len(created) == len(expected) == Alert.objects.count()
    assert any(a.service_id is None for a in created)
    assert any(a.service_id is not None for a in created)
    # Naissances is a sub-service no commitment names: it counts within État civil only.
    assert not Alert.objects.filter(service__code="naissances").exists()
    assert len(mailoutbox) == len(created)
    assert alerts.raise_alerts(org, today=today) == []


def test_a_share_counted_per_day_of_receipt_is_judged_once_late_answers_had_time(org, measured):
    answered, in_time = measured["answered"], measured["in-time"]
    early_february = dt.date(2026, 2, 3)
    assert alerts.judged_period(in_time, early_february).start == JANUARY
    # Requests received on 31 January may still be answered: December is the one judged.
    assert alerts.judged_period(answered, early_february).start == DECEMBER
    assert alerts.judged_period(answered, dt.date(2026, 2, 16)).start == JANUARY


def test_a_refused_email_leaves_the_alert_unsent_and_the_next_tick_sends_it(
    org, measured, users, smtp_server
):
    entered(measured["signage"], users, DECEMBER, 80)
    smtp_server.refuse_messages()
    [alert] = alerts.raise_alerts(org, today=JUDGED_ON)
    alert.refresh_from_db()
    assert alert.notified_at is None and alert.recipients == []

    smtp_server.refuse_messages(False)
    assert tasks.raise_alerts(at(JUDGED_ON)) == "1 alert e-mail(s) sent again"
    alert.refresh_from_db()
    assert alert.notified_at == at(JUDGED_ON)
    assert alert.recipients == [users[Role.QUALITY_MANAGER].email]
    assert len(smtp_server.messages) == 1
    assert tasks.raise_alerts(at(JUDGED_ON, 10)) is None


def test_the_tick_job_raises_the_alerts_of_every_active_organisation(
    org, other_org, measured, users, mailoutbox
):
    entered(measured["signage"], users, DECEMBER, 80)
    assert tasks.raise_alerts(at(JUDGED_ON)) == "1 alert(s) raised"
    assert tasks.raise_alerts(at(JUDGED_ON, 10)) is None
    assert not Alert.objects.filter(organisation=other_org).exists()


# ---------------------------------------------------------------------------
# Closing
# ---------------------------------------------------------------------------


@pytest.fixture
def accueil_alert(org, measured, users, mailoutbox):
    desk = desk_count(org, measured["signage"])
    accueil = org.service_set.get(code="accueil")
    entered(desk, users, DECEMBER, 50, service=accueil)
    # Accueil's figure, and the town's (Accueil's value is the only one): two alerts.
    found = {alert.service: alert for alert in alerts.raise_alerts(org, today=JUDGED_ON)}
    assert set(found) == {accueil, None}
    return found[accueil]


def test_closing_an_alert_needs_what_was_done(accueil_alert, users):
    with pytest.raises(ValidationError) as caught:
        services.close_alert(accueil_alert, actor=users[Role.QUALITY_MANAGER], comment="  ")
    assert caught.value.message_dict == {"comment": [fr("Say what was done about this result.")]}
    accueil_alert.refresh_from_db()
    assert accueil_alert.is_open


def test_a_quality_manager_closes_an_alert_once(accueil_alert, users):
    manager = users[Role.QUALITY_MANAGER]
    services.close_alert(accueil_alert, actor=manager, comment="Renfort le lundi matin.")
    accueil_alert.refresh_from_db()
    assert not accueil_alert.is_open
    assert accueil_alert.closed_by == manager
    assert accueil_alert.closing_comment == "Renfort le lundi matin."
    event = IndicatorEvent.objects.get(verb="alert.closed")
    assert event.actor == manager and event.details["comment"] == "Renfort le lundi matin."
    with pytest.raises(ValidationError):
        services.close_alert(accueil_alert, actor=manager, comment="Encore")


def test_those_responsible_close_their_alert_and_others_may_not(org, accueil_alert, users):
    head_etat_civil = head_of(org, "etat-civil")
    for user in (users[Role.AUDITOR], users[Role.DIRECTION], users[Role.AGENT], head_etat_civil):
        with pytest.raises(PermissionDenied):
            services.close_alert(accueil_alert, actor=user, comment="Vu")
    services.close_alert(accueil_alert, actor=users[Role.SERVICE_HEAD], comment="Vu")
    accueil_alert.refresh_from_db()
    assert accueil_alert.closed_by == users[Role.SERVICE_HEAD]


def test_a_closed_alert_is_not_sent_again(org, measured, users, smtp_server):
    entered(measured["signage"], users, DECEMBER, 80)
    smtp_server.refuse_messages()
    [alert] = alerts.raise_alerts(org, today=JUDGED_ON)
    services.close_alert(alert, actor=users[Role.QUALITY_MANAGER], comment="Déjà traité")
    smtp_server.refuse_messages(False)
    assert tasks.raise_alerts(at(JUDGED_ON)) is None
    assert smtp_server.messages == []


# ---------------------------------------------------------------------------
# Reminders of values due by hand
# ---------------------------------------------------------------------------


def test_a_value_is_reminded_once_from_the_last_day_of_its_period(
    org, measured, users, smtp_server
):
    signage = own(measured["signage"], users[Role.AGENT])
    entered(signage, users, DECEMBER, 100)
    assert tasks.send_manual_reminders(at(dt.date(2026, 1, 30))) is None

    assert tasks.send_manual_reminders(at(dt.date(2026, 1, 31))) == (
        "1 reminder(s) of values to enter sent"
    )
    [message] = smtp_server.messages
    assert message["To"] == users[Role.AGENT].email
    january = periods.containing(JANUARY, "month")
    assert message["Subject"] == fr("Value to enter: %(name)s — %(period)s") % {
        "name": signage.name,
        "period": january.label,
    }
    assert f"period_start={JANUARY.isoformat()}" in message.get_content()
    assert ManualReminder.objects.get().period_start == JANUARY
    event = IndicatorEvent.objects.get(verb="manual_value.reminded")
    assert event.details["recipients"] == [users[Role.AGENT].email]

    assert tasks.send_manual_reminders(at(dt.date(2026, 1, 31), 10)) is None
    assert tasks.send_manual_reminders(at(dt.date(2026, 2, 3))) is None
    assert len(smtp_server.messages) == 1


def test_a_period_closed_without_its_value_is_reminded_as_missing(
    org, measured, users, smtp_server
):
    signage = measured["signage"]
    entered(signage, users, DECEMBER, 100)
    assert tasks.send_manual_reminders(at(dt.date(2026, 2, 15))) == (
        "1 reminder(s) of values to enter sent"
    )
    [message] = smtp_server.messages
    assert message["To"] == users[Role.QUALITY_MANAGER].email
    assert message["Subject"] == fr("Value missing: %(name)s — %(period)s") % {
        "name": signage.name,
        "period": periods.containing(JANUARY, "month").label,
    }


def test_an_entered_value_needs_no_reminder(org, measured, users, mailoutbox):
    signage = measured["signage"]
    entered(signage, users, DECEMBER, 100)
    entered(signage, users, JANUARY, 100)
    assert tasks.send_manual_reminders(at(dt.date(2026, 2, 5))) is None
    assert mailoutbox == []


def test_each_service_of_the_commitment_is_reminded_to_its_heads(org, measured, users, mailoutbox):
    desk = desk_count(org, measured["signage"])
    head_accueil = head_of(org, "accueil")
    accueil = org.service_set.get(code="accueil")
    entered(measured["signage"], users, DECEMBER, 100)
    entered(desk, users, DECEMBER, 100, service=accueil)
    entered(desk, users, DECEMBER, 100, service=org.service_set.get(code="etat-civil"))
    assert tasks.send_manual_reminders(at(dt.date(2026, 1, 31))) == (
        "3 reminder(s) of values to enter sent"
    )
    reminded = {(r.indicator.code, r.service_id) for r in ManualReminder.objects.all()}
    assert reminded == {
        ("signage", None),
        ("desk-count", accueil.pk),
        ("desk-count", org.service_set.get(code="etat-civil").pk),
    }
    to_accueil = [m for m in mailoutbox if accueil.name in m.subject]
    assert [sorted(m.to) for m in to_accueil] == [
        sorted([head_accueil.email, users[Role.SERVICE_HEAD].email])
    ]


def test_a_refused_reminder_is_sent_again_at_the_next_tick(org, measured, users, smtp_server):
    signage = measured["signage"]
    entered(signage, users, DECEMBER, 100)
    smtp_server.refuse_messages()
    assert tasks.send_manual_reminders(at(dt.date(2026, 1, 31))) is None
    assert not ManualReminder.objects.exists()
    smtp_server.refuse_messages(False)
    assert tasks.send_manual_reminders(at(dt.date(2026, 1, 31), 10)) == (
        "1 reminder(s) of values to enter sent"
    )
    assert len(smtp_server.messages) == 1


def test_a_value_entered_for_a_sub_service_stands_for_its_parents_slot(
    org, measured, users, mailoutbox
):
    desk = desk_count(org, measured["signage"])
    for period_start in (DECEMBER, JANUARY):
        entered(measured["signage"], users, period_start, 100)
        entered(desk, users, period_start, 95, service=org.service_set.get(code="accueil"))
    entered(desk, users, DECEMBER, 95, service=org.service_set.get(code="etat-civil"))
    # January's État civil count was made by Naissances, one of its sub-services.
    entered(desk, users, JANUARY, 95, service=org.service_set.get(code="naissances"))
    assert tasks.send_manual_reminders(at(dt.date(2026, 1, 31))) is None
    assert services.due_entries(users[Role.QUALITY_MANAGER], org, dt.date(2026, 1, 31)) == []
