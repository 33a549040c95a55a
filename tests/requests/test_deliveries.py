"""Service-delivery pages: the in-time figures, recording and handing over, and who sees what."""

import datetime as dt
import re

import pytest
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext, override

from qualicite.core.choices import DayKind
from qualicite.core.models import Role
from qualicite.requests import delivery_queries, services
from qualicite.requests.models import Delivery, Prestation
from tests.access import EVERY_ROLE, Page, assert_access
from tests.requests.conftest import aware

HANDLERS = {Role.AGENT, Role.SERVICE_HEAD, Role.QUALITY_MANAGER, "restricted_agent"}


def prestation(organisation, name, service_code, days, day_kind=DayKind.WORKING, **fields):
    return Prestation.objects.create(
        organisation=organisation,
        service=organisation.service_set.get(code=service_code),
        name=name,
        announced_delay_days=days,
        day_kind=day_kind,
        **fields,
    )


@pytest.fixture
def passport(org):
    return prestation(org, "Passeport", "etat-civil", 5)


@pytest.fixture
def tax_certificate(org):
    return prestation(org, "Attestation fiscale", "finances", 10)


@pytest.fixture
def other_passport(other_org):
    return prestation(other_org, "Passeport de la ville B", "etat-civil", 5)


def open_delivery(prestation_, *, days_ago=1, reference="P-1"):
    return services.record_delivery(
        prestation_,
        actor=None,
        requested_at=timezone.now() - dt.timedelta(days=days_ago),
        reference=reference,
    )


def url(name, organisation, **kwargs):
    return reverse(f"deliveries:{name}", kwargs={"org_slug": organisation.slug, **kwargs})


def local_input(instant: dt.datetime) -> str:
    return timezone.localtime(instant).strftime("%Y-%m-%dT%H:%M")


def field_errors(html: str, field: str) -> str:
    """The error list printed next to `field` (empty when the field has none)."""
    found = re.search(rf'<ul class="errorlist" id="id_{field}_error">(.*?)</ul>', html, re.S)
    return found.group(1) if found else ""


# Who may open what ----------------------------------------------------------------------


def first_open_tax_delivery(organisation):
    return (
        Delivery.objects.filter(organisation=organisation, prestation__service__code="finances")
        .order_by("id")
        .first()
        .pk
    )


def test_every_delivery_page_is_open_to_the_right_roles_only(
    client_for, org, users, other_users, tax_certificate, other_passport
):
    open_delivery(tax_certificate)
    open_delivery(other_passport)
    pages = [
        Page("deliveries:index", EVERY_ROLE),
        Page("deliveries:record", HANDLERS),
        # État civil's agent never reaches a finance delivery: 404, as if it did not exist.
        Page(
            "deliveries:deliver",
            HANDLERS,
            {"pk": first_open_tax_delivery},
            status_for={"restricted_agent": 404},
        ),
    ]
    assert_access(client_for, org, users, other_users, pages)


def test_the_menu_offers_service_deliveries_to_staff(client_for, org, users):
    response = client_for(users[Role.DIRECTION]).get(reverse("core:workspace", args=[org.slug]))
    assert url("index", org) in response.content.decode()


def test_it_lists_only_the_organisations_prestations(
    client_for, org, users, passport, other_passport
):
    open_delivery(other_passport, reference="B-SECRET")
    html = client_for(users[Role.QUALITY_MANAGER]).get(url("index", org)).content.decode()
    assert f'id="prestation-{passport.pk}"' in html
    assert other_passport.name not in html and "B-SECRET" not in html


def test_a_restricted_agent_sees_only_the_prestations_of_their_services(
    client_for, org, users, passport, tax_certificate
):
    open_delivery(tax_certificate, reference="FIN-42")
    open_delivery(passport, reference="EC-7")
    html = client_for(users["restricted_agent"]).get(url("index", org)).content.decode()
    assert f'id="prestation-{passport.pk}"' in html and "EC-7" in html
    assert f'id="prestation-{tax_certificate.pk}"' not in html and "FIN-42" not in html


def test_a_restricted_agent_cannot_record_a_delivery_of_another_service(
    client_for, org, users, tax_certificate
):
    response = client_for(users["restricted_agent"]).post(
        url("record", org),
        {"prestation": tax_certificate.pk, "requested_at": local_input(timezone.now())},
    )
    assert response.status_code == 200
    assert field_errors(response.content.decode(), "prestation")
    assert not Delivery.objects.exists()


def test_a_prestation_of_another_organisation_cannot_be_chosen(
    client_for, org, users, other_passport
):
    response = client_for(users[Role.AGENT]).post(
        url("record", org),
        {"prestation": other_passport.pk, "requested_at": local_input(timezone.now())},
    )
    assert field_errors(response.content.decode(), "prestation")
    assert not Delivery.objects.exists()


