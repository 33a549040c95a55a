"""The built-in templates: each is a valid référentiel file, and adopting one is done once."""

import pytest
from django.core.exceptions import ValidationError

from qualicite.charter import queries, services, templates_catalogue, yaml_io
from qualicite.charter.models import CharterEvent, Commitment, Indicator, Programme

EXPECTED = {
    # template key: (programme key, commitments, groups)
    "qualiparis": ("qualiparis", 12, 4),
    "qualivilles": ("qualivilles", 22, 5),
    "services_publics_plus": ("services-publics-plus", 8, 3),
}
PREFIXES = {"qualiparis": "qp-", "qualivilles": "qv-", "services_publics_plus": "spp-"}
QUALIVILLES_GROUPS = [
    "Accueil, information, orientation et réponse",
    "Organisation",
    "Suivi et pilotage des engagements",
    "Prestations spécifiques",
    "Mesure de la satisfaction et traitement des réclamations",
]


def test_the_catalogue_lists_the_three_templates():
    assert templates_catalogue.keys() == ["qualivilles", "qualiparis", "services_publics_plus"]
    for template in templates_catalogue.TEMPLATES:
        assert template.path.is_file()
        assert str(template.name) and str(template.description)


@pytest.mark.parametrize("key", sorted(EXPECTED))
def test_each_template_imports_cleanly_with_the_expected_commitments(org, key):
    programme_key, commitments, groups = EXPECTED[key]
    summary = services.import_referentiel(org, templates_catalogue.get(key).read(), actor=None)
    assert summary.created["programme"] == 1
    assert summary.created["commitment"] == commitments
    programme = Programme.objects.get(organisation=org, key=programme_key)
    assert programme.commitments.count() == commitments
    assert len({c.group for c in programme.commitments.all()}) == groups
    numbers = list(programme.commitments.values_list("number", flat=True))
    assert numbers == [str(n) for n in range(1, commitments + 1)]
    for commitment in programme.commitments.all():
        assert commitment.indicators.exists(), f"commitment {commitment} has no indicator"


@pytest.mark.parametrize("key", sorted(EXPECTED))
def test_template_indicator_codes_carry_the_template_prefix(org, key):
    referentiel = yaml_io.parse(org, templates_catalogue.get(key).read())
    codes = referentiel.indicator_codes()
    assert codes and all(code.startswith(PREFIXES[key]) for code in codes)


def test_the_qualivilles_template_has_its_five_groups_in_order(adopted):
    groups = [group.name for group in queries.referentiel(adopted)[0].groups]
    assert groups == QUALIVILLES_GROUPS


def test_the_templates_use_the_default_targets_of_the_domain(org):
    for key in EXPECTED:
        services.adopt_template(org, key, actor=None)
    indicators = Indicator.objects.filter(organisation=org)
    by_source = {}
    for indicator in indicators.exclude(source=""):
        by_source.setdefault(indicator.source, set()).add(
            (indicator.direction, indicator.target, indicator.threshold_seconds)
        )
    assert by_source["requests.answered"] == {("higher", 100, None)}
    assert by_source["phone.answer_rate"] == {("higher", 85, None)}
    assert by_source["phone.answered_within"] == {("higher", 80, 25)}
    assert by_source["phone.abandoned"] == {("lower", 10, None)}
    assert by_source["desk.wait_within"] == {("higher", 90, 600)}
    assert by_source["kiosk.satisfaction"] == {("higher", 85, None)}
    assert by_source["requests.complaint_rate"] == {("watch", None, None)}
    assert by_source["requests.acknowledged_in_time"] == {("higher", 95, None)}
    letters = indicators.get(code="qv-courriers-delai")
    assert (letters.delay_days, letters.day_kind) == (15, "working")
    emails = indicators.get(code="qv-courriels-delai")
    assert (emails.delay_days, emails.day_kind) == (5, "working")
    month = indicators.get(code="qp-reponses-un-mois")
    assert (month.delay_days, month.day_kind) == (30, "calendar")
    acknowledgements = {
        i.code: (i.delay_days, i.channels)
        for i in indicators.filter(source="requests.acknowledged_in_time")
    }
    assert acknowledgements == {
        "spp-ar-electronique": (7, ["email", "web"]),
        "spp-ar-postal": (14, ["letter"]),
    }
    assert indicators.filter(source_kind="manual").exists()


def test_an_organisation_can_adopt_the_three_templates_side_by_side(org):
    for key in EXPECTED:
        services.adopt_template(org, key, actor=None)
    assert Programme.objects.filter(organisation=org).count() == 3
    assert Commitment.objects.filter(organisation=org).count() == 42
    positions = list(
        Programme.objects.filter(organisation=org)
        .order_by("position")
        .values_list("template", flat=True)
    )
    assert positions == list(EXPECTED)  # in the order adopted (dict order)


def test_it_refuses_to_adopt_the_same_template_twice(adopted):
    before = Commitment.objects.filter(organisation=adopted).count()
    with pytest.raises(ValidationError, match="already been adopted"):
        services.adopt_template(adopted, "qualivilles", actor=None)
    assert Commitment.objects.filter(organisation=adopted).count() == before


def test_it_refuses_an_unknown_template(org):
    with pytest.raises(ValidationError, match="not a built-in template"):
        services.adopt_template(org, "iso-9001", actor=None)
    assert not Programme.objects.filter(organisation=org).exists()


def test_it_refuses_a_template_whose_programme_key_is_taken(org, users):
    services.create_programme(
        org, actor=users["quality_manager"], key="qualiparis", kind="custom", name="Le nôtre"
    )
    with pytest.raises(ValidationError, match="qualiparis"):
        services.adopt_template(org, "qualiparis", actor=None)
    assert not Commitment.objects.filter(organisation=org).exists()


def test_it_refuses_a_template_whose_indicator_codes_are_taken(adopted, users):
    commitment = Commitment.objects.filter(organisation=adopted).first()
    services.update_indicator(
        Indicator.objects.get(organisation=adopted, code="qv-signaletique"),
        actor=users["quality_manager"],
        code="qp-signaletique",
    )
    with pytest.raises(ValidationError, match="qp-signaletique"):
        services.adopt_template(adopted, "qualiparis", actor=None)
    assert not Programme.objects.filter(organisation=adopted, key="qualiparis").exists()
    assert commitment.indicators.exists()


def test_adopting_a_template_writes_an_event(org, users):
    services.adopt_template(org, "qualiparis", actor=users["quality_manager"])
    event = CharterEvent.objects.get(organisation=org, verb="template.adopted")
    assert event.actor == users["quality_manager"]
    assert event.details["template"] == "qualiparis"
    assert event.details["created"]["commitment"] == 12
    assert event.subject_kind == "charter.programme"


def test_adopted_templates_are_no_longer_offered(adopted):
    keys = [t.key for t in queries.available_templates(adopted)]
    assert keys == ["qualiparis", "services_publics_plus"]
