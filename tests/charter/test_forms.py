"""Indicator and target forms refuse bad input beside the field, and save nothing."""

from decimal import Decimal

import pytest
from django.urls import reverse

from qualicite.charter.forms import CommitmentForm, IndicatorForm
from qualicite.charter.models import CharterEvent, Commitment, Indicator, ServiceTarget
from tests.charter.conftest import snapshot


def indicator_data(indicator, targets=(), **overrides):
    data = {
        "commitment": indicator.commitment_id,
        "code": indicator.code,
        "name": indicator.name,
        "unit": indicator.unit,
        "source_kind": indicator.source_kind,
        "source": indicator.source,
        "direction": indicator.direction,
        "target": indicator.target if indicator.target is not None else "",
        "warning_threshold": indicator.warning_threshold
        if indicator.warning_threshold is not None
        else "",
        "period": indicator.period,
        "channels": indicator.channels,
        "day_kind": indicator.day_kind,
        "delay_days": indicator.delay_days or "",
        "threshold_seconds": indicator.threshold_seconds or "",
        "targets-TOTAL_FORMS": str(len(targets)),
        "targets-INITIAL_FORMS": "0",
        "targets-MIN_NUM_FORMS": "0",
        "targets-MAX_NUM_FORMS": "1000",
    }
    for index, row in enumerate(targets):
        for key, value in row.items():
            data[f"targets-{index}-{key}"] = value
    data.update(overrides)
    return data


@pytest.fixture
def indicator(adopted):
    return Indicator.objects.get(organisation=adopted, code="qv-taux-decroche")


@pytest.fixture
def manager_client(client_for, users):
    return client_for(users["quality_manager"])


def edit(client, indicator, data):
    return client.post(
        reverse(
            "charter:indicator_edit",
            kwargs={"org_slug": indicator.organisation.slug, "pk": indicator.pk},
        ),
        data,
    )


def test_the_manager_sets_per_service_targets_with_the_indicator(
    manager_client, indicator, adopted
):
    accueil = adopted.service_set.get(code="accueil")
    response = edit(
        manager_client,
        indicator,
        indicator_data(
            indicator,
            targets=[{"service": accueil.pk, "target": "90", "warning_threshold": "80"}, {}],
            target="87",
        ),
    )
    assert response.status_code == 302
    indicator.refresh_from_db()
    assert indicator.target == Decimal("87")
    assert indicator.target_for(accueil) == (Decimal("90"), Decimal("80"))
    assert set(CharterEvent.objects.values_list("verb", flat=True)) >= {
        "indicator.updated",
        "indicator.targets_changed",
    }


def test_the_manager_removes_a_service_target(manager_client, indicator, adopted):
    accueil = adopted.service_set.get(code="accueil")
    target = ServiceTarget.objects.create(
        organisation=adopted, indicator=indicator, service=accueil, target=90
    )
    data = indicator_data(indicator)
    data.update(
        {
            "targets-TOTAL_FORMS": "1",
            "targets-INITIAL_FORMS": "1",
            "targets-0-id": target.pk,
            "targets-0-indicator": indicator.pk,
            "targets-0-service": accueil.pk,
            "targets-0-target": "90",
            "targets-0-DELETE": "on",
        }
    )
    assert edit(manager_client, indicator, data).status_code == 302
    assert not ServiceTarget.objects.exists()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"target": "150"}, "target"),
        ({"warning_threshold": "95"}, "warning_threshold"),  # above a “higher” target
        ({"direction": "lower", "target": "10", "warning_threshold": "5"}, "warning_threshold"),
        ({"code": "qv-appels-25s"}, "code"),  # another indicator's code
        ({"code": "pas un code"}, "code"),
        ({"source": ""}, "source"),  # computed without a data source
        ({"channels": ["letter"]}, "channels"),  # the commitment concerns the phone only
        ({"unit": "lightyears"}, "unit"),
    ],
)
def test_an_indicator_form_refuses_bad_input_and_saves_nothing(
    manager_client, indicator, adopted, overrides, field
):
    before = snapshot(adopted)
    response = edit(manager_client, indicator, indicator_data(indicator, **overrides))
    assert response.status_code == 200
    assert f'id="id_{field}_error"' in response.content.decode()
    assert snapshot(adopted) == before


