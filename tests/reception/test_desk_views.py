"""Desk pages: who opens what, the tablet's taps through plain POSTs, the day and hour pages."""

import datetime as dt
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from qualicite.core import services as core_services
from qualicite.core.models import Role
from qualicite.reception import desk_services
from qualicite.reception.models import DeskVisit
from tests.access import Page, assert_access

RECEIVERS = {Role.AGENT, Role.SERVICE_HEAD, Role.QUALITY_MANAGER, "restricted_agent"}
IMPORTERS = {Role.QUALITY_MANAGER, Role.ADMINISTRATOR}
STAFFING = RECEIVERS | {Role.AUDITOR, Role.DIRECTION}


def url(name, organisation, **kwargs):
    return reverse(f"desk:{name}", kwargs={"org_slug": organisation.slug, **kwargs})


@pytest.fixture
def site(org):
    return org.site_set.get(code="mairie")


def finances_visit(organisation):
    """A visit of Finances: out of the restricted agent's reach (État civil only)."""
    visit = desk_services.record_arrival(
        organisation.site_set.get(code="mairie"),
        actor=None,
        service=organisation.service_set.get(code="finances"),
    )
    return visit.pk


def test_each_desk_page_opens_to_its_roles_only(client_for, org, users, other_users):
    pages = [
        Page("desk:tablet", RECEIVERS),
        Page("desk:choose_site", RECEIVERS),
        Page("desk:visits", RECEIVERS),
        Page("desk:staffing", STAFFING),
        Page("desk:import", IMPORTERS),
        Page(
            "desk:arrival",
            RECEIVERS,
            method="post",
            data={"reason": "Passeport", "service": ""},
            ok_statuses=(302, 200),
        ),
        # Another service's visit is a 404 for the restricted agent, as if it did not exist.
        Page(
            "desk:call",
            RECEIVERS,
            {"pk": finances_visit},
            method="post",
            ok_statuses=(302,),
            status_for={"restricted_agent": 404},
        ),
        Page(
            "desk:left",
            RECEIVERS,
            {"pk": finances_visit},
            method="post",
            ok_statuses=(302,),
            status_for={"restricted_agent": 404},
        ),
        Page(
            "desk:reopen",
            RECEIVERS,
            {"pk": finances_visit},
            method="post",
            ok_statuses=(302,),
            status_for={"restricted_agent": 404},
        ),
        Page(
            "desk:done",
            RECEIVERS,
            {"pk": finances_visit},
            method="post",
            ok_statuses=(302,),
            status_for={"restricted_agent": 404},
        ),
    ]
    assert_access(client_for, org, users, other_users, pages)


def test_a_user_of_another_organisation_cannot_tap_a_visit(client_for, org, other_org, other_users):
    pk = finances_visit(org)
    client = client_for(other_users[Role.AGENT])
    for name in ("call", "left", "done", "reopen"):
        assert client.post(url(name, org, pk=pk)).status_code in (403, 404)
        # Even through their own organisation's address: the visit is not theirs.
        assert client.post(url(name, other_org, pk=pk)).status_code == 404
    visit = DeskVisit.objects.get(pk=pk)
    assert visit.called_at is None and not visit.left_without_service


def test_the_tablet_records_an_arrival_then_called_then_done(client_for, org, users, site):
    client = client_for(users[Role.AGENT])
    page = client.get(url("tablet", org))
    assert page.status_code == 200
    assert "Hôtel de ville" in page.content.decode()
    accueil = org.service_set.get(code="accueil")
    response = client.post(url("arrival", org), {"reason": "Passeport", "service": accueil.pk})
    assert response.status_code == 302
    visit = DeskVisit.objects.get()
    assert (visit.reason, visit.service, visit.site) == ("Passeport", accueil, site)
    # The service chosen stays selected for the next arrival.
    html = client.get(url("tablet", org)).content.decode()
    assert re.search(rf'value="{accueil.pk}"[^>]*checked', html)
    assert f'id="visit-{visit.pk}"' in html
    assert client.post(url("call", org, pk=visit.pk)).status_code == 302
    assert (
        client.post(url("done", org, pk=visit.pk), {"right_first_time": "yes"}).status_code == 302
    )
    visit.refresh_from_db()
    assert visit.called_at and visit.done_at and visit.right_first_time is True
    html = client.get(url("tablet", org)).content.decode()
    assert f'id="visit-{visit.pk}"' not in html  # out of the queue, in "just done"


