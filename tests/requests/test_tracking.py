"""Citizens follow a request with its code and their e-mail (or postcode), and see no more."""

import re

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.html import escape
from django.utils.translation import gettext, override

from qualicite.core.choices import Channel, RequestKind
from qualicite.requests import notifications, privacy, services
from qualicite.requests.public_views import TRACKING_LIMIT


@pytest.fixture(autouse=True)
def empty_cache():
    # The rate limit counts in the cache, which outlives a test in the same process.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def web_request(org):
    return services.create_request(
        org,
        actor=None,
        kind=RequestKind.INFORMATION,
        channel=Channel.WEB,
        subject="Horaires d'été de la piscine",
        body="Bonjour, la piscine ouvre-t-elle le dimanche en juillet ?",
        service=org.service_set.get(code="accueil"),
        citizen_name="Camille Martin",
        citizen_email="Camille.Martin@example.org",
        citizen_phone="06 12 34 56 78",
    )


@pytest.fixture
def letter(org, users):
    return services.create_request(
        org,
        actor=users["agent"],
        kind=RequestKind.SERVICE,
        channel=Channel.LETTER,
        subject="Copie d'acte de mariage",
        service=org.service_set.get(code="etat-civil"),
        citizen_name="Jean Dupré",
        citizen_address="12 avenue de la République",
        citizen_postcode="75011",
    )


def track_url(organisation) -> str:
    return reverse("requests_public:track", kwargs={"org_slug": organisation.slug})


def track(client, organisation, code, proof):
    return client.post(track_url(organisation), {"code": code, "proof": proof})


def french(message: str) -> str:
    with override("fr"):
        return gettext(message)


def local_date(organisation, moment, fmt) -> str:
    with override("fr"), timezone.override(organisation.zone):
        return formats.date_format(timezone.localtime(moment), fmt)


def main_of(response) -> str:
    html = response.content.decode()
    return html[html.index("<main") : html.index("</main>")]


def without_csrf(html: str) -> str:
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", html)


NOT_FOUND = (
    "We found no request with this code and this e-mail address or postcode. "
    "Check the code in your acknowledgement and the address you gave."
)


def test_the_tracking_page_asks_for_the_code_and_the_email(client, org):
    response = client.get(track_url(org))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="code"' in html and 'name="proof"' in html
    assert 'method="post"' in html


def test_code_and_email_show_the_summary_of_the_request(client, org, web_request):
    response = track(client, org, web_request.display_code, "camille.martin@example.org")
    assert response.status_code == 200
    assert response.context["found"] == web_request
    main = main_of(response)
    assert web_request.display_code in main
    with override("fr"):
        assert escape(str(RequestKind.INFORMATION.label)) in main
    assert "Accueil" in main
    assert local_date(org, web_request.received_at, "j F Y") in main
    assert local_date(org, web_request.due_at, "l j F Y") in main
    assert french("Received") in main


def test_the_code_is_read_however_it_is_typed(client, org, web_request):
    typed = f" {web_request.code[:4].lower()} - {web_request.code[4:].lower()} "
    response = track(client, org, typed, "  CAMILLE.MARTIN@EXAMPLE.ORG ")
    assert response.context["found"] == web_request


def test_a_letter_without_email_is_followed_with_its_postcode(client, org, letter):
    response = track(client, org, letter.code, "75 011")
    assert response.context["found"] == letter
    assert "État civil" in main_of(response)


def test_a_postcode_does_not_open_a_request_that_has_an_email(client, org, web_request):
    services.update_details(
        web_request,
        actor=None,
        version=web_request.version,
        citizen_address="3 rue des Lilas",
        citizen_postcode="75011",
    )
    response = track(client, org, web_request.code, "75011")
    assert response.context["found"] is None
    assert french(NOT_FOUND) in main_of(response)


def test_a_wrong_email_answers_exactly_like_an_unknown_code(client, org, web_request, letter):
    wrong_pair = track(client, org, web_request.code, "quelquun@example.org")
    letter_case = track(client, org, letter.code, "quelquun@example.org")
    code = web_request.code
    web_request.delete()
    unknown = track(client, org, code, "quelquun@example.org")
    assert wrong_pair.status_code == unknown.status_code == letter_case.status_code == 200
    assert french(NOT_FOUND) in main_of(unknown)
    assert without_csrf(main_of(wrong_pair)) == without_csrf(main_of(unknown))


