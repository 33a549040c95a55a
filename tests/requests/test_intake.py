"""Requests from every channel get a code, a due date from the référentiel and a log."""

import pytest
from django.core import mail
from django.core.exceptions import ValidationError

from qualicite.core.choices import Channel, RequestKind
from qualicite.requests.models import CODE_ALPHABET, Request, RequestEvent
from tests.requests.conftest import aware


def test_a_phone_request_gets_a_code_without_ambiguous_characters(make_request):
    request = make_request()
    assert len(request.code) == 8
    assert set(request.code) <= set(CODE_ALPHABET)
    assert not set(request.code) & set("0O1IAEU")
    assert request.display_code == f"{request.code[:4]}-{request.code[4:]}"


def test_a_letter_is_due_15_working_days_after_receipt(make_request, referentiel):
    # Received Friday 2 May 2025: 8 May (Victory) and 29 May (Ascension) are holidays.
    request = make_request(
        channel=Channel.LETTER,
        citizen_address="3 rue des Lilas, 75011 Paris",
        received_at=aware(2025, 5, 2, 10, 0),
    )
    assert request.delay_days == 15
    assert request.due_at.astimezone(aware(2025, 1, 1).tzinfo).date().isoformat() == "2025-05-26"
    assert "commitment 1" in request.delay_source or "engagement 1" in request.delay_source


def test_a_complaint_takes_the_complaint_commitment_over_the_channel_one(make_request, referentiel):
    request = make_request(
        kind=RequestKind.COMPLAINT,
        channel=Channel.LETTER,
        citizen_address="3 rue des Lilas",
        received_at=aware(2025, 3, 3, 9, 0),
    )
    assert (request.delay_days, request.day_kind) == (30, "calendar")


def test_without_a_commitment_the_default_delay_applies(make_request):
    request = make_request(channel=Channel.SOCIAL, received_at=aware(2025, 3, 3, 9, 0))
    assert request.delay_days == 15


def test_it_refuses_a_request_without_any_way_to_answer(make_request):
    with pytest.raises(ValidationError) as error:
        make_request(citizen_phone="")
    assert "citizen_email" in error.value.message_dict
    assert Request.objects.count() == 0


def test_an_anonymous_request_needs_no_contact(make_request):
    request = make_request(citizen_phone="", is_anonymous=True)
    assert request.acknowledgement_due_at is None


def test_an_email_request_is_acknowledged_by_email_after_commit(
    make_request, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        request = make_request(channel=Channel.EMAIL, citizen_email="camille@example.org")
    request.refresh_from_db()
    assert request.acknowledged_at is not None
    assert request.acknowledgement_channel == "email"
    assert len(mail.outbox) == 1
    assert request.display_code in mail.outbox[0].body
    assert mail.outbox[0].to == ["camille@example.org"]


def test_the_same_idempotency_key_records_one_request(make_request):
    first = make_request(idempotency_key="abc")
    second = make_request(idempotency_key="abc", subject="Autre")
    assert first.pk == second.pk
    assert Request.objects.count() == 1
    assert RequestEvent.objects.filter(verb="request.received").count() == 1


def test_a_mediator_mention_flags_the_request(make_request):
    request = make_request(body="Sinon je saisirai le médiateur de la ville.")
    assert request.wants_escalation


def test_the_acknowledgement_goes_over_smtp_and_is_retried_by_tick_when_refused(
    make_request, smtp_server, django_capture_on_commit_callbacks
):
    from qualicite.requests import tasks

    smtp_server.refuse_messages()
    with django_capture_on_commit_callbacks(execute=True):
        request = make_request(channel=Channel.EMAIL, citizen_email="camille@example.org")
    request.refresh_from_db()
    assert request.acknowledged_at is None

    smtp_server.refuse_messages(False)
    assert tasks.send_pending_acknowledgements(request.received_at) == "1 acknowledgement(s) sent"
    request.refresh_from_db()
    assert request.acknowledged_at is not None
    [message] = smtp_server.messages
    assert message["To"] == "camille@example.org"
    assert request.display_code in message.get_content()
    assert tasks.send_pending_acknowledgements(request.received_at) is None
