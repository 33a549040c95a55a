"""An agent records a passport application, sees what is late, and hands a passport over."""

import datetime as dt

from django.utils import timezone

from qualicite.core.models import Role
from qualicite.requests import services
from qualicite.requests.models import Delivery, Prestation
from tests.conftest import PASSWORD
from tests.e2e.browser import screenshot, tr


def test_an_agent_records_a_delivery_then_marks_it_delivered(journey, org, users):
    etat_civil = org.service_set.get(code="etat-civil")
    passport = Prestation.objects.create(
        organisation=org, service=etat_civil, name="Passeport", announced_delay_days=20
    )
    Prestation.objects.create(
        organisation=org, service=etat_civil, name="Copie d'acte", announced_delay_days=5
    )
    now = timezone.now()
    services.record_delivery(
        passport, actor=None, requested_at=now - dt.timedelta(days=40), reference="PA-0007"
    )
    services.record_delivery(
        passport,
        actor=None,
        requested_at=now - dt.timedelta(days=10),
        delivered_at=now - dt.timedelta(days=1),
        reference="PA-0003",
    )
    page = journey.page
    journey.log_in(users[Role.AGENT], PASSWORD)
    journey.follow(page.locator("nav.main-nav").get_by_role("link", name=tr("Service deliveries")))
    late = page.locator("tr", has_text="PA-0007")
    assert tr("Late") in late.inner_text()

    journey.follow(page.get_by_role("link", name=tr("Record a delivery")))
    # A mistake first: the error is shown next to its field, and nothing is recorded.
    journey.submit(prestation=str(passport.pk), reference="PA-0042", requested_at="")
    assert page.locator("#id_requested_at_error").is_visible()
    local = timezone.localtime(now - dt.timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    journey.submit(prestation=str(passport.pk), reference="PA-0042", requested_at=local)
    assert journey.path == "/ville-a/espace/prestations/"
    assert page.locator("tr", has_text="PA-0042").count() == 1
    screenshot(page, "prestations")

    journey.follow(page.locator("tr", has_text="PA-0042").get_by_role("link"))
    journey.submit(delivered_at=timezone.localtime().strftime("%Y-%m-%dT%H:%M"))
    assert page.locator("tr", has_text="PA-0042").count() == 0
    assert Delivery.objects.get(reference="PA-0042").delivered_in_time is True
