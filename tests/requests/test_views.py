"""Staff pages of requests: who may open them, and what an agent does with them."""

import io

import pypdf
import pytest
from django.urls import reverse
from django.utils import translation
from django.utils.html import escape

from qualicite.core.choices import Channel, RequestKind
from qualicite.core.models import Role
from qualicite.requests import services
from qualicite.requests.attachments import Upload
from qualicite.requests.models import Attachment, Reply, ReplyStatus, Request, Status
from tests.access import EVERY_ROLE, Page, assert_access

HANDLERS = {Role.AGENT, Role.SERVICE_HEAD, Role.QUALITY_MANAGER, "restricted_agent"}
VALIDATORS = {Role.SERVICE_HEAD, Role.QUALITY_MANAGER}
# The restricted agent only sees État civil: a request of Accueil is not found for them.
NOT_THEIRS = {"restricted_agent": 404}


def fr(message: str) -> str:
    with translation.override("fr"):
        return translation.gettext(message)


@pytest.fixture
def letter(make_request):
    return make_request(
        channel=Channel.LETTER,
        citizen_phone="",
        citizen_address="3 rue des Lilas\n75011 Paris",
        citizen_email="camille@example.org",
    )


def request_pk(organisation):
    return Request.objects.filter(organisation=organisation).order_by("id").first().pk


def letter_reply_pk(organisation):
    return Reply.objects.get(organisation=organisation, channel="letter").pk


@pytest.fixture
def both(org, other_org, users, other_users, letter, make_request):
    make_request(organisation=other_org, subject="Ailleurs")
    services.submit_reply(
        letter, actor=users[Role.AGENT], channel=Channel.LETTER, body="Voici notre réponse."
    )
    services.add_attachments(
        letter, actor=users[Role.AGENT], uploads=[Upload("plan.pdf", b"%PDF-1.4 plan")]
    )
    return org


def attachment_pk(organisation):
    return Attachment.objects.get(organisation=organisation).pk


def test_every_request_page_is_open_to_the_right_roles_only(client_for, both, users, other_users):
    pk = {"pk": request_pk}
    pages = [
        Page("requests:queue", EVERY_ROLE),
        Page("requests:new", HANDLERS),
        Page("requests:detail", EVERY_ROLE, pk, status_for=NOT_THEIRS),
        Page("requests:edit", HANDLERS, pk, status_for=NOT_THEIRS),
        Page("requests:reroute", HANDLERS, pk, status_for=NOT_THEIRS),
        Page("requests:close", HANDLERS, pk, status_for=NOT_THEIRS),
        Page("requests:escalate", HANDLERS, pk, status_for=NOT_THEIRS),
        Page("requests:reply", HANDLERS, pk, status_for=NOT_THEIRS),
        Page("requests:ack_letter", HANDLERS, pk, status_for=NOT_THEIRS),
        Page(
            "requests:reply_letter",
            EVERY_ROLE,
            {"pk": request_pk, "reply_pk": letter_reply_pk},
            status_for=NOT_THEIRS,
        ),
        Page(
            "requests:assign",
            HANDLERS,
            pk,
            method="post",
            data={},
            ok_statuses=(302,),
            status_for=NOT_THEIRS,
        ),
        Page("requests:bulk", HANDLERS, method="post", data={}, ok_statuses=(302,)),
        Page(
            "requests:review",
            VALIDATORS,
            {"pk": request_pk, "reply_pk": letter_reply_pk},
        ),
        Page("requests:pause", HANDLERS, pk, method="post", data={}, status_for=NOT_THEIRS),
        Page(
            "requests:reopen",
            HANDLERS,
            pk,
            method="post",
            data={},
            ok_statuses=(302,),
            status_for=NOT_THEIRS,
        ),
        Page(
            "requests:attachment",
            EVERY_ROLE,
            {"pk": request_pk, "attachment_pk": attachment_pk},
            status_for=NOT_THEIRS,
        ),
    ]
    assert_access(client_for, both, users, other_users, pages)


