"""Référentiel pages: who may open them, scoping to the organisation, and what they do."""

from html.parser import HTMLParser

import pytest
from django.urls import reverse

from qualicite.charter import services, yaml_io
from qualicite.charter.models import CharterEvent, Commitment, Indicator, Programme
from qualicite.core.models import Role
from tests.access import EVERY_ROLE, Page, assert_access
from tests.charter.conftest import snapshot

MANAGER = {Role.QUALITY_MANAGER}


def first_commitment(organisation):
    return Commitment.objects.filter(organisation=organisation).order_by("id").first().pk


def first_indicator(organisation):
    return Indicator.objects.filter(organisation=organisation).order_by("id").first().pk


def first_programme(organisation):
    return Programme.objects.filter(organisation=organisation).order_by("id").first().pk


def last_commitment(organisation):
    return Commitment.objects.filter(organisation=organisation).order_by("id").last().pk


PAGES = [
    Page("charter:referentiel", EVERY_ROLE),
    Page("charter:commitment", EVERY_ROLE, {"pk": first_commitment}),
    Page("charter:adopt", MANAGER),
    Page("charter:export", MANAGER),
    Page("charter:import", MANAGER),
    Page("charter:programme_create", MANAGER),
    Page("charter:programme_edit", MANAGER, {"pk": first_programme}),
    Page("charter:programme_delete", MANAGER, {"pk": first_programme}),
    Page("charter:commitment_create", MANAGER),
    Page("charter:commitment_edit", MANAGER, {"pk": first_commitment}),
    Page("charter:commitment_delete", MANAGER, {"pk": first_commitment}),
    Page("charter:indicator_create", MANAGER, {"pk": first_commitment}),
    Page("charter:indicator_edit", MANAGER, {"pk": first_indicator}),
    Page("charter:indicator_delete", MANAGER, {"pk": first_indicator}),
    # Writes last: the quality manager's POST changes the data the rows above read.
    Page(
        "charter:adopt",
        MANAGER,
        method="post",
        data={"template": "qualiparis"},
        ok_statuses=(302,),
    ),
    Page(
        "charter:commitment_delete",
        MANAGER,
        {"pk": last_commitment},
        method="post",
        ok_statuses=(302,),
    ),
]


@pytest.fixture
def both_adopted(adopted, other_org):
    services.adopt_template(other_org, "services_publics_plus", actor=None)
    return adopted


def url(name, organisation, **kwargs):
    return reverse(name, kwargs={"org_slug": organisation.slug, **kwargs})


def test_every_referentiel_page_is_open_to_the_right_roles_only(
    client_for, both_adopted, users, other_users
):
    assert_access(client_for, both_adopted, users, other_users, PAGES)


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("charter:commitment", "commitment"),
        ("charter:commitment_edit", "commitment"),
        ("charter:commitment_delete", "commitment"),
        ("charter:indicator_create", "commitment"),
        ("charter:indicator_edit", "indicator"),
        ("charter:indicator_delete", "indicator"),
        ("charter:programme_edit", "programme"),
        ("charter:programme_delete", "programme"),
    ],
)
def test_another_organisations_record_is_not_found(
    client_for, both_adopted, other_org, users, name, kind
):
    pk = {"commitment": first_commitment, "indicator": first_indicator}.get(kind, first_programme)(
        other_org
    )
    client = client_for(users["quality_manager"])
    assert client.get(url(name, both_adopted, pk=pk)).status_code == 404
    if name.endswith("_delete"):
        before = snapshot(other_org)
        assert client.post(url(name, both_adopted, pk=pk)).status_code == 404
        assert snapshot(other_org) == before


# -- reading ---------------------------------------------------------------


class Outline(HTMLParser):
    """Headings and links of a page, to check their order and that no link is empty."""

    def __init__(self):
        super().__init__()
        self.headings, self.links, self._link = [], [], None

    def handle_starttag(self, tag, attrs):
        if tag in {"h1", "h2", "h3", "h4", "h5", "h6"}:
            self.headings.append(int(tag[1]))
        if tag == "a":
            self._link = ""

    def handle_data(self, data):
        if self._link is not None:
            self._link += data

    def handle_endtag(self, tag):
        if tag == "a" and self._link is not None:
            self.links.append(self._link.strip())
            self._link = None


