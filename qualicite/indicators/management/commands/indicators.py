"""`qualicite indicators …`: print indicator results, rebuild the daily roll-ups.

qualicite indicators show ORG [--service CODE] [--from YYYY-MM-DD --to YYYY-MM-DD]
                              [--period day|week|month|quarter|year]
                              [--format table|json|csv] [--refresh]
qualicite indicators rebuild ORG [--from YYYY-MM-DD] [--to YYYY-MM-DD]

`show` prints, for every indicator of the organisation, its value, numerator, denominator,
target in force and status. Without dates it covers the last closed period of --period
(a month by default); with --from and --to it prints one line per period of that kind in the
range, or with --period left out a single line over exactly that range. With --service the
figures are the service's (its sub-services included), and indicators whose commitment does
not cover that service are left out.

The figures are read from the daily roll-ups, which `qualicite tick` keeps up to date
(the job "indicators.rollups"); --refresh first applies the changes tick has not rolled up yet.

Formats: `table` is for people (translated headings and statuses); `json` and `csv` are for
programs: dates in ISO 8601, the status as a code (met, warning, missed, no_data, watched),
counts as integers and `value` and `target` as exact decimal strings ("93.50"), never rounded
through a binary float; a missing figure is null in JSON and empty in CSV. CSV is UTF-8,
comma-separated, with one header line.

`rebuild` computes the roll-ups again from the records over the range (all history by
default). It is idempotent and gives the same rows as tick's incremental path.
"""

from __future__ import annotations

import csv
import json
import time
from datetime import date

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from qualicite.charter.models import Period as PeriodKind
from qualicite.core.commands import organisation_named
from qualicite.core.events import record
from qualicite.core.models import Organisation, Service
from qualicite.indicators import periods, queries, rollups
from qualicite.indicators.models import IndicatorEvent

FORMATS = ("table", "json", "csv")
CSV_COLUMNS = (
    "period_start",
    "period_end",
    "period_kind",
    "programme",
    "commitment",
    "indicator",
    "name",
    "service",
    "value",
    "numerator",
    "denominator",
    "target",
    "target_display",
    "status",
)


