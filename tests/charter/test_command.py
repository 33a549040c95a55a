"""`qualicite referentiel export|import|templates|adopt`."""

import io

import pytest
from django.core.management import CommandError, call_command

from qualicite.charter import services, yaml_io
from qualicite.charter.models import CharterEvent, Commitment, Programme
from tests.charter.conftest import snapshot


def run(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("referentiel", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_templates_lists_the_built_in_templates(db):
    out, _ = run("templates")
    keys = [line.split("\t")[0] for line in out.splitlines() if not line.startswith("\t")]
    assert keys == ["qualivilles", "qualiparis", "services_publics_plus"]


def test_adopt_adds_a_template_to_an_organisation(org):
    out, _ = run("adopt", org.slug, "qualiparis")
    assert "12 commitments" in out
    assert Programme.objects.get(organisation=org).template == "qualiparis"


def test_adopt_refuses_a_template_adopted_already(adopted):
    with pytest.raises(CommandError, match="already been adopted"):
        run("adopt", adopted.slug, "qualivilles")


def test_export_writes_the_yaml_to_a_file(adopted, tmp_path):
    target = tmp_path / "referentiel.yaml"
    run("export", adopted.slug, str(target))
    assert target.read_text(encoding="utf-8") == yaml_io.export_referentiel(adopted)


def test_export_to_a_dash_writes_to_standard_output(adopted):
    out, _ = run("export", adopted.slug, "-")
    assert out == yaml_io.export_referentiel(adopted)


def test_import_round_trips_into_another_organisation(adopted, other_org, tmp_path):
    target = tmp_path / "referentiel.yaml"
    run("export", adopted.slug, str(target))
    out, _ = run("import", other_org.slug, str(target))
    assert "created commitments: 22" in out
    assert yaml_io.export_referentiel(other_org) == target.read_text(encoding="utf-8")
    out, _ = run("import", other_org.slug, str(target))
    assert "Nothing changed" in out


def test_import_from_standard_input(org, monkeypatch):
    text = yaml_io.export_referentiel(org)
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(text.encode())))
    out, _ = run("import", org.slug, "-")
    assert "Nothing changed" in out


def test_import_of_an_invalid_file_prints_file_and_line_and_exits_1(adopted, tmp_path):
    text = yaml_io.export_referentiel(adopted)
    lines = text.splitlines(keepends=True)
    line = next(n for n, row in enumerate(lines, 1) if "target: 100" in row)
    lines[line - 1] = lines[line - 1].replace("100", "101")
    lines.insert(4, "    colour: blue\n")  # after “  - key: qualivilles”
    target = tmp_path / "bad.yaml"
    target.write_text("".join(lines), encoding="utf-8")
    before = snapshot(adopted)
    err = io.StringIO()
    with pytest.raises(CommandError) as caught:
        call_command("referentiel", "import", adopted.slug, str(target), stderr=err)
    assert caught.value.returncode == 1
    assert "nothing was imported" in str(caught.value)
    assert err.getvalue().splitlines() == [
        f"{target}:5: unknown key “colour” in a programme; expected one of: key, kind, name, "
        "description, template, commitments",
        f"{target}:{line + 1}: target: A percentage lies between 0 and 100.",
    ]
    assert snapshot(adopted) == before


def test_import_of_a_missing_file_is_a_clear_error(org, tmp_path):
    with pytest.raises(CommandError, match="Cannot read"):
        run("import", org.slug, str(tmp_path / "absent.yaml"))


@pytest.mark.parametrize("action", [("export", "-"), ("import", "x.yaml"), ("adopt", "qualiparis")])
def test_an_unknown_organisation_is_a_clear_error(org, action):
    verb, last = action
    with pytest.raises(CommandError, match="No organisation has the address name “nowhere”"):
        run(verb, "nowhere", last)


def test_import_by_command_writes_an_event_without_actor(org, tmp_path):
    empty = tmp_path / "empty.yaml"
    empty.write_text(yaml_io.export_referentiel(org), encoding="utf-8")
    services.adopt_template(org, "qualiparis", actor=None)
    run("import", org.slug, str(empty))  # the empty référentiel: the programme goes
    assert not Commitment.objects.filter(organisation=org).exists()
    event = CharterEvent.objects.get(organisation=org, verb="referentiel.imported")
    assert event.actor is None and event.actor_name == "Qualicité"