def assert_well_formed(response):
    outline = Outline()
    outline.feed(response.content.decode())
    assert outline.headings.count(1) == 1, outline.headings
    assert outline.headings[0] == 1
    for before, after in zip(outline.headings, outline.headings[1:], strict=False):
        assert after <= before + 1, outline.headings
    assert all(outline.links), outline.links


def test_the_overview_shows_programmes_groups_indicators_and_targets(client_for, adopted, users):
    response = client_for(users["agent"]).get(url("charter:referentiel", adopted))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Organisation" in page and "Prestations spécifiques" in page
    assert "Taux de décroché" in page
    assert "≥ 85 %" in page
    assert "phone.answer_rate" in page
    assert "Add a commitment" not in page  # an agent reads only
    assert_well_formed(response)


def test_the_overview_offers_the_manager_the_editing_links(client_for, adopted, users):
    response = client_for(users["quality_manager"]).get(url("charter:referentiel", adopted))
    page = response.content.decode()
    assert url("charter:commitment_create", adopted) in page
    assert url("charter:export", adopted) in page
    assert_well_formed(response)


def test_an_empty_referentiel_invites_to_adopt_a_template(client_for, org, users):
    response = client_for(users["quality_manager"]).get(url("charter:referentiel", org))
    assert url("charter:adopt", org) in response.content.decode()
    assert_well_formed(response)


def test_a_commitment_page_lists_its_indicators_and_service_targets(client_for, adopted, users):
    indicator = Indicator.objects.get(organisation=adopted, code="qv-taux-decroche")
    services.set_service_targets(
        indicator, [(adopted.service_set.get(code="accueil"), 90, 85)], actor=None
    )
    response = client_for(users["direction"]).get(
        url("charter:commitment", adopted, pk=indicator.commitment_id)
    )
    page = response.content.decode()
    assert "Appels abandonnés" in page
    assert "≤ 10 %" in page
    assert "<caption>" in page and "Accueil" in page and "≥ 90 %" in page
    assert_well_formed(response)


def test_the_public_home_lists_published_commitments_by_programme_and_group(client, adopted):
    hidden = Commitment.objects.get(organisation=adopted, number="16")
    services.update_commitment(hidden, actor=None, is_published=False)
    response = client.get(reverse("public:home", kwargs={"org_slug": adopted.slug}))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Une signalétique claire pour nous trouver" in page
    assert "Mesure de la satisfaction et traitement des réclamations" in page
    assert hidden.title not in page
    assert page.count("<h3>Organisation</h3>") == 1
    assert_well_formed(response)


def test_the_public_home_of_an_unknown_organisation_is_not_found(client, db):
    assert client.get(reverse("public:home", kwargs={"org_slug": "nulle-part"})).status_code == 404


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("charter:adopt", None),
        ("charter:import", None),
        ("charter:programme_create", None),
        ("charter:programme_edit", "programme"),
        ("charter:commitment_create", None),
        ("charter:commitment_edit", "commitment"),
        ("charter:commitment_delete", "commitment"),
        ("charter:indicator_create", "commitment"),
        ("charter:indicator_edit", "indicator"),
        ("charter:indicator_delete", "indicator"),
    ],
)
def test_every_manager_page_has_one_h1_and_headings_in_order(
    client_for, adopted, users, name, kind
):
    kwargs = {}
    if kind:
        kwargs["pk"] = {
            "commitment": first_commitment,
            "indicator": first_indicator,
            "programme": first_programme,
        }[kind](adopted)
    response = client_for(users["quality_manager"]).get(url(name, adopted, **kwargs))
    assert response.status_code == 200
    assert_well_formed(response)


# -- adopting, exporting, importing ------------------------------------------


