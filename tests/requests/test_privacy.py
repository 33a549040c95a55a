"""Personal data in requests: access log, retention and anonymisation, citizen export, pages."""

import datetime as dt
import io
import json
from zoneinfo import ZoneInfo

import pypdf
import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone, translation

from qualicite.core import services as core_services
from qualicite.core.choices import Channel, RequestKind
from qualicite.core.models import Role
from qualicite.core.tick import registered_jobs
from qualicite.requests import privacy, services
from qualicite.requests.attachments import Upload
from qualicite.requests.models import (
    Attachment,
    Outcome,
    PersonalDataAccess,
    Prestation,
    Reply,
    ReplyStatus,
    Request,
    RequestEvent,
    RequestSettings,
    Status,
    Theme,
)
from tests.access import Page, assert_access
from tests.conftest import make_user
from tests.requests.conftest import aware

PARIS = ZoneInfo("Europe/Paris")
NOW = aware(2026, 3, 31, 12, 0)
EMAIL = "camille.martin@example.net"
PDF_BYTES = b"%PDF-1.4\n% a scanned letter\n"
MANAGERS = {Role.QUALITY_MANAGER, Role.ADMINISTRATOR}


def close_at(request: Request, closed_at: dt.datetime, **fields) -> Request:
    """Mark a request answered and closed at a given moment (closing always uses now)."""
    Request.objects.filter(pk=request.pk).update(
        status=Status.CLOSED, replied_at=closed_at, closed_at=closed_at, **fields
    )
    request.refresh_from_db()
    return request


def sent_reply(request: Request, *, body="Votre acte est prêt, Mme Martin.", at=None) -> Reply:
    return Reply.objects.create(
        organisation=request.organisation,
        request=request,
        channel=Channel.EMAIL,
        subject=f"Votre demande {request.display_code}",
        body=body,
        status=ReplyStatus.SENT,
        sent_at=at or request.received_at + dt.timedelta(days=2),
        review_comment="Bien pour Mme Martin",
    )


@pytest.fixture
def old_complaint(make_request, users, org):
    """A complaint with everything personal: reply, attachment, paused clock, a read access."""
    theme = Theme.objects.create(organisation=org, name="Voirie")
    request = make_request(
        kind=RequestKind.COMPLAINT,
        channel=Channel.EMAIL,
        subject="Trottoir devant chez Camille Martin, 4 rue des Lilas",
        body="Je suis tombée devant mon domicile.",
        citizen_email=EMAIL,
        citizen_address="4 rue des Lilas",
        citizen_postcode="75011",
        site=org.site_set.get(code="mairie"),
        theme=theme,
        received_at=aware(2019, 1, 7, 9, 0),
    )
    services.add_attachments(
        request, actor=users["agent"], uploads=[Upload("photo.pdf", PDF_BYTES)]
    )
    services.pause_clock(
        request, actor=users["agent"], reason="Attente du certificat de Mme Martin"
    )
    sent_reply(request)
    privacy.record_access(request, user=users["agent"], action="read")
    return close_at(request, aware(2019, 2, 1, 10, 0), outcome=Outcome.FOUNDED)


# --- Access log --------------------------------------------------------------------------------


def test_an_access_is_recorded_with_one_insert_and_frozen_names(
    make_request, users, django_assert_num_queries
):
    request = make_request(citizen_email=EMAIL)
    with django_assert_num_queries(1):
        access = privacy.record_access(request, user=users["agent"], action="read")
    assert (access.request, access.request_code, access.citizen_email) == (
        request,
        request.code,
        EMAIL,
    )
    assert access.user == users["agent"] and access.user_name == users["agent"].get_username()
    assert access.organisation_id == request.organisation_id


def test_it_refuses_an_unknown_access_action(make_request, users):
    with pytest.raises(ValueError):
        privacy.record_access(make_request(), user=users["agent"], action="print")
    assert PersonalDataAccess.objects.count() == 0


