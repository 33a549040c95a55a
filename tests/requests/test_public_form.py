"""Citizens write to the town without an account: one request per submission, spam kept out."""

import re

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.translation import gettext, override

from qualicite.core.choices import Channel, RequestKind
from qualicite.requests.models import Attachment, Request, RequestEvent, RequestSettings
from qualicite.requests.public_forms import new_token
from qualicite.requests.public_views import FORM_LIMIT, MAX_BODY_BYTES

PDF = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\0" * 64


@pytest.fixture(autouse=True)
def empty_cache():
    # The rate limit counts in the cache, which outlives a test in the same process.
    cache.clear()
    yield
    cache.clear()


def form_url(organisation) -> str:
    return reverse("requests_public:write", kwargs={"org_slug": organisation.slug})


def confirmation_url(organisation) -> str:
    return reverse("requests_public:confirmation", kwargs={"org_slug": organisation.slug})


def fields(organisation, **overrides) -> dict:
    data = {
        "kind": RequestKind.COMPLAINT,
        "service": str(organisation.service_set.get(code="etat-civil").pk),
        "subject": "Acte de naissance toujours pas reçu",
        "body": "J'ai demandé un acte de naissance il y a trois semaines.",
        "citizen_name": "Camille Martin",
        "citizen_email": "camille@example.org",
        "citizen_phone": "",
        "citizen_address": "",
        "citizen_postcode": "",
        "preferred_reply_channel": Channel.EMAIL,
        "consent": "on",
        "website": "",
        "token": new_token(organisation),
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def send(client, organisation, **overrides):
    return client.post(form_url(organisation), fields(organisation, **overrides))


def french(message: str) -> str:
    with override("fr"):
        return gettext(message)


def error_of(response, field: str) -> str:
    """The error printed next to `field` (its id is what aria-describedby points at)."""
    html = response.content.decode()
    found = re.search(rf'<ul class="errorlist" id="id_{field}_error">(.*?)</ul>', html, re.S)
    assert found, f"no error printed next to {field}"
    return found.group(1)


def test_the_form_offers_the_organisation_services_and_i_dont_know(client, org, other_org):
    response = client.get(form_url(org))
    assert response.status_code == 200
    choices = list(response.context["form"].fields["service"].choices)
    assert choices[0] == ("", french("I don't know"))
    labels = [label for _value, label in choices]
    assert labels.index("État civil › Naissances") == labels.index("État civil") + 1
    assert {"Accueil", "Finances"} <= set(labels)
    offered = {value for value, _label in choices[1:]}
    assert offered == set(org.service_set.values_list("pk", flat=True))
    html = response.content.decode()
    for service in other_org.service_set.all():
        assert f'<option value="{service.pk}"' not in html


def test_a_citizen_request_is_recorded_from_the_web_and_shown_on_the_confirmation(
    client, org, referentiel
):
    response = send(client, org)
    assert response.status_code == 302
    assert response["Location"] == confirmation_url(org)
    request = Request.objects.get()
    assert (request.organisation, request.channel, request.kind) == (org, "web", "complaint")
    assert request.entered_by is None
    assert request.service.code == "etat-civil"
    assert request.citizen_email == "camille@example.org"
    assert request.preferred_reply_channel == Channel.EMAIL
    assert request.idempotency_key.startswith("web-")
    event = RequestEvent.objects.get(request=request, verb="request.received")
    assert event.actor is None

    page = client.get(response["Location"])
    assert page.status_code == 200
    html = page.content.decode()
    assert request.display_code in html
    assert "État civil" in html
    with override("fr"), timezone.override(org.zone):
        due = formats.date_format(timezone.localtime(request.due_at), "l j F Y")
    assert due in html


def test_i_dont_know_leaves_the_service_for_the_town_to_choose(client, org):
    send(client, org, service="")
    request = Request.objects.get()
    assert request.service is None
    page = client.get(confirmation_url(org))
    assert french("We are directing your request to the right service.") in page.content.decode()


def test_a_request_by_post_needs_no_email(client, org):
    response = send(
        client,
        org,
        citizen_email="",
        citizen_address="3 rue des Lilas",
        citizen_postcode="75011",
        preferred_reply_channel=Channel.LETTER,
    )
    assert response.status_code == 302
    request = Request.objects.get()
    assert (request.citizen_address, request.citizen_postcode) == ("3 rue des Lilas", "75011")
    page = client.get(confirmation_url(org)).content.decode()
    assert 'id="sent-email"' not in page


@pytest.mark.parametrize(
    ("field", "overrides"),
    [
        ("kind", {"kind": None}),
        ("kind", {"kind": "lawsuit"}),
        ("subject", {"subject": ""}),
        ("subject", {"subject": "x" * 201}),
        ("body", {"body": ""}),
        ("body", {"body": "x" * 5001}),
        ("citizen_email", {"citizen_email": ""}),
        ("citizen_email", {"citizen_email": "pas-une-adresse"}),
        ("citizen_phone", {"citizen_phone": "appelez-moi"}),
        ("citizen_name", {"citizen_name": "x" * 201}),
        (
            "citizen_postcode",
            {"citizen_address": "3 rue des Lilas", "preferred_reply_channel": ""},
        ),
        ("citizen_postcode", {"citizen_postcode": "#!"}),
        ("preferred_reply_channel", {"citizen_email": "", "citizen_phone": "0123456789"}),
        (
            "preferred_reply_channel",
            {"preferred_reply_channel": Channel.PHONE, "citizen_phone": ""},
        ),
        ("preferred_reply_channel", {"preferred_reply_channel": Channel.API}),
        ("consent", {"consent": None}),
        ("service", {"service": "999999"}),
    ],
)
def test_each_mistake_is_shown_next_to_its_field_and_nothing_is_saved(
    client, org, field, overrides
):
    response = send(client, org, **overrides)
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert error_of(response, field)
    assert 'aria-invalid="true"' in response.content.decode()
    assert french("Please correct the errors below.") in response.content.decode()
    assert Request.objects.count() == 0


def test_a_service_of_another_town_is_refused(client, org, other_org):
    other_service = other_org.service_set.get(code="accueil")
    response = send(client, org, service=str(other_service.pk))
    assert error_of(response, "service")
    assert Request.objects.count() == 0


def test_a_missing_contact_says_what_to_give(client, org):
    response = send(client, org, citizen_email="", preferred_reply_channel="")
    message = french("Give at least one way to answer you: e-mail, phone or postal address.")
    assert message in error_of(response, "citizen_email")


def test_the_entries_are_kept_when_the_form_has_a_mistake(client, org):
    response = send(client, org, consent=None)
    html = response.content.decode()
    assert "Acte de naissance toujours pas reçu" in html
    assert "J&#x27;ai demandé un acte de naissance" in html


def test_attachments_are_stored_with_the_type_read_from_their_content(client, org):
    response = send(
        client,
        org,
        attachments=[
            SimpleUploadedFile("courrier.pdf", PDF, content_type="image/png"),
            SimpleUploadedFile("photo.png", PNG, content_type="text/plain"),
        ],
    )
    assert response.status_code == 302
    stored = {a.name: a.content_type for a in Attachment.objects.filter(request__organisation=org)}
    assert stored == {"courrier.pdf": "application/pdf", "photo.png": "image/png"}


def test_a_refused_attachment_is_named_next_to_the_field_and_nothing_is_saved(client, org):
    response = send(
        client,
        org,
        attachments=[
            SimpleUploadedFile("courrier.pdf", PDF),
            SimpleUploadedFile("facture.pdf", EXE, content_type="application/pdf"),
        ],
    )
    assert response.status_code == 200
    assert "facture.pdf" in error_of(response, "attachments")
    assert "courrier.pdf" not in error_of(response, "attachments")
    assert Request.objects.count() == 0
    assert Attachment.objects.count() == 0
    html = response.content.decode()
    assert 'id="files-dropped"' in html


def test_a_file_over_10_mb_is_refused(client, org):
    big = PDF + b"0" * (10 * 1024 * 1024)
    response = send(client, org, attachments=[SimpleUploadedFile("scan.pdf", big)])
    assert "scan.pdf" in error_of(response, "attachments")
    assert Request.objects.count() == 0


def test_files_over_25_mb_together_are_refused(client, org):
    part = PDF + b"0" * (8 * 1024 * 1024 + 512 * 1024)
    files = [SimpleUploadedFile(f"scan-{n}.pdf", part) for n in range(3)]
    response = send(client, org, attachments=files)
    assert response.status_code == 200
    assert error_of(response, "attachments")
    assert Request.objects.count() == 0


def test_more_than_ten_files_are_refused(client, org):
    files = [SimpleUploadedFile(f"page-{n}.pdf", PDF) for n in range(11)]
    response = send(client, org, attachments=files)
    assert error_of(response, "attachments")
    assert Request.objects.count() == 0


def test_a_body_over_the_size_limit_is_refused_before_it_is_read(client, org):
    # The declared length is all the check reads: the test payload refuses to be read past it.
    response = client.post(form_url(org), fields(org), CONTENT_LENGTH=str(MAX_BODY_BYTES + 1))
    assert response.status_code == 413
    assert error_of(response, "attachments")
    assert Request.objects.count() == 0


def test_the_honeypot_filled_in_saves_nothing(client, org):
    response = send(client, org, website="https://spam.example")
    assert response.status_code == 400
    assert 'id="form-alert"' in response.content.decode()
    assert Request.objects.count() == 0


def test_the_honeypot_is_hidden_from_people_and_assistive_technologies(client, org):
    html = client.get(form_url(org)).content.decode()
    trap = re.search(r'<div class="honeypot" aria-hidden="true">(.*?)</div>', html, re.S)
    assert trap, "the honeypot is not wrapped in an aria-hidden block"
    inside = trap.group(1)
    assert 'name="website"' in inside
    assert 'tabindex="-1"' in inside
    assert 'autocomplete="off"' in inside
    assert french("Leave this field empty") in inside
    assert 'for="id_website"' in inside


def test_the_sixth_request_in_ten_minutes_from_one_address_is_refused(client, org):
    for _ in range(FORM_LIMIT.limit):
        assert send(client, org).status_code == 302
    response = send(client, org, subject="Encore une")
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert 'id="form-alert"' in response.content.decode()
    assert "Encore une" in response.content.decode()
    assert Request.objects.count() == FORM_LIMIT.limit

    elsewhere = Client(REMOTE_ADDR="198.51.100.20")
    assert send(elsewhere, org).status_code == 302
    assert Request.objects.count() == FORM_LIMIT.limit + 1


def test_mistakes_do_not_use_up_the_limit(client, org):
    for _ in range(FORM_LIMIT.limit + 2):
        assert send(client, org, consent=None).status_code == 200
    assert send(client, org).status_code == 302


def test_a_double_submit_records_one_request_and_shows_the_same_confirmation(client, org):
    data = fields(org)
    first = client.post(form_url(org), data)
    second = client.post(form_url(org), data)
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"]
    request = Request.objects.get()
    assert request.display_code in client.get(second["Location"]).content.decode()
    assert RequestEvent.objects.filter(verb="request.received").count() == 1


def test_a_resubmit_after_the_limit_still_lands_on_its_confirmation(client, org):
    for _ in range(FORM_LIMIT.limit - 1):
        send(client, org)
    last = fields(org)
    assert client.post(form_url(org), last).status_code == 302
    again = client.post(form_url(org), last)
    assert again.status_code == 302
    assert Request.objects.count() == FORM_LIMIT.limit


def test_the_double_submit_from_another_browser_lands_on_the_same_request(client, org):
    data = fields(org)
    client.post(form_url(org), data)
    other = Client()
    response = other.post(form_url(org), data)
    assert response.status_code == 302
    assert Request.objects.count() == 1
    assert Request.objects.get().display_code in other.get(response["Location"]).content.decode()


def test_a_forged_token_saves_nothing_and_gives_a_fresh_form(client, org):
    response = send(client, org, token="forged")
    assert response.status_code == 200
    assert response.context["form"].non_field_errors()
    assert Request.objects.count() == 0
    fresh = response.context["form"]["token"].value()
    assert fresh != "forged"
    assert send(client, org, token=fresh).status_code == 302


def test_a_token_of_another_town_is_not_accepted(client, org, other_org):
    response = send(client, org, token=new_token(other_org))
    assert response.context["form"].non_field_errors()
    assert Request.objects.count() == 0


def test_the_form_is_protected_against_cross_site_posts(org):
    client = Client(enforce_csrf_checks=True)
    response = client.post(form_url(org), fields(org))
    assert response.status_code == 403
    assert Request.objects.count() == 0


def test_the_confirmation_is_not_shown_to_another_browser(client, org):
    send(client, org)
    code = Request.objects.get().display_code
    stranger = Client()
    response = stranger.get(confirmation_url(org))
    assert response.status_code == 302
    assert response["Location"] == form_url(org)
    assert code not in stranger.get(form_url(org)).content.decode()


def test_the_confirmation_of_one_town_is_not_shown_on_another(client, org, other_org):
    send(client, org)
    response = client.get(confirmation_url(other_org))
    assert response.status_code == 302
    assert response["Location"] == form_url(other_org)


def test_unknown_organisation_pages_are_not_found(client, db):
    for name in ("write", "confirmation", "track"):
        url = reverse(f"requests_public:{name}", kwargs={"org_slug": "nulle-part"})
        assert client.get(url).status_code == 404


def test_the_notice_gives_the_retention_of_the_organisation(client, org):
    settings = RequestSettings.of(org)
    settings.retention_complaint_months = 48
    settings.save()
    html = client.get(form_url(org)).content.decode()
    assert 'id="privacy-heading"' in html
    retention = re.search(r'<ul class="retention-list">(.*?)</ul>', html, re.S).group(1)
    with override("fr"):
        complaint = str(RequestKind.COMPLAINT.label)
    assert re.search(rf"{re.escape(complaint)}\W+48\b", retention)
    assert retention.count("<li>") == len(RequestKind.values)


def test_the_acknowledgement_email_goes_out_over_smtp(
    client, org, smtp_server, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = send(client, org)
    assert response.status_code == 302
    request = Request.objects.get()
    assert len(smtp_server.messages) == 1
    message = smtp_server.messages[0]
    assert message["To"] == "camille@example.org"
    assert request.display_code in message.get_content()
    request.refresh_from_db()
    assert request.acknowledged_at is not None
    page = client.get(confirmation_url(org)).content.decode()
    assert french("We have sent an acknowledgement with this code to your e-mail address.") in page


def test_the_public_home_links_to_the_form_and_the_tracking_page(client, org):
    html = client.get(reverse("public:home", kwargs={"org_slug": org.slug})).content.decode()
    assert f'href="{form_url(org)}"' in html
    assert f'href="{reverse("requests_public:track", kwargs={"org_slug": org.slug})}"' in html


def test_the_consent_notice_names_the_data_protection_contact_when_there_is_one(client, org):
    org.data_protection_contact = "dpo@ville-a.fr"
    org.save()
    response = client.get(reverse("requests_public:write", kwargs={"org_slug": org.slug}))
    assert "dpo@ville-a.fr" in response.content.decode()
