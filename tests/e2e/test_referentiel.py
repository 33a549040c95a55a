"""The quality manager builds the référentiel in the browser; other roles only read it."""

import yaml
from django.utils import translation

from qualicite.charter import services as charter_services
from qualicite.charter.models import Commitment, Indicator, Programme
from qualicite.core.models import Role
from tests.conftest import PASSWORD
from tests.e2e.browser import screenshot, tr

REFERENTIEL = "/ville-a/espace/referentiel/"

# Two problems: line 6 (an unknown key) and line 15 (a percentage above 100).
INVALID_YAML = b"""\
format: qualicite-referentiel
version: 1
programmes:
  - key: essai
    kind: custom
    colour: blue
    name: Essai
    commitments:
      - number: 1
        title: Un engagement
        indicators:
          - code: essai-1
            name: Un indicateur
            source_kind: manual
            target: 150
"""


def ntr(singular: str, plural: str, count: int) -> str:
    """Like `tr`, for a message with a plural form (already filled with `count`)."""
    with translation.override("fr"):
        return translation.ngettext(singular, plural, count) % {"counter": count}


def success_message(page) -> str:
    return page.locator("main .messages .message-success").inner_text()


def test_quality_manager_adopts_a_template_edits_it_and_the_public_page_follows(
    journey, users, org
):
    page = journey.page
    journey.log_in(users[Role.QUALITY_MANAGER], PASSWORD)
    journey.goto(REFERENTIEL)
    assert page.locator("main .charter-programme").count() == 0

    # Adopt the Qualivilles template.
    journey.follow(page.locator("main").get_by_role("link", name=tr("Adopt a template")).first)
    assert journey.path == REFERENTIEL + "modeles/"
    page.locator('main form input[name="template"][value="qualivilles"]').check()
    journey.submit("main form")
    assert journey.path.startswith(REFERENTIEL + "#programme-")
    adopted = tr(
        "Template adopted: “%(names)s”. You can now adapt its commitments and targets."
    ) % {"names": Programme.objects.get(organisation=org).name}
    assert success_message(page) == adopted

    # The overview: one programme, its five groups, every commitment in a row.
    commitments = list(Commitment.objects.filter(organisation=org).order_by("position"))
    groups = list(dict.fromkeys(c.group for c in commitments))
    assert len(groups) == 5
    programme = page.locator("main section.charter-programme")
    assert programme.count() == 1
    assert programme.locator("h3").all_inner_texts() == groups
    rows = programme.locator("table.charter-table tbody tr")
    assert rows.count() == len(commitments)
    assert rows.first.locator("td a").inner_text() == commitments[0].title
    screenshot(page, "referentiel")

    # Open the first commitment and change its title.
    first = commitments[0]
    journey.follow(rows.first.locator("td a"))
    assert journey.path == f"{REFERENTIEL}engagements/{first.pk}/"
    journey.follow(page.get_by_role("link", name=tr("Edit the commitment")))
    new_title = "Une signalétique claire, du parking jusqu'au guichet"
    journey.submit("main form", title=new_title)
    assert journey.path == f"{REFERENTIEL}engagements/{first.pk}/"
    name = f"{first.number}. {new_title}"
    assert success_message(page) == tr("Commitment “%(name)s” saved.") % {"name": name}
    assert page.locator("main h1").inner_text() == tr("Commitment %(number)s: %(title)s") % {
        "number": first.number,
        "title": new_title,
    }

    # Its first indicator: a percentage target of 150 is refused beside the field.
    indicator = Indicator.objects.filter(commitment=first).order_by("position", "id").first()
    indicator_edit = f"{REFERENTIEL}indicateurs/{indicator.pk}/modifier/"
    card = page.locator(f"main section[aria-labelledby='indicator-{indicator.pk}']")
    journey.follow(card.get_by_role("link", name=f"{tr('Edit')} {indicator.name}"))
    assert journey.path == indicator_edit
    journey.submit("main form", target="150")  # axe runs on the page with the error
    assert journey.path == indicator_edit
    field = page.locator("main .field", has=page.locator("#id_target"))
    assert "field-error" in field.get_attribute("class")
    assert field.locator("#id_target_error").inner_text() == tr(
        "A percentage lies between 0 and 100."
    )
    assert page.locator("main .error-summary[role=alert]").is_visible()
    indicator.refresh_from_db()
    assert indicator.target != 150

    # A valid target, and État civil gets its own.
    journey.submit(
        "main form",
        target="95",
        warning_threshold="85",
        **{"targets-0-service": "État civil", "targets-0-target": "98"},
    )
    assert journey.path == f"{REFERENTIEL}engagements/{first.pk}/#indicator-{indicator.pk}"
    assert success_message(page) == tr("Indicator “%(name)s” saved.") % {"name": indicator.name}
    overrides = card.locator("table.service-targets tbody tr")
    assert overrides.count() == 1
    # The old target stays in force for the past, the new one from today.
    assert card.locator("table.target-history tbody tr").count() == 2
    assert overrides.locator("th").inner_text() == "État civil"
    indicator.refresh_from_db()
    assert (indicator.target, indicator.warning_threshold) == (95, 85)
    assert [(t.service.code, t.target) for t in indicator.service_targets.all()] == [
        ("etat-civil", 98)
    ]

    # The indicator form as it now stands, with the service's own target.
    journey.follow(card.locator(f'a[href="{indicator_edit}"]'))
    assert journey.path == indicator_edit
    assert page.locator("main fieldset.charter-target legend").first.inner_text() == tr(
        "Target of %(name)s"
    ) % {"name": "État civil"}
    screenshot(page, "referentiel-indicateur")

    # Delete the second commitment through its confirmation page.
    second = commitments[1]
    journey.goto(f"{REFERENTIEL}engagements/{second.pk}/")
    journey.follow(page.get_by_role("link", name=tr("Delete the commitment")))
    assert journey.path == f"{REFERENTIEL}engagements/{second.pk}/supprimer/"
    journey.submit("main form")
    assert journey.path == REFERENTIEL
    assert success_message(page) == tr("Commitment “%(name)s” deleted.") % {"name": second}
    assert not Commitment.objects.filter(pk=second.pk).exists()
    titles = page.locator("main table.charter-table tbody td a").all_inner_texts()
    assert new_title in titles
    assert second.title not in titles
    assert len(titles) == len(commitments) - 1

    # Citizens see the new title on the public page; the deleted commitment is gone.
    journey.goto("/ville-a/")
    public = page.locator("main .commitment strong").all_inner_texts()
    assert new_title in public
    assert first.title not in public
    assert second.title not in public


