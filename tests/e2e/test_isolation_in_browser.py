"""In the browser too, a member sees only their organisation and, if restricted, their services."""

from qualicite.core.models import Role
from tests.conftest import PASSWORD
from tests.e2e.browser import tr


def test_member_of_another_organisation_typing_the_url_gets_access_refused(
    journey, users, other_users
):
    journey.log_in(other_users[Role.ADMINISTRATOR], PASSWORD)
    assert journey.path == "/ville-b/espace/"

    journey.goto("/ville-a/espace/", status=403)
    assert journey.page.locator("h1").inner_text() == tr("Access refused")
    assert "Ville A" not in journey.page.locator("body").inner_text()

    journey.goto("/ville-a/espace/organisation/", status=403)
    assert journey.page.locator("h1").inner_text() == tr("Access refused")


def test_restricted_agent_cannot_open_a_service_outside_their_scope(journey, users):
    journey.log_in(users["restricted_agent"], PASSWORD)
    assert journey.path == "/ville-a/espace/"
    services = journey.page.locator("main ul.tree a")
    assert [a.inner_text() for a in services.all()] == ["État civil", "Naissances"]

    journey.follow(services.first)
    assert journey.path == "/ville-a/espace/services/etat-civil/"

    journey.goto("/ville-a/espace/services/finances/", status=404)
    assert journey.page.locator("h1").inner_text() == tr("Page not found")
