"""The calls list and the test-call flag: filters, pages, who sees which calls."""

from __future__ import annotations

from datetime import date

import pytest
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
    days_changed,  # noqa: F401 - a fixture
    generated,
    log,
    run,
)
from tests.reception.test_import_views import client_for  # noqa: F401 - a fixture

MANAGERS = {Role.QUALITY_MANAGER, Role.ADMINISTRATOR}


def url(name, organisation, **kwargs):
    return reverse(f"reception:{name}", kwargs={"org_slug": organisation.slug, **kwargs})


@pytest.fixture
def calls(org, other_org):
    """Calls of `org`: "accueil" mapped to Accueil, "etat-civil" to État civil; and theirs."""
    for code in ("accueil", "etat-civil"):
        QueueMapping.objects.create(
            organisation=org, queue=code, service=org.service_set.get(code=code)
        )
    run(
        org,
        log(
            *answered_call("a1", "accueil"),
            *abandoned_call("e1", "etat-civil", start=200),
            *answered_call("a2", "accueil", start=90000),  # the next day
        ),
    )
    run(other_org, log(*answered_call("theirs", "accueil")))
    return org


def call_pk(call_id):
    return lambda organisation: Call.objects.get(organisation=organisation, call_id=call_id).pk


# ---------------------------------------------------------------------------
# The flag


def test_a_test_call_is_left_out_and_the_indicators_are_told(calls, days_changed):  # noqa: F811
    call = Call.objects.get(call_id="a1")
    days_changed.clear()
    services.flag_test_call(call, actor=None, is_test=True)
    call.refresh_from_db()
    assert (call.is_test, call.counted) == (True, False)
    assert days_changed == [(calls.pk, {date(2025, 1, 6)})]
    assert ReceptionEvent.objects.filter(verb="call.flagged_test").count() == 1
    services.flag_test_call(call, actor=None, is_test=False)
    call.refresh_from_db()
    assert (call.is_test, call.counted) == (False, True)
    assert ReceptionEvent.objects.filter(verb="call.unflagged_test").count() == 1


def test_a_real_call_of_a_queue_not_counted_stays_uncounted(calls):
    QueueMapping.objects.filter(queue="accueil").update(counted=False)
    call = Call.objects.get(call_id="a1")
    services.flag_test_call(call, actor=None, is_test=True)
    services.flag_test_call(call, actor=None, is_test=False)
    call.refresh_from_db()
    assert (call.is_test, call.counted) == (False, False)


def test_flagging_twice_changes_nothing(calls, days_changed):  # noqa: F811
    call = Call.objects.get(call_id="a1")
    services.flag_test_call(call, actor=None, is_test=True)
    days_changed.clear()
    services.flag_test_call(call, actor=None, is_test=True)
    assert days_changed == []
    assert ReceptionEvent.objects.filter(verb="call.flagged_test").count() == 1


def test_a_test_call_imported_again_stays_a_test_call(org):
    data = log(*answered_call())
    run(org, data)
    services.flag_test_call(Call.objects.get(), actor=None, is_test=True)
    run(org, data, file_name="again")
    assert Call.objects.get().is_test and not Call.objects.get().counted


# ---------------------------------------------------------------------------
# Pages


def test_the_calls_pages_are_for_the_managers(client_for, calls, users, other_users):  # noqa: F811
    pages = [
        Page("reception:calls", MANAGERS),
        Page(
            "reception:flag_test",
            MANAGERS,
            {"pk": call_pk("a1")},
            method="post",
            data={"is_test": "1"},
            ok_statuses=(302,),
        ),
    ]
    assert_access(client_for, calls, users, other_users, pages)


def test_a_call_of_another_organisation_cannot_be_flagged(client_for, calls, users, other_org):  # noqa: F811
    theirs = Call.objects.get(organisation=other_org)
    client = client_for(users[Role.QUALITY_MANAGER])
    response = client.post(url("flag_test", calls, pk=theirs.pk), {"is_test": "1"})
    assert response.status_code == 404
    theirs.refresh_from_db()
    assert not theirs.is_test


def test_a_manager_restricted_to_a_service_sees_and_flags_only_its_calls(client_for, calls):  # noqa: F811
    restricted = make_user("restricted-manager")
    core_services.grant_membership(
        calls,
        actor=None,
        user=restricted,
        role=Role.QUALITY_MANAGER,
        services=[calls.service_set.get(code="etat-civil")],
    )
    client = client_for(restricted)
    html = client.get(url("calls", calls)).content.decode()
    assert "<code>etat-civil</code>" in html and "<code>accueil</code>" not in html
    assert "Imported logs" not in html  # no link to the pages of the whole organisation
    accueil_call = Call.objects.get(call_id="a1")
    assert (
        client.post(url("flag_test", calls, pk=accueil_call.pk), {"is_test": "1"}).status_code
        == 404
    )
    etat_civil_call = Call.objects.get(call_id="e1")
    assert (
        client.post(url("flag_test", calls, pk=etat_civil_call.pk), {"is_test": "1"}).status_code
        == 302
    )
    etat_civil_call.refresh_from_db()
    assert etat_civil_call.is_test


def test_the_toggle_flags_a_call_and_comes_back_to_the_same_page(client_for, calls, users):  # noqa: F811
    client = client_for(users[Role.QUALITY_MANAGER])
    call = Call.objects.get(call_id="a1")
    back = url("calls", calls) + "?queue=accueil"
    response = client.post(url("flag_test", calls, pk=call.pk), {"is_test": "1", "next": back})
    assert response.status_code == 302 and response["Location"] == back
    call.refresh_from_db()
    assert call.is_test and not call.counted
    html = client.get(back).content.decode()
    assert "Test call: not counted" in html and "Count it again" in html
    # Elsewhere than the calls list, the redirect is refused.
    response = client.post(
        url("flag_test", calls, pk=call.pk), {"is_test": "0", "next": "https://example.org/"}
    )
    assert response["Location"] == url("calls", calls)


def test_the_calls_are_filtered_by_day_queue_and_outcome(client_for, calls, users):  # noqa: F811
    client = client_for(users[Role.QUALITY_MANAGER])

    def shown(**query):
        response = client.get(url("calls", calls), query)
        return response.context["page"].paginator.count

    assert shown() == 3
    assert shown(day="2025-01-06") == 2
    assert shown(day="2025-01-07") == 1
    assert shown(queue="etat-civil") == 1
    assert shown(outcome="answered") == 2
    assert shown(day="2025-01-06", outcome="abandoned") == 1
    services.flag_test_call(Call.objects.get(call_id="a2"), actor=None, is_test=True)
    assert shown(test_only="on") == 1
    response = client.get(url("calls", calls), {"day": "not a day"})
    assert response.status_code == 200
    assert response.context["page"].paginator.count == 3


def test_the_calls_list_is_paginated(client_for, org, users):  # noqa: F811
    run(org, generated(days=1))
    client = client_for(users[Role.QUALITY_MANAGER])
    total = Call.objects.count()
    first = client.get(url("calls", org))
    assert len(first.context["page"].object_list) == 50
    last = client.get(url("calls", org), {"page": first.context["page"].paginator.num_pages})
    assert len(last.context["page"].object_list) == total - 50 * (
        first.context["page"].paginator.num_pages - 1
    )
    assert "Page 1 of" in first.content.decode()
