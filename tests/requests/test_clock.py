"""The clock of a request: due dates, pauses, reminders and escalations sent once by tick."""

import datetime as dt

import pytest
from django.core import mail

from qualicite.core import services as core_services
from qualicite.core.choices import Channel
from qualicite.core.models import Role
from qualicite.core.tick import run_tick
from qualicite.requests import services, tasks
from qualicite.requests.models import Request, RequestEvent, Status
from tests.requests.conftest import aware


def local_date(instant):
    return instant.astimezone(aware(2025, 1, 1).tzinfo).date()


@pytest.fixture
def staff_emails(users):
    return {role: user.email for role, user in users.items()}


def test_a_letter_received_after_closing_time_counts_from_the_next_open_moment(
    make_request, referentiel, org
):
    # The Hôtel de ville serves Accueil Monday to Friday 8:30–17:00.
    friday_evening = make_request(
        channel=Channel.LETTER,
        citizen_address="1 place de la Mairie",
        site=org.site_set.get(code="mairie"),
        received_at=aware(2025, 3, 7, 18, 30),
    )
    monday_morning = make_request(
        channel=Channel.LETTER,
        citizen_address="1 place de la Mairie",
        site=org.site_set.get(code="mairie"),
        received_at=aware(2025, 3, 10, 9, 0),
    )
    assert local_date(friday_evening.due_at) == local_date(monday_morning.due_at)


def test_a_site_closure_pushes_the_due_date(make_request, referentiel, org):
    site = org.site_set.get(code="mairie")
    core_services.add_site_closure(
        site, actor=None, start_date=dt.date(2025, 3, 10), end_date=dt.date(2025, 3, 14)
    )
    request = make_request(
        channel=Channel.EMAIL,
        citizen_email="c@example.org",
        site=site,
        received_at=aware(2025, 3, 7, 10, 0),
    )
    # 5 working days from Friday 7 March, the week of the 10th closed: Friday 21 March.
    assert local_date(request.due_at) == dt.date(2025, 3, 21)


def test_pausing_keeps_the_days_left_and_resuming_gives_them_back(make_request, referentiel, users):
    request = make_request(
        channel=Channel.EMAIL, citizen_email="c@example.org", received_at=aware(2025, 3, 3, 9, 0)
    )
    assert local_date(request.due_at) == dt.date(2025, 3, 10)
    services.pause_clock(
        request, actor=users[Role.AGENT], reason="Pièce manquante", now=aware(2025, 3, 5, 9, 0)
    )
    assert (request.status, request.remaining_days) == (Status.WAITING, 3)
    assert not request.is_overdue(now=aware(2025, 4, 1, 9, 0))
    services.resume_clock(request, actor=users[Role.AGENT], now=aware(2025, 3, 17, 9, 0))
    assert local_date(request.due_at) == dt.date(2025, 3, 20)
    assert request.status == Status.IN_PROGRESS
    verbs = list(request.events.order_by("id").values_list("verb", flat=True))
    assert verbs[-2:] == ["request.paused", "request.resumed"]


def test_the_reminder_goes_to_the_assignee_three_working_days_before_and_only_once(
    make_request, referentiel, users, org
):
    request = make_request(
        channel=Channel.LETTER,
        citizen_address="1 place de la Mairie",
        received_at=aware(2025, 3, 3, 9, 0),
    )
    services.assign(request, actor=users[Role.SERVICE_HEAD], assignee=users[Role.AGENT])
    due = local_date(request.due_at)  # Monday 24 March
    assert due == dt.date(2025, 3, 24)
    assert tasks.send_reminders(aware(2025, 3, 18, 9, 0)) is None  # 4 working days left
    assert tasks.send_reminders(aware(2025, 3, 19, 9, 0)) == "1 reminder(s) sent"
    assert tasks.send_reminders(aware(2025, 3, 20, 9, 0)) is None
    [message] = mail.outbox
    assert message.to == [users[Role.AGENT].email]
    assert request.display_code in message.subject
    assert RequestEvent.objects.filter(verb="request.reminder_sent").count() == 1


def test_an_overdue_request_is_escalated_to_the_head_of_its_service_once(make_request, users, org):
    request = make_request(received_at=aware(2025, 1, 6, 9, 0))
    assert tasks.send_overdue_escalations(aware(2025, 2, 20, 9, 0)) == (
        "1 overdue request(s) escalated"
    )
    assert tasks.send_overdue_escalations(aware(2025, 2, 21, 9, 0)) is None
    [message] = mail.outbox
    assert message.to == [users[Role.SERVICE_HEAD].email]
    request.refresh_from_db()
    assert request.escalated_at is not None


def test_answered_or_paused_requests_are_neither_reminded_nor_escalated(make_request, users):
    answered = make_request(received_at=aware(2025, 1, 6, 9, 0))
    services.submit_reply(answered, actor=users[Role.AGENT], channel="phone", body="Dit.")
    paused = make_request(received_at=aware(2025, 1, 6, 9, 0))
    services.pause_clock(paused, actor=users[Role.AGENT], reason="Pièce manquante")
    assert tasks.send_overdue_escalations(aware(2026, 1, 1, 9, 0)) is None
    assert tasks.send_reminders(aware(2026, 1, 1, 9, 0)) is None
    assert mail.outbox == []


def test_tick_runs_the_request_jobs_and_a_mail_failure_does_not_stop_the_others(
    make_request, settings
):
    make_request(received_at=aware(2025, 1, 6, 9, 0))
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", 9  # nothing listens there
    outcomes = {o.name: o for o in run_tick(aware(2025, 3, 3, 9, 0))}
    assert {"requests.reminders", "requests.escalations"} <= set(outcomes)
    assert all(o.ok for o in outcomes.values())
    assert Request.objects.get().escalated_at is None  # not sent, so tried again next tick


def test_rerouting_a_paused_request_keeps_the_days_that_had_already_run(
    make_request, referentiel, users, org
):
    request = make_request(
        channel=Channel.EMAIL, citizen_email="c@example.org", received_at=aware(2025, 3, 3, 9, 0)
    )
    services.pause_clock(
        request, actor=users[Role.AGENT], reason="Pièce manquante", now=aware(2025, 3, 5, 9, 0)
    )
    # Now a complaint: 30 calendar days from 3 March, paused on the 5th → 28 days left.
    services.reroute(request, actor=users[Role.AGENT], reason="Réclamation", kind="complaint")
    assert (request.delay_days, request.remaining_days) == (30, 28)
