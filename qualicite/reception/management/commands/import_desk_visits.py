"""`qualicite import-desk-visits`: import a ticketing-system export of desk visits.

qualicite import-desk-visits ORG FILE --mapping MAPPING.yaml [--site SITE]

The CSV export is read through its YAML column mapping and imported whole or not at all,
exactly as an upload on the "Import a ticketing export" page
(`reception.desk_services.import_visits`): importing it again changes nothing, and a later
export that completes a visit (called, done) updates it. FILE "-" reads standard input. The
share of bad lines above which nothing is imported is the mapping's `max_bad_share` (5 % by
default), as on the page: the service reads it there and nowhere else.

Exit status: 0 when the file was imported; 1 when it was refused (empty, too many bad
lines, columns missing) or when an argument is wrong (unknown organisation or site, a file
or mapping that cannot be read, a mapping refused); 2 for a usage error (a missing
argument), as for every command.

`FrontDeskImport` is shared with `import-appointments`: reading the arguments' files, naming
a site, printing the report and the exit status of an `ImportReport`.
"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from qualicite.core.commands import binary_input, organisation_named
from qualicite.core.models import Site
from qualicite.reception import desk_services
from qualicite.reception.desk_mapping import ImportReport, MappingError

# Rejected lines printed at the end (the report keeps more, all are counted).
SHOWN_REJECTED = 20


class FrontDeskImport(BaseCommand):
    """What the desk-visit and appointment import commands share."""

    def site_named(self, organisation, code: str | None):
        if not code:
            return None
        sites = Site.objects.filter(organisation=organisation)
        site = sites.filter(code=code).first()
        if site is None:
            known = ", ".join(sites.order_by("code").values_list("code", flat=True))
            raise CommandError(
                _("No site has the code “%(site)s” (known: %(known)s).")
                % {"site": code, "known": known or _("none")}
            )
        return site

    def read_text(self, path: str) -> str:
        try:
            return Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            detail = getattr(error, "strerror", None) or error
            raise CommandError(
                _("Cannot read %(file)s: %(error)s.") % {"file": path, "error": detail}
            ) from None

    def open(self, path: str):
        """The file as a binary stream in a `with`; standard input for "-" (left open)."""
        return binary_input(path)

    @staticmethod
    def file_name(path: str) -> str:
        return "stdin" if path == "-" else Path(path).name

    @staticmethod
    def mapping_refused(path: str, error: MappingError) -> CommandError:
        # On one line: a cron job's mail or log keeps it readable.
        return CommandError(
            _("The mapping %(file)s is refused: %(problems)s.")
            % {"file": path, "problems": "; ".join(error.problems)}
        )

    def figures(self, report: ImportReport) -> list[tuple[str, int]]:
        return [
            (_("Lines read"), report.rows),
            (_("Created"), report.created),
            (_("Updated"), report.updated),
            (_("Already imported, unchanged"), report.unchanged),
            (_("Lines rejected"), report.rejected_count),
        ]

    def print_report(self, report: ImportReport) -> None:
        write = self.stdout.write
        if report.imported:
            write(_("“%(name)s” imported") % {"name": report.file_name})
        else:
            write(_("“%(name)s” not imported") % {"name": report.file_name})
        for label, value in self.figures(report):
            write(f"  {label}: {value}")
        shown = report.rejected[:SHOWN_REJECTED]
        for line, reason in shown:
            where = _("line %(line)s") % {"line": line} if line else "—"
            write(f"  {_('rejected')} {where}: {reason}")
        more = report.rejected_count - len(shown)
        if more:
            write(
                "  "
                + ngettext(
                    "and %(counter)s more line rejected.",
                    "and %(counter)s more lines rejected.",
                    more,
                )
                % {"counter": more}
            )

    def finish(self, report: ImportReport) -> None:
        """Print the report; exit with status 1 when nothing was imported."""
        self.print_report(report)
        if not report.imported:
            raise CommandError(
                _("Refused, nothing imported: %(reason)s") % {"reason": report.error}
            )


class Command(FrontDeskImport):
    help = "Import a ticketing-system export (CSV) of desk visits through its column mapping."

    def add_arguments(self, parser):
        parser.add_argument("org", metavar="ORG", help="Organisation address name (slug).")
        parser.add_argument("file", metavar="FILE", help="The CSV export; - for standard input.")
        parser.add_argument(
            "--mapping",
            required=True,
            metavar="MAPPING.yaml",
            help="Column mapping of the export (YAML), as on the import page.",
        )
        parser.add_argument(
            "--site", metavar="SITE", help="Code of the site of the lines that do not name one."
        )

    def handle(self, *args, org, file, mapping, site, **options):
        organisation = organisation_named(org)
        chosen_site = self.site_named(organisation, site)
        mapping_text = self.read_text(mapping)
        with self.open(file) as stream:
            try:
                report = desk_services.import_visits(
                    organisation,
                    stream,
                    actor=None,
                    mapping_text=mapping_text,
                    file_name=self.file_name(file),
                    default_site=chosen_site,
                )
            except MappingError as error:
                raise self.mapping_refused(mapping, error) from None
        self.finish(report)