# --- Retention ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "months", "expected"),
    [
        (aware(2026, 3, 31, 12, 0), 1, aware(2026, 2, 28, 12, 0)),
        (aware(2025, 3, 1, 8, 0), 12, aware(2024, 3, 1, 8, 0)),
        (aware(2024, 2, 29, 8, 0), 12, aware(2023, 2, 28, 8, 0)),
        (aware(2026, 1, 15, 0, 30), 60, aware(2021, 1, 15, 0, 30)),
        (aware(2026, 1, 15, 0, 30), 13, aware(2024, 12, 15, 0, 30)),
    ],
)
def test_months_are_counted_on_the_calendar(moment, months, expected):
    assert privacy.months_before(moment, months, PARIS) == expected


def test_by_default_complaints_are_kept_60_months_and_information_12(make_request, org):
    config = RequestSettings.of(org)
    assert (config.retention_complaint_months, config.retention_information_months) == (60, 12)
    now = aware(2026, 6, 15, 12, 0)
    kept_complaint = close_at(make_request(kind=RequestKind.COMPLAINT), aware(2021, 7, 1, 9))
    old_complaint = close_at(make_request(kind=RequestKind.COMPLAINT), aware(2021, 6, 1, 9))
    kept_info = close_at(make_request(), aware(2025, 7, 1, 9))
    old_info = close_at(make_request(), aware(2025, 6, 1, 9))

    assert privacy.anonymise_expired(now) == 2

    erased = set(Request.objects.filter(anonymised_at__isnull=False).values_list("pk", flat=True))
    assert erased == {old_complaint.pk, old_info.pk}
    assert not {kept_complaint.pk, kept_info.pk} & erased


def test_a_request_closed_exactly_at_the_retention_limit_is_kept_a_second_more(make_request, org):
    # 12 months before 31 March 2026 12:00 (Paris) is 31 March 2025 12:00.
    at_limit = close_at(make_request(), aware(2025, 3, 31, 12, 0))
    just_before = close_at(make_request(), aware(2025, 3, 31, 11, 59, 59))

    assert privacy.anonymise_expired(NOW) == 1

    at_limit.refresh_from_db()
    just_before.refresh_from_db()
    assert at_limit.anonymised_at is None
    assert just_before.anonymised_at == NOW
    assert privacy.anonymise_expired(NOW + dt.timedelta(seconds=1)) == 1


def test_a_retention_ending_in_a_shorter_month_ends_with_that_month(make_request, org):
    RequestSettings.of(org)
    RequestSettings.objects.filter(organisation=org).update(retention_information_months=6)
    request = close_at(make_request(), aware(2025, 8, 31, 12, 0))

    assert privacy.anonymise_expired(aware(2026, 2, 28, 23, 59)) == 0
    assert privacy.anonymise_expired(aware(2026, 3, 1, 0, 0)) == 1
    request.refresh_from_db()
    assert request.anonymised_at == aware(2026, 3, 1, 0, 0)


def test_each_kind_follows_the_retention_set_by_the_organisation(make_request, org):
    RequestSettings.of(org)
    RequestSettings.objects.filter(organisation=org).update(
        retention_information_months=3, retention_suggestion_months=1
    )
    info = close_at(make_request(), aware(2025, 12, 1, 9))
    suggestion = close_at(make_request(kind=RequestKind.SUGGESTION), aware(2026, 2, 20, 9))
    service = close_at(make_request(kind=RequestKind.SERVICE), aware(2025, 12, 1, 9))

    assert privacy.anonymise_expired(NOW) == 2

    assert {r.pk for r in Request.objects.filter(anonymised_at__isnull=False)} == {
        info.pk,
        suggestion.pk,
    }
    service.refresh_from_db()
    assert service.citizen_name == "Camille Martin"


def test_an_open_request_is_never_anonymised_however_old(make_request):
    request = make_request(received_at=aware(2015, 1, 5, 9, 0))
    assert privacy.anonymise_expired(NOW) == 0
    request.refresh_from_db()
    assert request.anonymised_at is None and request.citizen_phone