def test_the_manager_adopts_a_template(client_for, org, users):
    client = client_for(users["quality_manager"])
    response = client.post(url("charter:adopt", org), {"template": "qualiparis"}, follow=True)
    assert response.redirect_chain[-1][0].startswith(url("charter:referentiel", org))
    assert Programme.objects.get(organisation=org).commitments.count() == 12
    assert "Modèle adopté" in str(list(response.context["messages"])[0])
    page = client.get(url("charter:adopt", org)).content.decode()
    assert 'value="qualiparis"' not in page
    assert 'value="qualivilles"' in page


def test_adopting_a_template_again_is_refused_beside_the_field(client_for, adopted, users):
    response = client_for(users["quality_manager"]).post(
        url("charter:adopt", adopted), {"template": "qualivilles"}
    )
    assert response.status_code == 200
    assert 'id="id_template_error"' in response.content.decode()
    assert Programme.objects.filter(organisation=adopted).count() == 1


def test_the_export_downloads_the_yaml(client_for, adopted, users):
    response = client_for(users["quality_manager"]).get(url("charter:export", adopted))
    assert response["Content-Type"] == "application/yaml; charset=utf-8"
    assert 'filename="referentiel-ville-a.yaml"' in response["Content-Disposition"]
    assert response.content.decode() == yaml_io.export_referentiel(adopted)


def upload(text: str, name="referentiel.yaml"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, text.encode(), content_type="application/yaml")


def test_the_manager_imports_a_file(client_for, adopted, other_org, users):
    text = yaml_io.export_referentiel(adopted)
    response = client_for(users["quality_manager"]).post(
        url("charter:import", adopted),
        {"file": upload(text.replace("Taux de décroché", "Décroché"))},
    )
    assert response.status_code == 302
    assert Indicator.objects.get(organisation=adopted, code="qv-taux-decroche").name == "Décroché"
    event = CharterEvent.objects.get(organisation=adopted, verb="referentiel.imported")
    assert event.actor == users["quality_manager"]
    assert event.details["updated"] == {"indicator": 1}


