"""Anyone can reach an organisation's public page from the home page, in French or English."""

from tests.e2e.browser import screenshot, tr


def test_anonymous_home_page_lists_the_organisation(journey, org):
    journey.goto("/")
    link = journey.page.locator("main .cards a", has_text="Ville A")
    assert link.get_attribute("href") == "/ville-a/"
    assert journey.page.get_by_role("link", name=tr("Staff login")).is_visible()


def test_the_stylesheet_is_served_by_the_live_server(journey, org):
    journey.goto("/")
    header = journey.page.locator("header.site-header")
    # --brand (#1f4e8c) from qualicite.css: contrast checks are only meaningful with it.
    assert header.evaluate("(e) => getComputedStyle(e).backgroundColor") == "rgb(31, 78, 140)"


def test_public_page_without_commitments_says_so(journey, org):
    journey.goto("/")
    journey.follow(journey.page.locator("main .cards a", has_text="Ville A"))
    assert journey.path == "/ville-a/"
    main = journey.page.locator("main")
    assert main.locator("h1").inner_text().startswith("Ville A")
    assert main.get_by_text(tr("This organisation has not published its commitments yet.")).count()
    assert main.locator(".commitment").count() == 0
    screenshot(journey.page, "accueil-public")


def test_unknown_organisation_shows_the_404_page(journey, org):
    journey.goto("/ville-inconnue/", status=404)
    assert journey.page.locator("h1").inner_text() == tr("Page not found")


def test_language_switch_in_the_footer_goes_to_english_and_back(journey, org):
    html = journey.page.locator("html")
    journey.goto("/ville-a/")
    assert html.get_attribute("lang") == "fr"

    journey.submit("footer form", language="en")
    assert journey.path == "/ville-a/"
    assert html.get_attribute("lang") == "en"
    assert journey.page.locator("#language").input_value() == "en"
    assert journey.page.locator("main h1").inner_text() == "Ville A: our commitments to you"

    journey.submit("footer form", language="fr")
    assert journey.path == "/ville-a/"
    assert html.get_attribute("lang") == "fr"
    assert journey.page.locator("#language").input_value() == "fr"
