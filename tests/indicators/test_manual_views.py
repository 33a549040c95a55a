"""The pages of values entered by hand: who may open them, errors next to fields, evidence."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils.html import escape

from qualicite.core.models import Role
from qualicite.indicators import periods, rollups, services
from qualicite.indicators.models import IndicatorEvent, ManualValue
from qualicite.requests.attachments import Upload
from tests.access import Page, assert_access
from tests.indicators.values_support import EXECUTABLE, PDF, desk_count, fr, head_of, own

ENTERING = {Role.AGENT, Role.SERVICE_HEAD, Role.QUALITY_MANAGER, "restricted_agent"}


@pytest.fixture
def signage(measured, users):
    return own(measured["signage"], users[Role.AGENT])


def this_month(org):
    return periods.containing(rollups.today(org), "month")


def url(name, org, **kwargs):
    return reverse(f"indicator_values:{name}", kwargs={"org_slug": org.slug, **kwargs})


def error_of(response, field) -> str:
    """The text of the error printed next to a field (its id ties it to the field)."""
    html = response.content.decode()
    marker = f'id="id_{field}_error"'
    assert marker in html, f"no error next to {field}"
    return html.split(marker, 1)[1].split("</ul>", 1)[0]


@pytest.fixture
def both(org, other_org, users, other_users, signage):
    """A value with its evidence in `org`; `other_org` has a signage value of its own."""
    services.enter_value(
        signage,
        actor=users[Role.AGENT],
        period_start=this_month(org).start,
        value=90,
        evidence=Upload("fiche.pdf", PDF),
    )
    return org


def value_pk(organisation):
    return ManualValue.objects.get(organisation=organisation).pk


def signage_pk(organisation):
    return organisation.indicator_set.get(code="signage").pk


def test_every_page_of_values_is_open_to_the_right_roles_only(client_for, both, users, other_users):
    responsible = {Role.AGENT, Role.SERVICE_HEAD, Role.QUALITY_MANAGER}
    pages = [
        Page("indicator_values:index", ENTERING),
        Page("indicator_values:enter", responsible, {"pk": signage_pk}),
        Page("indicator_values:correct", responsible, {"pk": value_pk}),
        Page(
            "indicator_values:evidence",
            responsible | {Role.AUDITOR, Role.DIRECTION},
            {"pk": value_pk},
        ),
        Page(
            "indicator_values:enter",
            responsible,
            {"pk": signage_pk},
            method="post",
            data={"period_start": "1999-01-01", "value": "x"},
        ),
    ]
    assert_access(client_for, both, users, other_users, pages)


def test_another_organisations_value_and_indicator_are_not_found(
    client_for, org, other_org, both, other_users
):
    manager = other_users[Role.QUALITY_MANAGER]
    client = client_for(manager)
    for name, pk in (
        ("enter", signage_pk(org)),
        ("correct", value_pk(org)),
        ("evidence", value_pk(org)),
    ):
        assert client.get(url(name, other_org, pk=pk)).status_code == 404, name


def test_a_computed_indicator_has_no_entry_form(client_for, org, measured, users):
    response = client_for(users[Role.QUALITY_MANAGER]).get(
        url("enter", org, pk=measured["in-time"].pk)
    )
    assert response.status_code == 404


def test_the_responsible_agent_enters_a_value_with_a_comment_and_evidence(
    client_for, org, signage, users
):
    client = client_for(users[Role.AGENT])
    period = this_month(org)
    form = client.get(url("enter", org, pk=signage.pk) + f"?period_start={period.start}")
    assert form.status_code == 200
    assert f'<option value="{period.start.isoformat()}" selected>' in form.content.decode()
    response = client.post(
        url("enter", org, pk=signage.pk),
        {
            "period_start": period.start.isoformat(),
            "value": "92,5",
            "comment": "Deux panneaux à reprendre",
            "evidence": SimpleUploadedFile("controle.pdf", PDF),
        },
        follow=True,
    )
    assert response.redirect_chain[-1][0] == url("index", org)
    value = ManualValue.objects.get()
    assert value.value == Decimal("92.50") and value.comment == "Deux panneaux à reprendre"
    page = response.content.decode()
    assert escape(signage.name) in page and "92,5 %" in page
    evidence = url("evidence", org, pk=value.pk)
    assert evidence in page
    download = client.get(evidence)
    assert b"".join(download.streaming_content) == PDF
    assert download["Content-Type"] == "application/pdf"
    assert "controle.pdf" in download["Content-Disposition"]


def test_counts_alone_give_the_value(client_for, org, signage, users):
    client_for(users[Role.AGENT]).post(
        url("enter", org, pk=signage.pk),
        {"period_start": this_month(org).start.isoformat(), "numerator": "18", "denominator": "20"},
    )
    assert ManualValue.objects.get().value == Decimal("90.00")


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"value": "101"}, "value"),
        ({"value": "-3"}, "value"),
        ({"numerator": "21", "denominator": "20"}, "numerator"),
        ({"numerator": "0", "denominator": "0"}, "denominator"),
        ({"value": "90", "numerator": "5"}, "denominator"),
    ],
)
def test_a_value_outside_the_range_is_refused_next_to_its_field(
    client_for, org, signage, users, data, field
):
    response = client_for(users[Role.AGENT]).post(
        url("enter", org, pk=signage.pk),
        {"period_start": this_month(org).start.isoformat(), **data},
    )
    assert response.status_code == 200
    assert error_of(response, field)
    assert 'class="error-summary"' in response.content.decode()
    assert not ManualValue.objects.exists()


def test_a_closed_period_is_refused_to_the_agent_next_to_the_period(
    client_for, org, signage, users
):
    closed = services.last_closed_for_entry("month", rollups.today(org))
    response = client_for(users[Role.AGENT]).post(
        url("enter", org, pk=signage.pk), {"period_start": closed.start.isoformat(), "value": "90"}
    )
    assert escape(closed.label.capitalize()) in error_of(response, "period_start")
    assert not ManualValue.objects.exists()
    client_for(users[Role.QUALITY_MANAGER]).post(
        url("enter", org, pk=signage.pk), {"period_start": closed.start.isoformat(), "value": "90"}
    )
    assert ManualValue.objects.get().period_start == closed.start


def test_a_second_value_for_the_period_is_refused_next_to_the_period(
    client_for, org, signage, users
):
    client = client_for(users[Role.AGENT])
    data = {"period_start": this_month(org).start.isoformat(), "value": "90"}
    client.post(url("enter", org, pk=signage.pk), data)
    response = client.post(url("enter", org, pk=signage.pk), {**data, "value": "80"})
    assert escape(
        fr("A value was already entered for %(period)s: correct it instead.")
        % {"period": this_month(org).label}
    ) in error_of(response, "period_start")
    assert ManualValue.objects.get().value == Decimal("90.00")


def test_a_future_period_is_refused_next_to_the_period(client_for, org, signage, users):
    future = this_month(org).next()
    response = client_for(users[Role.QUALITY_MANAGER]).post(
        url("enter", org, pk=signage.pk), {"period_start": future.start.isoformat(), "value": "90"}
    )
    assert error_of(response, "period_start")
    assert not ManualValue.objects.exists()


def test_an_executable_evidence_file_is_refused_next_to_its_field(client_for, org, signage, users):
    response = client_for(users[Role.AGENT]).post(
        url("enter", org, pk=signage.pk),
        {
            "period_start": this_month(org).start.isoformat(),
            "value": "90",
            "evidence": SimpleUploadedFile("outil.pdf", EXECUTABLE),
        },
    )
    assert "outil.pdf" in error_of(response, "evidence")
    assert not ManualValue.objects.exists()


def test_a_service_head_picks_only_their_services(client_for, org, signage, users):
    desk = desk_count(org, signage)
    head = head_of(org, "etat-civil")
    client = client_for(head)
    page = client.get(url("enter", org, pk=desk.pk)).content.decode()
    assert 'value="etat-civil"' in page and 'value="naissances"' in page
    assert 'value="accueil"' not in page
    response = client.post(
        url("enter", org, pk=desk.pk),
        {"service": "accueil", "period_start": this_month(org).start.isoformat(), "value": "90"},
    )
    assert error_of(response, "service")
    client.post(
        url("enter", org, pk=desk.pk),
        {"service": "naissances", "period_start": this_month(org).start.isoformat(), "value": "90"},
    )
    assert ManualValue.objects.get().service.code == "naissances"
    # The town's signage is not theirs to enter.
    assert client.get(url("enter", org, pk=signage.pk)).status_code == 403


def test_the_list_shows_what_is_due_with_links_to_the_right_form(client_for, org, signage, users):
    desk = desk_count(org, signage)
    head = head_of(org, "accueil")
    page = client_for(head).get(url("index", org)).content.decode()
    current = this_month(org)
    link = url("enter", org, pk=desk.pk) + f"?service=accueil&amp;period_start={current.start}"
    assert link in page
    assert "service=etat-civil" not in page
    assert url("enter", org, pk=signage.pk) not in page  # the agent's, not this head's


def test_the_list_shows_the_values_entered_with_who_and_a_correction_link(
    client_for, org, signage, users
):
    value = services.enter_value(
        signage,
        actor=users[Role.AGENT],
        period_start=this_month(org).start,
        numerator=9,
        denominator=10,
        comment="RAS",
    )
    page = client_for(users[Role.AGENT]).get(url("index", org)).content.decode()
    assert "90 %" in page and users[Role.AGENT].get_username() in page
    assert url("correct", org, pk=value.pk) in page
    assert client_for(users["restricted_agent"]).get(url("index", org)).status_code == 200
    page = client_for(users["restricted_agent"]).get(url("index", org)).content.decode()
    assert url("correct", org, pk=value.pk) not in page


def test_a_correction_changes_the_value_and_is_logged(client_for, org, signage, users):
    value = services.enter_value(
        signage, actor=users[Role.AGENT], period_start=this_month(org).start, value=70
    )
    client = client_for(users[Role.AGENT])
    form = client.get(url("correct", org, pk=value.pk))
    assert 'value="70' in form.content.decode()
    response = client.post(
        url("correct", org, pk=value.pk), {"value": "75", "comment": "Erreur de saisie"}
    )
    assert response.status_code == 302
    value.refresh_from_db()
    assert value.value == Decimal("75.00") and value.comment == "Erreur de saisie"
    event = IndicatorEvent.objects.get(verb="manual_value.corrected")
    assert event.details["before"]["value"] == "70.00"
    assert event.details["after"]["value"] == "75.00"
    response = client.post(url("correct", org, pk=value.pk), {"value": "175"})
    assert error_of(response, "value")


def test_a_value_of_a_closed_period_is_corrected_by_a_quality_manager_only(
    client_for, org, signage, users
):
    closed = services.last_closed_for_entry("month", rollups.today(org))
    value = services.enter_value(
        signage, actor=users[Role.QUALITY_MANAGER], period_start=closed.start, value=70
    )
    agent = client_for(users[Role.AGENT])
    assert url("correct", org, pk=value.pk) not in agent.get(url("index", org)).content.decode()
    response = agent.post(url("correct", org, pk=value.pk), {"value": "75"})
    # The form has no period to choose: the refusal is shown on top of it.
    summary = response.content.decode().split('class="error-summary"', 1)[1].split("</div>")[0]
    assert escape(closed.label.capitalize()) in summary
    value.refresh_from_db()
    assert value.value == Decimal("70.00")
    client_for(users[Role.QUALITY_MANAGER]).post(url("correct", org, pk=value.pk), {"value": "75"})
    value.refresh_from_db()
    assert value.value == Decimal("75.00")


def test_the_evidence_of_a_service_is_hidden_from_members_restricted_to_another(
    client_for, org, signage, users
):
    desk = desk_count(org, signage)
    value = services.enter_value(
        desk,
        actor=users[Role.QUALITY_MANAGER],
        service=org.service_set.get(code="accueil"),
        period_start=dt.date.today().replace(day=1),
        value=90,
        evidence=Upload("fiche.pdf", PDF),
        today=dt.date.today(),
    )
    evidence = url("evidence", org, pk=value.pk)
    assert client_for(head_of(org, "etat-civil")).get(evidence).status_code == 403
    assert client_for(head_of(org, "accueil")).get(evidence).status_code == 200
    assert client_for(users[Role.AUDITOR]).get(evidence).status_code == 200
