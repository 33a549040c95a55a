"""The upload page of phone-system logs, its background import, progress and report."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django_tasks_db.models import DBTaskResult

from qualicite.core import services as core_services
from qualicite.core.models import Role
from qualicite.reception import services
from qualicite.reception.models import Call, CallImport, ImportStatus, ReceptionEvent
from tests.access import Page, assert_access
from tests.conftest import make_user
from tests.reception.test_import_calls import abandoned_call, answered_call, log, run

MANAGERS = {Role.QUALITY_MANAGER, Role.ADMINISTRATOR}
IMMEDIATE = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}


@pytest.fixture(autouse=True)
def uploads_in_a_temporary_folder(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def url(name, organisation, **kwargs):
    return reverse(f"reception:{name}", kwargs={"org_slug": organisation.slug, **kwargs})


def error_of(response, field) -> str:
    html = response.content.decode()
    marker = f'id="id_{field}_error"'
    assert marker in html, f"no error next to {field}"
    return html.split(marker, 1)[1].split("</ul>", 1)[0]


@pytest.fixture
def client_for(client_for):
    """The pages in English: their French comes with the translators' pass."""

    def login(user):
        client = client_for(user)
        client.cookies["django_language"] = "en"
        return client

    return login


def upload(data: bytes, name: str = "queue_log") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="application/octet-stream")


def post_upload(client, organisation, data: bytes, **fields):
    fields.setdefault("format", "asterisk-queue-log")
    return client.post(url("imports", organisation), {"file": upload(data), **fields})


@pytest.fixture
def imported(org, other_org):
    """An import done in each organisation."""
    for organisation in (org, other_org):
        run(organisation, log(*answered_call(), *abandoned_call()), file_name=organisation.slug)
    return org


def import_pk(organisation):
    return CallImport.objects.get(organisation=organisation).pk


def test_the_import_pages_are_for_the_managers_of_the_whole_organisation(
    client_for, imported, users, other_users
):
    pages = [
        Page("reception:imports", MANAGERS),
        Page("reception:import", MANAGERS, {"pk": import_pk}),
        Page("reception:import_progress", MANAGERS, {"pk": import_pk}),
        Page(
            "reception:imports",
            MANAGERS,
            method="post",
            data={"format": "asterisk-queue-log"},  # no file: the form's error, nothing saved
        ),
    ]
    assert_access(client_for, imported, users, other_users, pages)
    assert CallImport.objects.count() == 2


def test_another_organisations_import_is_not_found(client_for, imported, users, other_org):
    client = client_for(users[Role.QUALITY_MANAGER])
    theirs = CallImport.objects.get(organisation=other_org).pk
    assert client.get(url("import", imported, pk=theirs)).status_code == 404
    assert client.get(url("import_progress", imported, pk=theirs)).status_code == 404


def test_a_manager_restricted_to_a_service_may_not_import(client_for, imported):
    restricted = make_user("restricted-manager")
    core_services.grant_membership(
        imported,
        actor=None,
        user=restricted,
        role=Role.QUALITY_MANAGER,
        services=[imported.service_set.get(code="etat-civil")],
    )
    client = client_for(restricted)
    assert client.get(url("imports", imported)).status_code == 403
    assert client.get(url("import", imported, pk=import_pk(imported))).status_code == 403
    assert post_upload(client, imported, log(*answered_call())).status_code == 403
    assert CallImport.objects.count() == 2


def test_an_upload_is_saved_and_imported_in_the_background(
    client_for, org, users, settings, django_capture_on_commit_callbacks
):
    settings.TASKS = IMMEDIATE
    client = client_for(users[Role.QUALITY_MANAGER])
    site = org.site_set.get(code="mairie")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = post_upload(client, org, log(*answered_call(), *abandoned_call()), site=site.pk)
    assert len(callbacks) == 1
    call_import = CallImport.objects.get()
    assert response.status_code == 302
    assert response["Location"] == url("import", org, pk=call_import.pk)
    assert (call_import.status, call_import.calls_created) == (ImportStatus.DONE, 2)
    assert call_import.created_by == users[Role.QUALITY_MANAGER]
    assert call_import.site == site and call_import.file_name == "queue_log"
    assert call_import.file.read() == log(*answered_call(), *abandoned_call())
    assert Call.objects.count() == 2
    assert ReceptionEvent.objects.filter(verb="calls.uploaded").count() == 1
    page = client.get(response["Location"]).content.decode()
    assert "2 new calls imported." in page
    assert "<progress" not in page