@pytest.mark.parametrize(
    ("row", "field"),
    [
        ({"target": "120"}, "target"),
        ({"target": "90", "warning_threshold": "95"}, "warning_threshold"),
        ({"target": ""}, "target"),
    ],
)
def test_a_service_target_row_refuses_bad_input_and_saves_nothing(
    manager_client, indicator, adopted, row, field
):
    accueil = adopted.service_set.get(code="accueil")
    before = snapshot(adopted)
    response = edit(
        manager_client,
        indicator,
        indicator_data(indicator, targets=[{"service": accueil.pk, **row}], name="Changé"),
    )
    assert response.status_code == 200
    assert f'id="id_targets-0-{field}_error"' in response.content.decode()
    assert snapshot(adopted) == before  # not even the valid name change


def test_a_service_target_for_a_service_of_another_organisation_is_refused(
    manager_client, indicator, adopted, other_org
):
    foreign = other_org.service_set.get(code="accueil")
    before = snapshot(adopted)
    response = edit(
        manager_client,
        indicator,
        indicator_data(indicator, targets=[{"service": foreign.pk, "target": "90"}]),
    )
    assert 'id="id_targets-0-service_error"' in response.content.decode()
    assert snapshot(adopted) == before


def test_two_targets_for_the_same_service_are_refused(manager_client, indicator, adopted):
    accueil = adopted.service_set.get(code="accueil")
    before = snapshot(adopted)
    response = edit(
        manager_client,
        indicator,
        indicator_data(
            indicator,
            targets=[
                {"service": accueil.pk, "target": "90"},
                {"service": accueil.pk, "target": "95"},
            ],
        ),
    )
    assert response.status_code == 200
    assert 'id="id_targets-1-service_error"' in response.content.decode()
    assert snapshot(adopted) == before


def test_a_watched_indicator_takes_no_service_target(manager_client, adopted):
    watched = Indicator.objects.get(organisation=adopted, code="qv-taux-reclamation")
    accueil = adopted.service_set.get(code="accueil")
    before = snapshot(adopted)
    response = edit(
        manager_client,
        watched,
        indicator_data(watched, targets=[{"service": accueil.pk, "target": "5"}]),
    )
    assert 'id="id_targets-0-target_error"' in response.content.decode()
    assert snapshot(adopted) == before


def test_the_manager_creates_an_indicator_with_targets(manager_client, adopted):
    commitment = Commitment.objects.get(organisation=adopted, number="9")
    accueil = adopted.service_set.get(code="accueil")
    template = Indicator(
        commitment=commitment,
        code="qv-rappels",
        name="Rappels dans la journée",
        source_kind="manual",
        target=Decimal("95"),
    )
    response = manager_client.post(
        reverse("charter:indicator_create", kwargs={"org_slug": adopted.slug, "pk": commitment.pk}),
        indicator_data(template, targets=[{"service": accueil.pk, "target": "99"}]),
    )
    assert response.status_code == 302
    created = Indicator.objects.get(organisation=adopted, code="qv-rappels")
    assert created.position == 4
    assert created.service_targets.get().target == Decimal("99")


def test_an_indicator_cannot_move_to_a_commitment_of_another_organisation(adopted, other_org):
    from qualicite.charter import services

    services.adopt_template(other_org, "qualiparis", actor=None)
    foreign = Commitment.objects.filter(organisation=other_org).first()
    indicator = Indicator.objects.filter(organisation=adopted).first()
    form = IndicatorForm(
        indicator_data(indicator, commitment=foreign.pk), instance=indicator, organisation=adopted
    )
    assert not form.is_valid()
    assert "commitment" in form.errors


def test_the_commitment_form_offers_only_the_organisations_services(adopted, other_org):
    form = CommitmentForm(organisation=adopted)
    codes = {s.organisation_id for s in form.fields["services"].queryset}
    assert codes == {adopted.pk}
    assert {p.organisation_id for p in form.fields["programme"].queryset} == {adopted.pk}
