"""A change of target applies from its effective date: past periods keep the old one."""

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from qualicite.charter import services, yaml_io
from qualicite.charter.models import EARLIEST, Indicator, IndicatorRevision, plain_number
from tests.charter.test_forms import edit, indicator_data

pytestmark = pytest.mark.django_db


@pytest.fixture
def indicator(adopted):
    return Indicator.objects.get(organisation=adopted, code="qv-taux-decroche")


def test_adopting_a_template_puts_each_indicator_in_force_since_always(adopted):
    indicators = Indicator.objects.filter(organisation=adopted)
    revisions = IndicatorRevision.objects.filter(organisation=adopted)
    assert revisions.count() == indicators.count()
    assert set(revisions.values_list("effective_from", flat=True)) == {EARLIEST}


def test_a_new_target_is_in_force_from_its_date_and_the_old_one_before(indicator, users):
    old_target = indicator.target
    services.update_indicator(
        indicator,
        actor=users["quality_manager"],
        target=Decimal(92),
        effective_from=dt.date(2026, 1, 1),
    )
    revisions = list(indicator.revisions.order_by("effective_from"))
    assert [(r.effective_from, r.target) for r in revisions] == [
        (EARLIEST, old_target),
        (dt.date(2026, 1, 1), Decimal(92)),
    ]


def test_saving_the_same_definition_writes_no_revision(indicator, users):
    services.update_indicator(indicator, actor=users["quality_manager"], name="Taux de décroché")
    services.update_indicator(
        indicator,
        actor=users["quality_manager"],
        target=indicator.target,
        effective_from=dt.date(2026, 3, 1),
    )
    assert indicator.revisions.count() == 1


def test_service_targets_are_kept_in_the_revision(indicator, users, adopted):
    accueil = adopted.service_set.get(code="accueil")
    services.set_service_targets(
        indicator,
        [(accueil, Decimal(95), None)],
        actor=users["quality_manager"],
        effective_from=dt.date(2026, 2, 1),
    )
    revision = indicator.revisions.get(effective_from=dt.date(2026, 2, 1))
    assert revision.target_for(accueil.pk) == (Decimal(95), None)
    assert revision.target_for(None) == (indicator.target, indicator.warning_threshold)


def test_the_edit_form_takes_the_date_from_which_a_change_applies(client_for, users, indicator):
    response = edit(
        client_for(users["quality_manager"]),
        indicator,
        indicator_data(indicator, target="88", effective_from="2026-04-01"),
    )
    assert response.status_code == 302
    assert indicator.revisions.filter(effective_from=dt.date(2026, 4, 1), target=88).exists()


def test_the_edit_form_applies_a_change_from_today_when_no_date_is_given(
    client_for, users, indicator
):
    edit(client_for(users["quality_manager"]), indicator, indicator_data(indicator, target="88"))
    latest = indicator.revisions.order_by("-effective_from").first()
    assert latest.target == 88 and latest.effective_from > dt.date(2026, 1, 1)


def test_a_reimported_referentiel_changes_targets_from_today_only(adopted, users, indicator):
    text = yaml_io.export_referentiel(adopted)
    marker = f"code: {indicator.code}\n"
    head, tail = text.split(marker, 1)
    changed = (
        head + marker + tail.replace(f"target: {plain_number(indicator.target)}", "target: 80", 1)
    )
    services.import_referentiel(adopted, changed, actor=users["quality_manager"])
    revisions = list(indicator.revisions.order_by("effective_from"))
    assert [r.effective_from == EARLIEST for r in revisions] == [True, False]
    assert revisions[-1].target == 80


def test_the_commitment_page_lists_the_targets_in_force_over_time(client_for, users, indicator):
    services.update_indicator(
        indicator,
        actor=users["quality_manager"],
        target=Decimal(80),
        effective_from=dt.date(2026, 4, 1),
    )
    url = reverse(
        "charter:commitment",
        kwargs={"org_slug": indicator.organisation.slug, "pk": indicator.commitment_id},
    )
    page = client_for(users["auditor"]).get(url).content.decode()
    assert "01/04/2026" in page  # the page is in French, the default language
    assert "≥ 80 %" in page and "≥ 85 %" in page