def test_anonymisation_erases_the_personal_data_and_keeps_the_statistics(old_complaint, users):
    before = Request.objects.get(pk=old_complaint.pk)
    reply = Reply.objects.get(request=old_complaint)

    assert privacy.anonymise_expired(NOW) == 1

    after = Request.objects.get(pk=old_complaint.pk)
    personal = ("citizen_name", "citizen_email", "citizen_phone", "citizen_address")
    assert all(getattr(after, name) == "" for name in (*personal, "citizen_postcode"))
    assert "Martin" not in after.subject and "Lilas" not in after.subject
    assert after.body and after.body != before.body
    assert after.anonymised_at == NOW
    kept = (
        "kind",
        "channel",
        "status",
        "service_id",
        "site_id",
        "theme_id",
        "received_at",
        "due_at",
        "delay_days",
        "day_kind",
        "acknowledged_at",
        "replied_at",
        "closed_at",
        "outcome",
        "entered_by_id",
    )
    assert {name: getattr(after, name) for name in kept} == {
        name: getattr(before, name) for name in kept
    }
    reply.refresh_from_db()
    assert "Martin" not in reply.body and reply.subject == "" and reply.review_comment == ""
    assert (reply.channel, reply.sent_at, reply.status) == (
        Channel.EMAIL,
        before.replies.get().sent_at,
        ReplyStatus.SENT,
    )
    event = RequestEvent.objects.get(request=after, verb="request.anonymised")
    assert event.details["retention_months"] == 60
    assert event.details["attachments_deleted"] == 1
    assert event.actor is None


def test_anonymisation_scrubs_the_events_and_the_access_log(old_complaint):
    privacy.anonymise_expired(NOW)
    events = RequestEvent.objects.filter(request=old_complaint)
    for event in events:
        assert "Martin" not in event.subject_name and "Lilas" not in event.subject_name
        assert "Martin" not in json.dumps(event.details)
    paused = events.get(verb="request.paused")
    assert "reason" not in paused.details and "days_left" in paused.details
    received = events.get(verb="request.received")
    assert received.details["kind"] == RequestKind.COMPLAINT
    assert PersonalDataAccess.objects.get(request=old_complaint).citizen_email == ""


def test_anonymisation_deletes_the_attachment_files(old_complaint, settings):
    attachment = Attachment.objects.get(request=old_complaint)
    path = settings.VAR_DIR / "attachments" / attachment.file.name
    assert path.read_bytes() == PDF_BYTES

    privacy.anonymise_expired(NOW)

    assert not path.exists()
    assert not Attachment.objects.filter(request=old_complaint).exists()


def test_anonymisation_erases_the_reference_of_a_delivered_act(make_request, org, users):
    prestation = Prestation.objects.create(
        organisation=org,
        service=org.service_set.get(code="etat-civil"),
        name="Passeport",
        announced_delay_days=20,
    )
    request = make_request(kind=RequestKind.SERVICE, prestation=prestation)
    delivery = services.record_delivery(
        prestation,
        actor=users["agent"],
        requested_at=request.received_at,
        delivered_at=request.received_at + dt.timedelta(days=10),
        reference="PASS-19AB12345",
        request=request,
    )
    close_at(request, aware(2020, 1, 1, 9))

    privacy.anonymise_expired(NOW)

    delivery.refresh_from_db()
    assert delivery.reference == "" and delivery.delivered_at is not None


def test_anonymising_twice_changes_nothing_the_second_time(old_complaint):
    assert privacy.anonymise_expired(NOW) == 1
    snapshot = Request.objects.filter(pk=old_complaint.pk).values().get()
    assert privacy.anonymise_expired(NOW + dt.timedelta(days=1)) == 0
    assert privacy.anonymise(old_complaint, actor=None, now=NOW) is False
    assert Request.objects.filter(pk=old_complaint.pk).values().get() == snapshot
    assert RequestEvent.objects.filter(verb="request.anonymised").count() == 1


def test_anonymising_one_organisation_leaves_the_other_alone(make_request, other_org):
    mine = close_at(make_request(), aware(2020, 1, 1, 9))
    theirs = close_at(make_request(organisation=other_org, service=None), aware(2020, 1, 1, 9))

    assert privacy.anonymise_expired(NOW, mine.organisation) == 1

    theirs.refresh_from_db()
    assert theirs.anonymised_at is None and theirs.citizen_name == "Camille Martin"


def test_the_tick_anonymises_in_batches(make_request, monkeypatch):
    for _ in range(3):
        close_at(make_request(), aware(2020, 1, 1, 9))
    monkeypatch.setattr(privacy, "TICK_BATCH", 2)
    job = registered_jobs()["requests.retention"]

    assert job(NOW) == "2 request(s) anonymised"
    assert job(NOW) == "1 request(s) anonymised"
    assert job(NOW) is None