def test_a_typed_reason_wins_over_the_button(client_for, org, users):
    client = client_for(users[Role.AGENT])
    client.post(url("arrival", org), {"reason": "Information", "other_reason": "Carte grise"})
    assert DeskVisit.objects.get().reason == "Carte grise"


def test_a_restricted_agent_must_choose_one_of_their_services(client_for, org, users):
    client = client_for(users["restricted_agent"])
    response = client.post(url("arrival", org), {"reason": "Passeport"})
    assert response.status_code == 200
    assert 'id="id_service_error"' in response.content.decode()
    assert not DeskVisit.objects.exists()
    accueil = org.service_set.get(code="accueil")
    client.post(url("arrival", org), {"reason": "Passeport", "service": accueil.pk})
    assert not DeskVisit.objects.exists()
    html = client.get(url("tablet", org)).content.decode()
    etat_civil = org.service_set.get(code="etat-civil")
    assert f'name="service" value="{etat_civil.pk}"' in html
    assert f'name="service" value="{accueil.pk}"' not in html
    client.post(url("arrival", org), {"reason": "Passeport", "service": etat_civil.pk})
    assert DeskVisit.objects.get().service == etat_civil


def test_a_second_tap_says_the_visitor_was_already_called(client_for, org, users, site):
    visit = desk_services.record_arrival(site, actor=None)
    client = client_for(users[Role.AGENT])
    client.post(url("call", org, pk=visit.pk))
    response = client.post(url("call", org, pk=visit.pk), follow=True)
    assert "déjà été appelé" in response.content.decode() or "already been called" in (
        response.content.decode()
    )


def test_with_several_sites_the_tablet_asks_once_and_remembers(client_for, org, users):
    annexe = core_services.create_site(org, actor=None, code="annexe", name="Mairie annexe")
    client = client_for(users[Role.AGENT])
    response = client.get(url("tablet", org))
    assert response.status_code == 302 and response["Location"] == url("choose_site", org)
    client.post(url("choose_site", org), {"site": annexe.pk})
    page = client.get(url("tablet", org))
    assert page.status_code == 200 and "Mairie annexe" in page.content.decode()
    client.post(url("arrival", org), {"reason": "Information"})
    assert DeskVisit.objects.get().site == annexe
    # A link may name the site: ?site=mairie switches the tablet.
    client.get(url("tablet", org) + "?site=mairie")
    client.post(url("arrival", org), {"reason": "Information"})
    assert DeskVisit.objects.filter(site__code="mairie").count() == 1


def test_another_organisations_site_is_a_404(client_for, org, other_org, users):
    client = client_for(users[Role.AGENT])
    core_services.create_site(other_org, actor=None, code="ailleurs", name="Ailleurs")
    assert client.get(url("tablet", org) + "?site=ailleurs").status_code == 404


def test_the_day_page_lists_every_visit_and_undoes_a_step(client_for, org, users, site):
    visit = desk_services.record_arrival(site, actor=None, reason="Urbanisme")
    desk_services.visitor_left(visit, actor=None)
    client = client_for(users[Role.AGENT])
    html = client.get(url("visits", org)).content.decode()
    assert "Urbanisme" in html and f'id="visit-{visit.pk}"' in html
    response = client.post(
        url("reopen", org, pk=visit.pk), {"back": "visits", "site": "mairie", "day": "2025-01-02"}
    )
    assert response["Location"].startswith(url("visits", org) + "?")
    visit.refresh_from_db()
    assert not visit.left_without_service


def test_the_staffing_page_shows_the_grid_as_a_chart_and_a_table(client_for, org, users, site):
    now = timezone.now()
    visit = desk_services.record_arrival(site, actor=None, at=now - dt.timedelta(hours=1))
    desk_services.call_visitor(visit, actor=None, at=visit.arrived_at + dt.timedelta(minutes=3))
    client = client_for(users[Role.DIRECTION])
    html = client.get(url("staffing", org)).content.decode()
    assert 'role="img"' in html and "<table" in html
    bad = client.get(url("staffing", org), {"start": "2025-03-10", "end": "2025-03-01"})
    assert 'id="id_end_error"' in bad.content.decode()


def test_a_restricted_agent_does_not_count_other_services_in_the_staffing(
    client_for, org, users, site
):
    desk_services.record_arrival(
        site, actor=None, service=org.service_set.get(code="finances"), reason="Taxe"
    )
    html = client_for(users["restricted_agent"]).get(url("staffing", org)).content.decode()
    assert 'role="img"' not in html
