"""A citizen writes to the town with the keyboard only, gets a code, then follows the request."""

import pytest
from django.core.cache import cache

from qualicite.requests.models import Request
from tests.e2e.browser import check_a11y, screenshot, tr

FORM = "/ville-a/ecrire/"
TRACK = "/ville-a/suivi/"


@pytest.fixture(autouse=True)
def empty_cache():
    # The live server shares this process's cache, where the rate limits count.
    cache.clear()
    yield
    cache.clear()


def tab_to(page, selector: str, focused: list[str], limit: int = 80) -> None:
    """Press Tab until `selector` has the focus, noting the name of each field passed."""
    for _ in range(limit):
        if page.evaluate("(s) => document.activeElement.matches(s)", selector):
            return
        page.keyboard.press("Tab")
        focused.append(page.evaluate("() => document.activeElement.getAttribute('name') || ''"))
    raise AssertionError(f"{selector} never got the focus with Tab")


def press_enter_and_load(page) -> None:
    with page.expect_navigation():
        page.keyboard.press("Enter")
    check_a11y(page)


def test_a_citizen_writes_with_the_keyboard_then_follows_the_request(journey, org):
    page = journey.page
    journey.goto("/ville-a/")
    journey.follow(
        page.locator("main").get_by_role(
            "link", name=tr("Write to us: a question, a request, a complaint, a suggestion")
        )
    )
    assert journey.path == FORM

    focused: list[str] = []
    # The kind: Tab enters the group, the arrows choose ("a complaint" is the third).
    tab_to(page, "#id_kind_0", focused)
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    assert page.locator("#id_kind_2").is_checked()

    tab_to(page, "#id_service", focused)
    options = page.locator("#id_service option").all_inner_texts()
    for _ in range(options.index("État civil")):
        page.keyboard.press("ArrowDown")
    assert page.locator("#id_service option:checked").inner_text() == "État civil"

    tab_to(page, "#id_subject", focused)
    page.keyboard.type("Acte de naissance toujours pas reçu")
    tab_to(page, "#id_body", focused)
    page.keyboard.type("J'ai demandé un acte de naissance il y a trois semaines.")
    tab_to(page, "#id_citizen_name", focused)
    page.keyboard.type("Camille Martin")
    tab_to(page, "#id_citizen_email", focused)
    page.keyboard.type("camille@example.org")
    tab_to(page, "#id_preferred_reply_channel_0", focused)
    page.keyboard.press("ArrowDown")
    assert page.locator("#id_preferred_reply_channel_1").is_checked()
    tab_to(page, "#id_consent", focused)
    page.keyboard.press("Space")
    assert page.locator("#id_consent").is_checked()
    tab_to(page, "main form button[type=submit]", focused)
    assert "website" not in focused, "the honeypot must not be reachable with Tab"
    screenshot(page, "formulaire-citoyen")

    press_enter_and_load(page)
    assert journey.path == FORM + "confirmation/"
    request = Request.objects.get(organisation=org)
    assert page.locator("#tracking-code").inner_text() == request.display_code
    assert page.locator("#sent-service").inner_text() == "État civil"
    assert request.channel == "web" and request.kind == "complaint"
    screenshot(page, "confirmation-citoyen")

    journey.follow(page.locator("main").get_by_role("link", name=tr("Follow your request")))
    assert journey.path == TRACK
    focused.clear()
    tab_to(page, "#id_code", focused)
    page.keyboard.type(request.code.lower())
    tab_to(page, "#id_proof", focused)
    page.keyboard.type("camille@example.org")
    press_enter_and_load(page)
    result = page.locator("main .tracking-result")
    assert request.display_code in result.locator("h2").inner_text()
    assert page.locator("#current-status").inner_text() in (tr("Received"), tr("Acknowledged"))
    assert "Camille" not in result.inner_text()
    screenshot(page, "suivi-citoyen")


def test_mistakes_are_shown_next_to_their_fields_and_pass_the_accessibility_check(journey, org):
    page = journey.page
    journey.goto(FORM)
    journey.submit("main form", subject="Sans message")
    assert page.locator("main .error-summary").is_visible()
    for field in ("kind", "body", "citizen_email", "consent"):
        assert page.locator(f"#id_{field}_error").is_visible(), field
    assert page.locator("#id_subject").input_value() == "Sans message"
    assert Request.objects.count() == 0


def test_a_wrong_pair_on_the_tracking_page_gives_a_clear_message(journey, org):
    page = journey.page
    journey.goto(TRACK)
    journey.submit("main form", code="BCDF-GHJK", proof="personne@example.org")
    assert page.locator("main .error-summary").is_visible()
    assert page.locator("main .tracking-result").count() == 0