def test_the_restricted_agent_sees_only_their_services_requests(
    client_for, org, users, make_request
):
    make_request(subject="À l'accueil")
    make_request(subject="Un acte de naissance", service=org.service_set.get(code="naissances"))
    response = client_for(users["restricted_agent"]).get(
        reverse("requests:queue", kwargs={"org_slug": org.slug})
    )
    subjects = [r.subject for r in response.context["page"]]
    assert subjects == ["Un acte de naissance"]


def test_an_agent_logs_a_phone_request_in_one_screen(client_for, org, users):
    response = client_for(users[Role.AGENT]).post(
        reverse("requests:new", kwargs={"org_slug": org.slug}),
        {
            "channel": "phone",
            "kind": "information",
            "service": org.service_set.get(code="accueil").pk,
            "subject": "Horaires d'été",
            "citizen_name": "Camille Martin",
            "citizen_phone": "0612345678",
        },
    )
    created = Request.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse(
        "requests:detail", kwargs={"org_slug": org.slug, "pk": created.pk}
    )
    assert created.entered_by == users[Role.AGENT]
    assert created.acknowledged_at is not None  # the code is given on the phone


def test_quick_entry_shows_errors_next_to_fields_and_saves_nothing(client_for, org, users):
    response = client_for(users[Role.AGENT]).post(
        reverse("requests:new", kwargs={"org_slug": org.slug}),
        {"channel": "phone", "kind": "information", "subject": ""},
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="id_subject_error"' in page
    assert 'id="id_service_error"' in page
    assert Request.objects.count() == 0


def test_quick_entry_refuses_an_executable_attachment_and_saves_nothing(client_for, org, users):
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = client_for(users[Role.AGENT]).post(
        reverse("requests:new", kwargs={"org_slug": org.slug}),
        {
            "channel": "desk",
            "kind": "information",
            "service": org.service_set.get(code="accueil").pk,
            "subject": "Dossier",
            "citizen_phone": "0612345678",
            "uploads": SimpleUploadedFile("virus.exe", b"MZ\x90\x00\x03\x00\x00\x00" * 10),
        },
    )
    assert response.status_code == 200
    assert 'id="id_uploads_error"' in response.content.decode()
    assert Request.objects.count() == 0


def test_an_email_reply_goes_out_over_smtp_and_marks_the_request_answered(
    client_for, org, users, make_request, smtp_server
):
    request = make_request(channel=Channel.EMAIL, citizen_email="camille@example.org")
    response = client_for(users[Role.AGENT]).post(
        reverse("requests:reply", kwargs={"org_slug": org.slug, "pk": request.pk}),
        {"channel": "email", "subject": "Horaires", "body": "La mairie ouvre à 8 h 30."},
    )
    assert response.status_code == 302
    request.refresh_from_db()
    assert request.replied_at is not None
    answer = [m for m in smtp_server.messages if m["Subject"] == "Horaires"]
    assert len(answer) == 1
    assert "8 h 30" in answer[0].get_content()


def test_a_refused_email_reply_saves_nothing_and_says_so(
    client_for, org, users, make_request, smtp_server
):
    request = make_request(channel=Channel.EMAIL, citizen_email="camille@example.org")
    smtp_server.refuse_messages()
    response = client_for(users[Role.AGENT]).post(
        reverse("requests:reply", kwargs={"org_slug": org.slug, "pk": request.pk}),
        {"channel": "email", "subject": "Horaires", "body": "La mairie ouvre à 8 h 30."},
    )
    assert response.status_code == 200
    assert Reply.objects.count() == 0
    request.refresh_from_db()
    assert request.replied_at is None


def test_a_complaint_reply_waits_for_the_service_head_then_goes_out(
    client_for, org, users, make_request
):
    complaint = make_request(kind=RequestKind.COMPLAINT, subject="Accueil désagréable")
    services.submit_reply(
        complaint, actor=users[Role.AGENT], channel=Channel.PHONE, body="Nous vous avons rappelé."
    )
    complaint.refresh_from_db()
    reply = Reply.objects.get()
    assert (reply.status, complaint.status) == (ReplyStatus.AWAITING_VALIDATION, Status.VALIDATION)
    assert complaint.replied_at is None

    client = client_for(users[Role.SERVICE_HEAD])
    url = reverse(
        "requests:review", kwargs={"org_slug": org.slug, "pk": complaint.pk, "reply_pk": reply.pk}
    )
    assert client.post(url, {"decision": "reject"}).status_code == 200  # a comment is needed
    assert client.post(url, {"decision": "approve"}).status_code == 302
    reply.refresh_from_db()
    complaint.refresh_from_db()
    assert reply.status == ReplyStatus.SENT
    assert reply.validated_by == users[Role.SERVICE_HEAD]
    assert complaint.replied_at is not None


def test_an_agent_may_not_validate_a_complaint_reply(client_for, org, users, make_request):
    complaint = make_request(kind=RequestKind.COMPLAINT)
    reply = services.submit_reply(
        complaint, actor=users[Role.AGENT], channel=Channel.PHONE, body="Rappelé."
    )
    url = reverse(
        "requests:review", kwargs={"org_slug": org.slug, "pk": complaint.pk, "reply_pk": reply.pk}
    )
    assert client_for(users[Role.AGENT]).post(url, {"decision": "approve"}).status_code == 403


def test_a_letter_reply_prints_as_a_pdf_with_the_address_and_the_code(
    client_for, org, users, letter
):
    reply = services.submit_reply(
        letter, actor=users[Role.AGENT], channel=Channel.LETTER, body="Voici notre réponse."
    )
    response = client_for(users[Role.AGENT]).get(
        reverse(
            "requests:reply_letter",
            kwargs={"org_slug": org.slug, "pk": letter.pk, "reply_pk": reply.pk},
        )
    )
    assert response["Content-Type"] == "application/pdf"
    text = pypdf.PdfReader(io.BytesIO(response.content)).pages[0].extract_text()
    assert "3 rue des Lilas" in text
    assert letter.display_code in text
    assert "Voici notre réponse." in text


def test_closing_a_complaint_needs_its_outcome(client_for, org, users, make_request):
    complaint = make_request(kind=RequestKind.COMPLAINT)
    services.submit_reply(
        complaint, actor=users[Role.SERVICE_HEAD], channel=Channel.PHONE, body="Rappelé."
    )
    complaint.refresh_from_db()
    url = reverse("requests:close", kwargs={"org_slug": org.slug, "pk": complaint.pk})
    client = client_for(users[Role.AGENT])
    response = client.post(url, {"version": complaint.version, "outcome": ""})
    assert 'id="id_outcome_error"' in response.content.decode()
    response = client.post(url, {"version": complaint.version, "outcome": "unfounded"})
    complaint.refresh_from_db()
    assert (complaint.status, complaint.outcome) == (Status.CLOSED, "unfounded")


def test_a_second_agent_saving_an_old_version_is_refused_and_nothing_is_lost(
    client_for, org, users, make_request
):
    request = make_request()
    url = reverse("requests:edit", kwargs={"org_slug": org.slug, "pk": request.pk})
    form = {
        "subject": "Horaires d'été",
        "citizen_phone": "0612345678",
        "version": request.version,
    }
    assert client_for(users[Role.AGENT]).post(url, form).status_code == 302
    response = client_for(users[Role.SERVICE_HEAD]).post(url, {**form, "subject": "Autre chose"})
    assert response.status_code == 200
    message = fr(
        "Someone else saved this request while you were editing it. Nothing of yours was "
        "saved: check their changes below, then apply yours again."
    )
    assert escape(message) in response.content.decode()
    request.refresh_from_db()
    assert request.subject == "Horaires d'été"


def test_changing_the_service_recomputes_the_due_date_and_logs_why(
    client_for, org, users, make_request, referentiel
):
    request = make_request(channel=Channel.EMAIL, citizen_email="c@example.org")
    url = reverse("requests:reroute", kwargs={"org_slug": org.slug, "pk": request.pk})
    client = client_for(users[Role.AGENT])
    finances = org.service_set.get(code="finances")
    data = {"version": request.version, "service": finances.pk, "kind": "complaint"}
    response = client.post(url, data)
    assert 'id="id_reason_error"' in response.content.decode()
    client.post(url, {**data, "reason": "C'est une réclamation sur une facture"})
    request.refresh_from_db()
    assert (request.service, request.kind, request.delay_days) == (finances, "complaint", 30)
    event = request.events.get(verb="request.rerouted")
    assert event.details["reason"] == "C'est une réclamation sur une facture"


def test_the_queue_filters_overdue_requests(client_for, org, users, make_request):
    from tests.requests.conftest import aware

    late = make_request(subject="En retard", received_at=aware(2024, 1, 8, 10, 0))
    make_request(subject="À jour")
    response = client_for(users[Role.AGENT]).get(
        reverse("requests:queue", kwargs={"org_slug": org.slug}), {"due": "overdue"}
    )
    assert [r.pk for r in response.context["page"]] == [late.pk]


def test_bulk_assignment_gives_the_selected_requests_to_one_agent(
    client_for, org, users, make_request
):
    first, second = make_request(), make_request()
    client_for(users[Role.SERVICE_HEAD]).post(
        reverse("requests:bulk", kwargs={"org_slug": org.slug}),
        {"action": "assign", "assignee": users[Role.AGENT].pk, "selected": [first.pk, second.pk]},
    )
    assert set(Request.objects.values_list("assigned_to", flat=True)) == {users[Role.AGENT].pk}


def test_bulk_actions_cannot_touch_another_organisations_requests(
    client_for, org, other_org, users, make_request
):
    theirs = make_request(organisation=other_org)
    client_for(users[Role.SERVICE_HEAD]).post(
        reverse("requests:bulk", kwargs={"org_slug": org.slug}),
        {"action": "assign", "assignee": users[Role.AGENT].pk, "selected": [theirs.pk]},
    )
    theirs.refresh_from_db()
    assert theirs.assigned_to is None


def test_reading_a_request_is_logged_for_personal_data(client_for, org, users, make_request):
    from qualicite.requests.models import PersonalDataAccess

    request = make_request()
    client_for(users[Role.AUDITOR]).get(
        reverse("requests:detail", kwargs={"org_slug": org.slug, "pk": request.pk})
    )
    access = PersonalDataAccess.objects.get()
    assert (access.user, access.request_code) == (users[Role.AUDITOR], request.code)


def test_the_acknowledgement_letter_is_printed_then_recorded_as_posted(
    client_for, org, users, letter
):
    url = reverse("requests:ack_letter", kwargs={"org_slug": org.slug, "pk": letter.pk})
    client = client_for(users[Role.AGENT])
    pdf = pypdf.PdfReader(io.BytesIO(client.get(url).content))
    text = pdf.pages[0].extract_text()
    assert letter.display_code in text and "3 rue des Lilas" in text
    assert client.post(url).status_code == 302
    letter.refresh_from_db()
    assert (letter.acknowledgement_channel, letter.acknowledged_at is not None) == ("letter", True)


def test_escalating_to_the_mediator_gives_its_own_due_date(client_for, org, users, make_request):
    request = make_request(body="Je demande à rencontrer un responsable.")
    assert request.wants_escalation
    url = reverse("requests:escalate", kwargs={"org_slug": org.slug, "pk": request.pk})
    client_for(users[Role.SERVICE_HEAD]).post(url, {"to": "mediator", "reason": "Litige"})
    request.refresh_from_db()
    assert request.escalation == "mediator"
    assert request.escalation_due_at > request.escalation_at
    assert request.events.filter(verb="request.escalated").exists()


def test_an_attachment_is_served_only_to_staff_who_see_the_request(
    client_for, org, users, make_request
):
    from qualicite.requests.attachments import Upload

    request = make_request(uploads=[Upload("plan.pdf", b"%PDF-1.4 plan")])
    attachment = request.attachments.get()
    url = reverse(
        "requests:attachment",
        kwargs={"org_slug": org.slug, "pk": request.pk, "attachment_pk": attachment.pk},
    )
    response = client_for(users[Role.AGENT]).get(url)
    assert b"".join(response.streaming_content) == b"%PDF-1.4 plan"
    assert client_for(users["restricted_agent"]).get(url).status_code == 404
    assert client_for(None).get(url).status_code == 302
