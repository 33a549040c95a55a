"""`qualicite import-desk-visits` and `import-appointments`: the real entry point, exit
statuses, the report printed, whole-or-nothing and idempotent through the commands."""

from __future__ import annotations

import io
import types

import pytest
from django.utils import translation

from qualicite.core import services as core_services
from qualicite.reception.models import Appointment, AppointmentStatus, DeskVisit, ReceptionEvent
from tests.reception.test_appointment_import import (
    CSV_LINES,
    CSV_MAPPING,
    EVENTS,
    TABLES,
    calendar,
    event,
)
from tests.reception.test_desk_import import HEADER, LINES, MAPPING
from tests.reception.test_import_command import qualicite

# The commands close the database connections when they end, as Django's commands do: each
# test commits for real so that the next query opens a new connection and sees its data.
pytestmark = pytest.mark.django_db(transaction=True)

# Three lines of the desk export that cannot be imported (lines 6 to 8 after LINES).
BAD_TICKETS = [
    "C001;03/03/2025;09:00:00;08:00:00;;EC;x;Servi;\n",  # called before arriving
    "C002;03/03/2025;09:00:00;09:01:00;;Inconnu;x;Servi;\n",  # unknown service
    "C003;03/03/2025;09:00:00;09:01:00;;EC;x;Peut-être;\n",  # unknown status
]


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


@pytest.fixture
def annexe(org):
    return core_services.create_site(org, actor=None, code="annexe", name="Mairie annexe")


def write(tmp_path, name: str, content: str | bytes):
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return str(path)


def tickets(*lines: str) -> str:
    return HEADER + "".join(lines)


def with_stdin(monkeypatch, data: bytes) -> None:
    monkeypatch.setattr("sys.stdin", types.SimpleNamespace(buffer=io.BytesIO(data)))


def visits() -> list[dict]:
    return list(DeskVisit.objects.order_by("pk").values())


# --- import-desk-visits ----------------------------------------------------------------------


def test_a_ticketing_export_is_imported_and_its_report_printed(org, tmp_path, capsys):
    export = write(tmp_path, "tickets.csv", tickets(*LINES))
    mapping = write(tmp_path, "tickets.yaml", MAPPING)
    status = qualicite("import-desk-visits", org.slug, export, "--mapping", mapping)
    out, err = capsys.readouterr()
    assert status == 0, err
    assert DeskVisit.objects.count() == 4
    assert "“tickets.csv” imported" in out
    for figure in ("Lines read: 4", "Created: 4", "Updated: 0", "unchanged: 0", "rejected: 0"):
        assert figure in out
    event = ReceptionEvent.objects.get(verb="desk.imported")
    assert event.details["file"] == "tickets.csv" and event.details["mapping"] == MAPPING
    assert event.actor is None


def test_importing_the_same_export_twice_leaves_every_visit_unchanged(org, tmp_path, capsys):
    arguments = (
        "import-desk-visits",
        org.slug,
        write(tmp_path, "tickets.csv", tickets(*LINES)),
        "--mapping",
        write(tmp_path, "tickets.yaml", MAPPING),
    )
    assert qualicite(*arguments) == 0
    before = visits()
    capsys.readouterr()
    assert qualicite(*arguments) == 0
    out = capsys.readouterr().out
    assert "Created: 0" in out and "Updated: 0" in out
    assert "Already imported, unchanged: 4" in out
    assert visits() == before


def test_a_later_export_that_completes_a_visit_updates_it(org, tmp_path, capsys):
    mapping = write(tmp_path, "tickets.yaml", MAPPING)
    waiting = "A005;05/03/2025;10:00:00;;;EC;Passeport;Abandon;\n"
    served = "A005;05/03/2025;10:00:00;10:12:00;10:20:00;EC;Passeport;Servi;oui\n"
    first = write(tmp_path, "monday.csv", tickets(LINES[0], waiting))
    assert qualicite("import-desk-visits", org.slug, first, "--mapping", mapping) == 0
    later = write(tmp_path, "tuesday.csv", tickets(LINES[0], served))
    capsys.readouterr()
    assert qualicite("import-desk-visits", org.slug, later, "--mapping", mapping) == 0
    out = capsys.readouterr().out
    assert "Created: 0" in out and "Updated: 1" in out and "unchanged: 1" in out
    assert not DeskVisit.objects.get(ticket="A005").left_without_service


