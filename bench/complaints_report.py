"""How long the yearly complaints report takes for a large town (target: PDF in ≤ 3 s).

Run: .venv/bin/python bench/complaints_report.py [N]
Creates a throw-away SQLite database in a temporary folder (DATABASE_URL is ignored, so no
real database is touched), fills one year with N complaints (20,000 by default) plus a few
thousand suggestions and thanks and a previous year, and times the figures and each format.
"""

import datetime as dt
import os
import random
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
VAR_DIR = tempfile.mkdtemp(prefix="qualicite-bench-")
os.environ.pop("DATABASE_URL", None)
os.environ["QUALICITE_VAR_DIR"] = VAR_DIR
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "qualicite.settings")

import django  # noqa: E402 - the environment above must be set first

django.setup()

from django.core.management import call_command  # noqa: E402

from qualicite.core import services as core_services  # noqa: E402
from qualicite.core.calendar import Calendar  # noqa: E402
from qualicite.core.choices import Channel, DayKind, RequestKind  # noqa: E402
from qualicite.reports import complaints, exports  # noqa: E402
from qualicite.requests.models import Outcome, Request, Status, Theme, new_code  # noqa: E402

YEAR = 2025
SERVICES = [
    "Accueil",
    "État civil",
    "Élections",
    "Urbanisme",
    "Finances",
    "Voirie",
    "Propreté",
    "Police municipale",
    "Petite enfance",
    "Affaires scolaires",
    "Sports",
    "Culture",
]
THEMES = ["Voirie", "Propreté", "Stationnement", "Bruit", "Horaires", "Accueil", "Facturation"]


def populate(complaints_count: int) -> object:
    organisation = core_services.create_organisation(actor=None, name="Grande Ville", slug="gv")
    services = [
        core_services.create_service(organisation, actor=None, code=f"s{i}", name=name)
        for i, name in enumerate(SERVICES)
    ]
    core_services.create_site(
        organisation,
        actor=None,
        code="mairie",
        name="Hôtel de ville",
        services=services,
        opening_hours=[(d, dt.time(8, 30), dt.time(17, 30)) for d in range(5)],
    )
    themes = [Theme.objects.create(organisation=organisation, name=name) for name in THEMES]
    calendars = {kind: Calendar(day_kind=kind) for kind in (DayKind.WORKING, DayKind.CALENDAR)}
    rng = random.Random(1)
    codes: set[str] = set()
    rows = []

    def add(kind, year):
        code = new_code()
        while code in codes:
            code = new_code()
        codes.add(code)
        received = dt.datetime(year, 1, 1, tzinfo=organisation.zone) + dt.timedelta(
            seconds=rng.randrange(364 * 86400)
        )
        day_kind = rng.choice((DayKind.WORKING, DayKind.CALENDAR))
        delay = 15 if day_kind == DayKind.WORKING else 30
        due_at = calendars[day_kind].add_days(received, delay)
        replied_at = closed = outcome = None
        status = Status.IN_PROGRESS
        if kind == RequestKind.COMPLAINT and rng.random() < 0.9:
            replied_at = received + dt.timedelta(days=rng.randrange(45), hours=rng.randrange(8))
            if rng.random() < 0.8:
                status, closed = Status.CLOSED, replied_at
                outcome = rng.choice(Outcome.values)
        rows.append(
            Request(
                organisation=organisation,
                code=code,
                kind=kind,
                channel=rng.choice(Channel.values),
                subject="Réclamation",
                service=rng.choice([*services, None]),
                theme=rng.choice([*themes, None]),
                received_at=received,
                entered_at=received,
                delay_days=delay,
                day_kind=day_kind,
                due_at=due_at,
                replied_at=replied_at,
                closed_at=closed,
                status=status,
                outcome=outcome or "",
            )
        )

    for _ in range(complaints_count):
        add(RequestKind.COMPLAINT, YEAR)
    for _ in range(complaints_count // 10):
        add(RequestKind.SUGGESTION, YEAR)
        add(RequestKind.THANKS, YEAR)
    for _ in range(complaints_count // 2):
        add(RequestKind.COMPLAINT, YEAR - 1)
    Request.objects.bulk_create(rows, batch_size=2000)
    return organisation


def timed(what: str, action):
    began = time.perf_counter()
    result = action()
    seconds = time.perf_counter() - began
    print(f"{what:<28} {seconds:6.2f} s")
    return result, seconds


def main(count: int) -> None:
    try:
        call_command("migrate", verbosity=0)
        organisation, _ = timed(f"generate {count:,} complaints", lambda: populate(count))
        report, build_seconds = timed(
            "figures (build)", lambda: complaints.build(organisation, YEAR)
        )
        pdf, pdf_seconds = timed("PDF from the figures", lambda: exports.to_pdf(report))
        _, total = timed(
            "PDF end to end",
            lambda: exports.to_pdf(complaints.build(organisation, YEAR)),
        )
        for extension in ("ods", "xlsx", "csv"):
            timed(
                f"{extension.upper()} end to end",
                lambda e=extension: getattr(exports, f"to_{e}")(
                    complaints.build(organisation, YEAR)
                ),
            )
        answered = report.current.answered
        print(f"complaints counted: {report.current.counts[RequestKind.COMPLAINT]:,}")
        print(f"answered: {answered:,}; median {report.current.median}, p90 {report.current.p90}")
        print(f"PDF: {len(pdf) / 1024:.0f} KiB")
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak memory: {peak_mb:.0f} MB")
        verdict = "within" if total <= 3 else "OVER"
        print(f"PDF end to end {total:.2f} s: {verdict} the 3 s target")
    finally:
        shutil.rmtree(VAR_DIR, ignore_errors=True)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20_000)