def test_a_delivery_of_another_organisation_cannot_be_marked_delivered(
    client_for, org, users, other_passport
):
    delivery = open_delivery(other_passport)
    response = client_for(users[Role.QUALITY_MANAGER]).post(
        url("deliver", org, pk=delivery.pk), {"delivered_at": local_input(timezone.now())}
    )
    assert response.status_code == 404
    delivery.refresh_from_db()
    assert delivery.delivered_at is None


# Recording ------------------------------------------------------------------------------


def test_the_due_date_counts_working_days_past_holidays(client_for, org, users, passport):
    # Thursday 7 May 2026: Friday 8 May and Thursday 14 May (Ascension) are public holidays,
    # so the 5 working days are 11, 12, 13, 15 and 18 May.
    response = client_for(users[Role.AGENT]).post(
        url("record", org),
        {"prestation": passport.pk, "reference": "EC-2026-118", "requested_at": "2026-05-07T10:15"},
    )
    assert response.status_code == 302
    delivery = Delivery.objects.get(reference="EC-2026-118")
    assert delivery.requested_at == aware(2026, 5, 7, 10, 15)
    assert timezone.localtime(delivery.due_at).date() == dt.date(2026, 5, 18)
    assert delivery.delivered_at is None and delivery.recorded_by == users[Role.AGENT]


def test_calendar_days_may_end_on_a_saturday_only_when_the_site_opens_then(client_for, org, users):
    booking = prestation(org, "Réservation de salle", "etat-civil", 3, DayKind.CALENDAR)
    # Wednesday 3 June 2026 + 3 calendar days = Saturday 6 June; the site is closed at
    # weekends, so the delay ends on Monday 8 June.
    client_for(users[Role.AGENT]).post(
        url("record", org), {"prestation": booking.pk, "requested_at": "2026-06-03T09:00"}
    )
    due = Delivery.objects.get(prestation=booking).due_at
    assert timezone.localtime(due).date() == dt.date(2026, 6, 8)


