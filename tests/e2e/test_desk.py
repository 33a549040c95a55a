"""At the desk tablet: a visitor arrives, is called to the counter, is served; then the day's
visits and the arrivals by hour."""

import datetime as dt

from django.utils import timezone

from qualicite.core.models import Role
from qualicite.reception import desk_services
from qualicite.reception.models import DeskVisit
from tests.conftest import PASSWORD
from tests.e2e.browser import screenshot, tr

TABLET = "/ville-a/espace/guichet/"


def _morning(org):
    """A desk already busy: two visitors waiting, one at the counter, two served."""
    site = org.site_set.get(code="mairie")
    accueil = org.service_set.get(code="accueil")
    etat_civil = org.service_set.get(code="etat-civil")
    now = timezone.now()
    midnight = timezone.localtime(now, org.zone).replace(hour=0, minute=0, second=0)

    def ago(minutes):  # today's, even when the journey runs just after midnight
        return max(now - dt.timedelta(minutes=minutes), midnight)

    for minutes, reason, service in ((34, "Carte d'identité", etat_civil), (22, "Urbanisme", None)):
        visit = desk_services.record_arrival(
            site, actor=None, service=service, reason=reason, at=ago(minutes)
        )
        desk_services.call_visitor(visit, actor=None, at=visit.arrived_at + dt.timedelta(minutes=6))
        desk_services.finish_visit(visit, actor=None, right_first_time=True)
    counter = desk_services.record_arrival(
        site, actor=None, service=accueil, reason="Renseignement", at=ago(9)
    )
    desk_services.call_visitor(counter, actor=None, at=ago(2))
    for minutes, reason in ((7, "Acte de naissance"), (3, "Inscription scolaire")):
        desk_services.record_arrival(
            site,
            actor=None,
            service=etat_civil,
            reason=reason,
            at=ago(minutes),
        )


def test_a_visitor_arrives_is_called_and_served_at_the_tablet(journey, org, users):
    _morning(org)
    page = journey.page
    journey.log_in(users[Role.AGENT], PASSWORD)
    journey.goto(TABLET)
    assert "Hôtel de ville" in page.locator("h1").inner_text()

    # One tap: the service chosen, then the reason's button records the arrival.
    page.get_by_label("État civil").check()
    journey.follow(page.get_by_role("button", name="Carte d'identité", exact=True))
    visit = DeskVisit.objects.filter(reason="Carte d'identité").latest("arrived_at")
    assert visit.service.code == "etat-civil" and visit.called_at is None
    row = page.locator(f"#visit-{visit.pk}")
    assert tr("Waiting") in row.inner_text()
    # The service stays chosen for the next visitor.
    assert page.get_by_label("État civil").is_checked()
    screenshot(page, "guichet-tablette")

    # With the keyboard: a reason typed, Enter records it.
    page.get_by_label(tr("Other reason")).fill("Carte grise")
    journey.press(page.get_by_label(tr("Other reason")), "Enter")
    assert DeskVisit.objects.filter(reason="Carte grise").exists()

    journey.follow(row.get_by_role("button", name=tr("Called")))
    visit.refresh_from_db()
    assert visit.called_at is not None
    assert tr("At the counter") in page.locator(f"#visit-{visit.pk}").inner_text()
    journey.follow(page.locator(f"#visit-{visit.pk}").get_by_role("button", name=tr("Yes")))
    visit.refresh_from_db()
    assert visit.done_at is not None and visit.right_first_time is True
    assert page.locator(f"#visit-{visit.pk}").count() == 0

    # The day's visits, then the arrivals by hour.
    journey.follow(page.get_by_role("link", name=tr("Visits of the day")))
    assert page.locator(f"#visit-{visit.pk}").count() == 1
    journey.goto(TABLET)
    journey.follow(page.get_by_role("link", name=tr("Arrivals by hour")))
    assert page.locator("svg.desk-heatmap").count() == 1
    assert page.locator("table.staffing-table").count() == 2


def test_the_quality_manager_imports_a_ticketing_export(journey, org, users, tmp_path):
    page = journey.page
    journey.log_in(users[Role.QUALITY_MANAGER], PASSWORD)
    journey.goto(TABLET + "import/")
    export = tmp_path / "tickets.csv"
    export.write_text(
        "Ticket;Date;Arrivée;Appel;Fin;Service;Motif;Statut\n"
        "A001;03/03/2025;09:00:00;09:04:00;09:10:00;etat-civil;Passeport;Servi\n"
        "A002;03/03/2025;09:02:00;;;accueil;Renseignement;Abandon\n"
        "A003;03/03/2025;09:62:00;;;accueil;Renseignement;Abandon\n",
        encoding="utf-8",
    )
    page.locator("#id_file").set_input_files(str(export))
    page.locator("#id_mapping").fill(
        'delimiter: ";"\ntime_format: "%d/%m/%Y %H:%M:%S"\nsite: mairie\nmax_bad_share: 0.5\n'
        "columns:\n  ticket: Ticket\n  arrived_at: [Date, Arrivée]\n  called_at: [Date, Appel]\n"
        "  done_at: [Date, Fin]\n  service: Service\n  reason: Motif\n  status: Statut\n"
        "statuses:\n  Servi: served\n  Abandon: left\n"
    )
    journey.follow(page.locator("main form").get_by_role("button", name=tr("Import")))
    report = page.locator("section.desk-report")
    assert "tickets.csv" in report.inner_text()
    assert report.locator("table tbody tr").count() == 1  # line 4: 09:62 is no time
    assert "4" in report.locator("table tbody th").inner_text()
    assert DeskVisit.objects.count() == 2
