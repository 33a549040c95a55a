"""Appointments: booked, arrived, served, did not come, cancelled, undone; no-shows at night."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from qualicite.core.models import Role
from qualicite.core.tick import registered_jobs
from qualicite.indicators.models import PendingRollup
from qualicite.reception import appointment_services as services
from qualicite.reception.models import Appointment, AppointmentStatus, ReceptionEvent

S = AppointmentStatus


@pytest.fixture
def site(org):
    return org.site_set.get(code="mairie")


def book(org, site, starts_at=None, **fields):
    return services.create_appointment(
        org,
        actor=None,
        site=site,
        # A slot that starts now: today's, whatever the time of the run (even 23:59).
        starts_at=starts_at or timezone.now(),
        **fields,
    )


def test_an_appointment_is_booked_and_logged(org, users, site):
    agent = users[Role.AGENT]
    appointment = services.create_appointment(
        org,
        actor=agent,
        site=site,
        service=org.service_set.get(code="etat-civil"),
        starts_at=timezone.now() + dt.timedelta(days=2),
        subject=" Passeport ",
        citizen="M. Martin",
    )
    assert appointment.status == S.BOOKED and appointment.subject == "Passeport"
    assert appointment.created_by == agent
    assert ReceptionEvent.objects.get(verb="appointment.created").actor == agent


def test_the_end_of_a_slot_must_follow_its_start(org, site):
    start = timezone.now()
    with pytest.raises(ValidationError) as error:
        book(org, site, start, ends_at=start)
    assert "ends_at" in error.value.message_dict
    assert not Appointment.objects.exists()


def test_it_refuses_a_site_of_another_organisation(org, other_org):
    with pytest.raises(ValidationError):
        book(org, other_org.site_set.get(code="mairie"))


def test_arrived_then_served_records_both_times(org, site):
    appointment = book(org, site)
    services.check_in(appointment, actor=None)
    served = services.serve(appointment, actor=None)
    assert served.status == S.SERVED
    assert served.checked_in_at is not None and served.served_at >= served.checked_in_at
    verbs = list(ReceptionEvent.objects.order_by("pk").values_list("verb", flat=True))
    assert verbs == ["appointment.created", "appointment.checked_in", "appointment.served"]


def test_a_later_days_appointment_cannot_be_checked_in_by_mistake(org, site):
    appointment = book(org, site, timezone.now() + dt.timedelta(days=3))
    for action in (services.check_in, services.serve, services.mark_no_show):
        with pytest.raises(ValidationError):
            action(appointment, actor=None)
    appointment.refresh_from_db()
    assert appointment.status == S.BOOKED


def test_a_cancelled_or_served_appointment_refuses_the_wrong_taps(org, site):
    appointment = book(org, site)
    services.cancel(appointment, actor=None)
    with pytest.raises(ValidationError):
        services.check_in(appointment, actor=None)
    services.reset(appointment, actor=None)
    services.serve(appointment, actor=None)
    with pytest.raises(ValidationError):
        services.cancel(appointment, actor=None)
    with pytest.raises(ValidationError):
        services.mark_no_show(appointment, actor=None)


def test_back_to_booked_undoes_a_mistaken_tap(org, site):
    appointment = book(org, site)
    services.mark_no_show(appointment, actor=None)
    services.reset(appointment, actor=None)
    appointment.refresh_from_db()
    assert appointment.status == S.BOOKED
    with pytest.raises(ValidationError):
        services.reset(appointment, actor=None)


def test_a_correction_of_the_times_sets_the_status(org, site):
    start = timezone.now() - dt.timedelta(days=1)
    appointment = book(org, site, start)
    services.mark_no_show(appointment, actor=None)
    corrected = services.update_appointment(
        appointment,
        actor=None,
        checked_in_at=start - dt.timedelta(minutes=5),
        served_at=start + dt.timedelta(minutes=3),
    )
    assert corrected.status == S.SERVED
    back = services.update_appointment(corrected, actor=None, checked_in_at=None, served_at=None)
    assert back.status == S.BOOKED
    with pytest.raises(ValidationError) as error:
        services.update_appointment(
            back, actor=None, checked_in_at=start, served_at=start - dt.timedelta(minutes=1)
        )
    assert "served_at" in error.value.message_dict


def test_moving_a_slot_marks_the_old_and_the_new_day(org, site):
    old = dt.datetime(2025, 3, 3, 10, 0, tzinfo=org.zone)
    appointment = book(org, site, old)
    PendingRollup.objects.all().delete()
    services.update_appointment(appointment, actor=None, starts_at=old + dt.timedelta(days=2))
    days = set(PendingRollup.objects.filter(family="appointments").values_list("day", flat=True))
    assert days == {dt.date(2025, 3, 3), dt.date(2025, 3, 5)}


def test_appointments_never_checked_in_become_no_shows_once_their_day_is_over(org, site):
    zone = org.zone
    now = dt.datetime(2025, 3, 5, 0, 30, tzinfo=zone)
    yesterday = book(org, site, dt.datetime(2025, 3, 4, 16, 0, tzinfo=zone))
    honoured = book(org, site, dt.datetime(2025, 3, 4, 9, 0, tzinfo=zone))
    services.check_in(honoured, actor=None, at=honoured.starts_at)
    tonight = book(org, site, dt.datetime(2025, 3, 5, 0, 10, tzinfo=zone))
    cancelled = book(org, site, dt.datetime(2025, 3, 3, 9, 0, tzinfo=zone))
    services.cancel(cancelled, actor=None)
    PendingRollup.objects.all().delete()
    assert services.mark_past_no_shows(org, now=now) == 1
    statuses = dict(Appointment.objects.values_list("pk", "status"))
    assert statuses[yesterday.pk] == S.NO_SHOW
    assert statuses[honoured.pk] == S.CHECKED_IN
    assert statuses[tonight.pk] == S.BOOKED  # today is not over
    assert statuses[cancelled.pk] == S.CANCELLED
    days = set(PendingRollup.objects.filter(family="appointments").values_list("day", flat=True))
    assert days == {dt.date(2025, 3, 4)}
    assert services.mark_past_no_shows(org, now=now) == 0  # idempotent


def test_the_no_show_job_is_registered_with_tick(org, other_org, site):
    job = registered_jobs()["reception.appointment_no_shows"]
    book(org, site, timezone.now() - dt.timedelta(days=2))
    book(other_org, other_org.site_set.get(code="mairie"), timezone.now() - dt.timedelta(days=3))
    assert job(timezone.now()) == "2 appointments marked as missed"
    assert job(timezone.now()) is None
