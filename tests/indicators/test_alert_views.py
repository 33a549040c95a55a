"""The alert pages: who sees which alerts, who closes them, and closing with a comment."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils.html import escape

from qualicite.core.models import Role
from qualicite.indicators import alerts, services
from qualicite.indicators.models import Alert
from tests.access import Page, assert_access
from tests.indicators.values_support import desk_count, fr, head_of

VIEWERS = {Role.SERVICE_HEAD, Role.QUALITY_MANAGER, Role.AUDITOR, Role.DIRECTION}
DECEMBER = dt.date(2025, 12, 1)
JUDGED_ON = dt.date(2026, 1, 20)


def url(name, org, **kwargs):
    return reverse(f"indicator_alerts:{name}", kwargs={"org_slug": org.slug, **kwargs})


def raise_for(org, users, signage_value, desk_values):
    """December values of the town's signage and of the desk count per service, then alerts."""
    signage = org.indicator_set.get(code="signage")
    desk = desk_count(org, signage)
    manager = users[Role.QUALITY_MANAGER]
    services.enter_value(
        signage, actor=manager, period_start=DECEMBER, value=signage_value, today=JUDGED_ON
    )
    for code, value in desk_values.items():
        services.enter_value(
            desk,
            actor=manager,
            service=org.service_set.get(code=code),
            period_start=DECEMBER,
            value=value,
            today=JUDGED_ON,
        )
    return alerts.raise_alerts(org, today=JUDGED_ON)


@pytest.fixture
def raised(org, measured, users, mailoutbox):
    """Alerts: the town's signage (consolidated), desk counts of Accueil and of État civil."""
    found = raise_for(org, users, 80, {"accueil": 50, "etat-civil": 60})
    assert len(found) == 4  # signage, desk for the town, Accueil and État civil
    return found


def alert_of(organisation, code):
    query = Alert.objects.filter(organisation=organisation, indicator__code="desk-count")
    return query.get(service__code=code).pk


def test_every_alert_page_is_open_to_the_right_roles_only(
    client_for, org, raised, users, other_users
):
    accueil = {"pk": lambda o: alert_of(o, "accueil")}
    not_visible = {Role.AGENT: 404, "restricted_agent": 404, Role.ADMINISTRATOR: 404}
    pages = [
        Page("indicator_alerts:index", VIEWERS),
        # The head with no restriction heads Accueil; auditors and direction only read.
        Page(
            "indicator_alerts:close",
            {Role.SERVICE_HEAD, Role.QUALITY_MANAGER},
            accueil,
            status_for=not_visible,
        ),
        Page(
            "indicator_alerts:close",
            {Role.SERVICE_HEAD, Role.QUALITY_MANAGER},
            accueil,
            method="post",
            data={"comment": ""},
            status_for=not_visible,
        ),
    ]
    assert_access(client_for, org, users, other_users, pages)
    assert Alert.objects.filter(closed_at__isnull=False).count() == 0


def test_another_organisations_alert_is_not_found(client_for, org, other_org, raised, other_users):
    client = client_for(other_users[Role.QUALITY_MANAGER])
    pk = alert_of(org, "accueil")
    assert client.get(url("close", other_org, pk=pk)).status_code == 404
    page = client.get(url("index", other_org)).content.decode()
    assert url("close", org, pk=pk) not in page and "desk" not in page


def test_the_list_shows_open_alerts_with_words_and_symbols(client_for, org, raised, users):
    page = client_for(users[Role.QUALITY_MANAGER]).get(url("index", org)).content.decode()
    for alert in raised:
        assert f'id="alert-{alert.pk}"' in page
        assert url("close", org, pk=alert.pk) in page
    assert escape(fr("Missed")) in page and "✗" in page
    assert "≥ 90 %" in page and "50 %" in page


def test_a_member_restricted_to_a_service_sees_only_its_alerts(client_for, org, raised, users):
    head = head_of(org, "etat-civil")
    page = client_for(head).get(url("index", org)).content.decode()
    shown = {alert.pk for alert in raised if f'id="alert-{alert.pk}"' in page}
    assert shown == {alert_of(org, "etat-civil")}
    # Closing theirs is offered; the town's figure and Accueil's are not theirs.
    assert url("close", org, pk=alert_of(org, "etat-civil")) in page
    assert client_for(head).get(url("close", org, pk=alert_of(org, "accueil"))).status_code == 404


def test_the_list_is_filtered_by_service(client_for, org, raised, users):
    client = client_for(users[Role.QUALITY_MANAGER])
    page = client.get(url("index", org), {"service": "accueil"}).content.decode()
    assert [a.pk for a in raised if f'id="alert-{a.pk}"' in page] == [alert_of(org, "accueil")]
    page = client.get(url("index", org), {"service": "organisation"}).content.decode()
    shown = {a.pk for a in raised if f'id="alert-{a.pk}"' in page}
    assert shown == {a.pk for a in raised if a.service_id is None} and len(shown) == 2


def test_closing_without_saying_what_was_done_is_refused_next_to_the_field(
    client_for, org, raised, users
):
    pk = alert_of(org, "accueil")
    response = client_for(users[Role.QUALITY_MANAGER]).post(url("close", org, pk=pk), {})
    html = response.content.decode()
    assert 'id="id_comment_error"' in html
    assert escape(fr("Say what was done about this result.")) in html
    assert Alert.objects.get(pk=pk).is_open


def test_closing_an_alert_moves_it_to_the_closed_ones(client_for, org, raised, users):
    pk = alert_of(org, "accueil")
    client = client_for(users[Role.SERVICE_HEAD])
    response = client.post(
        url("close", org, pk=pk), {"comment": "Un agent de plus le lundi."}, follow=True
    )
    assert response.redirect_chain[-1][0] == url("index", org)
    alert = Alert.objects.get(pk=pk)
    assert not alert.is_open and alert.closed_by == users[Role.SERVICE_HEAD]
    page = response.content.decode()
    closed_part = page.split('id="closed-heading"', 1)[1]
    assert f'id="alert-{pk}"' in closed_part and "Un agent de plus le lundi." in closed_part
    # A closed alert shows what was done, with no form to close it again.
    again = client.get(url("close", org, pk=pk)).content.decode()
    assert "Un agent de plus le lundi." in again and 'name="comment"' not in again
    client.post(url("close", org, pk=pk), {"comment": "Autre"})
    assert Alert.objects.get(pk=pk).closing_comment == "Un agent de plus le lundi."
