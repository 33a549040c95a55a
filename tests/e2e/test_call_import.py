"""The quality manager imports the phone system's log, follows its progress, reads the report,
maps a queue to its service and flags a test call."""

from __future__ import annotations

import io
import threading

import pytest
from django.db import connection

from qualicite.core.models import Role
from qualicite.reception import services
from qualicite.reception.models import Call, CallImport, ImportStatus, QueueMapping
from qualicite.reception.parsers.generate import generate
from tests.conftest import PASSWORD
from tests.e2e.browser import check_a11y, screenshot, tr

PAGE_IMPORTS = "/ville-a/espace/appels/imports/"
PAGE_CALLS = "/ville-a/espace/appels/"


@pytest.fixture(autouse=True)
def uploads_in_a_temporary_folder(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    # The upload waits for the worker, as in production: the test plays the worker.
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}


def queue_log(days: int) -> bytes:
    out = io.BytesIO()
    generate(out, days=days, seed=3)
    return out.getvalue()


class Worker(threading.Thread):
    """Imports an uploaded file as `qualicite worker` would, pausing half way once."""

    def __init__(self, call_import_id: int):
        super().__init__(daemon=True)
        self.call_import_id = call_import_id
        self.half_way = threading.Event()
        self.go_on = threading.Event()
        self.error: BaseException | None = None

    def progress(self, bytes_read: int, lines_read: int) -> None:
        total = CallImport.objects.values_list("bytes_total", flat=True).get(pk=self.call_import_id)
        if not self.half_way.is_set() and bytes_read * 2 >= total:
            self.half_way.set()
            self.go_on.wait(timeout=60)

    def run(self) -> None:
        try:
            call_import = CallImport.objects.select_related("organisation", "site").get(
                pk=self.call_import_id
            )
            with call_import.file.open("rb") as stream:
                services.import_calls(
                    call_import.organisation,
                    stream,
                    actor=call_import.created_by,
                    fmt=call_import.format,
                    file_name=call_import.file_name,
                    site=call_import.site,
                    call_import=call_import,
                    progress=self.progress,
                )
        except BaseException as error:  # reported by the test
            self.error = error
        finally:
            self.half_way.set()
            connection.close()


def test_the_quality_manager_imports_a_log_maps_a_queue_and_flags_a_test_call(
    journey, org, users, tmp_path, monkeypatch
):
    page = journey.page
    # Small reads and frequent reports, so that a small file shows its progress.
    monkeypatch.setattr(services, "READ_CHUNK", 32 << 10)
    monkeypatch.setattr(services, "PROGRESS_LINES", 500)
    log_path = tmp_path / "queue_log-20250110"
    log_path.write_bytes(queue_log(days=5))

    journey.log_in(users[Role.QUALITY_MANAGER], PASSWORD)
    journey.goto(PAGE_IMPORTS)

    # A mistake first: a CSV export without its column mapping; the error is beside the field.
    page.locator("#id_file").set_input_files(str(log_path))
    journey.submit(format="csv")
    assert page.locator("#id_mapping_error").is_visible()
    assert not CallImport.objects.exists()

    page.locator("#id_file").set_input_files(str(log_path))
    page.locator("#id_format").select_option("asterisk-queue-log")
    page.locator("#id_site").select_option(label="Hôtel de ville")
    screenshot(page, "appels-import")
    journey.submit()
    call_import = CallImport.objects.get()
    assert journey.path == f"{PAGE_IMPORTS}{call_import.pk}/"
    assert call_import.status == ImportStatus.WAITING
    assert page.locator("progress").is_visible()

    # The worker starts; the page follows its progress without being reloaded.
    worker = Worker(call_import.pk)
    worker.start()
    assert worker.half_way.wait(timeout=60)
    page.wait_for_function(
        "() => document.getElementById('progress-bar').value >= 40", timeout=15_000
    )
    assert tr("Running") in page.locator("#import-status").inner_text()
    check_a11y(page)
    screenshot(page, "appels-import-progression")
    with page.expect_navigation(timeout=30_000):
        worker.go_on.set()
    worker.join(timeout=60)
    assert worker.error is None, worker.error
    check_a11y(page)
    call_import.refresh_from_db()
    assert call_import.status == ImportStatus.DONE
    assert page.locator("#report-heading").is_visible()
    assert str(call_import.calls_created) in page.locator("main dl.facts").last.inner_text()
    screenshot(page, "appels-import-rapport")

    # The queues seen for the first time are listed unmapped: map "accueil" to its service.
    journey.follow(page.get_by_role("link", name=tr("Map the queues to services")))
    assert QueueMapping.objects.filter(organisation=org).count() == 4
    screenshot(page, "appels-files")
    row = page.locator("tbody tr", has=page.locator("code", has_text="accueil")).first
    journey.follow(row.get_by_role("link"))
    journey.submit(service=str(org.service_set.get(code="accueil").pk))
    assert journey.path == "/ville-a/espace/appels/files-attente/"
    accueil = org.service_set.get(code="accueil")
    assert not Call.objects.filter(queue="accueil").exclude(service=accueil).exists()

    # A mystery call made on Monday morning is flagged as a test call.
    journey.goto(f"{PAGE_CALLS}?queue=accueil&day=2025-01-06")
    first = page.locator("tbody tr").first
    journey.follow(first.get_by_role("button"))
    flagged = Call.objects.get(is_test=True)
    assert (flagged.queue, flagged.counted) == ("accueil", False)
    assert journey.path.startswith(PAGE_CALLS + "?queue=accueil")
    assert page.locator(".messages").is_visible()
    journey.goto(f"{PAGE_CALLS}?test_only=on")
    assert page.locator("tbody tr").count() == 1
    screenshot(page, "appels-liste")