def parse_day(text: str | None, option: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise CommandError(
            _("%(option)s expects a date as YYYY-MM-DD, got “%(text)s”.")
            % {"option": option, "text": text}
        ) from None


def parse_range(start_text, end_text) -> tuple[date | None, date | None]:
    start, end = parse_day(start_text, "--from"), parse_day(end_text, "--to")
    if start is not None and end is not None and start > end:
        raise CommandError(
            _("--from (%(start)s) is after --to (%(end)s).")
            % {"start": start.isoformat(), "end": end.isoformat()}
        )
    return start, end


def service_named(organisation: Organisation, code: str) -> Service:
    try:
        return Service.objects.get(organisation=organisation, code=code)
    except Service.DoesNotExist:
        known = ", ".join(
            Service.objects.filter(organisation=organisation)
            .order_by("code")
            .values_list("code", flat=True)
        ) or _("none")
        raise CommandError(
            _("%(org)s has no service with the code “%(code)s” (known: %(known)s).")
            % {"org": organisation.slug, "code": code, "known": known}
        ) from None


def _exact(value) -> str | None:
    """A Decimal as its exact text ("93.50"); JSON floats would round some of them."""
    return None if value is None else str(value)


class Command(BaseCommand):
    help = "Print indicator results, or rebuild the daily roll-ups they are read from."

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        show = actions.add_parser(
            "show",
            help="Print each indicator's value, numerator, denominator, target and status.",
            description=(
                "Print each indicator's result, read from the daily roll-ups (kept up to date "
                "by `qualicite tick`; --refresh applies pending changes first)."
            ),
        )
        show.add_argument("org", metavar="ORG", help="Organisation address name (slug).")
        show.add_argument(
            "--service", metavar="CODE", help="Only this service (with its sub-services)."
        )
        show.add_argument(
            "--from", dest="start", metavar="YYYY-MM-DD", help="First day (with --to)."
        )
        show.add_argument("--to", dest="end", metavar="YYYY-MM-DD", help="Last day, included.")
        show.add_argument(
            "--period",
            choices=periods.KINDS,
            help=(
                "Kind of period (default: month). Without dates, the last closed one; with "
                "dates, one line per period in the range. Left out with dates: one period over "
                "exactly the range."
            ),
        )
        show.add_argument(
            "--format",
            dest="output_format",
            choices=FORMATS,
            default="table",
            help="table (default), json or csv (exact decimals as text, status codes).",
        )
        show.add_argument(
            "--refresh",
            action="store_true",
            help="First roll up the changes not rolled up yet (tick normally does it).",
        )
        rebuild = actions.add_parser(
            "rebuild",
            help="Compute the daily roll-ups again from the records (idempotent).",
            description=(
                "Compute the daily roll-ups again from the records, over all history by "
                "default. Running it twice gives the same rows."
            ),
        )
        rebuild.add_argument("org", metavar="ORG", help="Organisation address name (slug).")
        rebuild.add_argument(
            "--from",
            dest="start",
            metavar="YYYY-MM-DD",
            help="First day (default: the first day with records).",
        )
        rebuild.add_argument(
            "--to", dest="end", metavar="YYYY-MM-DD", help="Last day, included (default: today)."
        )

    def handle(self, *args, action, **options):
        return getattr(self, f"do_{action}")(**options)

    # -- show -------------------------------------------------------------------------------

    def do_show(self, *, org, service, start, end, period, output_format, refresh, **options):
        organisation = organisation_named(org)
        start, end = parse_range(start, end)
        if (start is None) != (end is None):
            raise CommandError(_("Give both --from and --to, or neither."))
        chosen = service_named(organisation, service) if service else None
        if refresh:
            rollups.refresh(organisation)
        if start is None:
            kind = period or PeriodKind.MONTH
            covered = [periods.last_closed(kind, rollups.today(organisation))]
        elif period:
            covered = periods.split(start, end, period)
        else:
            covered = [periods.custom(start, end)]
        indicators = queries.indicators_of(organisation)
        lines = []
        for shown in covered:
            found = queries.results(
                organisation,
                indicators,
                shown,
                services=[chosen] if chosen else [],
                consolidated=chosen is None,
            )
            key = chosen.pk if chosen else None
            lines.extend(
                found[(indicator.pk, key)]
                for indicator in indicators
                if (indicator.pk, key) in found
            )
        getattr(self, f"write_{output_format}")(lines)

    @staticmethod
    def as_record(result: queries.Result) -> dict:
        indicator = result.indicator
        return {
            "period_start": result.period.start.isoformat(),
            "period_end": result.period.end.isoformat(),
            "period_kind": result.period.kind,
            "programme": indicator.commitment.programme.key,
            "commitment": indicator.commitment.number,
            "indicator": indicator.code,
            "name": indicator.name,
            "service": result.service.code if result.service else None,
            "value": _exact(result.value),
            "numerator": result.numerator,
            "denominator": result.denominator,
            "target": _exact(result.target),
            "target_display": result.target_display,
            "status": str(result.status),
        }

    def write_json(self, lines):
        records = [self.as_record(result) for result in lines]
        self.stdout.write(json.dumps(records, ensure_ascii=False, indent=2))

    def write_csv(self, lines):
        writer = csv.DictWriter(self.stdout, fieldnames=CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for result in lines:
            writer.writerow({k: "" if v is None else v for k, v in self.as_record(result).items()})

    def write_table(self, lines):
        headings = [
            _("Period"),
            _("Commitment"),
            _("Code"),
            _("Indicator"),
            _("Value"),
            _("Numerator"),
            _("Denominator"),
            _("Target"),
            _("Status"),
        ]
        rows = [
            [
                result.period.label,
                f"{result.indicator.commitment.programme.key} {result.indicator.commitment.number}",
                result.indicator.code,
                result.indicator.name,
                result.indicator.format_value(result.value) if result.has_data else "–",
                "" if result.numerator is None else str(result.numerator),
                "" if result.denominator is None else str(result.denominator),
                result.target_display,
                f"{result.status_symbol} {result.status_label}",
            ]
            for result in lines
        ]
        if not rows:
            self.stdout.write(_("No indicator to show."))
            return
        widths = [max(len(row[i]) for row in [headings, *rows]) for i in range(len(headings))]
        numeric = {4, 5, 6}  # value, numerator, denominator: right-aligned
        for row in [headings, ["-" * w for w in widths], *rows]:
            cells = [
                cell.rjust(widths[i]) if i in numeric else cell.ljust(widths[i])
                for i, cell in enumerate(row)
            ]
            self.stdout.write("  ".join(cells).rstrip())

    # -- rebuild ----------------------------------------------------------------------------

    def do_rebuild(self, *, org, start, end, **options):
        organisation = organisation_named(org)
        start, end = parse_range(start, end)
        began = time.monotonic()
        result = rollups.rebuild(organisation, start=start, end=end)
        seconds = round(time.monotonic() - began, 2)
        record(
            IndicatorEvent,
            organisation=organisation,
            actor=None,
            verb="rollups.rebuilt",
            details={
                "from": start.isoformat() if start else None,
                "to": end.isoformat() if end else None,
                "indicators": result.indicators,
                "days": result.days,
                "rows": result.rows,
                "seconds": seconds,
            },
        )
        self.stdout.write(
            _(
                "Roll-ups of %(org)s rebuilt: %(indicators)s indicators, %(days)s days, "
                "%(rows)s rows in %(seconds)s s."
            )
            % {
                "org": organisation.slug,
                "indicators": result.indicators,
                "days": result.days,
                "rows": result.rows,
                "seconds": seconds,
            }
        )