def test_too_many_bad_tickets_exit_with_1_and_write_nothing(org, tmp_path, capsys):
    export = write(tmp_path, "tickets.csv", tickets(*LINES, *BAD_TICKETS))
    mapping = write(tmp_path, "tickets.yaml", MAPPING)
    status = qualicite("import-desk-visits", org.slug, export, "--mapping", mapping)
    out, err = capsys.readouterr()
    assert status == 1
    assert "Refused, nothing imported: 3 of 7 lines cannot be read" in err
    assert "“tickets.csv” not imported" in out and "Lines rejected: 3" in out
    assert "rejected line 6: the call is before the arrival" in out
    assert "rejected line 7: unknown service “Inconnu”" in out
    assert not DeskVisit.objects.exists()
    assert ReceptionEvent.objects.filter(verb="desk.import_refused").count() == 1
    assert not ReceptionEvent.objects.filter(verb="desk.imported").exists()


def test_the_mappings_share_of_bad_lines_is_the_one_allowed(org, tmp_path):
    export = write(tmp_path, "tickets.csv", tickets(*LINES, *BAD_TICKETS))
    tolerant = write(tmp_path, "tolerant.yaml", MAPPING + "max_bad_share: 0.5\n")
    assert qualicite("import-desk-visits", org.slug, export, "--mapping", tolerant) == 0
    assert DeskVisit.objects.count() == 4


def test_at_most_20_rejected_lines_are_printed_and_the_others_counted(org, tmp_path, capsys):
    future = [f"F{n:03};03/03/2099;09:00:00;;;EC;x;Abandon;\n" for n in range(25)]
    export = write(tmp_path, "tickets.csv", tickets(*LINES, *future))
    mapping = write(tmp_path, "tickets.yaml", MAPPING + "max_bad_share: 1\n")
    assert qualicite("import-desk-visits", org.slug, export, "--mapping", mapping) == 0
    out = capsys.readouterr().out
    rejected = [line for line in out.splitlines() if line.strip().startswith("rejected line")]
    assert len(rejected) == 20
    assert rejected[0].strip() == "rejected line 6: the arrival is in the future"
    assert "Lines rejected: 25" in out and "and 5 more lines rejected." in out


def test_a_dash_reads_the_export_on_standard_input(org, tmp_path, monkeypatch, capsys):
    with_stdin(monkeypatch, tickets(*LINES).encode())
    mapping = write(tmp_path, "tickets.yaml", MAPPING)
    status = qualicite("import-desk-visits", org.slug, "-", "--mapping", mapping)
    assert status == 0, capsys.readouterr().err
    assert DeskVisit.objects.count() == 4
    assert ReceptionEvent.objects.get(verb="desk.imported").details["file"] == "stdin"


def test_the_site_option_is_the_site_of_the_lines_without_one(org, annexe, tmp_path, capsys):
    export = write(tmp_path, "tickets.csv", tickets(*LINES))
    without_site = write(tmp_path, "tickets.yaml", MAPPING.replace("site: mairie\n", ""))
    arguments = ("import-desk-visits", org.slug, export, "--mapping", without_site)
    assert qualicite(*arguments) == 1
    assert "no site: map a site column" in capsys.readouterr().out
    assert qualicite(*arguments, "--site", "annexe") == 0
    assert set(DeskVisit.objects.values_list("site__code", flat=True)) == {"annexe"}


@pytest.mark.parametrize(
    "arguments, message",
    [
        (("nowhere", "FILE", "--mapping", "MAP"), "No organisation has the address name"),
        (("ORG", "FILE", "--mapping", "MAP", "--site", "lune"), "No site has the code “lune”"),
        (("ORG", "missing.csv", "--mapping", "MAP"), "Cannot read missing.csv"),
        (("ORG", "FILE", "--mapping", "missing.yaml"), "Cannot read missing.yaml"),
        (("ORG", "FILE", "--mapping", "BAD"), "The mapping BAD is refused: columns must map"),
    ],
)
def test_wrong_desk_arguments_exit_with_1_and_import_nothing(
    org, tmp_path, capsys, monkeypatch, arguments, message
):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "FILE", tickets(*LINES))
    write(tmp_path, "MAP", MAPPING)
    write(tmp_path, "BAD", "columns: [1, 2]\n")
    args = [org.slug if value == "ORG" else value for value in arguments]
    status = qualicite("import-desk-visits", *args)
    assert status == 1
    assert message in capsys.readouterr().err
    assert not DeskVisit.objects.exists()
    assert not ReceptionEvent.objects.filter(verb__startswith="desk.import").exists()


def test_a_desk_import_without_its_mapping_is_a_usage_error(org, tmp_path, capsys):
    export = write(tmp_path, "tickets.csv", tickets(*LINES))
    assert qualicite("import-desk-visits", org.slug, export) == 2
    assert "--mapping" in capsys.readouterr().err
    assert not DeskVisit.objects.exists()


# --- import-appointments ---------------------------------------------------------------------