def test_the_overview_counts_requests_due_now_and_soon(make_request, org):
    close_at(make_request(), aware(2025, 1, 10, 9))  # past 12 months: due now
    close_at(make_request(), aware(2025, 4, 20, 9))  # reaches 12 months on 20 April 2026
    close_at(make_request(), aware(2025, 9, 1, 9))  # far from it
    rows = {row.kind: row for row in privacy.retention_overview(org, NOW)}
    assert (rows["information"].months, rows["information"].expired) == (12, 1)
    assert rows["information"].upcoming == 1
    assert (rows["complaint"].months, rows["complaint"].expired) == (60, 0)


def test_the_command_counts_on_a_dry_run_then_anonymises(make_request, org, other_org):
    request = close_at(make_request(), timezone.now() - dt.timedelta(days=800))
    out = io.StringIO()
    call_command("anonymise", "ville-a", "--dry-run", stdout=out)
    assert "ville-a: 1 request(s) would be anonymised (information 1)" in out.getvalue()
    request.refresh_from_db()
    assert request.anonymised_at is None

    out = io.StringIO()
    call_command("anonymise", stdout=out)
    assert "ville-a: 1 request(s) anonymised" in out.getvalue()
    assert "ville-b: 0 request(s) anonymised" in out.getvalue()
    request.refresh_from_db()
    assert request.anonymised_at is not None


def test_the_command_refuses_an_unknown_organisation(db):
    with pytest.raises(CommandError):
        call_command("anonymise", "nulle-part")


# --- Citizen export ----------------------------------------------------------------------------


@pytest.fixture
def citizen(make_request, org, other_org, users):
    """Two requests of Camille in org (one e-mailed in capitals), one of someone else,
    and one of Camille in other_org."""
    first = make_request(
        channel=Channel.EMAIL,
        citizen_email=EMAIL.upper(),
        subject="Horaires d'été",
        body="Bonjour, êtes-vous ouverts le samedi ?",
        received_at=aware(2026, 1, 5, 9, 0),
    )
    services.add_attachments(
        first, actor=users["agent"], uploads=[Upload("question.pdf", PDF_BYTES)]
    )
    sent_reply(first, body="Oui, de 9 h à 12 h.")
    Reply.objects.create(
        organisation=org,
        request=first,
        channel=Channel.EMAIL,
        body="Brouillon interne",
        status=ReplyStatus.DRAFT,
    )
    services.assign(first, actor=users["agent"], assignee=users["agent"])
    second = make_request(
        kind=RequestKind.COMPLAINT,
        citizen_email=EMAIL,
        subject="Accueil téléphonique",
        received_at=aware(2026, 2, 2, 9, 0),
    )
    stranger = make_request(citizen_email="quelquun@example.net", subject="Autre personne")
    elsewhere = make_request(
        organisation=other_org, service=None, citizen_email=EMAIL, subject="Ville B seulement"
    )
    return {"first": first, "second": second, "stranger": stranger, "elsewhere": elsewhere}


def test_the_export_holds_every_request_of_the_address_and_only_them(citizen, org, users):
    data = privacy.export_citizen(org, f"  {EMAIL} ", actor=users["quality_manager"])

    json.dumps(data)  # ready to be written as JSON
    assert [r["code"] for r in data["requests"]] == [
        citizen["first"].display_code,
        citizen["second"].display_code,
    ]
    first = data["requests"][0]
    assert first["body"] == "Bonjour, êtes-vous ouverts le samedi ?"
    assert first["citizen"]["name"] == "Camille Martin"
    assert first["received_at"].startswith("2026-01-05T09:00:00")
    assert [r["body"] for r in first["replies"]] == ["Oui, de 9 h à 12 h."]
    assert first["attachments"] == [
        {
            "name": "question.pdf",
            "size": len(PDF_BYTES),
            "type": "application/pdf",
            "added_at": first["attachments"][0]["added_at"],
        }
    ]
    with translation.override("fr"):
        received = str(privacy.CITIZEN_EVENTS["request.received"])
    history = [step["what"] for step in first["history"]]
    assert received in history
    # Internal steps (assignment) stay out of the citizen's history.
    assert (
        len(history)
        == RequestEvent.objects.filter(
            request=citizen["first"], verb__in=list(privacy.CITIZEN_EVENTS)
        ).count()
    )
    assert data["organisation"]["slug"] == "ville-a"
    assert data["exported_by"] == users["quality_manager"].get_username()
    texts = json.dumps(data, ensure_ascii=False)
    assert "Ville B seulement" not in texts and "Autre personne" not in texts
    assert "Brouillon interne" not in texts


