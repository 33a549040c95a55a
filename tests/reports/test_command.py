"""`qualicite report complaints ORG --year Y --format F -o FILE`."""

import io
import os
import subprocess
import sys

import pytest
from django.core.management import CommandError, call_command
from django.utils.translation import gettext as _

from qualicite.core.choices import RequestKind
from tests.reports import readers
from tests.reports.expected import Expected


def run(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("report", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.mark.django_db
@pytest.mark.parametrize("extension", ["pdf", "ods", "xlsx", "csv"])
def test_it_writes_the_report_in_each_format(org, year_of_requests, tmp_path, extension):
    target = tmp_path / f"bilan.{extension}"
    out, _err = run("complaints", org.slug, "--year", "2025", "--format", extension, "-o", target)
    content = target.read_bytes()
    assert str(target) in out and str(len(content)) in out
    expected = Expected(org, 2025)
    if extension == "csv":
        section = readers.sections(readers.csv_rows(content))[_("Requests by month of receipt")]
        assert section["total"] == [str(v) for v in expected.totals()]
    elif extension == "xlsx":
        rows = readers.xlsx_sheets(content)
        section = readers.sections([r for sheet in rows.values() for r in [*sheet, []]])
        assert section[_("Requests by month of receipt")]["total"] == expected.totals()
    elif extension == "ods":
        rows = readers.ods_sheets(content)
        section = readers.sections([r for sheet in rows.values() for r in [*sheet, []]])
        assert section[_("Requests by month of receipt")]["total"] == expected.totals()
    else:
        line = " ".join([_("Total"), *map(str, expected.totals())])
        assert line in readers.pdf_lines(content)


@pytest.mark.django_db
def test_the_command_reports_the_whole_organisation(org, year_of_requests, tmp_path):
    target = tmp_path / "bilan.csv"
    run("complaints", org.slug, "--year", "2025", "--format", "csv", "-o", target)
    sections = readers.sections(readers.csv_rows(target.read_bytes()))
    complaints = Expected(org, 2025).count(RequestKind.COMPLAINT)
    assert sections[_("Outcome of the complaints")]["total"][0] == str(complaints)
    assert _("No service") in sections[_("Requests by service")]["rows"]


@pytest.mark.django_db
def test_without_a_file_it_names_the_file_after_the_organisation_and_year(
    org, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    run("complaints", org.slug, "--year", "2024", "--format", "ods")
    assert (tmp_path / "bilan-reclamations-ville-a-2024.ods").read_bytes().startswith(b"PK")


@pytest.mark.django_db
def test_an_unknown_organisation_is_a_clear_error(org, tmp_path):
    with pytest.raises(CommandError, match="nulle-part.*ville-a"):
        run("complaints", "nulle-part", "--year", "2025", "--format", "pdf", "-o", tmp_path / "x")


@pytest.mark.django_db
def test_a_year_out_of_range_is_a_clear_error(org, tmp_path):
    with pytest.raises(CommandError, match="1900"):
        run("complaints", org.slug, "--year", "12", "--format", "pdf", "-o", tmp_path / "x")


@pytest.mark.django_db
def test_an_unwritable_file_is_a_clear_error(org, tmp_path):
    with pytest.raises(CommandError, match="Cannot write|écrire"):
        run("complaints", org.slug, "--year", "2025", "--format", "csv", "-o", tmp_path)


@pytest.mark.django_db
def test_an_unknown_format_or_a_missing_year_is_refused(org):
    with pytest.raises(CommandError, match="invalid choice: 'docx'"):
        run("complaints", org.slug, "--year", "2025", "--format", "docx")
    with pytest.raises(CommandError, match="--year"):
        run("complaints", org.slug, "--format", "pdf")


# --- The real command line, in its own process: exit status and messages ---------------------


@pytest.fixture
def command_env(tmp_path):
    environment = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    environment["QUALICITE_VAR_DIR"] = str(tmp_path / "var")
    subprocess.run(
        [sys.executable, "-m", "qualicite", "migrate", "-v0"],
        env=environment,
        check=True,
        timeout=180,
    )
    subprocess.run(
        [
            sys.executable,
            "-m",
            "qualicite",
            "shell",
            "-c",
            "from qualicite.core import services; "
            "services.create_organisation(actor=None, name='Ville C', slug='ville-c')",
        ],
        env=environment,
        check=True,
        timeout=60,
    )
    return environment


def qualicite(environment, *args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "qualicite", "report", *args],
        env=environment,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_command_line_exits_0_1_or_2_with_a_message(command_env, tmp_path):
    def report(*args):
        return qualicite(command_env, "complaints", *args, cwd=tmp_path)

    done = report("ville-c", "--year", "2025", "--format", "pdf", "-o", "b.pdf")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "b.pdf").read_bytes().startswith(b"%PDF-")

    done = report("ville-c", "--year", "2025", "--format", "csv", "-o", "-")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("\ufeff" + _("Complaints report %(year)s") % {"year": 2025})

    done = report("nulle-part", "--year", "2025", "--format", "pdf")
    assert done.returncode == 1
    assert "nulle-part" in done.stderr and "ville-c" in done.stderr
    assert "Traceback" not in done.stderr

    done = report("ville-c", "--year", "2025", "--format", "doc")
    assert done.returncode == 2
    assert "'doc'" in done.stderr and "usage:" in done.stderr

    done = report("ville-c", "--format", "pdf")
    assert done.returncode == 2
    assert "--year" in done.stderr
