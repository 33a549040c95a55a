"""Booking exports: calendars (.ics) and CSV; updated by identifier, never doubled, cancellable."""

import datetime as dt
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from qualicite.core import services as core_services
from qualicite.core.models import Role
from qualicite.indicators.models import PendingRollup
from qualicite.reception import appointment_ics, appointment_import, appointment_services
from qualicite.reception.desk_import import Lookup
from qualicite.reception.desk_mapping import MappedRow, MappingError, load_mapping, read_rows
from qualicite.reception.models import Appointment, AppointmentStatus, ReceptionEvent

S = AppointmentStatus


def event(uid, start, end="", *, summary="RDV", extra=""):
    lines = ["BEGIN:VEVENT", f"UID:{uid}", f"DTSTART;TZID=Europe/Paris:{start}"]
    if end:
        lines.append(f"DTEND;TZID=Europe/Paris:{end}")
    lines.append(f"SUMMARY:{summary}")
    lines += [line for line in extra.split("\n") if line]
    lines.append("END:VEVENT")
    return "\r\n".join(lines) + "\r\n"


def calendar(*events) -> bytes:
    head = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Prise de RDV//FR\r\n"
    return (head + "".join(events) + "END:VCALENDAR\r\n").encode()


def import_ics(org, data: bytes, *, tables="", site=None, service=None):
    lookup = Lookup(org, default_site=site, default_service=service)
    items = appointment_ics.read_events(data, lookup, appointment_ics.load_tables(tables), org.zone)
    return appointment_services.import_appointments(
        org, items, actor=None, file_name="rdv.ics", file_format="ics", mapping_text=tables
    )


@pytest.fixture
def site(org):
    return org.site_set.get(code="mairie")


@pytest.fixture
def annexe(org):
    return core_services.create_site(org, actor=None, code="annexe", name="Mairie annexe")


EVENTS = [
    event("a1@rdv", "20250304T093000", "20250304T094500", summary="Passeport\\, dépôt"),
    event("a2@rdv", "20250304T100000", extra="DURATION:PT20M\nCATEGORIES:Passeport,Urgent"),
    event("a3@rdv", "20250305T140000", extra="LOCATION:Annexe nord"),
]
TABLES = "sites:\n  Annexe nord: annexe\nservices:\n  Passeport: etat-civil\n"


def test_a_calendar_becomes_appointments(org, site, annexe):
    report = import_ics(org, calendar(*EVENTS), tables=TABLES, site=site)
    assert report.imported and (report.rows, report.created) == (3, 3)
    first = Appointment.objects.get(external_id="a1@rdv")
    assert first.starts_at == dt.datetime(2025, 3, 4, 9, 30, tzinfo=org.zone)
    assert first.ends_at == dt.datetime(2025, 3, 4, 9, 45, tzinfo=org.zone)
    assert first.subject == "Passeport, dépôt" and first.site == site
    second = Appointment.objects.get(external_id="a2@rdv")
    assert second.ends_at - second.starts_at == dt.timedelta(minutes=20)
    assert second.service.code == "etat-civil"
    assert Appointment.objects.get(external_id="a3@rdv").site == annexe
    assert ReceptionEvent.objects.get(verb="appointment.imported").details["created"] == 3


def test_importing_again_updates_and_never_doubles(org, site, annexe):
    import_ics(org, calendar(*EVENTS), tables=TABLES, site=site)
    again = import_ics(org, calendar(*EVENTS), tables=TABLES, site=site)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)
    moved = event("a1@rdv", "20250306T110000", summary="Passeport, retrait")
    report = import_ics(org, calendar(moved), tables=TABLES, site=site)
    assert (report.created, report.updated) == (0, 1)
    assert Appointment.objects.count() == 3
    first = Appointment.objects.get(external_id="a1@rdv")
    assert first.starts_at == dt.datetime(2025, 3, 6, 11, 0, tzinfo=org.zone)
    assert first.subject == "Passeport, retrait"


def test_a_cancelled_event_cancels_a_booked_appointment_and_counts_both_days(org, site):
    import_ics(org, calendar(*EVENTS[:2]), site=site)
    PendingRollup.objects.all().delete()
    cancelled = event("a1@rdv", "20250304T093000", "20250304T094500", extra="STATUS:CANCELLED")
    report = import_ics(org, calendar(cancelled), site=site)
    assert report.cancelled == 1
    assert Appointment.objects.get(external_id="a1@rdv").status == S.CANCELLED
    days = set(PendingRollup.objects.filter(family="appointments").values_list("day", flat=True))
    assert days == {dt.date(2025, 3, 4)}
    # Booked again in the booking system: booked again here.
    import_ics(org, calendar(EVENTS[0]), site=site)
    assert Appointment.objects.get(external_id="a1@rdv").status == S.BOOKED


def test_a_cancellation_does_not_undo_an_appointment_already_honoured(org, site):
    import_ics(org, calendar(EVENTS[0]), site=site)
    appointment = Appointment.objects.get()
    appointment_services.update_appointment(
        appointment,
        actor=None,
        checked_in_at=appointment.starts_at,
        served_at=appointment.starts_at + dt.timedelta(minutes=2),
    )
    cancelled = event("a1@rdv", "20250304T093000", "20250304T094500", extra="STATUS:CANCELLED")
    import_ics(org, calendar(cancelled), site=site)
    assert Appointment.objects.get().status == S.SERVED


