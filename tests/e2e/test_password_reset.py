"""A member who forgot their password gets a link by e-mail and chooses a new one."""

import re

from qualicite.core.models import Role
from tests.conftest import PASSWORD
from tests.e2e.browser import tr

NEW_PASSWORD = "Lune-de-miel-sur-la-Loire-42"


def test_forgotten_password_link_by_email_sets_a_new_password(journey, users, mailoutbox):
    page = journey.page
    user = users[Role.AGENT]
    journey.goto("/connexion/")
    journey.follow(page.get_by_role("link", name=tr("Forgotten password?")))
    assert journey.path == "/mot-de-passe/oublie/"

    journey.submit(email=user.email)
    assert journey.path == "/mot-de-passe/oublie/envoye/"
    assert page.locator("h1").inner_text() == tr("Check your e-mail")

    # The live server is a thread of this process: the locmem outbox is shared.
    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.to == [user.email]
    link = re.search(r"https?://\S+/mot-de-passe/nouveau/\S+/", message.body)
    assert link, message.body
    assert link.group(0).startswith(journey.base_url)

    journey.goto(link.group(0).removeprefix(journey.base_url))
    assert journey.path.endswith("/set-password/")
    journey.submit(new_password1=NEW_PASSWORD, new_password2=NEW_PASSWORD)
    assert journey.path == "/mot-de-passe/nouveau/fait/"

    journey.follow(page.locator("main").get_by_role("link", name=tr("Log in")))
    journey.log_in(user, PASSWORD)
    assert journey.path == "/connexion/", "the old password must no longer work"
    journey.submit(username=user.username, password=NEW_PASSWORD)
    assert journey.path == "/ville-a/espace/"

    journey.goto(link.group(0).removeprefix(journey.base_url))
    assert page.locator("main form").count() == 0, "a reset link works only once"


def test_reset_request_for_an_unknown_address_looks_the_same_and_sends_nothing(
    journey, users, mailoutbox
):
    journey.goto("/mot-de-passe/oublie/")
    journey.submit(email="personne@example.org")
    assert journey.path == "/mot-de-passe/oublie/envoye/"
    assert mailoutbox == []