def test_nothing_personal_nor_internal_is_shown(client, org, users, web_request):
    agent = users["agent"]
    agent.first_name, agent.last_name = "Dominique", "Lagente"
    agent.save()
    services.assign(web_request, actor=agent, assignee=agent)
    services.submit_reply(
        web_request, actor=agent, channel=Channel.EMAIL, body="Oui, de 10 h à 18 h."
    )
    main = main_of(track(client, org, web_request.code, "camille.martin@example.org"))
    for secret in (
        "Camille",
        "Martin",
        "example.org",
        "06 12 34 56 78",
        "piscine",
        "Horaires",
        "10 h à 18 h",
        "Dominique",
        "Lagente",
        agent.get_username(),
    ):
        assert secret not in main, secret


def test_the_timeline_follows_the_request_in_the_citizens_words(client, org, users, web_request):
    agent = users["agent"]
    services.assign(web_request, actor=agent, assignee=agent)
    services.pause_clock(web_request, actor=agent, reason="Pièce manquante")
    waiting = track(client, org, web_request.code, "camille.martin@example.org")
    assert response_status(waiting) == french("Waiting for you (the clock is paused)")

    services.resume_clock(web_request, actor=agent)
    services.submit_reply(web_request, actor=agent, channel=Channel.EMAIL, body="Réponse.")
    services.close(web_request, actor=agent)
    response = track(client, org, web_request.code, "camille.martin@example.org")
    titles = [step.title for step in response.context["steps"]]
    assert titles == [
        french("Received"),
        french("In progress"),
        french("Waiting for you"),
        french("In progress"),
        french("Answered"),
        french("Closed"),
    ]
    assert response_status(response) == french("Closed")
    assert main_of(response).count('<li><time datetime="') == len(titles)


def test_an_acknowledged_request_says_so(client, org, web_request):
    services.acknowledge(web_request, actor=None, channel=Channel.EMAIL)
    response = track(client, org, web_request.code, "camille.martin@example.org")
    assert response_status(response) == french("Acknowledged")
    assert french("Acknowledged") in [step.title for step in response.context["steps"]]


def test_an_anonymised_request_is_not_found(client, org, users, web_request):
    agent = users["agent"]
    services.submit_reply(web_request, actor=agent, channel=Channel.EMAIL, body="Réponse.")
    services.close(web_request, actor=agent)
    before = track(client, org, web_request.code, "camille.martin@example.org")
    assert before.context["found"] == web_request
    privacy.anonymise(web_request, actor=None)
    for proof in ("camille.martin@example.org", "", "75011"):
        response = track(client, org, web_request.code, proof)
        assert response.context["found"] is None


def test_a_code_of_another_town_is_not_found_here(client, org, other_org):
    elsewhere = services.create_request(
        other_org,
        actor=None,
        kind=RequestKind.INFORMATION,
        channel=Channel.WEB,
        subject="Question",
        citizen_email="camille@example.org",
    )
    response = track(client, org, elsewhere.code, "camille@example.org")
    assert response.context["found"] is None
    assert french(NOT_FOUND) in main_of(response)
    found = track(client, other_org, elsewhere.code, "camille@example.org")
    assert found.context["found"] == elsewhere


def test_a_malformed_code_is_explained_next_to_the_field(client, org):
    response = track(client, org, "ABC", "camille@example.org")
    assert response.status_code == 200
    assert 'id="id_code_error"' in response.content.decode()
    assert "code" in response.context["form"].errors


def test_an_empty_proof_is_asked_for_next_to_its_field(client, org, web_request):
    response = track(client, org, web_request.code, "")
    assert 'id="id_proof_error"' in response.content.decode()
    assert response.context["found"] is None


def test_the_eleventh_try_in_ten_minutes_is_refused(client, org, web_request):
    for _ in range(TRACKING_LIMIT.limit):
        assert track(client, org, web_request.code, "autre@example.org").status_code == 200
    response = track(client, org, web_request.code, "camille.martin@example.org")
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert response.context["found"] is None
    assert 'id="form-alert"' in response.content.decode()
    assert web_request.display_code not in main_of(response)

    elsewhere = Client(REMOTE_ADDR="198.51.100.30")
    found = track(elsewhere, org, web_request.code, "camille.martin@example.org")
    assert found.context["found"] == web_request


def test_the_link_in_the_acknowledgement_leads_to_this_page(org, web_request):
    assert notifications.tracking_url(web_request).endswith(track_url(org))


def test_the_tracking_page_of_an_unknown_town_is_not_found(client, db):
    url = reverse("requests_public:track", kwargs={"org_slug": "nulle-part"})
    assert client.get(url).status_code == 404
    assert client.post(url, {"code": "BCDFGHJK", "proof": "a@example.org"}).status_code == 404


def response_status(response) -> str:
    found = re.search(r'id="current-status"><strong>(.*?)</strong>', response.content.decode())
    assert found, "no current status shown"
    return found.group(1)