def test_a_delivery_recorded_already_delivered_keeps_both_dates(client_for, org, users, passport):
    client_for(users[Role.AGENT]).post(
        url("record", org),
        {
            "prestation": passport.pk,
            "requested_at": "2026-03-02T09:00",
            "delivered_at": "2026-03-20T16:30",
        },
    )
    delivery = Delivery.objects.get()
    assert delivery.delivered_at == aware(2026, 3, 20, 16, 30)
    # Due on Monday 9 March: delivered eleven days late.
    assert delivery.delivered_in_time is False


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"requested_at": ""}, "requested_at"),
        ({"requested_at": "le 3 mars"}, "requested_at"),
        ({"requested_at": "2026-03-10T09:00", "delivered_at": "2026-03-09T09:00"}, "delivered_at"),
        ({"requested_at": "2999-01-04T09:00"}, "requested_at"),
        ({"requested_at": "2026-03-10T09:00", "delivered_at": "2999-01-04T09:00"}, "delivered_at"),
        ({"requested_at": "2026-03-10T09:00", "prestation": ""}, "prestation"),
    ],
)
def test_it_shows_each_mistake_next_to_its_field(client_for, org, users, passport, data, field):
    response = client_for(users[Role.AGENT]).post(
        url("record", org), {"prestation": passport.pk, **data}
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert field_errors(html, field)
    # The field itself points at its error, so a screen reader reads it with the field.
    assert re.search(rf'aria-describedby="[^"]*id_{field}_error[^"]*" id="id_{field}"', html)
    assert not Delivery.objects.exists()


def test_the_form_offers_only_prestations_still_offered(client_for, org, users, passport):
    withdrawn = prestation(org, "Ancien livret", "etat-civil", 5, is_active=False)
    html = client_for(users[Role.AGENT]).get(url("record", org)).content.decode()
    assert f'value="{passport.pk}"' in html and f'value="{withdrawn.pk}"' not in html


# Handing over ---------------------------------------------------------------------------


def test_marking_a_delivery_delivered_closes_it(client_for, org, users, passport):
    delivery = open_delivery(passport, days_ago=2)
    moment = timezone.now().replace(second=0, microsecond=0)
    response = client_for(users[Role.AGENT]).post(
        url("deliver", org, pk=delivery.pk), {"delivered_at": local_input(moment)}
    )
    assert response.status_code == 302
    delivery.refresh_from_db()
    assert delivery.delivered_at == moment
    # Once delivered it is no longer open: a second hand-over is a 404.
    again = client_for(users[Role.AGENT]).get(url("deliver", org, pk=delivery.pk))
    assert again.status_code == 404


def test_marking_delivered_before_the_request_is_refused_next_to_the_field(
    client_for, org, users, passport
):
    delivery = open_delivery(passport, days_ago=2)
    before = delivery.requested_at - dt.timedelta(days=1)
    response = client_for(users[Role.AGENT]).post(
        url("deliver", org, pk=delivery.pk), {"delivered_at": local_input(before)}
    )
    assert field_errors(response.content.decode(), "delivered_at")
    delivery.refresh_from_db()
    assert delivery.delivered_at is None


def test_a_hand_over_tied_to_a_request_is_logged_on_it(client_for, org, users, make_request):
    from qualicite.core.choices import RequestKind

    passport = prestation(org, "Passeport", "etat-civil", 5)
    request = make_request(
        kind=RequestKind.SERVICE,
        subject="Passeport",
        service=org.service_set.get(code="etat-civil"),
        prestation=passport,
        received_at=timezone.now() - dt.timedelta(hours=2),
    )
    delivery = services.record_delivery(
        passport, actor=users[Role.AGENT], requested_at=request.received_at, request=request
    )
    response = client_for(users[Role.AGENT]).post(
        url("deliver", org, pk=delivery.pk), {"delivered_at": local_input(timezone.now())}
    )
    assert response.status_code == 302
    assert request.events.filter(verb="delivery.delivered").exists()


# Figures --------------------------------------------------------------------------------


def test_open_deliveries_come_soonest_due_first_and_late_ones_say_so(
    client_for, org, users, passport
):
    fresh = open_delivery(passport, days_ago=0, reference="FRESH")
    late = open_delivery(passport, days_ago=40, reference="LATE")
    html = client_for(users[Role.AGENT]).get(url("index", org)).content.decode()
    assert html.index(f'id="delivery-{late.pk}"') < html.index(f'id="delivery-{fresh.pk}"')
    late_row = html[html.index(f'id="delivery-{late.pk}"') :].split("</tr>")[0]
    fresh_row = html[html.index(f'id="delivery-{fresh.pk}"') :].split("</tr>")[0]
    with override("fr"):
        word = gettext("Late")
    assert word in late_row and word not in fresh_row


def test_open_deliveries_come_a_page_at_a_time(client_for, org, users, passport):
    from qualicite.requests.delivery_views import OPEN_PER_PAGE

    for number in range(OPEN_PER_PAGE + 1):
        open_delivery(passport, days_ago=number % 30, reference=f"P-{number:03d}")
    client = client_for(users[Role.AGENT])
    first = client.get(url("index", org)).content.decode()
    second = client.get(url("index", org) + "?page=2").content.decode()
    assert first.count('id="delivery-') == OPEN_PER_PAGE
    assert second.count('id="delivery-') == 1
    assert 'href="?page=2' in first and 'href="?page=1' in second


def test_the_share_in_time_counts_this_months_deliveries(client_for, org, users, passport):
    now = timezone.now()
    # Requested now: due at the end of a later working day, delivered at once — in time.
    for number in range(3):
        services.record_delivery(
            passport, actor=None, requested_at=now, delivered_at=now, reference=f"OK-{number}"
        )
    # Requested sixty days ago: long past five working days — late.
    services.record_delivery(
        passport, actor=None, requested_at=now - dt.timedelta(days=60), delivered_at=now
    )
    open_delivery(passport, reference="OPEN")
    rows = delivery_queries.prestation_table(users[Role.AGENT], org, now=now)
    (row,) = rows
    assert (row.month.delivered, row.month.in_time, row.open) == (4, 3, 1)
    assert row.month.share == pytest.approx(75)
    assert row.year.delivered >= row.month.delivered
    html = client_for(users[Role.AGENT]).get(url("index", org)).content.decode()
    prestation_row = html[html.index(f'id="prestation-{passport.pk}"') :].split("</tr>")[0]
    assert "75 %" in prestation_row


def test_the_year_counts_earlier_months_and_not_the_previous_year(org, users, passport):
    now = aware(2026, 6, 15, 12, 0)

    def delivered(requested, handed):
        services.record_delivery(passport, actor=None, requested_at=requested, delivered_at=handed)

    delivered(aware(2026, 6, 1, 9), aware(2026, 6, 2, 9))  # this month, in time
    delivered(aware(2026, 2, 2, 9), aware(2026, 3, 30, 9))  # this year, late
    delivered(aware(2025, 12, 1, 9), aware(2025, 12, 31, 16))  # last year
    (row,) = delivery_queries.prestation_table(users[Role.AGENT], org, now=now)
    assert (row.month.delivered, row.month.in_time) == (1, 1)
    assert (row.year.delivered, row.year.in_time) == (2, 1)
    assert row.year.share == pytest.approx(50)


def test_a_prestation_without_deliveries_says_no_data(client_for, org, users, passport):
    html = client_for(users[Role.AGENT]).get(url("index", org)).content.decode()
    prestation_row = html[html.index(f'id="prestation-{passport.pk}"') :].split("</tr>")[0]
    with override("fr"):
        assert prestation_row.count(gettext("no data")) == 2


def test_a_withdrawn_prestation_stays_listed_while_it_has_open_deliveries(org, users, passport):
    withdrawn = prestation(org, "Ancien livret", "etat-civil", 5, is_active=False)
    idle = prestation(org, "Jamais utilisé", "etat-civil", 5, is_active=False)
    open_delivery(withdrawn)
    listed = {row.prestation for row in delivery_queries.prestation_table(users[Role.AGENT], org)}
    assert listed == {passport, withdrawn} and idle not in listed
