"""Staff log in with the form, see the menu their role allows, visit it, and log out."""

import pytest
from django.urls import reverse

from qualicite.core.models import Role
from tests.conftest import PASSWORD
from tests.e2e.browser import screenshot, tr

HISTORY_ROLES = {Role.QUALITY_MANAGER, Role.AUDITOR, Role.ADMINISTRATOR}

# The menu each role is given, in order (written out, not derived from the code under test).
MENUS = {
    Role.AGENT: [
        "Home",
        "Requests",
        "Service deliveries",
        "Commitments",
        "Values to enter",
        "Desk",
        "Appointments",
        "Services and sites",
    ],
    Role.SERVICE_HEAD: [
        "Home",
        "Requests",
        "Service deliveries",
        "Commitments",
        "Indicators",
        "Alerts",
        "Values to enter",
        "Desk",
        "Appointments",
        "Complaints report",
        "Call peaks",
        "Services and sites",
    ],
    Role.QUALITY_MANAGER: [
        "Home",
        "Requests",
        "Service deliveries",
        "Commitments",
        "Indicators",
        "Alerts",
        "Values to enter",
        "Desk",
        "Appointments",
        "Phone calls",
        "Complaints report",
        "Call peaks",
        "Services and sites",
        "Personal data",
        "History",
    ],
    Role.AUDITOR: [
        "Home",
        "Requests",
        "Service deliveries",
        "Commitments",
        "Indicators",
        "Alerts",
        "Complaints report",
        "Call peaks",
        "Services and sites",
        "History",
    ],
    Role.DIRECTION: [
        "Home",
        "Requests",
        "Service deliveries",
        "Commitments",
        "Indicators",
        "Alerts",
        "Complaints report",
        "Call peaks",
        "Services and sites",
    ],
    Role.ADMINISTRATOR: [
        "Home",
        "Requests",
        "Service deliveries",
        "Commitments",
        "Phone calls",
        "Services and sites",
        "Personal data",
        "History",
    ],
}
MENUS["restricted_agent"] = MENUS[Role.AGENT]
URL_NAMES = {
    "Home": "core:workspace",
    "Requests": "requests:queue",
    "Service deliveries": "deliveries:index",
    "Commitments": "charter:referentiel",
    "Indicators": "indicators:dashboard",
    "Alerts": "indicator_alerts:index",
    "Values to enter": "indicator_values:index",
    "Desk": "desk:tablet",
    "Appointments": "appointments:index",
    "Phone calls": "reception:calls",
    "Complaints report": "reports:complaints",
    "Call peaks": "reports:call_peaks",
    "Services and sites": "core:organisation",
    "Personal data": "privacy:index",
    "History": "core:history",
}


def expected_menu(role: str) -> list[tuple[str, str]]:
    """(label, path) of the main menu for `role` in ville-a."""
    return [
        (tr(label), reverse(URL_NAMES[label], kwargs={"org_slug": "ville-a"}))
        for label in MENUS[role]
    ]


@pytest.mark.parametrize("role", [*Role.values, "restricted_agent"])
def test_each_role_logs_in_sees_its_menu_visits_it_and_logs_out(journey, users, role):
    page = journey.page
    journey.log_in(users[role], PASSWORD)
    assert journey.path == "/ville-a/espace/"
    if role == Role.AGENT:
        screenshot(page, "espace-agent")

    links = page.locator("nav.main-nav a")
    shown = [(link.inner_text(), link.get_attribute("href")) for link in links.all()]
    assert shown == expected_menu(role)
    assert any(path.endswith("/historique/") for _, path in shown) == (role in HISTORY_ROLES)

    for label, path in shown:
        journey.follow(page.locator("nav.main-nav").get_by_role("link", name=label, exact=True))
        assert journey.path == path
        current = page.locator('nav.main-nav a[aria-current="page"]')
        assert current.inner_text() == label
        if role == Role.AGENT and path.endswith("/organisation/"):
            screenshot(page, "services-et-sites")

    journey.log_out()
    assert journey.path == "/"
    assert page.get_by_role("link", name=tr("Staff login")).is_visible()
    journey.goto("/ville-a/espace/")
    assert journey.path.startswith("/connexion/?next=")


def test_wrong_password_shows_the_error_on_the_login_page(journey, users):
    journey.goto("/connexion/")
    screenshot(journey.page, "connexion")
    journey.submit(username=users[Role.AGENT].username, password="not-the-password")
    assert journey.path == "/connexion/"
    alert = journey.page.get_by_role("alert")
    assert alert.is_visible()
    assert alert.locator(".errorlist").inner_text().strip()
    assert journey.page.locator("#id_username").input_value() == users[Role.AGENT].username


def test_skip_link_is_the_first_focusable_element_and_moves_focus_to_main(journey, org):
    page = journey.page
    # On the home page: the login page gives the username field autofocus (Django's default).
    journey.goto("/")
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.className") == "skip-link"
    assert page.locator(".skip-link").is_visible()
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.activeElement && document.activeElement.id === 'main'")
    assert page.evaluate("() => document.activeElement.id") == "main"
