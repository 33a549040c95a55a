"""The référentiel as YAML: round trips, and files refused whole with the line of each problem."""

import textwrap

import pytest
import yaml

from qualicite.charter import services, yaml_io
from qualicite.charter.models import CharterEvent, Commitment, Indicator, Programme, ServiceTarget
from qualicite.core.models import Service
from tests.charter.conftest import snapshot

SMALL = """\
format: qualicite-referentiel
version: 1
programmes:
  - key: nos-engagements
    kind: custom
    name: Nos engagements
    commitments:
      - number: 1
        group: Accueil
        title: Répondre au téléphone
        services: [accueil]
        channels: [phone]
        indicators:
          - code: decroche
            name: Taux de décroché
            source: phone.answer_rate
            target: 85
            warning_threshold: 75
            service_targets:
              - service: etat-civil
                target: 90
"""


def problems(org, text):
    with pytest.raises(yaml_io.InvalidReferentiel) as caught:
        yaml_io.parse(org, textwrap.dedent(text))
    return [(p.line, p.message) for p in caught.value.problems]


def refused(org, text):
    """Import `text`, expect a refusal, check nothing changed; return the problems."""
    before = snapshot(org)
    with pytest.raises(yaml_io.InvalidReferentiel) as caught:
        services.import_referentiel(org, textwrap.dedent(text), actor=None)
    assert snapshot(org) == before
    return [(p.line, p.message) for p in caught.value.problems]


def with_line(text: str, line: int, old: str, new: str) -> str:
    """`text` with `old` replaced by `new` on (1-based) `line` only, checking it is there."""
    lines = text.splitlines(keepends=True)
    assert old in lines[line - 1], lines[line - 1]
    lines[line - 1] = lines[line - 1].replace(old, new)
    return "".join(lines)


# -- round trips ----------------------------------------------------------


def test_exporting_then_importing_into_the_same_organisation_changes_nothing(adopted, users):
    accueil = Service.objects.get(organisation=adopted, code="accueil")
    commitment = Commitment.objects.get(organisation=adopted, number="9")
    services.update_commitment(
        commitment, actor=None, services=[accueil], public_text="Ligne 1\nLigne 2"
    )
    services.set_service_targets(
        Indicator.objects.get(organisation=adopted, code="qv-taux-decroche"),
        [(accueil, 90, 80)],
        actor=None,
    )
    text = yaml_io.export_referentiel(adopted)
    before = snapshot(adopted)
    summary = services.import_referentiel(adopted, text, actor=users["quality_manager"])
    assert not summary.changed
    assert snapshot(adopted) == before  # same rows, same values, and no event written
    assert yaml_io.export_referentiel(adopted) == text


def test_a_referentiel_round_trips_to_another_organisation_byte_for_byte(adopted, other_org):
    services.adopt_template(adopted, "services_publics_plus", actor=None)
    etat_civil = Service.objects.get(organisation=adopted, code="etat-civil")
    services.set_service_targets(
        Indicator.objects.get(organisation=adopted, code="qv-actes-delai"),
        [{"service": etat_civil, "target": "97.5", "warning_threshold": None}],
        actor=None,
    )
    text = yaml_io.export_referentiel(adopted)
    summary = services.import_referentiel(other_org, text, actor=None)
    assert summary.created["commitment"] == 30
    assert yaml_io.export_referentiel(other_org) == text
    other = Programme.objects.get(organisation=other_org, key="qualivilles")
    assert other.template == "qualivilles"
    target = ServiceTarget.objects.get(organisation=other_org)
    assert target.service.organisation == other_org
    assert str(target.target) == "97.50"


def test_the_export_is_stable_and_starts_with_its_header(adopted):
    text = yaml_io.export_referentiel(adopted)
    assert text.startswith("format: qualicite-referentiel\nversion: 1\nprogrammes:\n")
    assert text == yaml_io.export_referentiel(adopted)
    data = yaml.safe_load(text)
    commitment = data["programmes"][0]["commitments"][8]
    assert list(commitment) == [
        "number",
        "group",
        "title",
        "public_text",
        "published",
        "channels",
        "indicators",
    ]
    assert commitment["number"] == "9"
    assert "channels: [phone]" in text


def test_an_empty_organisation_exports_an_empty_referentiel(org):
    text = yaml_io.export_referentiel(org)
    assert yaml.safe_load(text) == {
        "format": "qualicite-referentiel",
        "version": 1,
        "programmes": [],
    }
    assert not services.import_referentiel(org, text, actor=None).changed