def test_quality_manager_exports_the_referentiel_and_an_invalid_import_is_refused(
    journey, users, org
):
    page = journey.page
    charter_services.adopt_template(org, "qualivilles", actor=None)
    before = list(Commitment.objects.filter(organisation=org).values_list("pk", "title"))
    journey.log_in_as(users[Role.QUALITY_MANAGER])
    journey.goto(REFERENTIEL)

    # The export link downloads the YAML file.
    with page.expect_download() as download_info:
        page.get_by_role("link", name=tr("Export as YAML")).click()
    download = download_info.value
    assert download.suggested_filename == "referentiel-ville-a.yaml"
    with open(download.path(), encoding="utf-8") as exported:
        text = exported.read()
    assert text.startswith("format: qualicite-referentiel")
    assert [p["key"] for p in yaml.safe_load(text)["programmes"]] == ["qualivilles"]

    # An invalid file is refused whole, each problem listed with its line.
    journey.follow(page.get_by_role("link", name=tr("Import a YAML file")))
    assert journey.path == REFERENTIEL + "import/"
    page.locator('main input[name="file"]').set_input_files(
        {"name": "essai.yaml", "mimeType": "application/yaml", "buffer": INVALID_YAML}
    )
    journey.submit("main form")
    assert journey.path == REFERENTIEL + "import/"
    summary = page.locator("main .error-summary[role=alert]")
    assert summary.locator("h2").inner_text() == ntr(
        "The file was refused: %(counter)s problem. Nothing was changed.",
        "The file was refused: %(counter)s problems. Nothing was changed.",
        2,
    )
    problems = summary.locator(".charter-problems li").all_inner_texts()
    line = tr("line %(line)s: %(problem)s")
    assert problems[0].startswith("essai.yaml, " + line % {"line": 6, "problem": ""})
    assert "colour" in problems[0]
    assert problems[1] == "essai.yaml, " + line % {
        "line": 15,
        "problem": tr("%(key)s: %(message)s")
        % {"key": "target", "message": tr("A percentage lies between 0 and 100.")},
    }
    assert page.locator("#id_file_error").inner_text() == tr(
        "Correct the problems listed above, then import the file again."
    )
    after = list(Commitment.objects.filter(organisation=org).values_list("pk", "title"))
    assert after == before


def test_agent_reads_the_referentiel_without_edit_links_and_cannot_adopt(journey, users, org):
    page = journey.page
    charter_services.adopt_template(org, "qualivilles", actor=None)
    commitment = Commitment.objects.filter(organisation=org).order_by("position").first()
    journey.log_in_as(users[Role.AGENT])

    journey.goto(REFERENTIEL)
    main = page.locator("main")
    assert main.locator("table.charter-table tbody tr").count() == (
        Commitment.objects.filter(organisation=org).count()
    )
    # Only the links to the commitments: nothing to edit, adopt, export or import.
    hrefs = {link.get_attribute("href") for link in main.locator("a").all()}
    assert hrefs == {
        f"{REFERENTIEL}engagements/{pk}/"
        for pk in Commitment.objects.filter(organisation=org).values_list("pk", flat=True)
    }
    assert main.locator("button, form").count() == 0

    journey.follow(main.get_by_role("link", name=commitment.title, exact=True))
    assert journey.path == f"{REFERENTIEL}engagements/{commitment.pk}/"
    hrefs = [link.get_attribute("href") for link in main.locator("a").all()]
    assert hrefs == [f"{REFERENTIEL}#programme-{commitment.programme_id}"]
    assert main.locator("button, form").count() == 0

    journey.goto(REFERENTIEL + "modeles/", status=403)
    assert page.locator("main h1").inner_text() == tr("Access refused")
    journey.goto(f"{REFERENTIEL}engagements/{commitment.pk}/modifier/", status=403)
    assert page.locator("main h1").inner_text() == tr("Access refused")