def test_each_exported_request_is_logged(citizen, org, users):
    manager = users["quality_manager"]
    privacy.export_citizen(org, EMAIL, actor=manager)
    exported = PersonalDataAccess.objects.filter(action="export")
    assert {a.request_id for a in exported} == {citizen["first"].pk, citizen["second"].pk}
    assert {a.user for a in exported} == {manager}
    assert RequestEvent.objects.filter(verb="request.exported").count() == 2


def test_an_unknown_address_exports_nothing_and_logs_nothing(citizen, org, users):
    data = privacy.export_citizen(org, "inconnu@example.net", actor=users["quality_manager"])
    assert data["requests"] == []
    assert not PersonalDataAccess.objects.exists()


def test_the_export_of_one_organisation_never_includes_the_other(citizen, other_org, other_users):
    data = privacy.export_citizen(other_org, EMAIL, actor=other_users["quality_manager"])
    assert [r["code"] for r in data["requests"]] == [citizen["elsewhere"].display_code]


def test_a_manager_restricted_to_services_exports_only_their_services(citizen, org):
    Request.objects.filter(pk=citizen["second"].pk).update(
        service=org.service_set.get(code="etat-civil")
    )
    manager = make_user("restricted-manager")
    core_services.grant_membership(
        org,
        actor=None,
        user=manager,
        role=Role.QUALITY_MANAGER,
        services=[org.service_set.get(code="etat-civil")],
    )
    data = privacy.export_citizen(org, EMAIL, actor=manager)
    assert [r["code"] for r in data["requests"]] == [citizen["second"].display_code]


def test_the_pdf_export_holds_the_requests_and_the_replies(citizen, org, users):
    content = privacy.export_citizen_pdf(org, EMAIL, actor=users["quality_manager"])
    text = "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(content)).pages)
    flat = " ".join(text.split())
    assert citizen["first"].display_code in flat
    assert citizen["second"].display_code in flat
    assert "Oui, de 9 h à 12 h." in flat
    assert "question.pdf" in flat
    assert "Ville B seulement" not in flat
    assert PersonalDataAccess.objects.filter(action="export").count() == 2


# --- Pages -------------------------------------------------------------------------------------


def url(name: str, organisation, **kwargs) -> str:
    return reverse(name, kwargs={"org_slug": organisation.slug, **kwargs})


PAGES = [
    Page("privacy:index", MANAGERS),
    Page("privacy:index", MANAGERS, method="post", data={"email": EMAIL}),
    Page("privacy:accesses", MANAGERS),
    Page("privacy:export", MANAGERS, method="post", data={"email": EMAIL, "format": "json"}),
]


def test_the_personal_data_pages_are_open_to_managers_only(
    client_for, org, users, other_users, citizen
):
    assert_access(client_for, org, users, other_users, PAGES)


def test_the_lookup_shows_what_is_held_and_logs_each_request_read(client_for, org, users, citizen):
    manager = users["quality_manager"]
    response = client_for(manager).post(url("privacy:index", org), {"email": EMAIL})
    assert response.status_code == 200
    assert "no-cache" in response["Cache-Control"]
    page = response.content.decode()
    assert citizen["first"].display_code in page and citizen["second"].display_code in page
    assert "Autre personne" not in page and "Ville B seulement" not in page
    assert 'id="export-form"' in page
    reads = PersonalDataAccess.objects.filter(action="read", user=manager)
    assert {a.request_id for a in reads} == {citizen["first"].pk, citizen["second"].pk}


