"""Ticketing-system exports: mapped, idempotent, whole or nothing, every rejected line told."""

import datetime as dt
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from qualicite.core.models import Role
from qualicite.indicators.models import PendingRollup
from qualicite.reception import desk_services
from qualicite.reception.desk_mapping import MappingError
from qualicite.reception.models import DeskVisit, ReceptionEvent, VisitSource

MAPPING = """\
delimiter: ";"
time_format: "%d/%m/%Y %H:%M:%S"
site: mairie
columns:
  ticket: Ticket
  service: Service
  reason: Motif
  arrived_at: [Date, Arrivée]
  called_at: [Date, Appel]
  done_at: [Date, Fin]
  status: Statut
  right_first_time: Orienté
statuses:
  Servi: served
  Abandon: left
services:
  EC: etat-civil
"""

HEADER = "Ticket;Date;Arrivée;Appel;Fin;Service;Motif;Statut;Orienté\n"
LINES = [
    "A001;03/03/2025;09:00:00;09:04:00;09:10:00;EC;Passeport;Servi;oui\n",
    "A002;03/03/2025;09:02:00;09:20:00;09:30:00;accueil;Renseignement;Servi;non\n",
    "A003;03/03/2025;09:05:00;;;EC;Acte;Abandon;\n",
    "A004;04/03/2025;14:00:00;14:01:30;;Finances;Taxe;Servi;\n",
]


def export(*lines, header=HEADER, encoding="utf-8") -> io.BytesIO:
    return io.BytesIO((header + "".join(lines)).encode(encoding))


def run(org, stream, mapping=MAPPING, **options):
    return desk_services.import_visits(org, stream, actor=None, mapping_text=mapping, **options)


def test_an_export_becomes_visits_with_their_times_services_and_outcomes(org):
    report = run(org, export(*LINES), file_name="tickets.csv")
    assert report.imported and report.error == ""
    assert (report.rows, report.created, report.rejected_count) == (4, 4, 0)
    zone = org.zone
    first = DeskVisit.objects.get(ticket="A001")
    assert first.arrived_at == dt.datetime(2025, 3, 3, 9, 0, tzinfo=zone)
    assert first.called_at == dt.datetime(2025, 3, 3, 9, 4, tzinfo=zone)
    assert first.service.code == "etat-civil" and first.site.code == "mairie"
    assert first.right_first_time is True and first.source == VisitSource.IMPORT
    assert DeskVisit.objects.get(ticket="A002").right_first_time is False
    gone = DeskVisit.objects.get(ticket="A003")
    assert gone.left_without_service and gone.called_at is None
    assert DeskVisit.objects.get(ticket="A004").service.code == "finances"
    event = ReceptionEvent.objects.get(verb="desk.imported")
    assert event.details["created"] == 4 and event.details["file"] == "tickets.csv"


def test_importing_the_same_file_again_changes_nothing(org):
    run(org, export(*LINES))
    before = list(DeskVisit.objects.order_by("pk").values())
    report = run(org, export(*LINES))
    assert (report.created, report.updated, report.unchanged) == (0, 0, 4)
    assert list(DeskVisit.objects.order_by("pk").values()) == before


def test_a_later_export_completes_a_visit_and_adds_the_new_ones(org):
    waiting = "A005;05/03/2025;10:00:00;;;EC;Passeport;Abandon;\n"
    run(org, export(LINES[0], waiting))
    served = "A005;05/03/2025;10:00:00;10:12:00;10:20:00;EC;Passeport;Servi;oui\n"
    report = run(org, export(LINES[0], served, LINES[1]))
    assert (report.created, report.updated, report.unchanged) == (1, 1, 1)
    visit = DeskVisit.objects.get(ticket="A005")
    assert not visit.left_without_service and visit.right_first_time is True
    assert DeskVisit.objects.count() == 3


def test_bad_lines_are_reported_with_their_numbers_and_the_rest_imported(org):
    lines = LINES * 5 + [
        "B001;31/02/2025;09:00:00;;;EC;x;Servi;\n",  # no such day
    ]
    lines = [line.replace("A0", f"A{n}") for n, line in enumerate(lines)]
    report = run(org, export(*lines), mapping=MAPPING.replace('";"', '";"\nmax_bad_share: 0.1'))
    assert report.imported
    assert report.rejected_count == 1
    line, reason = report.rejected[0]
    assert line == 22 and "31/02/2025" in reason
    assert report.created == 20