def test_events_that_are_not_appointments_are_rejected_with_their_line(org, site):
    all_day = "BEGIN:VEVENT\r\nUID:day@rdv\r\nDTSTART;VALUE=DATE:20250304\r\nEND:VEVENT\r\n"
    recurring = event("rec@rdv", "20250304T080000", extra="RRULE:FREQ=WEEKLY")
    no_uid = "BEGIN:VEVENT\r\nDTSTART:20250304T080000Z\r\nEND:VEVENT\r\n"
    broken = "BEGIN:VEVENT\r\nUID:broken@rdv\r\nDTSTART:2025xx\r\nEND:VEVENT\r\n"
    good = [event(f"g{n}@rdv", f"202503{10 + n % 20:02d}T{8 + n // 20:02d}0000") for n in range(40)]
    data = calendar(*good, all_day, recurring, no_uid, broken)
    report = import_ics(org, data, site=site, tables="")
    # The all-day and the recurring events are ignored, not bad: 2 bad events of 44 pass.
    assert report.imported and report.created == 40
    assert (report.rejected_count, report.skipped_count) == (4, 2)
    text = data.decode()
    lines = text.split("\r\n")
    expected = [i + 1 for i, line in enumerate(lines) if line == "BEGIN:VEVENT"][40:]
    assert [line for line, _reason in report.rejected] == expected
    # One more bad event and the share is over 5 %: nothing at all is imported.
    Appointment.objects.all().delete()
    worse = calendar(*good, all_day, recurring, no_uid, broken, broken.replace("broken@", "b2@"))
    refused = import_ics(org, worse, site=site, tables="")
    assert not refused.imported and not Appointment.objects.exists()


def test_a_location_that_is_no_site_falls_back_on_the_chosen_site(org, site):
    report = import_ics(org, calendar(EVENTS[2]), site=site)
    assert report.created == 1 and Appointment.objects.get().site == site
    refused = import_ics(org, calendar(event("z@rdv", "20250304T093000", extra="LOCATION:Ici")))
    assert not refused.imported and "Ici" in refused.rejected[0][1]


def test_a_file_that_is_not_a_calendar_imports_nothing(org, site):
    for data in (b"", b"Date;Heure\n03/03/2025;09:00\n"):
        report = import_ics(org, data, site=site)
        assert not report.imported and report.error
    assert not Appointment.objects.exists()


def test_the_tables_are_checked(org):
    with pytest.raises(MappingError):
        appointment_ics.load_tables("places:\n  a: b\n")


CSV_MAPPING = appointment_import.EXAMPLE_MAPPING + "site: mairie\nservices:\n  CNI: etat-civil\n"
CSV_LINES = [
    "Numéro;Date;Heure;Durée;Motif;Service;Statut\n",
    "101;04/03/2025;09:30;15;Carte d'identité;CNI;Confirmé\n",
    "102;04/03/2025;10:00;1:30;Mariage;etat-civil;Confirmé\n",
    "103;04/03/2025;11:00;;Taxe;Finances;Annulé\n",
    "104;04/03/2025;25:00;;Taxe;Finances;Confirmé\n",
]


def import_csv(org, lines, mapping=CSV_MAPPING, site=None):
    parsed = load_mapping(mapping, appointment_import.SPEC, default_timezone=org.time_zone)
    lookup = Lookup(org, default_site=site)

    def items():
        for row in read_rows(io.BytesIO("".join(lines).encode()), parsed):
            if not isinstance(row, MappedRow):
                yield row
                continue
            try:
                yield row.number, appointment_import.csv_values(row, lookup)
            except Exception as error:  # RowError: the reason of the line
                yield row.number, str(error)

    return appointment_services.import_appointments(
        org,
        items(),
        actor=None,
        file_name="rdv.csv",
        file_format="csv",
        max_bad_share=parsed.max_bad_share if len(lines) > 10 else 0.5,
    )


def test_a_csv_export_becomes_appointments(org):
    report = import_csv(org, CSV_LINES)
    assert (report.created, report.cancelled, report.rejected_count) == (3, 1, 1)
    assert report.rejected[0][0] == 5
    cni = Appointment.objects.get(external_id="101")
    assert cni.ends_at - cni.starts_at == dt.timedelta(minutes=15)
    assert cni.service.code == "etat-civil"
    assert Appointment.objects.get(external_id="102").ends_at.hour == 10  # 11:30 Paris = 10:30Z
    assert Appointment.objects.get(external_id="103").status == S.CANCELLED
    again = import_csv(org, CSV_LINES)
    assert (again.created, again.unchanged) == (0, 3)


def test_the_import_page_reads_a_calendar(client_for, org, users, site):
    client = client_for(users[Role.QUALITY_MANAGER])
    address = reverse("appointments:import", kwargs={"org_slug": org.slug})
    assert client.get(address).status_code == 200
    upload = SimpleUploadedFile("rdv.ics", calendar(*EVENTS[:2]), content_type="text/calendar")
    response = client.post(
        address, {"file_format": "ics", "file": upload, "site": site.pk, "mapping": ""}
    )
    assert response.status_code == 200 and "rdv.ics" in response.content.decode()
    assert Appointment.objects.count() == 2


def test_the_import_page_needs_a_mapping_for_a_csv(client_for, org, users):
    client = client_for(users[Role.QUALITY_MANAGER])
    address = reverse("appointments:import", kwargs={"org_slug": org.slug})
    upload = SimpleUploadedFile("rdv.csv", "".join(CSV_LINES).encode())
    response = client.post(address, {"file_format": "csv", "file": upload, "mapping": ""})
    assert 'id="id_mapping_error"' in response.content.decode()
    upload = SimpleUploadedFile("rdv.csv", "".join(CSV_LINES).encode())
    client.post(address, {"file_format": "csv", "file": upload, "mapping": CSV_MAPPING})
    # One bad line of four is more than 5 %: nothing imported, the report says which line.
    assert not Appointment.objects.exists()