def test_a_calendar_is_imported_by_its_extension_and_its_report_printed(
    org, annexe, tmp_path, capsys
):
    path = write(tmp_path, "rdv.ics", calendar(*EVENTS))
    tables = write(tmp_path, "tables.yaml", TABLES)
    status = qualicite(
        "import-appointments", org.slug, path, "--mapping", tables, "--site", "mairie"
    )
    out, err = capsys.readouterr()
    assert status == 0, err
    assert Appointment.objects.count() == 3
    assert Appointment.objects.get(external_id="a3@rdv").site == annexe
    assert Appointment.objects.get(external_id="a1@rdv").site.code == "mairie"
    assert "“rdv.ics” imported" in out
    for figure in ("Lines read: 3", "Created: 3", "Cancelled: 0", "Lines rejected: 0"):
        assert figure in out
    event = ReceptionEvent.objects.get(verb="appointment.imported")
    assert (event.details["format"], event.details["mapping"]) == ("ics", TABLES)


def test_importing_the_same_calendar_twice_leaves_every_appointment_unchanged(
    org, tmp_path, capsys
):
    arguments = (
        "import-appointments",
        org.slug,
        write(tmp_path, "rdv.ics", calendar(*EVENTS[:2])),
        "--site",
        "mairie",
    )
    assert qualicite(*arguments) == 0
    before = list(Appointment.objects.order_by("pk").values())
    capsys.readouterr()
    assert qualicite(*arguments) == 0
    out = capsys.readouterr().out
    assert "Created: 0" in out and "Updated: 0" in out
    assert "Already imported, unchanged: 2" in out
    assert list(Appointment.objects.order_by("pk").values()) == before


def test_a_cancelled_event_is_counted_as_cancelled(org, tmp_path, capsys):
    arguments = ("import-appointments", org.slug, "--site", "mairie")
    assert qualicite(*arguments, write(tmp_path, "monday.ics", calendar(EVENTS[0]))) == 0
    cancelled = event("a1@rdv", "20250304T093000", "20250304T094500", extra="STATUS:CANCELLED")
    capsys.readouterr()
    assert qualicite(*arguments, write(tmp_path, "tuesday.ics", calendar(cancelled))) == 0
    assert "Cancelled: 1" in capsys.readouterr().out
    assert Appointment.objects.get().status == AppointmentStatus.CANCELLED


def test_a_csv_export_with_too_many_bad_lines_exits_with_1_and_writes_nothing(
    org, tmp_path, capsys
):
    path = write(tmp_path, "rdv.csv", "".join(CSV_LINES))
    mapping = write(tmp_path, "rdv.yaml", CSV_MAPPING)
    status = qualicite("import-appointments", org.slug, path, "--mapping", mapping)
    out, err = capsys.readouterr()
    assert status == 1
    assert "Refused, nothing imported: 1 of 4 lines cannot be read" in err
    assert "rejected line 5:" in out and "25:00" in out
    assert not Appointment.objects.exists()
    assert ReceptionEvent.objects.filter(verb="appointment.import_refused").count() == 1
    assert not ReceptionEvent.objects.filter(verb="appointment.imported").exists()


def test_the_share_of_bad_lines_allowed_can_be_raised(org, tmp_path, capsys):
    path = write(tmp_path, "rdv.csv", "".join(CSV_LINES))
    mapping = write(tmp_path, "rdv.yaml", CSV_MAPPING)
    arguments = ("import-appointments", org.slug, path, "--mapping", mapping)
    status = qualicite(*arguments, "--max-bad-share", "0.5")
    out, err = capsys.readouterr()
    assert status == 0, err
    assert "Created: 3" in out and "Cancelled: 1" in out and "Lines rejected: 1" in out
    assert Appointment.objects.get(external_id="101").service.code == "etat-civil"
    assert qualicite(*arguments, "--max-bad-share", "0.5") == 0
    assert "Already imported, unchanged: 3" in capsys.readouterr().out
    assert Appointment.objects.count() == 3


def test_a_csv_mappings_share_of_bad_lines_is_the_one_allowed(org, tmp_path):
    path = write(tmp_path, "rdv.csv", "".join(CSV_LINES))
    tolerant = write(tmp_path, "rdv.yaml", CSV_MAPPING + "max_bad_share: 0.5\n")
    assert qualicite("import-appointments", org.slug, path, "--mapping", tolerant) == 0
    assert Appointment.objects.count() == 3
    # The command line has the last word.
    Appointment.objects.all().delete()
    strict = ("--max-bad-share", "0")
    assert qualicite("import-appointments", org.slug, path, "--mapping", tolerant, *strict) == 1
    assert not Appointment.objects.exists()


