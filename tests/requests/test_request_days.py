"""The stored local days of receipt and answer follow the instants and the time zone."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from qualicite.core.choices import Channel
from qualicite.requests import services
from qualicite.requests.days import stamp_organisation
from qualicite.requests.models import Request

pytestmark = pytest.mark.django_db
PARIS = ZoneInfo("Europe/Paris")


def _request(org, users, received):
    return services.create_request(
        org,
        actor=users["agent"],
        kind="information",
        channel=Channel.EMAIL,
        subject="Horaires",
        citizen_name="Camille Martin",
        citizen_email="camille@example.org",
        received_at=received,
    )


def test_a_request_received_late_in_the_evening_counts_on_its_local_day(org, users):
    # 23:30 in Paris on 14 March is 22:30 UTC, the same day; 00:30 on the 15th is the 14th UTC.
    late = _request(org, users, dt.datetime(2026, 3, 14, 23, 30, tzinfo=PARIS))
    early = _request(org, users, dt.datetime(2026, 3, 15, 0, 30, tzinfo=PARIS))
    late.refresh_from_db()
    early.refresh_from_db()
    assert late.received_day == dt.date(2026, 3, 14)
    assert early.received_day == dt.date(2026, 3, 15)
    assert early.replied_day is None


def test_the_first_answer_stamps_the_day_it_was_sent(org, users):
    request = _request(org, users, dt.datetime(2026, 3, 2, 10, 0, tzinfo=PARIS))
    services.submit_reply(request, actor=users["agent"], channel=Channel.PHONE, body="Oui.")
    request.refresh_from_db()
    assert request.replied_at is not None
    assert request.replied_day == request.replied_at.astimezone(PARIS).date()


def test_a_saved_change_of_receipt_moves_its_day(org, users):
    request = _request(org, users, dt.datetime(2026, 3, 2, 10, 0, tzinfo=PARIS))
    request.received_at = dt.datetime(2026, 2, 27, 23, 50, tzinfo=PARIS)
    request.save(update_fields=["received_at"])
    request.refresh_from_db()
    assert request.received_day == dt.date(2026, 2, 27)


def test_stamping_an_organisation_in_bulk_gives_what_save_gives(org, users):
    made = [
        _request(org, users, dt.datetime(2026, 3, 29, hour, 30, tzinfo=dt.UTC))
        for hour in (0, 1, 2, 22, 23)  # the night summer time begins in Paris
    ]
    expected = {r.pk: r.received_day for r in made}
    Request.objects.filter(organisation=org).update(received_day=None)
    assert stamp_organisation(Request, org) == len(made)
    got = dict(Request.objects.filter(organisation=org).values_list("pk", "received_day"))
    assert got == expected
    assert sorted(set(expected.values())) == [dt.date(2026, 3, 29), dt.date(2026, 3, 30)]
