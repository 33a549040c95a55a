"""`qualicite report …`: build a report from the command line.

qualicite report complaints ORG --year YEAR --format pdf|ods|xlsx|csv [-o FILE]
qualicite report calls ORG --from YYYY-MM-DD --to YYYY-MM-DD [--service CODE] [--site CODE]
                           [--slot hour|half-hour] --format pdf|ods|xlsx|csv [-o FILE]

The reports cover the whole organisation (or the service, with its sub-services, and the
site asked for). FILE defaults to bilan-reclamations-ORG-YEAR.EXT or
pics-d-appels-ORG-FROM-TO.EXT in the current folder; “-” writes to standard output.
Exit status: 0 when written, 1 when the organisation, the year or the file is wrong,
2 when the arguments themselves are (unknown format, missing value).
"""

import sys
from datetime import date
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from qualicite.core.commands import organisation_named
from qualicite.core.models import Organisation, Service, Site
from qualicite.reports import call_peak_exports, call_peaks, complaints, exports
from qualicite.reports.forms import MAX_CALL_DAYS
from qualicite.reports.models import FIRST_YEAR, LAST_YEAR


class Command(BaseCommand):
    help = "Build a report of an organisation as PDF, ODS, XLSX or CSV."

    def add_arguments(self, parser):
        reports = parser.add_subparsers(dest="report", required=True, metavar="REPORT")
        report = reports.add_parser(
            "complaints",
            help="The yearly complaints report (bilan des réclamations).",
            description="The yearly complaints report of the whole organisation.",
        )
        report.add_argument("org", metavar="ORG", help="Organisation address name (slug).")
        report.add_argument(
            "--year", type=int, required=True, help="Calendar year of receipt, e.g. 2025."
        )
        report.add_argument(
            "--format",
            dest="file_format",
            choices=sorted(exports.FORMATS),
            required=True,
            help="File format.",
        )
        report.add_argument(
            "-o",
            "--output",
            metavar="FILE",
            help="File to write (default: bilan-reclamations-ORG-YEAR.EXT); - for stdout.",
        )

        calls = reports.add_parser(
            "calls",
            help="The call-peak report (pics d'appels).",
            description="Calls and answer rate by weekday and time, with the best times to call.",
        )
        calls.add_argument("org", metavar="ORG", help="Organisation address name (slug).")
        calls.add_argument("--from", dest="start", required=True, help="First day, YYYY-MM-DD.")
        calls.add_argument(
            "--to", dest="end", required=True, help="Last day (included), YYYY-MM-DD."
        )
        calls.add_argument("--service", metavar="CODE", help="Only this service (and its own).")
        calls.add_argument("--site", metavar="CODE", help="Only the calls of this site.")
        calls.add_argument(
            "--slot", choices=sorted(call_peaks.SLOT_MINUTES), default="hour", help="Slot length."
        )
        calls.add_argument(
            "--format",
            dest="file_format",
            choices=sorted(call_peak_exports.FORMATS),
            required=True,
            help="File format.",
        )
        calls.add_argument(
            "-o",
            "--output",
            metavar="FILE",
            help="File to write (default: pics-d-appels-ORG-FROM-TO.EXT); - for stdout.",
        )

    def handle(self, *args, report, **options):
        return getattr(self, f"do_{report}")(**options)

    @staticmethod
    def organisation(slug: str) -> Organisation:
        return organisation_named(slug)

    def do_complaints(self, *, org, year, file_format, output, **options):
        organisation = self.organisation(org)
        if not FIRST_YEAR <= year <= LAST_YEAR:
            raise CommandError(
                _("The year must lie between %(first)s and %(last)s, got %(year)s.")
                % {"first": FIRST_YEAR, "last": LAST_YEAR, "year": year}
            )
        report = complaints.build(organisation, year)
        content = getattr(exports, f"to_{file_format}")(report)
        self.write(report, content, output, exports.filename(report, file_format), org)

    def do_calls(self, *, org, start, end, service, site, slot, file_format, output, **options):
        organisation = self.organisation(org)
        first, last = self.day(start, "--from"), self.day(end, "--to")
        if last < first:
            raise CommandError(_("--to cannot come before --from."))
        if (last - first).days + 1 > MAX_CALL_DAYS:
            raise CommandError(
                _("Choose a period of at most %(days)s days.") % {"days": MAX_CALL_DAYS}
            )
        choice = call_peaks.Choice(
            start=first,
            end=last,
            service=self.named(Service, organisation, service, _("service")),
            site=self.named(Site, organisation, site, _("site")),
            slot=slot,
        )
        report = call_peaks.build(organisation, choice)
        content = getattr(call_peak_exports, f"to_{file_format}")(report)
        self.write(report, content, output, call_peak_exports.filename(report, file_format), org)

    @staticmethod
    def day(text: str, option: str) -> date:
        try:
            return date.fromisoformat(text)
        except ValueError:
            raise CommandError(
                _("%(option)s: “%(text)s” is not a date like 2025-01-31.")
                % {"option": option, "text": text}
            ) from None

    @staticmethod
    def named(model, organisation, code, what):
        if not code:
            return None
        found = model.objects.filter(organisation=organisation, code=code).first()
        if found is None:
            known = ", ".join(
                model.objects.filter(organisation=organisation).values_list("code", flat=True)
            )
            raise CommandError(
                _("%(org)s has no %(what)s with the code “%(code)s” (known: %(known)s).")
                % {"org": organisation.slug, "what": what, "code": code, "known": known}
            )
        return found

    def write(self, report, content: bytes, output, default_name: str, org: str) -> None:
        if output == "-":
            stream = getattr(self.stdout, "_out", sys.stdout)
            stream = getattr(stream, "buffer", stream)
            stream.write(content)
            stream.flush()
            return
        path = Path(output or default_name)
        try:
            path.write_bytes(content)
        except OSError as error:
            raise CommandError(
                _("Cannot write %(file)s: %(error)s.") % {"file": path, "error": error.strerror}
            ) from None
        self.stdout.write(
            _("%(title)s of %(org)s written to %(file)s (%(size)s bytes).")
            % {"title": report.title, "org": org, "file": path, "size": len(content)}
        )
