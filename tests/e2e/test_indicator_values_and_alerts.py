"""An agent enters the monthly signage check with its evidence; the quality manager closes an
alert raised by a missed target."""

from decimal import Decimal

from qualicite.charter import services as charter_services
from qualicite.charter.models import Period, SourceKind
from qualicite.core.models import Role
from qualicite.indicators import alerts, periods, rollups, services
from qualicite.indicators.models import Alert, ManualValue
from tests.conftest import PASSWORD
from tests.e2e.browser import screenshot, tr
from tests.indicators.values_support import PDF, desk_count

PAGE_VALUES = "/ville-a/espace/saisies/"
PAGE_ALERTS = "/ville-a/espace/alertes/"


def _town_with_alerts(org, users):
    """The signage check owned by the agent; last closed month missed at the desk and town-wide."""
    programme = charter_services.create_programme(
        org, actor=None, key="qualivilles", kind="qualivilles", name="Qualivilles"
    )
    commitment = charter_services.create_commitment(
        programme, actor=None, number="3", title="Une signalétique claire"
    )
    signage = charter_services.create_indicator(
        commitment,
        actor=None,
        code="signage",
        name="Signalétique conforme (contrôle mensuel)",
        source="",
        source_kind=SourceKind.MANUAL,
        target=Decimal(100),
        period=Period.MONTH,
        owner=users[Role.AGENT],
    )
    desk = desk_count(org, signage)
    today = rollups.today(org)
    closed = services.last_closed_for_entry("month", today)
    manager = users[Role.QUALITY_MANAGER]
    services.enter_value(signage, actor=manager, period_start=closed.start, value=Decimal(80))
    for code, value in (("accueil", 84), ("etat-civil", 96)):
        services.enter_value(
            desk,
            actor=manager,
            service=org.service_set.get(code=code),
            period_start=closed.start,
            numerator=value,
            denominator=100,
        )
    raised = alerts.raise_alerts(org, today=today)
    assert len(raised) == 2  # the town's signage, and Accueil's desk count in its warning band
    return signage, closed


def test_an_agent_enters_a_value_and_the_quality_manager_closes_an_alert(
    journey, org, users, mailoutbox
):
    signage, closed = _town_with_alerts(org, users)
    page = journey.page
    current = periods.containing(rollups.today(org), "month")

    # The agent responsible for the signage check sees what is due, and opens the form.
    journey.log_in(users[Role.AGENT], PASSWORD)
    journey.goto(PAGE_VALUES)
    due = page.locator("table.manual-due tbody tr", has_text=signage.name)
    assert due.count() == 1
    journey.follow(due.get_by_role("link"))
    assert page.locator("#id_period_start").input_value() == current.start.isoformat()

    form_path = journey.path

    # A mistake first: the error is next to the value, nothing is recorded.
    journey.submit(value="120")
    assert page.locator("#id_value_error").is_visible()
    assert not ManualValue.objects.filter(period_start=current.start).exists()

    journey.goto(form_path)
    page.locator("#id_value").fill("95")
    page.locator("#id_comment").fill("Panneau de l'entrée nord à remplacer.")
    page.locator("#id_evidence").set_input_files(
        files=[{"name": "controle-signaletique.pdf", "mimeType": "application/pdf", "buffer": PDF}]
    )
    screenshot(page, "saisie-indicateur")
    journey.submit()
    assert journey.path == PAGE_VALUES
    assert signage.name in page.locator(".messages").inner_text()
    entered = page.locator("table.manual-entered tbody tr", has_text=current.label.capitalize())
    assert "95 %" in entered.inner_text()
    assert entered.get_by_role("link", name="controle-signaletique.pdf").is_visible()
    value = ManualValue.objects.get(period_start=current.start)
    assert value.comment == "Panneau de l'entrée nord à remplacer."
    assert value.evidence_name == "controle-signaletique.pdf"

    # The quality manager reads the open alerts and closes the desk count's.
    journey.log_out()
    journey.log_in(users[Role.QUALITY_MANAGER], PASSWORD)
    journey.goto(PAGE_ALERTS)
    rows = page.locator("table.alerts tbody tr")
    assert rows.count() == 2
    assert tr("Warning") in page.locator("tr", has_text="Accueil").inner_text()
    screenshot(page, "alertes")
    journey.follow(page.locator("tr", has_text="Accueil").get_by_role("link", name=tr("Close")))
    journey.submit(comment="Deux agents à l'accueil le lundi matin depuis le 3.")
    assert journey.path == PAGE_ALERTS
    closed_alert = Alert.objects.get(service__code="accueil")
    assert not closed_alert.is_open and closed_alert.closed_by == users[Role.QUALITY_MANAGER]
    closed_table = page.locator("section", has=page.locator("#closed-heading"))
    assert "Deux agents à l'accueil" in closed_table.inner_text()
    assert (
        page.locator("section", has=page.locator("#open-heading")).locator("tbody tr").count() == 1
    )
