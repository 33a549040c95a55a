"""Queues mapped to services and sites: the calls follow, the indicators are told."""

from __future__ import annotations

from datetime import date

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from qualicite.core import services as core_services
from qualicite.core.models import Role
from qualicite.reception import services
from qualicite.reception.models import Call, QueueMapping, ReceptionEvent
from tests.access import Page, assert_access
from tests.conftest import make_user
from tests.reception.test_import_calls import (
    abandoned_call,
    answered_call,
    at_paris,
    call_at,
    days_changed,  # noqa: F401 - a fixture
    log,
    run,
)
from tests.reception.test_import_views import client_for, error_of  # noqa: F401 - fixtures

MANAGERS = {Role.QUALITY_MANAGER, Role.ADMINISTRATOR}


def url(name, organisation, **kwargs):
    return reverse(f"reception:{name}", kwargs={"org_slug": organisation.slug, **kwargs})


@pytest.fixture
def calls(org):
    """Calls in two queues of `org`, imported with no site: "accueil" has three."""
    data = log(
        *answered_call("a1", "accueil"),
        *abandoned_call("a2", "accueil", start=200),
        *call_at("a3-evening", at_paris("2025-01-06 19:00")),
        *abandoned_call("e1", "etat-civil", start=300),
    )
    run(org, data)
    return org


def mapping(organisation, queue="accueil") -> QueueMapping:
    return QueueMapping.objects.get(organisation=organisation, queue=queue)


def test_mapping_a_queue_moves_its_calls_to_the_service_and_site(calls, days_changed):  # noqa: F811
    accueil = calls.service_set.get(code="accueil")
    mairie = calls.site_set.get(code="mairie")
    days_changed.clear()
    services.update_queue_mapping(
        mapping(calls), actor=None, service=accueil, site=mairie, counted=True
    )
    moved = Call.objects.filter(queue="accueil")
    assert {(c.service_id, c.site_id) for c in moved} == {(accueil.pk, mairie.pk)}
    assert Call.objects.get(queue="etat-civil").service is None
    # The site's hours now say which calls came outside them: 19:00 in Paris.
    assert dict(moved.values_list("call_id", "outside_hours")) == {
        "a1": False,
        "a2": False,
        "a3-evening": True,
    }
    assert days_changed == [(calls.pk, {date(2025, 1, 6)})]
    event = ReceptionEvent.objects.get(verb="queue.mapped")
    assert event.details["after"] == {"service": "accueil", "site": "mairie", "counted": True}
    assert event.details["calls"] == 3


def test_a_queue_left_out_of_the_statistics_keeps_its_test_calls_out(calls):
    test_call = Call.objects.get(call_id="a1")
    services.flag_test_call(test_call, actor=None, is_test=True)
    services.update_queue_mapping(
        mapping(calls), actor=None, service=None, site=None, counted=False
    )
    assert not Call.objects.filter(queue="accueil", counted=True).exists()
    services.update_queue_mapping(mapping(calls), actor=None, service=None, site=None, counted=True)
    counted = dict(Call.objects.filter(queue="accueil").values_list("call_id", "counted"))
    assert counted == {"a1": False, "a2": True, "a3-evening": True}


def test_clearing_the_site_gives_the_calls_back_the_site_of_their_import(org):
    mairie = org.site_set.get(code="mairie")
    annexe = core_services.create_site(org, actor=None, code="annexe", name="Annexe")
    run(org, log(*answered_call()), site=mairie)
    services.update_queue_mapping(mapping(org), actor=None, service=None, site=annexe, counted=True)
    assert Call.objects.get().site == annexe
    services.update_queue_mapping(mapping(org), actor=None, service=None, site=None, counted=True)
    assert Call.objects.get().site == mairie


def test_the_next_imports_use_the_mapping(calls):
    accueil = calls.service_set.get(code="accueil")
    services.update_queue_mapping(
        mapping(calls), actor=None, service=accueil, site=None, counted=True
    )
    run(calls, log(*answered_call("later", "accueil", start=5000)))
    assert Call.objects.get(call_id="later").service == accueil


def test_saving_the_same_mapping_changes_nothing(calls, days_changed):  # noqa: F811
    days_changed.clear()
    services.update_queue_mapping(mapping(calls), actor=None, service=None, site=None, counted=True)
    assert days_changed == []
    assert not ReceptionEvent.objects.filter(verb="queue.mapped").exists()


def test_a_service_of_another_organisation_is_refused(calls, other_org):
    theirs = other_org.service_set.get(code="accueil")
    with pytest.raises(ValidationError):
        services.update_queue_mapping(
            mapping(calls), actor=None, service=theirs, site=None, counted=True
        )
    assert mapping(calls).service is None
    assert not Call.objects.filter(service=theirs).exists()


# ---------------------------------------------------------------------------
# Pages


def test_the_queue_pages_are_for_the_managers_of_the_whole_organisation(
    client_for,  # noqa: F811
    calls,
    other_org,
    users,
    other_users,
):
    run(other_org, log(*answered_call()))
    pages = [
        Page("reception:queues", MANAGERS),
        Page("reception:queue_edit", MANAGERS, {"pk": lambda o: mapping(o).pk}),
        Page(
            "reception:queue_edit",
            MANAGERS,
            {"pk": lambda o: mapping(o).pk},
            method="post",
            data={"service": "", "site": "", "counted": "on"},
            ok_statuses=(302,),
        ),
    ]
    assert_access(client_for, calls, users, other_users, pages)
    client = client_for(users[Role.QUALITY_MANAGER])
    theirs = mapping(other_org).pk
    assert client.get(url("queue_edit", calls, pk=theirs)).status_code == 404
    restricted = make_user("restricted-manager")
    core_services.grant_membership(
        calls,
        actor=None,
        user=restricted,
        role=Role.QUALITY_MANAGER,
        services=[calls.service_set.get(code="etat-civil")],
    )
    assert client_for(restricted).get(url("queues", calls)).status_code == 403


def test_the_queue_list_shows_each_queue_with_its_calls(client_for, calls, users):  # noqa: F811
    html = client_for(users[Role.QUALITY_MANAGER]).get(url("queues", calls)).content.decode()
    assert "<code>accueil</code>" in html and "<code>etat-civil</code>" in html
    assert '<td class="number">3</td>' in html and '<td class="number">1</td>' in html
    assert "Not mapped" in html


def test_the_form_maps_a_queue(client_for, calls, users):  # noqa: F811
    accueil = calls.service_set.get(code="accueil")
    client = client_for(users[Role.QUALITY_MANAGER])
    page = client.get(url("queue_edit", calls, pk=mapping(calls).pk)).content.decode()
    assert "3 calls of this queue have been imported" in page
    response = client.post(
        url("queue_edit", calls, pk=mapping(calls).pk),
        {"service": accueil.pk, "site": "", "counted": "on"},
    )
    assert response.status_code == 302 and response["Location"] == url("queues", calls)
    assert Call.objects.filter(service=accueil).count() == 3


def test_the_form_refuses_a_service_of_another_organisation(
    client_for,  # noqa: F811
    calls,
    users,
    other_org,
):
    theirs = other_org.service_set.get(code="accueil")
    response = client_for(users[Role.QUALITY_MANAGER]).post(
        url("queue_edit", calls, pk=mapping(calls).pk),
        {"service": theirs.pk, "site": "", "counted": "on"},
    )
    assert response.status_code == 200
    assert "Select a valid choice" in error_of(response, "service")
    assert mapping(calls).service is None