def test_the_service_option_is_the_service_of_the_events_without_one(org, tmp_path):
    path = write(tmp_path, "rdv.ics", calendar(EVENTS[0]))
    arguments = ("import-appointments", org.slug, path, "--site", "mairie")
    assert qualicite(*arguments, "--service", "finances") == 0
    assert Appointment.objects.get().service.code == "finances"


def test_all_day_events_are_counted_as_ignored(org, tmp_path, capsys):
    all_day = "BEGIN:VEVENT\r\nUID:day@rdv\r\nDTSTART;VALUE=DATE:20250304\r\nEND:VEVENT\r\n"
    path = write(tmp_path, "rdv.ics", calendar(*EVENTS[:2], all_day))
    assert qualicite("import-appointments", org.slug, path, "--site", "mairie") == 0
    out = capsys.readouterr().out
    assert "Lines rejected: 1" in out and "events ignored (not appointments): 1" in out
    assert "an all-day event is not an appointment" in out


def test_a_file_that_is_not_a_calendar_exits_with_1(org, tmp_path, capsys):
    path = write(tmp_path, "rdv.ics", "Date;Heure\n03/03/2025;09:00\n")
    assert qualicite("import-appointments", org.slug, path, "--site", "mairie") == 1
    assert "Refused, nothing imported: " in capsys.readouterr().err
    assert ReceptionEvent.objects.filter(verb="appointment.import_refused").count() == 1


def test_a_dash_reads_a_calendar_on_standard_input(org, monkeypatch, capsys):
    with_stdin(monkeypatch, calendar(*EVENTS[:2]))
    status = qualicite("import-appointments", org.slug, "-", "--format", "ics", "--site", "mairie")
    assert status == 0, capsys.readouterr().err
    assert Appointment.objects.count() == 2
    assert ReceptionEvent.objects.get(verb="appointment.imported").details["file"] == "stdin"


def test_a_csv_on_standard_input_is_read_as_it_comes(org, tmp_path, monkeypatch, capsys):
    with_stdin(monkeypatch, "".join(CSV_LINES[:4]).encode())
    mapping = write(tmp_path, "rdv.yaml", CSV_MAPPING)
    status = qualicite(
        "import-appointments", org.slug, "-", "--format", "csv", "--mapping", mapping
    )
    assert status == 0, capsys.readouterr().err
    assert Appointment.objects.count() == 3


@pytest.mark.parametrize(
    "arguments, message",
    [
        (("nowhere", "rdv.ics"), "No organisation has the address name"),
        (("ORG", "rdv.ics", "--format", "pdf"), "Unknown format “pdf”"),
        (("ORG", "rdv.pdf"), "The extension of rdv.pdf does not tell its format"),
        (("ORG", "-"), "Give the format of standard input"),
        (("ORG", "rdv.csv"), "The csv format needs a column mapping"),
        (("ORG", "rdv.ics", "--format", "csv"), "The csv format needs a column mapping"),
        (("ORG", "rdv.ics", "--site", "lune"), "No site has the code “lune”"),
        (("ORG", "rdv.ics", "--service", "lune"), "No service has the code “lune”"),
        (("ORG", "missing.ics"), "Cannot read missing.ics"),
        (("ORG", "rdv.ics", "--mapping", "missing.yaml"), "Cannot read missing.yaml"),
        (("ORG", "rdv.ics", "--mapping", "BAD"), "The mapping BAD is refused: unknown key"),
        (("ORG", "rdv.csv", "--mapping", "BAD"), "The mapping BAD is refused: unknown key"),
        (("ORG", "rdv.ics", "--max-bad-share", "2"), "between 0 and 1"),
    ],
)
def test_wrong_appointment_arguments_exit_with_1_and_import_nothing(
    org, tmp_path, capsys, monkeypatch, arguments, message
):
    monkeypatch.chdir(tmp_path)
    for name in ("rdv.ics", "rdv.pdf"):
        write(tmp_path, name, calendar(*EVENTS[:2]))
    write(tmp_path, "rdv.csv", "".join(CSV_LINES[:4]))
    write(tmp_path, "BAD", "places:\n  a: b\n")
    args = [org.slug if value == "ORG" else value for value in arguments]
    status = qualicite(
        "import-appointments", *args, *(() if "--site" in args else ("--site", "mairie"))
    )
    assert status == 1
    assert message in capsys.readouterr().err
    assert not Appointment.objects.exists()
    assert not ReceptionEvent.objects.filter(verb__startswith="appointment.import").exists()


def test_an_appointment_import_without_its_file_is_a_usage_error(org, capsys):
    assert qualicite("import-appointments", org.slug) == 2
    assert "FILE" in capsys.readouterr().err