def test_importing_updates_in_place_and_deletes_what_the_file_leaves_out(adopted, users):
    kept = Commitment.objects.get(organisation=adopted, number="9")
    indicator = Indicator.objects.get(organisation=adopted, code="qv-taux-decroche")
    data = yaml.safe_load(yaml_io.export_referentiel(adopted))
    commitments = data["programmes"][0]["commitments"]
    data["programmes"][0]["commitments"] = [c for c in commitments if c["number"] in "9"]
    data["programmes"][0]["commitments"][0]["title"] = "Décrocher vite"
    summary = services.import_referentiel(
        adopted, yaml_io.dump(data), actor=users["quality_manager"]
    )
    assert summary.updated["commitment"] == 1
    assert summary.deleted["commitment"] == 21
    kept.refresh_from_db()
    assert kept.title == "Décrocher vite"
    assert kept.position == 1
    assert Indicator.objects.filter(pk=indicator.pk).exists()  # same row, updated in place
    event = CharterEvent.objects.get(organisation=adopted, verb="referentiel.imported")
    assert event.actor == users["quality_manager"]
    assert event.details["deleted"]["commitment"] == 21


def test_an_indicator_moved_to_another_commitment_keeps_its_row(adopted):
    indicator = Indicator.objects.get(organisation=adopted, code="qv-delai-median")
    data = yaml.safe_load(yaml_io.export_referentiel(adopted))
    commitments = data["programmes"][0]["commitments"]
    moved = commitments[11]["indicators"].pop(1)
    commitments[0]["indicators"].append(moved)
    services.import_referentiel(adopted, yaml_io.dump(data), actor=None)
    indicator.refresh_from_db()
    assert indicator.commitment.number == "1"
    assert indicator.position == 2


def test_a_hand_written_file_with_short_forms_is_read(org):
    summary = services.import_referentiel(org, SMALL, actor=None)
    assert summary.created == {"programme": 1, "commitment": 1, "indicator": 1, "service_target": 1}
    commitment = Commitment.objects.get(organisation=org)
    assert commitment.number == "1"
    assert [s.code for s in commitment.services.all()] == ["accueil"]
    indicator = commitment.indicators.get()
    assert (indicator.unit, indicator.period, indicator.direction) == ("percent", "month", "higher")


def test_the_reader_accepts_bytes_a_stream_and_a_byte_order_mark(org):
    import io

    assert yaml_io.parse(org, ("\ufeff" + SMALL).encode()).programmes
    assert yaml_io.parse(org, io.BytesIO(SMALL.encode())).programmes


# -- refused files --------------------------------------------------------


def test_it_refuses_a_file_with_an_unknown_service(org):
    found = refused(org, with_line(SMALL, 11, "accueil", "police"))
    assert len(found) == 1
    line, message = found[0]
    assert line == 11
    assert "unknown service code “police”" in message
    assert "accueil" in message  # lists the known codes


def test_it_refuses_a_service_target_for_an_unknown_service(org):
    assert refused(org, with_line(SMALL, 20, "etat-civil", "voirie"))[0][0] == 20


def test_it_refuses_a_service_of_another_organisation(org, other_org):
    Service.objects.create(organisation=other_org, code="voirie", name="Voirie")
    found = refused(org, with_line(SMALL, 11, "accueil", "voirie"))
    assert found[0][0] == 11


def test_it_refuses_an_unknown_channel(org):
    assert refused(org, with_line(SMALL, 12, "phone", "pigeon")) == [
        (
            12,
            "channels: unknown channel “pigeon”; expected one of: "
            "letter, email, phone, desk, web, social, api",
        ),
    ]


def test_it_refuses_an_unknown_key_with_its_line(org):
    found = refused(org, with_line(SMALL, 10, "title:", "titre:"))
    assert found[0] == (8, "missing field “title” in a commitment")
    assert found[1][0] == 10
    assert found[1][1].startswith("unknown key “titre” in a commitment; expected one of: number,")


def test_it_refuses_a_missing_field_on_the_line_of_its_mapping(org):
    text = SMALL.replace("            name: Taux de décroché\n", "")
    assert refused(org, text) == [(14, "missing field “name” in an indicator")]


def test_it_refuses_a_wrong_type(org):
    found = refused(org, with_line(SMALL, 17, "85", "beaucoup"))
    assert found == [(17, "target: expected a number, got “beaucoup”")]
    found = refused(org, with_line(SMALL, 11, "[accueil]", "accueil"))
    assert found == [(11, "services: expected a list of codes")]


def test_it_refuses_an_invalid_choice(org):
    found = refused(org, with_line(SMALL, 5, "custom", "iso"))
    assert found[0][0] == 5
    assert "kind: “iso” is not a valid choice" in found[0][1]


def test_it_refuses_a_percent_target_above_100(org):
    found = refused(org, with_line(SMALL, 17, "85", "185"))
    assert found == [(17, "target: A percentage lies between 0 and 100.")]


