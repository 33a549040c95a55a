"""The actions decided from complaints: one text per organisation and year, every change logged."""

import pytest
from django.core.exceptions import ValidationError

from qualicite.core import events
from qualicite.core.models import Role
from qualicite.reports import services
from qualicite.reports.models import ComplaintActions, ReportEvent

pytestmark = pytest.mark.django_db


def test_saving_the_actions_creates_the_text_and_logs_who_did_it(org, users):
    manager = users[Role.QUALITY_MANAGER]
    actions = services.save_complaint_actions(
        org, actor=manager, year=2025, text="  Nouvelle signalétique.\r\nFormation.  "
    )
    assert actions.text == "Nouvelle signalétique.\nFormation."
    assert actions.updated_by == manager
    event = ReportEvent.objects.get(organisation=org)
    assert event.verb == "report.complaint_actions_saved"
    assert event.actor == manager and event.details["year"] == 2025
    assert event.subject_id == str(actions.pk)
    assert event in events.history(org)


def test_saving_again_changes_the_same_row_and_logs_again(org, users):
    manager = users[Role.QUALITY_MANAGER]
    services.save_complaint_actions(org, actor=manager, year=2025, text="Premier jet")
    services.save_complaint_actions(org, actor=manager, year=2025, text="Version validée")
    assert ComplaintActions.objects.get(organisation=org, year=2025).text == "Version validée"
    assert ReportEvent.objects.filter(organisation=org).count() == 2


def test_saving_the_same_text_writes_no_event(org, users):
    manager = users[Role.QUALITY_MANAGER]
    services.save_complaint_actions(org, actor=manager, year=2025, text="Texte")
    services.save_complaint_actions(org, actor=manager, year=2025, text="Texte ")
    assert ReportEvent.objects.filter(organisation=org).count() == 1


def test_each_year_and_each_organisation_has_its_own_text(org, other_org, users):
    manager = users[Role.QUALITY_MANAGER]
    services.save_complaint_actions(org, actor=manager, year=2024, text="2024 à A")
    services.save_complaint_actions(org, actor=manager, year=2025, text="2025 à A")
    services.save_complaint_actions(other_org, actor=None, year=2025, text="2025 à B")
    assert ComplaintActions.objects.count() == 3
    assert ComplaintActions.objects.get(organisation=other_org).text == "2025 à B"
    assert ComplaintActions.objects.get(organisation=org, year=2024).text == "2024 à A"
    assert ReportEvent.objects.filter(organisation=other_org).count() == 1


def test_a_text_too_long_or_a_year_out_of_range_is_refused(org, users):
    manager = users[Role.QUALITY_MANAGER]
    with pytest.raises(ValidationError) as caught:
        services.save_complaint_actions(
            org, actor=manager, year=2025, text="x" * (services.MAX_ACTIONS_LENGTH + 1)
        )
    assert "text" in caught.value.error_dict
    with pytest.raises(ValidationError) as caught:
        services.save_complaint_actions(org, actor=manager, year=1850, text="x")
    assert "year" in caught.value.error_dict
    assert not ComplaintActions.objects.exists() and not ReportEvent.objects.exists()
