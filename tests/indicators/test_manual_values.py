"""Values entered by hand: periods, ranges, counts, who may, closed periods, corrections."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import formats

from qualicite.core.models import Role
from qualicite.indicators import periods, queries, services
from qualicite.indicators.models import IndicatorEvent, ManualValue
from qualicite.requests.attachments import Upload
from tests.indicators.values_support import EXECUTABLE, PDF, desk_count, fr, head_of, own

# Early February: January is due (open until the 10th), December is closed.
TODAY = dt.date(2026, 2, 5)
JANUARY = dt.date(2026, 1, 1)
DECEMBER = dt.date(2025, 12, 1)


def refusal(call) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as caught:
        call()
    return caught.value.message_dict


@pytest.fixture
def signage(measured, users):
    """The monthly signage check of the whole town, owned by an agent."""
    return own(measured["signage"], users[Role.AGENT])


def enter(indicator, actor, **fields):
    fields.setdefault("period_start", JANUARY)
    fields.setdefault("today", TODAY)
    return services.enter_value(indicator, actor=actor, **fields)


def test_it_records_a_value_for_the_period_that_contains_the_day(signage, users):
    value = enter(
        signage,
        users[Role.AGENT],
        period_start=dt.date(2026, 1, 17),
        value=Decimal("95.5"),
        comment="Panneau du 2e étage remplacé",
    )
    assert (value.period_start, value.period_end) == (JANUARY, dt.date(2026, 1, 31))
    assert value.value == Decimal("95.50") and value.service is None
    assert value.entered_by == users[Role.AGENT]
    event = IndicatorEvent.objects.get(verb="manual_value.entered")
    assert event.actor == users[Role.AGENT]
    assert event.subject_id == str(value.pk)
    assert event.details["indicator"] == "signage"
    assert event.details["period_start"] == "2026-01-01"
    assert event.details["value"] == "95.50"
    assert event.details["comment"] == "Panneau du 2e étage remplacé"


def test_the_value_is_computed_from_the_counts_when_only_they_are_given(signage, users):
    value = enter(signage, users[Role.AGENT], numerator=17, denominator=20)
    assert value.value == Decimal("85.00")
    assert (value.numerator, value.denominator) == (17, 20)


def test_a_value_typed_with_its_counts_must_agree_with_them_as_rounded(signage, users):
    agreed = enter(signage, users[Role.AGENT], value="66.7", numerator=2, denominator=3)
    assert agreed.value == Decimal("66.67")
    errors = refusal(
        lambda: enter(
            signage, users[Role.AGENT], period_start=TODAY, value=70, numerator=2, denominator=3
        )
    )
    assert list(errors) == ["value"]
    assert "66,67" in errors["value"][0]  # French digits


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"value": Decimal("100.5")}, "value", "A percentage lies between 0 and 100."),
        ({"value": -1}, "value", "A value cannot be negative."),
        ({}, "value", "Enter the value, or the counts it comes from."),
        (
            {"numerator": 21, "denominator": 20},
            "numerator",
            "It cannot exceed the number of items counted in all (%(denominator)s).",
        ),
        ({"numerator": 0, "denominator": 0}, "denominator", None),
        ({"numerator": 5}, "denominator", "Give both counts, or neither."),
        ({"denominator": 5}, "numerator", "Give both counts, or neither."),
        ({"numerator": -1, "denominator": 5}, "numerator", "A count cannot be negative."),
    ],
)
def test_it_refuses_a_value_outside_the_indicators_range(signage, users, fields, field, message):
    errors = refusal(lambda: enter(signage, users[Role.AGENT], **fields))
    assert list(errors) == [field]
    if message is not None:
        assert errors[field] == [fr(message) % {"denominator": 20}]
    assert not ManualValue.objects.exists()


def test_a_count_indicator_accepts_values_above_100(measured, users, org):
    from qualicite.charter import services as charter_services

    counted = charter_services.create_indicator(
        measured["signage"].commitment,
        actor=None,
        code="visitors",
        name="Visiteurs",
        source="",
        source_kind="manual",
        unit="count",
        direction="watch",
    )
    assert enter(counted, users[Role.QUALITY_MANAGER], value=1234).value == Decimal("1234.00")


def test_it_refuses_a_second_value_for_one_period(signage, users):
    enter(signage, users[Role.AGENT], value=90)
    errors = refusal(
        lambda: enter(
            signage, users[Role.QUALITY_MANAGER], period_start=dt.date(2026, 1, 30), value=80
        )
    )
    assert list(errors) == ["period_start"]
    assert errors["period_start"] == [
        fr("A value was already entered for %(period)s: correct it instead.")
        % {"period": periods.containing(JANUARY, "month").label}
    ]
    assert ManualValue.objects.get().value == Decimal("90.00")


def test_it_refuses_a_period_that_has_not_started(signage, users):
    errors = refusal(
        lambda: enter(
            signage, users[Role.QUALITY_MANAGER], period_start=dt.date(2026, 3, 1), value=90
        )
    )
    assert list(errors) == ["period_start"]
    # The running period may already be entered.
    assert enter(signage, users[Role.AGENT], period_start=TODAY, value=90).period_start == dt.date(
        2026, 2, 1
    )


def test_it_refuses_a_value_for_a_closed_period_without_the_quality_manager_role(signage, users):
    errors = refusal(lambda: enter(signage, users[Role.AGENT], period_start=DECEMBER, value=90))
    assert list(errors) == ["period_start"]
    last_day = formats.date_format(dt.date(2026, 1, 10), "DATE_FORMAT")
    assert last_day in errors["period_start"][0]
    value = enter(signage, users[Role.QUALITY_MANAGER], period_start=DECEMBER, value=90)
    assert value.period_start == DECEMBER


def test_values_for_last_month_can_be_entered_until_the_10th(signage, users):
    assert services.GRACE_DAYS == 10
    enter(signage, users[Role.AGENT], value=90, today=dt.date(2026, 2, 10))
    ManualValue.objects.all().delete()
    errors = refusal(
        lambda: enter(signage, users[Role.AGENT], value=90, today=dt.date(2026, 2, 11))
    )
    assert list(errors) == ["period_start"]


def test_it_refuses_an_indicator_computed_from_a_data_source(measured, users):
    with pytest.raises(ValidationError) as caught:
        enter(measured["in-time"], users[Role.QUALITY_MANAGER], value=90)
    assert caught.value.messages == [
        fr("“%(indicator)s” is computed from a data source: its values are not entered by hand.")
        % {"indicator": "in-time"}
    ]


@pytest.mark.parametrize(
    "role", [Role.AUDITOR, Role.DIRECTION, Role.ADMINISTRATOR, "restricted_agent"]
)
def test_it_refuses_members_who_may_not_enter_the_indicator(signage, users, role):
    with pytest.raises(PermissionDenied):
        enter(signage, users[role], value=90)
    assert not ManualValue.objects.exists()


def test_an_agent_enters_only_the_indicators_they_are_responsible_for(measured, users):
    with pytest.raises(PermissionDenied):
        enter(measured["signage"], users[Role.AGENT], value=90)
    own(measured["signage"], users[Role.AGENT])
    assert enter(measured["signage"], users[Role.AGENT], value=90)


def test_a_service_head_enters_the_values_of_their_services_only(org, signage, users):
    desk = desk_count(org, signage)
    accueil = org.service_set.get(code="accueil")
    etat_civil = org.service_set.get(code="etat-civil")
    naissances = org.service_set.get(code="naissances")
    head = head_of(org, "etat-civil")
    assert enter(desk, head, service=etat_civil, value=90)
    # A sub-service of theirs is theirs too.
    assert enter(desk, head, service=naissances, value=88)
    with pytest.raises(PermissionDenied):
        enter(desk, head, service=accueil, value=90)
    # The whole town's signage is not one of their services'.
    with pytest.raises(PermissionDenied):
        enter(signage, head, value=90)
    # A head with no restriction heads every service.
    assert enter(desk, users[Role.SERVICE_HEAD], service=accueil, value=90)


def test_the_service_must_match_the_commitments_scope(org, signage, users):
    desk = desk_count(org, signage)
    manager = users[Role.QUALITY_MANAGER]
    accueil = org.service_set.get(code="accueil")
    finances = org.service_set.get(code="finances")
    assert list(refusal(lambda: enter(desk, manager, value=90))) == ["service"]
    assert list(refusal(lambda: enter(desk, manager, service=finances, value=90))) == ["service"]
    # A commitment for every service takes one value for the whole town.
    assert list(refusal(lambda: enter(signage, manager, service=accueil, value=90))) == ["service"]


def test_a_service_of_another_organisation_is_refused(org, other_org, signage, users):
    desk = desk_count(org, signage)
    stranger = other_org.service_set.get(code="accueil")
    errors = refusal(lambda: enter(desk, users[Role.QUALITY_MANAGER], service=stranger, value=9))
    assert list(errors) == ["service"]


def test_the_evidence_file_is_stored_privately_with_its_name(signage, users, settings):
    value = enter(
        signage,
        users[Role.AGENT],
        value=100,
        evidence=SimpleUploadedFile("controle-janvier.pdf", PDF),
    )
    assert value.evidence_name == "controle-janvier.pdf"
    with value.evidence.open("rb") as handle:
        assert handle.read() == PDF
    assert str(settings.VAR_DIR) in value.evidence.path


def test_an_evidence_file_of_a_refused_type_saves_nothing(signage, users, settings):
    errors = refusal(
        lambda: enter(
            signage, users[Role.AGENT], value=100, evidence=Upload("outil.exe", EXECUTABLE)
        )
    )
    assert list(errors) == ["evidence"]
    assert not ManualValue.objects.exists()
    assert not (settings.VAR_DIR / "attachments" / "evidence").exists()


def test_the_results_read_the_values_entered(org, signage, users):
    desk = desk_count(org, signage)
    accueil = org.service_set.get(code="accueil")
    etat_civil = org.service_set.get(code="etat-civil")
    enter(desk, users[Role.QUALITY_MANAGER], service=accueil, numerator=45, denominator=50)
    enter(desk, users[Role.QUALITY_MANAGER], service=etat_civil, numerator=25, denominator=50)
    found = queries.results(
        org, [desk], periods.containing(JANUARY, "month"), services=[accueil, etat_civil]
    )
    assert found[(desk.pk, accueil.pk)].value == Decimal("90.00")
    assert found[(desk.pk, accueil.pk)].status == queries.Status.MET
    assert found[(desk.pk, etat_civil.pk)].status == queries.Status.MISSED
    assert found[(desk.pk, None)].value == Decimal("70.00")  # 70 out of 100


def test_a_correction_keeps_what_changed_before_and_after(signage, users):
    value = enter(signage, users[Role.AGENT], value=80, comment="Premier passage")
    services.correct_value(
        value,
        actor=users[Role.AGENT],
        numerator=9,
        denominator=10,
        comment="Recompté avec la fiche",
        evidence=Upload("fiche.pdf", PDF),
        today=TODAY,
    )
    value.refresh_from_db()
    assert value.value == Decimal("90.00") and value.evidence_name == "fiche.pdf"
    event = IndicatorEvent.objects.get(verb="manual_value.corrected")
    assert event.details["before"] == {
        "value": "80.00",
        "numerator": None,
        "denominator": None,
        "comment": "Premier passage",
        "evidence": "",
    }
    assert event.details["after"]["value"] == "90.00"
    assert event.details["after"]["evidence"] == "fiche.pdf"


def test_a_correction_that_changes_nothing_logs_nothing(signage, users):
    value = enter(signage, users[Role.AGENT], value=80)
    services.correct_value(value, actor=users[Role.AGENT], value=80, today=TODAY)
    assert not IndicatorEvent.objects.filter(verb="manual_value.corrected").exists()


def test_a_correction_follows_the_rules_of_entry(signage, users):
    value = enter(signage, users[Role.AGENT], value=80)
    errors = refusal(
        lambda: services.correct_value(value, actor=users[Role.AGENT], value=101, today=TODAY)
    )
    assert list(errors) == ["value"]
    later = dt.date(2026, 2, 11)
    errors = refusal(
        lambda: services.correct_value(value, actor=users[Role.AGENT], value=85, today=later)
    )
    assert list(errors) == ["period_start"]
    with pytest.raises(PermissionDenied):
        services.correct_value(value, actor=users[Role.AUDITOR], value=85, today=TODAY)
    services.correct_value(value, actor=users[Role.QUALITY_MANAGER], value=85, today=later)
    value.refresh_from_db()
    assert value.value == Decimal("85.00")


def test_a_replaced_evidence_file_is_deleted_once_the_correction_is_saved(
    signage, users, django_capture_on_commit_callbacks
):
    value = enter(signage, users[Role.AGENT], value=80, evidence=Upload("a.pdf", PDF))
    old_path = value.evidence.path
    with django_capture_on_commit_callbacks(execute=True):
        services.correct_value(
            value, actor=users[Role.AGENT], value=80, evidence=Upload("b.pdf", PDF), today=TODAY
        )
    import os

    assert not os.path.exists(old_path)
    assert os.path.exists(value.evidence.path)


def test_the_due_list_puts_closed_periods_first_and_leaves_out_what_was_entered(
    org, signage, users
):
    due = services.due_entries(users[Role.AGENT], org, TODAY)
    assert [(e.period.start, e.state, e.may_enter) for e in due] == [
        (DECEMBER, services.Due.CLOSED, False),
        (JANUARY, services.Due.DUE, True),
        (dt.date(2026, 2, 1), services.Due.IN_PROGRESS, True),
    ]
    enter(signage, users[Role.AGENT], value=90)
    due = services.due_entries(users[Role.QUALITY_MANAGER], org, TODAY)
    assert [(e.period.start, e.may_enter) for e in due] == [
        (DECEMBER, True),
        (dt.date(2026, 2, 1), True),
    ]
    assert services.due_entries(users["restricted_agent"], org, TODAY) == []