def test_it_refuses_a_warning_threshold_on_the_wrong_side(org):
    found = refused(org, with_line(SMALL, 18, "75", "95"))
    assert found == [
        (
            18,
            "warning_threshold: When higher is better, the warning threshold lies below "
            "the target.",
        )
    ]


def test_it_refuses_a_service_target_outside_0_100(org):
    found = refused(org, with_line(SMALL, 21, "90", "120"))
    assert found == [(21, "target: A percentage lies between 0 and 100.")]


def test_it_refuses_a_duplicate_commitment_number(org):
    text = SMALL + textwrap.indent("- number: '1'\n  title: Deux fois le même numéro\n", " " * 6)
    found = refused(org, text)
    assert found == [(22, "number: commitment 1 is already described on line 8")]


def test_it_refuses_a_duplicate_indicator_code_across_programmes(org):
    second_programme = """\
        - key: autre
          kind: custom
          name: Autre
          commitments:
            - number: 1
              title: Un autre
              indicators:
                - code: decroche
                  name: Encore
                  source_kind: manual
                  target: 50
    """
    text = SMALL + textwrap.indent(textwrap.dedent(second_programme), "  ")
    found = refused(org, text)
    assert found == [(29, "code: indicator “decroche” is already described on line 14")]


def test_it_refuses_a_key_given_twice_in_a_mapping(org):
    found = refused(
        org, with_line(SMALL, 10, "title: Répondre au téléphone", "title: A\n        title: B")
    )
    assert found == [(11, "key “title” appears twice in a commitment")]


def test_it_refuses_broken_yaml_with_its_line(org):
    found = refused(org, with_line(SMALL, 12, "[phone]", "[phone"))
    assert len(found) == 1
    assert found[0][1].startswith("not valid YAML")
    assert found[0][0] in (12, 13)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", [(None, "the file is empty")]),
        ("- a\n- b\n", [(1, "expected the référentiel (a mapping of keys to values)")]),
        (
            "format: autre\nversion: 1\nprogrammes: []\n",
            [(1, "format: expected “qualicite-referentiel”")],
        ),
        (
            "format: qualicite-referentiel\nversion: 2\nprogrammes: []\n",
            [(2, "version: this Qualicité reads version 1 only")],
        ),
        (
            "format: qualicite-referentiel\nversion: 1\n",
            [(1, "missing field “programmes” in the référentiel")],
        ),
    ],
)
def test_it_refuses_a_file_without_the_right_header(org, text, expected):
    assert refused(org, text) == expected


def test_it_refuses_a_record_repeated_through_a_yaml_alias(org):
    text = SMALL.replace("      - number: 1\n", "      - &first\n        number: 1\n") + (
        "      - *first\n"
    )
    found = refused(org, text)
    assert found == [
        (8, "a commitment of this line is repeated through a YAML alias; write each one out")
    ]


def test_it_refuses_a_file_that_is_not_utf8(org):
    with pytest.raises(yaml_io.InvalidReferentiel, match="not UTF-8"):
        services.import_referentiel(org, "titre: é".encode("latin-1"), actor=None)


def test_it_reports_every_problem_of_a_file_at_once_and_changes_nothing(adopted):
    text = yaml_io.export_referentiel(adopted)
    lines = text.splitlines(keepends=True)
    bad = [i for i, line in enumerate(lines, 1) if line.strip() == "target: 90"][:3]
    for number in bad:
        lines[number - 1] = lines[number - 1].replace("90", "900")
    lines.insert(4, "    colour: blue\n")  # shifts the lines below by one
    found = refused(adopted, "".join(lines))
    assert [line for line, _ in found] == [5] + [n + 1 for n in bad]


def test_an_error_in_a_model_rule_is_reported_on_the_line_of_its_key(org):
    text = with_line(SMALL, 16, "source: phone.answer_rate", 'source: ""')
    assert refused(org, text) == [(16, "source: A computed indicator needs a data source.")]


def test_an_indicator_channel_outside_its_commitment_is_refused(org):
    text = with_line(
        SMALL, 18, "warning_threshold: 75", "warning_threshold: 75\n            channels: [letter]"
    )
    found = refused(org, text)
    assert found == [(19, "channels: These channels are not concerned by the commitment: letter.")]


def test_the_example_of_the_user_guide_imports(org):
    from pathlib import Path

    guide = Path(__file__).resolve().parents[2] / "docs" / "guide" / "referentiel.md"
    example = guide.read_text(encoding="utf-8").split("```yaml\n", 1)[1].split("```", 1)[0]
    summary = services.import_referentiel(org, example, actor=None)
    assert summary.created["service_target"] == 1
