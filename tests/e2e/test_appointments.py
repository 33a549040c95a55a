"""Appointments: an agent books one, checks the citizen in and serves them; the quality manager
imports the booking system's calendar, and a cancelled event cancels its appointment."""

import datetime as dt

from django.utils import timezone

from qualicite.core.models import Role
from qualicite.reception import appointment_services
from qualicite.reception.models import Appointment, AppointmentStatus
from tests.conftest import PASSWORD
from tests.e2e.browser import screenshot, tr

S = AppointmentStatus
APPOINTMENTS = "/ville-a/espace/rendez-vous/"


def _within_today(org, instant, *, margin: int):
    """`instant`, moved to stay `margin` minutes away from either end of today, so that a
    journey run near midnight still finds its appointments on today's page."""
    today = timezone.localtime(timezone.now(), org.zone).replace(second=0, microsecond=0)
    start = today.replace(hour=0, minute=0) + dt.timedelta(minutes=margin)
    end = today.replace(hour=23, minute=59) - dt.timedelta(minutes=margin)
    return min(max(timezone.localtime(instant, org.zone), start), end)


def _day_of_appointments(org):
    """Today's agenda: one served, one arrived and waiting, one missed, one still to come."""
    site = org.site_set.get(code="mairie")
    etat_civil = org.service_set.get(code="etat-civil")
    now = _within_today(org, timezone.now().replace(second=0, microsecond=0), margin=60)
    booked = []
    for minutes, subject in (
        (-50, "Passeport — dépôt"),
        (-20, "Carte d'identité — retrait"),
        (-35, "Reconnaissance anticipée"),
        (40, "Acte de mariage"),
    ):
        booked.append(
            appointment_services.create_appointment(
                org,
                actor=None,
                site=site,
                service=etat_civil,
                starts_at=now + dt.timedelta(minutes=minutes),
                ends_at=now + dt.timedelta(minutes=minutes + 15),
                subject=subject,
            )
        )
    served, waiting, missed, _later = booked
    appointment_services.check_in(served, actor=None, at=served.starts_at - dt.timedelta(minutes=4))
    appointment_services.serve(served, actor=None, at=served.starts_at + dt.timedelta(minutes=3))
    appointment_services.check_in(waiting, actor=None, at=waiting.starts_at)
    appointment_services.mark_no_show(missed, actor=None)


def test_an_agent_books_checks_in_and_serves_an_appointment(journey, org, users):
    _day_of_appointments(org)
    page = journey.page
    journey.log_in(users[Role.AGENT], PASSWORD)
    journey.goto(APPOINTMENTS)
    journey.follow(page.get_by_role("link", name=tr("Book an appointment")))
    # A slot that has just started, on today's page whatever the time of the run.
    start = _within_today(org, timezone.now() - dt.timedelta(minutes=5), margin=1)
    start = min(start, timezone.localtime(timezone.now(), org.zone))
    # A mistake first: the end before the start is refused next to the field.
    journey.submit(
        site=str(org.site_set.get(code="mairie").pk),
        service=str(org.service_set.get(code="etat-civil").pk),
        starts_at=start.strftime("%Y-%m-%dT%H:%M"),
        ends_at=(start - dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
        subject="Passeport — retrait",
    )
    assert page.locator("#id_ends_at_error").is_visible()
    journey.submit(ends_at=(start + dt.timedelta(minutes=15)).strftime("%Y-%m-%dT%H:%M"))
    appointment = Appointment.objects.get(subject="Passeport — retrait")
    assert journey.path.startswith(APPOINTMENTS)
    row = page.locator(f"#appointment-{appointment.pk}")
    assert tr("Booked") in row.inner_text()
    screenshot(page, "rendez-vous")

    journey.follow(row.get_by_role("button", name=tr("Arrived")))
    assert tr("Arrived") in page.locator(f"#appointment-{appointment.pk}").inner_text()
    journey.follow(
        page.locator(f"#appointment-{appointment.pk}").get_by_role("button", name=tr("Served"))
    )
    appointment.refresh_from_db()
    assert appointment.status == S.SERVED and appointment.served_at >= appointment.checked_in_at

    # The page of an appointment: corrections and the status buttons.
    journey.follow(
        page.locator(f"#appointment-{appointment.pk}").get_by_role("link", name=tr("Edit"))
    )
    journey.follow(page.get_by_role("button", name=tr("Back to booked")))
    appointment.refresh_from_db()
    assert appointment.status == S.BOOKED


CALENDAR = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Prise de RDV//FR\r\n"
    "BEGIN:VEVENT\r\nUID:rdv-1@agenda\r\nDTSTART;TZID=Europe/Paris:{day}T093000\r\n"
    "DTEND;TZID=Europe/Paris:{day}T094500\r\nSUMMARY:Passeport\r\nCATEGORIES:Passeport\r\n"
    "{status}END:VEVENT\r\n"
    "BEGIN:VEVENT\r\nUID:rdv-2@agenda\r\nDTSTART;TZID=Europe/Paris:{day}T100000\r\n"
    "DURATION:PT20M\r\nSUMMARY:Carte d'identité\r\nEND:VEVENT\r\n"
    "BEGIN:VEVENT\r\nUID:ferie@agenda\r\nDTSTART;VALUE=DATE:{day}\r\nSUMMARY:Fermé\r\n"
    "END:VEVENT\r\nEND:VCALENDAR\r\n"
)


def test_the_quality_manager_imports_a_calendar_twice(journey, org, users, tmp_path):
    page = journey.page
    day = (timezone.localdate() + dt.timedelta(days=7)).strftime("%Y%m%d")
    journey.log_in(users[Role.QUALITY_MANAGER], PASSWORD)
    journey.goto(APPOINTMENTS)
    journey.follow(page.get_by_role("link", name=tr("Import bookings")))

    def upload(status: str):
        path = tmp_path / "agenda.ics"
        path.write_text(CALENDAR.format(day=day, status=status), encoding="utf-8")
        page.locator("#id_file").set_input_files(str(path))
        page.locator("#id_site").select_option(str(org.site_set.get(code="mairie").pk))
        page.locator("#id_mapping").fill("services:\n  Passeport: etat-civil\n")
        journey.follow(page.locator("main form").get_by_role("button", name=tr("Import")))
        return page.locator("section.desk-report")

    report = upload("")
    assert "agenda.ics" in report.inner_text()
    assert report.locator("table tbody tr").count() == 1  # the all-day closure, ignored
    assert Appointment.objects.count() == 2
    assert Appointment.objects.get(external_id="rdv-1@agenda").service.code == "etat-civil"

    upload("STATUS:CANCELLED\r\n")
    assert Appointment.objects.count() == 2
    assert Appointment.objects.get(external_id="rdv-1@agenda").status == S.CANCELLED