def test_too_many_bad_lines_import_nothing(org):
    bad = [
        "C001;03/03/2025;09:00:00;08:00:00;;EC;x;Servi;\n",  # called before arriving
        "C002;03/03/2025;09:00:00;09:01:00;;Inconnu;x;Servi;\n",  # unknown service
        "C003;03/03/2025;09:00:00;09:01:00;;EC;x;Peut-être;\n",  # unknown status
    ]
    report = run(org, export(*LINES, *bad))
    assert not report.imported
    assert "nothing was imported" in report.error or "rien" in report.error
    assert [line for line, _reason in report.rejected] == [6, 7, 8]
    assert not DeskVisit.objects.exists()
    assert ReceptionEvent.objects.filter(verb="desk.import_refused").count() == 1
    assert not PendingRollup.objects.exists()


def test_the_days_imported_are_marked_for_the_indicators(org):
    run(org, export(*LINES))
    days = set(PendingRollup.objects.filter(family="desk_visits").values_list("day", flat=True))
    assert days == {dt.date(2025, 3, 3), dt.date(2025, 3, 4)}


def test_an_excel_export_in_cp1252_needs_its_encoding(org):
    line = "D001;03/03/2025;09:00:00;09:04:00;;EC;Acte de décès;Servi;\n"
    refused = run(org, export(line, encoding="cp1252"))
    assert not refused.imported and "cp1252" in refused.error
    report = run(org, export(line, encoding="cp1252"), mapping=MAPPING + "encoding: cp1252\n")
    assert report.created == 1
    assert DeskVisit.objects.get().reason == "Acte de décès"


def test_a_header_without_the_mapped_columns_is_refused(org):
    report = run(org, export(LINES[0], header="Numéro;Jour\n"))
    assert not report.imported and "Ticket" in report.error
    assert not DeskVisit.objects.exists()


def test_an_empty_file_is_refused(org):
    assert not run(org, io.BytesIO(b"")).imported
    assert not run(org, export()).imported  # a header and nothing else


def test_the_mapping_is_checked_whole_before_any_line(org):
    mapping = "columns:\n  ticket: Ticket\n  colour: Couleur\nstatuses:\n  Servi: done\n"
    with pytest.raises(MappingError) as error:
        run(org, export(*LINES), mapping=mapping)
    problems = " ".join(error.value.problems)
    assert "colour" in problems and "arrived_at" in problems and "done" in problems


def test_without_a_ticket_column_a_digest_of_the_line_keeps_it_idempotent(org):
    mapping = (
        "time_format: iso\nsite: mairie\ncolumns:\n  arrived_at: Arrivée\n  wait_seconds: Attente\n"
    )
    header = "Arrivée,Attente\n"
    lines = ["2025-03-03 09:00:00,75\n", "2025-03-03 09:01:00,1:15:00\n", "2025-03-03 09:02:00,\n"]
    report = run(org, export(*lines, header=header), mapping=mapping)
    assert report.created == 3
    waits = sorted(
        (v.called_at - v.arrived_at).total_seconds()
        for v in DeskVisit.objects.filter(called_at__isnull=False)
    )
    assert waits == [75, 4500]
    assert DeskVisit.objects.get(called_at__isnull=True).left_without_service
    again = run(org, export(*lines, header=header), mapping=mapping)
    assert (again.created, again.unchanged) == (0, 3)
    # A later export where the third visitor was called: the same visit, completed.
    completed = run(org, export(*lines[:2], "2025-03-03 09:02:00,30\n", header=header), mapping)
    assert (completed.created, completed.updated, completed.unchanged) == (0, 1, 2)
    assert DeskVisit.objects.count() == 3 and not DeskVisit.objects.filter(called_at=None)


def test_the_import_page_imports_a_file_and_shows_the_report(client_for, org, users):
    client = client_for(users[Role.QUALITY_MANAGER])
    address = reverse("desk:import", kwargs={"org_slug": org.slug})
    assert "arrived_at" in client.get(address).content.decode()
    upload = SimpleUploadedFile("tickets.csv", (HEADER + "".join(LINES)).encode())
    response = client.post(address, {"file": upload, "mapping": MAPPING})
    html = response.content.decode()
    assert response.status_code == 200 and "tickets.csv" in html
    assert DeskVisit.objects.count() == 4
    # The next import starts from the mapping used last time.
    assert "EC: etat-civil" in client.get(address).content.decode()


def test_a_refused_mapping_is_shown_next_to_its_field(client_for, org, users):
    client = client_for(users[Role.QUALITY_MANAGER])
    address = reverse("desk:import", kwargs={"org_slug": org.slug})
    upload = SimpleUploadedFile("tickets.csv", (HEADER + LINES[0]).encode())
    response = client.post(address, {"file": upload, "mapping": "columns: [1, 2]"})
    assert 'id="id_mapping_error"' in response.content.decode()
    assert not DeskVisit.objects.exists()
