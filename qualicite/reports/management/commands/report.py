"""`qualicite report …`: build a report from the command line.

qualicite report complaints ORG --year YEAR --format pdf|ods|xlsx|csv [-o FILE]

The report covers the whole organisation. FILE defaults to
bilan-reclamations-ORG-YEAR.EXT in the current folder; “-” writes to standard output.
Exit status: 0 when written, 1 when the organisation, the year or the file is wrong,
2 when the arguments themselves are (unknown format, missing value).
"""

import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from qualicite.core.commands import organisation_named
from qualicite.core.models import Organisation
from qualicite.reports import complaints, exports
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
        if output == "-":
            stream = getattr(self.stdout, "_out", sys.stdout)
            stream = getattr(stream, "buffer", stream)
            stream.write(content)
            stream.flush()
            return
        path = Path(output or exports.filename(report, file_format))
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
