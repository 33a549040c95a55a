import pytest
from django.urls import reverse

from qualicite.core.models import Role
from tests.access import EVERY_ROLE, Page, assert_access

HISTORY_ROLES = {Role.QUALITY_MANAGER, Role.AUDITOR, Role.ADMINISTRATOR}

PAGES = [
    Page("core:workspace", EVERY_ROLE),
    Page("core:organisation", EVERY_ROLE),
    Page(
        "core:service",
        EVERY_ROLE,
        kwargs={"service_code": "accueil"},
        status_for={"restricted_agent": 404},
    ),
    Page("core:service", EVERY_ROLE, kwargs={"service_code": "naissances"}),
    Page("core:history", HISTORY_ROLES),
]


def test_every_core_page_is_shown_only_to_the_roles_that_may_see_it(
    client_for, org, users, other_org, other_users
):
    assert_access(client_for, org, users, other_users, PAGES)


def test_an_unknown_organisation_is_a_404_and_not_a_500(client, db):
    assert client.get("/nulle-part/").status_code == 404
    assert client.get("/nulle-part/espace/").status_code == 404


def test_an_unknown_service_is_a_404(client_for, org, users):
    response = client_for(users[Role.AGENT]).get(
        reverse("core:service", kwargs={"org_slug": org.slug, "service_code": "absent"})
    )
    assert response.status_code == 404


def test_a_restricted_agent_sees_only_their_services_and_sub_services(client_for, org, users):
    response = client_for(users["restricted_agent"]).get(
        reverse("core:workspace", kwargs={"org_slug": org.slug})
    )
    page = response.content.decode()
    assert "/services/etat-civil/" in page and "/services/naissances/" in page
    assert "/services/finances/" not in page and "/services/accueil/" not in page


def test_an_unrestricted_agent_sees_every_service(client_for, org, users):
    page = (
        client_for(users[Role.AGENT])
        .get(reverse("core:organisation", kwargs={"org_slug": org.slug}))
        .content.decode()
    )
    for name in ("Accueil", "État civil", "Naissances", "Finances"):
        assert name in page


def test_the_navigation_follows_the_role(client_for, org, users):
    history_url = reverse("core:history", kwargs={"org_slug": org.slug})
    for role, user in users.items():
        page = client_for(user).get(reverse("core:workspace", kwargs={"org_slug": org.slug}))
        assert (history_url in page.content.decode()) == (role in HISTORY_ROLES), role


def test_a_member_of_one_organisation_is_sent_to_its_workspace(client_for, org, users):
    response = client_for(users[Role.AGENT]).get("/")
    assert response.status_code == 302
    assert response["Location"] == reverse("core:workspace", kwargs={"org_slug": org.slug})


def test_the_home_page_lists_public_pages_for_anonymous_visitors(client, org, other_org):
    page = client.get("/").content.decode()
    assert "/ville-a/" in page and "/ville-b/" in page


def test_the_history_shows_who_changed_what_with_frozen_names(client_for, org, users):
    from qualicite.core import services

    admin = users[Role.ADMINISTRATOR]
    admin.first_name, admin.last_name = "Alice", "Durand"
    admin.save()
    service = services.create_service(org, actor=admin, code="urbanisme", name="Urbanisme")
    service.delete()
    admin.delete()
    page = (
        client_for(users[Role.QUALITY_MANAGER])
        .get(reverse("core:history", kwargs={"org_slug": org.slug}))
        .content.decode()
    )
    assert "Alice Durand" in page and "Urbanisme" in page


def test_healthz_reports_the_database(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


@pytest.mark.parametrize("language, word", [("fr", "Connexion des agents"), ("en", "Staff login")])
def test_pages_speak_french_by_default_and_english_on_request(client, db, language, word):
    client.cookies["django_language"] = language
    assert word in client.get(reverse("login")).content.decode()


def test_the_public_logo_is_served_by_the_app_and_absent_logo_is_404(client, org):
    assert client.get(f"/{org.slug}/logo").status_code == 404


def test_the_stylesheet_is_found_by_collectstatic_and_whitenoise():
    from django.contrib.staticfiles import finders

    assert finders.find("qualicite/qualicite.css")


def test_a_field_error_is_printed_beside_its_field_and_tied_to_it(client, db):
    page = client.post(reverse("password_reset"), {"email": "not-an-address"}).content.decode()
    assert '<ul class="errorlist" id="id_email_error">' in page
    assert 'aria-describedby="id_email_error"' in page and 'aria-invalid="true"' in page
    assert 'class="error-summary"' in page