def test_an_unknown_address_gets_a_clear_message(client_for, org, users, citizen):
    response = client_for(users["administrator"]).post(
        url("privacy:index", org), {"email": "inconnu@example.net"}
    )
    page = response.content.decode()
    assert 'id="nothing-held"' in page and 'id="export-form"' not in page
    with translation.override("fr"):
        assert (
            translation.gettext("No request holds the address %(email)s")
            % {"email": "inconnu@example.net"}
            in page
        )


def test_an_invalid_address_is_refused_next_to_its_field(client_for, org, users):
    response = client_for(users["quality_manager"]).post(
        url("privacy:index", org), {"email": "pas une adresse"}
    )
    assert 'id="id_email_error"' in response.content.decode()
    assert not PersonalDataAccess.objects.exists()


def test_the_json_download_is_an_attachment_without_the_address_in_its_name(
    client_for, org, users, citizen
):
    response = client_for(users["quality_manager"]).post(
        url("privacy:export", org), {"email": EMAIL, "format": "json"}
    )
    assert response["Content-Type"].startswith("application/json")
    disposition = response["Content-Disposition"]
    assert disposition.startswith("attachment;") and disposition.endswith('.json"')
    assert "camille" not in disposition
    data = json.loads(response.content)
    assert len(data["requests"]) == 2


def test_the_pdf_download_is_a_pdf(client_for, org, users, citizen):
    response = client_for(users["quality_manager"]).post(
        url("privacy:export", org), {"email": EMAIL, "format": "pdf"}
    )
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")


def test_the_export_refuses_a_get(client_for, org, users):
    assert client_for(users["quality_manager"]).get(url("privacy:export", org)).status_code == 405


def test_the_page_shows_the_retention_in_force_and_the_counts(client_for, make_request, org, users):
    RequestSettings.of(org)
    RequestSettings.objects.filter(organisation=org).update(retention_thanks_months=7)
    close_at(make_request(), timezone.now() - dt.timedelta(days=400))
    response = client_for(users["quality_manager"]).get(url("privacy:index", org))
    rows = {row.kind: row for row in response.context["retention"]}
    assert rows["thanks"].months == 7
    assert rows["information"].expired == 1
    assert 'id="retention-thanks"' in response.content.decode()


def test_the_access_log_filters_by_code_and_by_user(client_for, make_request, org, users):
    first, second = make_request(), make_request()
    privacy.record_access(first, user=users["agent"], action="read")
    privacy.record_access(second, user=users["agent"], action="attachment")
    privacy.record_access(second, user=users["service_head"], action="read")
    client = client_for(users["quality_manager"])

    by_code = client.get(url("privacy:accesses", org), {"code": second.display_code.lower()})
    assert {a.request_id for a in by_code.context["page_obj"]} == {second.pk}
    assert len(by_code.context["page_obj"]) == 2

    by_user = client.get(url("privacy:accesses", org), {"user": users["service_head"].pk})
    assert [a.user for a in by_user.context["page_obj"]] == [users["service_head"]]


def test_the_access_log_is_paginated_and_keeps_the_filter(client_for, make_request, org, users):
    request = make_request()
    PersonalDataAccess.objects.bulk_create(
        PersonalDataAccess(
            organisation=org,
            request=request,
            request_code=request.code,
            user=users["agent"],
            user_name="agent",
            action="read",
        )
        for _ in range(55)
    )
    client = client_for(users["quality_manager"])
    first = client.get(url("privacy:accesses", org), {"code": request.code})
    assert len(first.context["page_obj"]) == 50
    assert f"?code={request.code}&amp;page=2" in first.content.decode()
    second = client.get(url("privacy:accesses", org), {"code": request.code, "page": 2})
    assert len(second.context["page_obj"]) == 5


def test_the_access_log_never_shows_another_organisation(
    client_for, make_request, org, other_org, users, other_users
):
    theirs = make_request(organisation=other_org, service=None)
    privacy.record_access(theirs, user=other_users["agent"], action="read")
    response = client_for(users["quality_manager"]).get(url("privacy:accesses", org))
    assert len(response.context["page_obj"]) == 0
    assert theirs.display_code not in response.content.decode()
    # Nor can a user of the other organisation be chosen as a filter.
    filtered = client_for(users["quality_manager"]).get(
        url("privacy:accesses", org), {"user": other_users["agent"].pk}
    )
    assert "user" in filtered.context["form"].errors
