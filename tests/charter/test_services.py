"""Writes to the référentiel: validation, ordering, scoping, and one event per change."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from qualicite.charter import services
from qualicite.charter.models import CharterEvent, Commitment, Indicator, Programme, ServiceTarget
from qualicite.core.models import Service


@pytest.fixture
def manager(users):
    return users["quality_manager"]


@pytest.fixture
def programme(org, manager):
    return services.create_programme(
        org, actor=manager, key="maison", kind="custom", name="Nos engagements"
    )


def verbs(org):
    return list(
        CharterEvent.objects.filter(organisation=org).order_by("id").values_list("verb", flat=True)
    )


def test_creating_a_commitment_writes_an_event_with_its_actor(org, programme, manager):
    commitment = services.create_commitment(
        programme,
        actor=manager,
        number="1",
        title="Répondre vite",
        channels=["phone", "letter", "phone"],
        public_text="Ligne 1\r\nLigne 2",
    )
    assert commitment.channels == ["letter", "phone"]  # known order, no duplicates
    assert commitment.public_text == "Ligne 1\nLigne 2"
    event = CharterEvent.objects.get(organisation=org, verb="commitment.created")
    assert event.actor == manager
    assert event.subject_id == str(commitment.pk)
    assert event.details == {"programme": "maison", "number": "1"}


def test_updating_a_commitment_logs_the_changed_fields_only(org, programme, manager):
    commitment = services.create_commitment(programme, actor=manager, number="1", title="A")
    accueil = Service.objects.get(organisation=org, code="accueil")
    services.update_commitment(commitment, actor=manager, title="B", services=[accueil])
    event = CharterEvent.objects.filter(organisation=org, verb="commitment.updated").get()
    assert event.details["fields"] == ["services", "title"]
    services.update_commitment(commitment, actor=manager, title="B", services=[accueil])
    assert verbs(org).count("commitment.updated") == 1  # nothing changed, nothing logged


def test_deleting_a_commitment_logs_it_and_renumbers_the_others(org, programme, manager):
    made = [
        services.create_commitment(programme, actor=manager, number=str(n), title=f"C{n}")
        for n in range(1, 4)
    ]
    services.delete_commitment(made[0], actor=manager)
    assert list(programme.commitments.values_list("number", "position")) == [("2", 1), ("3", 2)]
    event = CharterEvent.objects.get(organisation=org, verb="commitment.deleted")
    assert event.subject_name == "1. C1"


def test_a_commitment_moves_to_the_position_asked(programme, manager):
    made = [
        services.create_commitment(programme, actor=manager, number=str(n), title=f"C{n}")
        for n in range(1, 4)
    ]
    services.update_commitment(made[2], actor=manager, position=1)
    assert list(programme.commitments.values_list("number", flat=True)) == ["3", "1", "2"]
    services.create_commitment(programme, actor=manager, number="0", title="C0", position=2)
    assert list(programme.commitments.values_list("number", flat=True)) == ["3", "0", "1", "2"]


def test_a_commitment_cannot_take_a_service_of_another_organisation(programme, manager, other_org):
    foreign = Service.objects.get(organisation=other_org, code="accueil")
    with pytest.raises(ValidationError):
        services.create_commitment(
            programme, actor=manager, number="1", title="A", services=[foreign]
        )
    assert not Commitment.objects.exists()


def test_a_commitment_refuses_an_unknown_channel(programme, manager):
    with pytest.raises(ValidationError) as caught:
        services.create_commitment(
            programme, actor=manager, number="1", title="A", channels=["pigeon"]
        )
    assert "channels" in caught.value.message_dict


def test_indicators_and_their_service_targets_write_events(org, programme, manager):
    commitment = services.create_commitment(programme, actor=manager, number="1", title="A")
    accueil = Service.objects.get(organisation=org, code="accueil")
    indicator = services.create_indicator(
        commitment,
        actor=manager,
        code="decroche",
        name="Taux de décroché",
        source="phone.answer_rate",
        target=Decimal("85"),
        warning_threshold=Decimal("75"),
        service_targets=[(accueil, Decimal("90"), None)],
    )
    assert indicator.service_targets.get().target == Decimal("90")
    services.update_indicator(indicator, actor=manager, target=Decimal("88"))
    services.set_service_targets(indicator, [], actor=manager)
    services.delete_indicator(indicator, actor=manager)
    assert verbs(org)[-6:] == [
        "commitment.created",
        "indicator.created",
        "indicator.targets_changed",
        "indicator.updated",
        "indicator.targets_changed",
        "indicator.deleted",
    ]
    changed = CharterEvent.objects.filter(verb="indicator.targets_changed").order_by("id")
    assert changed[0].details["after"] == {"accueil": "90.00"}
    assert changed[1].details["before"] == {"accueil": "90.00"}


def test_setting_the_same_service_targets_again_writes_no_event(org, programme, manager):
    commitment = services.create_commitment(programme, actor=manager, number="1", title="A")
    accueil = Service.objects.get(organisation=org, code="accueil")
    indicator = services.create_indicator(
        commitment, actor=manager, code="x", name="X", source_kind="manual", target=50
    )
    services.set_service_targets(indicator, [(accueil, 60, 55)], actor=manager)
    services.set_service_targets(indicator, [(accueil, "60.0", "55")], actor=manager)
    assert verbs(org).count("indicator.targets_changed") == 1


def test_a_service_target_is_checked_against_its_indicator(org, programme, manager):
    commitment = services.create_commitment(programme, actor=manager, number="1", title="A")
    accueil = Service.objects.get(organisation=org, code="accueil")
    indicator = services.create_indicator(
        commitment, actor=manager, code="x", name="X", source_kind="manual", target=50
    )
    with pytest.raises(ValidationError) as caught:
        services.set_service_targets(indicator, [(accueil, 150, None)], actor=manager)
    assert "target" in caught.value.message_dict
    with pytest.raises(ValidationError):
        services.set_service_targets(indicator, [(accueil, 60, 70)], actor=manager)
    assert not ServiceTarget.objects.exists()


def test_a_service_target_refuses_a_service_of_another_organisation(
    org, other_org, programme, manager
):
    commitment = services.create_commitment(programme, actor=manager, number="1", title="A")
    indicator = services.create_indicator(
        commitment, actor=manager, code="x", name="X", source_kind="manual", target=50
    )
    foreign = Service.objects.get(organisation=other_org, code="accueil")
    with pytest.raises(ValidationError):
        services.set_service_targets(indicator, [(foreign, 60, None)], actor=manager)
    assert not ServiceTarget.objects.exists()


def test_an_indicator_code_is_unique_in_the_organisation(org, programme, manager):
    commitment = services.create_commitment(programme, actor=manager, number="1", title="A")
    services.create_indicator(
        commitment, actor=manager, code="x", name="X", source_kind="manual", target=50
    )
    with pytest.raises(ValidationError):
        services.create_indicator(
            commitment, actor=manager, code="x", name="Y", source_kind="manual", target=50
        )
    assert Indicator.objects.filter(organisation=org).count() == 1


def test_an_indicator_moved_to_another_commitment_goes_last(org, programme, manager):
    first = services.create_commitment(programme, actor=manager, number="1", title="A")
    second = services.create_commitment(programme, actor=manager, number="2", title="B")
    made = [
        services.create_indicator(
            commitment, actor=manager, code=code, name=code, source_kind="manual", target=1
        )
        for commitment, code in ((first, "a"), (first, "b"), (second, "c"))
    ]
    services.update_indicator(made[0], actor=manager, commitment=second)
    assert list(first.indicators.values_list("code", "position")) == [("b", 1)]
    assert list(second.indicators.values_list("code", "position")) == [("c", 1), ("a", 2)]


def test_deleting_a_programme_deletes_its_commitments(org, programme, manager):
    services.create_commitment(programme, actor=manager, number="1", title="A")
    services.delete_programme(programme, actor=manager)
    assert not Programme.objects.filter(organisation=org).exists()
    assert not Commitment.objects.filter(organisation=org).exists()
    assert "programme.deleted" in verbs(org)


def test_an_import_that_changes_nothing_writes_no_event(adopted):
    from qualicite.charter import yaml_io

    before = CharterEvent.objects.filter(organisation=adopted).count()
    services.import_referentiel(adopted, yaml_io.export_referentiel(adopted), actor=None)
    assert CharterEvent.objects.filter(organisation=adopted).count() == before


def test_indicator_displays_read_like_a_charter(adopted):
    indicator = Indicator.objects.get(organisation=adopted, code="qv-appels-abandonnes")
    assert indicator.target_display == "≤ 10 %"
    assert indicator.warning_display == "15 %"
    letters = Indicator.objects.get(organisation=adopted, code="qv-courriers-delai")
    assert letters.delay_display == "15 working days"
    assert letters.source_display == "computed from requests.answered_in_time"
    watched = Indicator.objects.get(organisation=adopted, code="qv-taux-reclamation")
    assert watched.target_display == "watched, no target"