def test_an_upload_waits_in_the_queue_of_the_worker(client_for, org, users, settings):
    """With the database backend, the file is queued for `qualicite worker`."""
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    client = client_for(users[Role.ADMINISTRATOR])
    from django.db import transaction

    with transaction.atomic():
        response = post_upload(client, org, log(*answered_call()))
    call_import = CallImport.objects.get()
    assert response.status_code == 302 and call_import.status == ImportStatus.WAITING
    page = client.get(response["Location"]).content.decode()
    assert '<progress id="progress-bar" max="100" value="0">' in page
    assert "The file waits for the background worker." in page
    progress = client.get(url("import_progress", org, pk=call_import.pk)).json()
    assert (progress["status"], progress["finished"], progress["percent"]) == ("waiting", False, 0)
    services.run_import(call_import.pk)
    progress = client.get(url("import_progress", org, pk=call_import.pk)).json()
    assert (progress["status"], progress["finished"], progress["percent"]) == ("done", True, 100)


def test_the_queued_task_names_the_import(
    client_for, org, users, settings, django_capture_on_commit_callbacks
):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    client = client_for(users[Role.QUALITY_MANAGER])
    with django_capture_on_commit_callbacks(execute=True):
        post_upload(client, org, log(*answered_call()))
    task = DBTaskResult.objects.get()
    assert task.task_path == "qualicite.reception.tasks.import_call_file"
    assert task.args_kwargs["args"] == [CallImport.objects.get().pk]
    assert CallImport.objects.get().status == ImportStatus.WAITING


def test_the_report_lists_the_rejected_lines_with_their_number(client_for, org, users):
    pauses = [f"{1736150500 + n}|NONE|accueil|PJSIP/201|PAUSE|" for n in range(40)]
    call_import = run(org, log(*answered_call(), *pauses, "1736150600|broken"))
    page = client_for(users[Role.QUALITY_MANAGER]).get(url("import", org, pk=call_import.pk))
    html = page.content.decode()
    assert '<td class="number">45</td><td>2 fields where at least 5 are expected</td>' in html
    assert "Every line rejected, with the reason" in html


def test_a_refused_file_says_why_and_that_nothing_was_imported(client_for, org, users):
    call_import = run(org, b"")
    html = client_for(users[Role.QUALITY_MANAGER]).get(url("import", org, pk=call_import.pk))
    text = html.content.decode()
    assert "Nothing was imported.</strong> The file is empty" in text
    assert 'role="alert"' in text


@pytest.mark.parametrize(
    "fields, field, message",
    [
        ({"format": "csv"}, "mapping", "needs a column mapping"),
        ({"format": "csv", "mapping": "columns: ["}, "mapping", "not valid YAML"),
        ({"format": "csv", "mapping": "colonnes: {}"}, "mapping", "unknown key"),
        ({"format": "asterisk-queue-log", "mapping": "columns: {queue: File}"}, "mapping", "only"),
        ({"format": "wav"}, "format", "wav"),
    ],
)
def test_a_wrong_form_shows_its_error_next_to_the_field_and_saves_nothing(
    client_for, org, users, settings, fields, field, message
):
    client = client_for(users[Role.QUALITY_MANAGER])
    response = post_upload(client, org, log(*answered_call()), **fields)
    assert response.status_code == 200
    assert message in error_of(response, field)
    assert not CallImport.objects.exists()


def test_a_mapping_may_come_as_a_file(client_for, org, users, settings):
    from tests.reception.test_parsers_mapped_csv import FRENCH_EXPORT, FRENCH_MAPPING

    settings.TASKS = IMMEDIATE
    client = client_for(users[Role.QUALITY_MANAGER])
    response = client.post(
        url("imports", org),
        {
            "file": upload(FRENCH_EXPORT.encode("cp1252"), "export.csv"),
            "format": "csv",
            "mapping_file": upload(FRENCH_MAPPING.encode(), "mapping.yaml"),
        },
    )
    assert response.status_code == 302
    assert CallImport.objects.get().mapping == FRENCH_MAPPING.strip()


def test_an_empty_upload_is_refused_by_the_form(client_for, org, users):
    client = client_for(users[Role.QUALITY_MANAGER])
    response = post_upload(client, org, b"")
    assert response.status_code == 200
    assert error_of(response, "file")
    assert not CallImport.objects.exists()


def test_the_list_shows_each_import_with_its_status(client_for, org, users):
    run(org, log(*answered_call()), file_name="lundi.log")
    run(org, b"", file_name="vide.log")
    html = client_for(users[Role.ADMINISTRATOR]).get(url("imports", org)).content.decode()
    assert "lundi.log" in html and "vide.log" in html
    assert "Imported</span>" in html and "Refused</strong>" in html
