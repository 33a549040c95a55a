"""Appointment pages: who opens what, the day's list, booking, the taps, corrections."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from qualicite.core.models import Role
from qualicite.reception import appointment_services
from qualicite.reception.models import Appointment, AppointmentStatus
from tests.access import Page, assert_access

S = AppointmentStatus
RECEIVERS = {Role.AGENT, Role.SERVICE_HEAD, Role.QUALITY_MANAGER, "restricted_agent"}
IMPORTERS = {Role.QUALITY_MANAGER, Role.ADMINISTRATOR}


def url(name, organisation, **kwargs):
    return reverse(f"appointments:{name}", kwargs={"org_slug": organisation.slug, **kwargs})


def local_input(instant: dt.datetime, organisation) -> str:
    return timezone.localtime(instant, organisation.zone).strftime("%Y-%m-%dT%H:%M")


@pytest.fixture
def site(org):
    return org.site_set.get(code="mairie")


def book(organisation, service_code=None, starts_at=None, **fields):
    return appointment_services.create_appointment(
        organisation,
        actor=None,
        site=organisation.site_set.get(code="mairie"),
        service=organisation.service_set.get(code=service_code) if service_code else None,
        starts_at=starts_at or timezone.now(),  # today's, whatever the time of the run
        **fields,
    )


def finances_appointment(organisation):
    return book(organisation, "finances", subject="Taxe").pk


def test_each_appointment_page_opens_to_its_roles_only(client_for, org, users, other_users):
    restricted_404 = {"restricted_agent": 404}
    pages = [
        Page("appointments:index", RECEIVERS),
        Page("appointments:create", RECEIVERS),
        Page("appointments:import", IMPORTERS),
        Page(
            "appointments:edit",
            RECEIVERS,
            {"pk": finances_appointment},
            status_for=restricted_404,
        ),
    ]
    for name in ("check_in", "serve", "no_show", "cancel", "reset"):
        pages.append(
            Page(
                f"appointments:{name}",
                RECEIVERS,
                {"pk": finances_appointment},
                method="post",
                ok_statuses=(302,),
                status_for=restricted_404,
            )
        )
    assert_access(client_for, org, users, other_users, pages)


def test_the_day_list_shows_only_the_members_services(client_for, org, users):
    book(org, "finances", subject="Taxe foncière")
    book(org, "etat-civil", subject="Passeport")
    book(org, None, subject="Sans service")
    everyone = client_for(users[Role.AGENT]).get(url("index", org)).content.decode()
    assert "Taxe foncière" in everyone and "Passeport" in everyone and "Sans service" in everyone
    mine = client_for(users["restricted_agent"]).get(url("index", org)).content.decode()
    assert "Passeport" in mine
    assert "Taxe foncière" not in mine and "Sans service" not in mine


def test_the_list_filters_by_day_site_and_service(client_for, org, users):
    tomorrow = timezone.now() + dt.timedelta(days=1)
    book(org, "etat-civil", starts_at=tomorrow, subject="Demain")
    book(org, "finances", subject="Taxe du jour")
    client = client_for(users[Role.AGENT])
    day = timezone.localtime(tomorrow, org.zone).date().isoformat()
    html = client.get(url("index", org), {"day": day}).content.decode()
    assert "Demain" in html and "Taxe du jour" not in html
    html = client.get(url("index", org), {"service": "finances"}).content.decode()
    assert "Taxe du jour" in html
    assert client.get(url("index", org), {"site": "nowhere"}).status_code == 404


def test_an_agent_books_checks_in_and_serves(client_for, org, users, site):
    client = client_for(users[Role.AGENT])
    start = timezone.now()  # the form keeps the minute: a slot that has just started
    response = client.post(
        url("create", org),
        {
            "site": site.pk,
            "service": org.service_set.get(code="etat-civil").pk,
            "starts_at": local_input(start, org),
            "subject": "Carte d'identité",
        },
    )
    assert response.status_code == 302
    appointment = Appointment.objects.get()
    assert appointment.subject == "Carte d'identité"
    assert f"#appointment-{appointment.pk}" in response["Location"]
    client.post(url("check_in", org, pk=appointment.pk))
    client.post(url("serve", org, pk=appointment.pk))
    appointment.refresh_from_db()
    assert appointment.status == S.SERVED and appointment.served_at is not None


def test_a_booking_with_its_end_before_its_start_is_refused_next_to_the_field(
    client_for, org, users, site
):
    start = timezone.now() + dt.timedelta(days=1)
    response = client_for(users[Role.AGENT]).post(
        url("create", org),
        {
            "site": site.pk,
            "starts_at": local_input(start, org),
            "ends_at": local_input(start - dt.timedelta(hours=1), org),
        },
    )
    assert 'id="id_ends_at_error"' in response.content.decode()
    assert not Appointment.objects.exists()


def test_a_restricted_agent_books_only_for_their_services(client_for, org, users, site):
    client = client_for(users["restricted_agent"])
    start = local_input(timezone.now() + dt.timedelta(days=1), org)
    response = client.post(url("create", org), {"site": site.pk, "starts_at": start})
    assert 'id="id_service_error"' in response.content.decode()
    finances = org.service_set.get(code="finances")
    client.post(url("create", org), {"site": site.pk, "starts_at": start, "service": finances.pk})
    assert not Appointment.objects.exists()


def test_a_tap_refused_says_why_and_changes_nothing(client_for, org, users):
    later = book(org, starts_at=timezone.now() + dt.timedelta(days=2))
    response = client_for(users[Role.AGENT]).post(url("check_in", org, pk=later.pk), follow=True)
    assert response.status_code == 200
    later.refresh_from_db()
    assert later.status == S.BOOKED
    assert "message-warning" in response.content.decode()


def test_the_edit_page_corrects_the_times_and_cancels(client_for, org, users):
    start = timezone.now() - dt.timedelta(days=1)
    appointment = book(org, "etat-civil", starts_at=start)
    client = client_for(users[Role.AGENT])
    page = client.get(url("edit", org, pk=appointment.pk))
    assert page.status_code == 200
    response = client.post(
        url("edit", org, pk=appointment.pk),
        {
            "site": appointment.site_id,
            "service": appointment.service_id,
            "starts_at": local_input(start, org),
            "checked_in_at": local_input(start - dt.timedelta(minutes=2), org),
            "served_at": local_input(start + dt.timedelta(minutes=4), org),
        },
    )
    assert response.status_code == 302
    appointment.refresh_from_db()
    assert appointment.status == S.SERVED
    client.post(url("reset", org, pk=appointment.pk), {"back": "edit"})
    response = client.post(url("cancel", org, pk=appointment.pk), {"back": "edit"})
    assert response["Location"] == url("edit", org, pk=appointment.pk)
    appointment.refresh_from_db()
    assert appointment.status == S.CANCELLED


def test_a_user_of_another_organisation_cannot_reach_an_appointment(
    client_for, org, other_org, other_users
):
    pk = finances_appointment(org)
    client = client_for(other_users[Role.QUALITY_MANAGER])
    assert client.get(url("edit", other_org, pk=pk)).status_code == 404
    assert client.post(url("cancel", other_org, pk=pk)).status_code == 404
    assert Appointment.objects.get(pk=pk).status == S.BOOKED
