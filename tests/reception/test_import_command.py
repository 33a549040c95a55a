"""`qualicite import-calls`: run through the real entry point, exit statuses, output."""

from __future__ import annotations

import pytest
from django.utils import translation

from qualicite.__main__ import main
from qualicite.reception.models import Call, CallImport, ImportStatus
from tests.reception.test_import_calls import abandoned_call, answered_call, generated, log

# The command closes the database connections when it ends, as Django's commands do: each
# test commits for real so that the next query opens a new connection and sees its data.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


def qualicite(*args: str) -> int:
    """Runs `qualicite ARGS…` in this process (the test database); returns the exit status."""
    try:
        main(list(args))
    except SystemExit as exit:
        return exit.code if isinstance(exit.code, int) else 1
    return 0


def test_a_queue_log_is_imported_and_its_report_printed(org, tmp_path, capsys):
    path = tmp_path / "queue_log"
    pauses = [f"{1736150500 + n}|NONE|accueil|PJSIP/201|PAUSE|" for n in range(30)]
    path.write_bytes(log(*answered_call(), *abandoned_call(), *pauses, "1736150600|broken"))
    status = qualicite("import-calls", org.slug, str(path), "--format", "asterisk-queue-log")
    out, err = capsys.readouterr()
    assert status == 0, err
    assert Call.objects.count() == 2
    call_import = CallImport.objects.get()
    assert (call_import.file_name, call_import.status) == ("queue_log", ImportStatus.DONE)
    assert "new calls: 2" in out
    assert "lines rejected: 1" in out
    assert "rejected line 37: 2 fields where at least 5 are expected" in out
    assert "\r[" not in err  # no terminal here: no progress bar unless asked


def test_the_progress_bar_is_drawn_on_demand(org, tmp_path, capsys):
    path = tmp_path / "queue_log"
    path.write_bytes(generated(days=2))
    status = qualicite(
        "import-calls", org.slug, str(path), "--format", "asterisk-queue-log", "--progress"
    )
    out, err = capsys.readouterr()
    assert status == 0
    assert "\r[" in err and "100%" in err and "lines/s" in err
    assert "100%" not in out


def test_a_refused_file_exits_with_1_and_says_why(org, tmp_path, capsys):
    path = tmp_path / "empty.log"
    path.write_bytes(b"")
    status = qualicite("import-calls", org.slug, str(path), "--format", "asterisk-queue-log")
    out, err = capsys.readouterr()
    assert status == 1
    assert "Refused, nothing imported: the file is empty" in err
    assert CallImport.objects.get().status == ImportStatus.REFUSED
    assert not Call.objects.exists()


def test_the_share_of_bad_lines_allowed_can_be_raised(org, tmp_path):
    path = tmp_path / "queue_log"
    path.write_bytes(log(*answered_call(), "broken", "broken too"))
    arguments = ("import-calls", org.slug, str(path), "--format", "asterisk-queue-log")
    assert qualicite(*arguments) == 1
    assert qualicite(*arguments, "--max-bad-share", "0.5") == 0
    assert Call.objects.count() == 1


def test_a_csv_export_is_imported_with_its_mapping_file(org, tmp_path, capsys):
    from tests.reception.test_parsers_mapped_csv import FRENCH_EXPORT, FRENCH_MAPPING

    export, mapping = tmp_path / "export.csv", tmp_path / "mapping.yaml"
    export.write_bytes(FRENCH_EXPORT.encode("cp1252"))
    mapping.write_text(FRENCH_MAPPING, encoding="utf-8")
    status = qualicite(
        "import-calls", org.slug, str(export), "--format", "csv", "--mapping", str(mapping)
    )
    assert status == 0, capsys.readouterr().err
    assert Call.objects.count() == 3


def test_a_site_is_named_by_its_code(org, tmp_path):
    path = tmp_path / "queue_log"
    path.write_bytes(log(*answered_call()))
    args = ("import-calls", org.slug, str(path), "--format", "asterisk-queue-log")
    assert qualicite(*args, "--site", "mairie") == 0
    assert Call.objects.get().site.code == "mairie"


@pytest.mark.parametrize(
    "arguments, message",
    [
        (("nowhere", "FILE", "--format", "asterisk-queue-log"), "No organisation"),
        (("ORG", "FILE", "--format", "pdf"), "Unknown format “pdf”"),
        (("ORG", "missing.log", "--format", "asterisk-queue-log"), "Cannot read missing.log"),
        (("ORG", "FILE", "--format", "csv"), "needs a column mapping"),
        (("ORG", "FILE", "--format", "asterisk-queue-log", "--mapping", "FILE"), "only used"),
        (("ORG", "FILE", "--format", "asterisk-queue-log", "--site", "lune"), "No site"),
        (
            ("ORG", "FILE", "--format", "asterisk-queue-log", "--max-bad-share", "2"),
            "between 0 and 1",
        ),
    ],
)
def test_wrong_arguments_exit_with_1_and_import_nothing(
    org, tmp_path, capsys, monkeypatch, arguments, message
):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "FILE").write_bytes(log(*answered_call()))
    args = [org.slug if value == "ORG" else value for value in arguments]
    status = qualicite("import-calls", *args)
    assert status == 1
    assert message in capsys.readouterr().err
    assert not CallImport.objects.exists()


def test_a_missing_argument_is_a_usage_error(org, capsys):
    assert qualicite("import-calls", org.slug) == 2
    assert "FILE" in capsys.readouterr().err
