"""An agent logs a phone request with the keyboard, answers it; the head validates a complaint."""

from qualicite.core.choices import Channel, RequestKind
from qualicite.core.models import Role
from qualicite.requests import services
from qualicite.requests.models import Reply, ReplyStatus, Request, Status
from tests.e2e.browser import screenshot, tr

QUEUE = "/ville-a/espace/demandes/"


def test_agent_logs_a_phone_request_with_the_keyboard_then_answers_it(journey, users, org):
    page = journey.page
    journey.log_in_as(users[Role.AGENT])
    journey.goto(QUEUE)
    journey.follow(page.locator("main").get_by_role("link", name=tr("Log a request")))
    assert journey.path == QUEUE + "nouvelle/"
    screenshot(page, "demande-saisie")

    # The subject has the focus; the rest is reached with Tab, in reading order.
    assert page.evaluate("document.activeElement.id") == "id_subject"
    page.keyboard.type("Horaires d'ouverture cet été")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "id_channel"
    page.locator("#id_service").select_option(label="Accueil")
    page.locator("#id_citizen_name").fill("Camille Martin")
    page.locator("#id_citizen_phone").fill("06 12 34 56 78")
    page.locator("#id_citizen_email").fill("camille@example.org")
    journey.press("#id_subject", "Enter")
    created = Request.objects.get()
    assert journey.path == f"{QUEUE}{created.pk}/"
    assert created.channel == Channel.PHONE
    assert created.display_code in page.locator("main .messages").inner_text()
    assert page.locator("main h1").inner_text().startswith(created.display_code)
    screenshot(page, "demande-fiche")

    # Answer on the phone: the request counts as answered, then it is closed.
    journey.follow(page.locator("main").get_by_role("link", name=tr("Answer"), exact=True))
    page.locator("#id_channel").select_option("phone")
    journey.submit("main form", body="Rappelée : ouverture de 8 h 30 à 17 h tout l'été.")
    assert journey.path == f"{QUEUE}{created.pk}/"
    created.refresh_from_db()
    assert created.replied_at is not None
    journey.follow(page.locator("main").get_by_role("link", name=tr("Close"), exact=True))
    journey.submit("main form")
    created.refresh_from_db()
    assert created.status == Status.CLOSED


def test_service_head_validates_a_complaint_reply_from_the_queue(journey, users, org):
    page = journey.page
    complaint = services.create_request(
        org,
        actor=users[Role.AGENT],
        kind=RequestKind.COMPLAINT,
        channel=Channel.DESK,
        subject="Attente trop longue au guichet",
        citizen_name="Jean Dupont",
        citizen_phone="0600000000",
        service=org.service_set.get(code="accueil"),
    )
    reply = services.submit_reply(
        complaint,
        actor=users[Role.AGENT],
        channel=Channel.PHONE,
        body="Nous vous avons présenté nos excuses et expliqué le renfort du lundi.",
    )
    assert reply.status == ReplyStatus.AWAITING_VALIDATION

    journey.log_in_as(users[Role.SERVICE_HEAD])
    journey.goto(QUEUE + "?status=validation")
    rows = page.locator("main table.request-table tbody tr")
    assert rows.count() == 1
    screenshot(page, "demandes-file")
    journey.follow(rows.first.get_by_role("link", name=complaint.display_code))
    journey.follow(page.get_by_role("link", name=tr("Validate or send back")))
    page.get_by_label(tr("Validate and send")).check()
    journey.submit("main form")
    reply = Reply.objects.get()
    assert reply.status == ReplyStatus.SENT
    assert reply.validated_by == users[Role.SERVICE_HEAD]