def test_an_invalid_upload_lists_its_problems_with_their_lines_and_changes_nothing(
    client_for, adopted, users
):
    text = yaml_io.export_referentiel(adopted).replace("unit: percent", "unit: pourcent", 1)
    line = next(n for n, row in enumerate(text.splitlines(), 1) if "unit: pourcent" in row)
    before = snapshot(adopted)
    response = client_for(users["quality_manager"]).post(
        url("charter:import", adopted), {"file": upload(text, "mine.yaml")}
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert f"ligne {line} : unit : « pourcent » n&#x27;est pas un choix valide" in page
    assert "<code>mine.yaml</code>" in page
    assert 'id="id_file_error"' in page
    assert snapshot(adopted) == before
    assert_well_formed(response)


# -- editing commitments -------------------------------------------------------


def commitment_data(programme, **overrides):
    data = {
        "programme": programme.pk,
        "number": "23",
        "title": "Un nouvel engagement",
        "group": "Organisation",
        "public_text": "Nous le tenons.",
        "is_published": "on",
        "channels": ["email", "letter"],
        "position": "",
    }
    data.update(overrides)
    return data


def test_the_manager_creates_a_commitment(client_for, adopted, users):
    programme = Programme.objects.get(organisation=adopted)
    accueil = adopted.service_set.get(code="accueil")
    response = client_for(users["quality_manager"]).post(
        url("charter:commitment_create", adopted),
        commitment_data(programme, services=[accueil.pk]),
    )
    commitment = Commitment.objects.get(organisation=adopted, number="23")
    assert response.status_code == 302
    assert response["Location"] == url("charter:commitment", adopted, pk=commitment.pk)
    assert commitment.channels == ["letter", "email"]
    assert list(commitment.services.all()) == [accueil]
    assert commitment.position == 23
    assert CharterEvent.objects.filter(verb="commitment.created", subject_id=str(commitment.pk))


def test_a_commitment_with_a_service_of_another_organisation_is_refused(
    client_for, adopted, other_org, users
):
    programme = Programme.objects.get(organisation=adopted)
    foreign = other_org.service_set.get(code="accueil")
    before = snapshot(adopted)
    response = client_for(users["quality_manager"]).post(
        url("charter:commitment_create", adopted),
        commitment_data(programme, services=[foreign.pk]),
    )
    assert response.status_code == 200
    assert 'id="id_services_error"' in response.content.decode()
    assert snapshot(adopted) == before


def test_a_commitment_number_taken_in_the_programme_is_refused_beside_the_field(
    client_for, adopted, users
):
    programme = Programme.objects.get(organisation=adopted)
    before = snapshot(adopted)
    response = client_for(users["quality_manager"]).post(
        url("charter:commitment_create", adopted), commitment_data(programme, number="5")
    )
    assert response.status_code == 200
    assert 'id="id_number_error"' in response.content.decode()
    assert snapshot(adopted) == before


def test_a_programme_of_another_organisation_cannot_be_chosen(
    client_for, adopted, other_org, users
):
    services.adopt_template(other_org, "qualiparis", actor=None)
    foreign = Programme.objects.get(organisation=other_org)
    before = snapshot(adopted)
    response = client_for(users["quality_manager"]).post(
        url("charter:commitment_create", adopted), commitment_data(foreign)
    )
    assert 'id="id_programme_error"' in response.content.decode()
    assert snapshot(adopted) == before


def test_the_manager_edits_and_moves_a_commitment(client_for, adopted, users):
    commitment = Commitment.objects.get(organisation=adopted, number="22")
    response = client_for(users["quality_manager"]).post(
        url("charter:commitment_edit", adopted, pk=commitment.pk),
        commitment_data(commitment.programme, number="22", title="Changé", position="1"),
    )
    assert response.status_code == 302
    commitment.refresh_from_db()
    assert (commitment.title, commitment.position) == ("Changé", 1)
    event = CharterEvent.objects.get(verb="commitment.updated")
    assert "title" in event.details["fields"] and "position" in event.details["fields"]


def test_the_manager_deletes_a_commitment_after_confirming(client_for, adopted, users):
    commitment = Commitment.objects.get(organisation=adopted, number="22")
    client = client_for(users["quality_manager"])
    page = client.get(url("charter:commitment_delete", adopted, pk=commitment.pk))
    assert "Yes, delete" in page.content.decode() or page.status_code == 200
    response = client.post(url("charter:commitment_delete", adopted, pk=commitment.pk))
    assert response.status_code == 302
    assert not Commitment.objects.filter(pk=commitment.pk).exists()
    assert CharterEvent.objects.filter(verb="commitment.deleted").exists()


def test_the_manager_creates_edits_and_deletes_a_programme(client_for, org, users):
    client = client_for(users["quality_manager"])
    response = client.post(
        url("charter:programme_create", org),
        {"name": "Nos engagements", "key": "maison", "kind": "custom", "description": ""},
    )
    assert response.status_code == 302
    programme = Programme.objects.get(organisation=org, key="maison")
    response = client.post(
        url("charter:programme_edit", org, pk=programme.pk),
        {"name": "Nos promesses", "key": "maison", "kind": "custom", "description": "x"},
    )
    programme.refresh_from_db()
    assert programme.name == "Nos promesses"
    client.post(url("charter:programme_delete", org, pk=programme.pk))
    assert not Programme.objects.filter(organisation=org).exists()
    assert [e.verb for e in CharterEvent.objects.filter(organisation=org).order_by("id")] == [
        "programme.created",
        "programme.updated",
        "programme.deleted",
    ]


def test_a_programme_key_taken_is_refused_beside_the_field(client_for, adopted, users):
    response = client_for(users["quality_manager"]).post(
        url("charter:programme_create", adopted),
        {"name": "Bis", "key": "qualivilles", "kind": "custom", "description": ""},
    )
    assert 'id="id_key_error"' in response.content.decode()
    assert Programme.objects.filter(organisation=adopted).count() == 1
