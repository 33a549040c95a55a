"""`qualicite import-appointments`: import a booking system's export of appointments.

qualicite import-appointments ORG FILE [--format ics|csv] [--mapping MAPPING.yaml]
                                       [--site SITE] [--service SERVICE] [--max-bad-share 0.05]

The calendar (.ics) or CSV export is imported whole or not at all, exactly as an upload on
the "Import appointments" page (`reception.appointment_services.import_appointments`): an
appointment is found again by the booking system's identifier, so importing the file again
or a later export updates it and never doubles it; a cancelled event cancels it. Without
--format the format is the file's extension (.ics, .ical → ics; .csv, .txt → csv). A CSV
file needs its column mapping; for a calendar the mapping is optional (the `sites` and
`services` tables). --site and --service are the page's "site / service of the appointments
that do not name one". FILE "-" reads standard input (with --format). Nothing is imported
when the share of bad lines is over --max-bad-share, else the CSV mapping's `max_bad_share`,
else 5 %.

Exit status: 0 when the file was imported; 1 when it was refused (not a calendar, empty,
too many bad lines) or when an argument is wrong (unknown organisation, site, service or
format, a file or mapping that cannot be read, a mapping refused); 2 for a usage error (a
missing argument), as for every command.
"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import CommandError
from django.utils.translation import gettext as _

from qualicite.core.commands import organisation_named
from qualicite.core.models import Service
from qualicite.reception import appointment_ics, appointment_import, appointment_services
from qualicite.reception.appointment_forms import CSV, ICS
from qualicite.reception.desk_import import Lookup
from qualicite.reception.desk_mapping import (
    ImportReport,
    MappingError,
    load_mapping,
)
from qualicite.reception.management.commands.import_desk_visits import FrontDeskImport

FORMATS = (ICS, CSV)
FORMAT_OF_EXTENSION = {".ics": ICS, ".ical": ICS, ".csv": CSV, ".txt": CSV}


class Command(FrontDeskImport):
    help = "Import a booking system's export of appointments (calendar .ics or mapped CSV)."

    def add_arguments(self, parser):
        parser.add_argument("org", metavar="ORG", help="Organisation address name (slug).")
        parser.add_argument(
            "file", metavar="FILE", help="The .ics or .csv export; - for standard input."
        )
        parser.add_argument(
            "--format",
            dest="fmt",
            metavar="FORMAT",
            help="ics or csv (default: from the file's extension).",
        )
        parser.add_argument(
            "--mapping",
            metavar="MAPPING.yaml",
            help="Column mapping of a csv export (required), or the sites and services "
            "tables of a calendar (optional).",
        )
        parser.add_argument(
            "--site",
            metavar="SITE",
            help="Code of the site of the appointments that do not name one.",
        )
        parser.add_argument(
            "--service",
            metavar="SERVICE",
            help="Code of the service of the appointments that do not name one.",
        )
        parser.add_argument(
            "--max-bad-share",
            type=float,
            default=None,
            metavar="SHARE",
            help="Refuse the file above this share of bad lines (default: the mapping's "
            "max_bad_share, else 0.05).",
        )

    def handle(self, *args, org, file, fmt, mapping, site, service, max_bad_share, **options):
        organisation = organisation_named(org)
        fmt = self.format_of(file, fmt)
        if max_bad_share is not None and not 0 <= max_bad_share <= 1:
            raise CommandError(_("--max-bad-share must lie between 0 and 1."))
        mapping_text = self.read_text(mapping) if mapping else ""
        if fmt == CSV and not mapping_text.strip():
            raise CommandError(_("The csv format needs a column mapping: --mapping FILE."))
        lookup = Lookup(
            organisation,
            default_site=self.site_named(organisation, site),
            default_service=self.service_named(organisation, service),
        )
        # What the import page does (`appointment_views._items`): the mapping is checked
        # whole before the file is read.
        try:
            if fmt == ICS:
                tables = appointment_ics.load_tables(mapping_text)
            else:
                csv_mapping = load_mapping(
                    mapping_text, appointment_import.SPEC, default_timezone=organisation.time_zone
                )
        except MappingError as error:
            raise self.mapping_refused(mapping, error) from None
        with self.open(file) as stream:
            if fmt == ICS:
                items = appointment_ics.read_events(
                    stream.read(), lookup, tables, organisation.zone
                )
                share = max_bad_share
            else:
                items = appointment_import.csv_items(stream, csv_mapping, lookup)
                share = max_bad_share if max_bad_share is not None else csv_mapping.max_bad_share
            options = {"max_bad_share": share} if share is not None else {}
            report = appointment_services.import_appointments(
                organisation,
                items,
                actor=None,
                file_name=self.file_name(file),
                file_format=fmt,
                mapping_text=mapping_text,
                **options,
            )
        self.finish(report)

    def format_of(self, path: str, fmt: str | None) -> str:
        if fmt:
            if fmt not in FORMATS:
                raise CommandError(
                    _("Unknown format “%(format)s”: expected one of %(formats)s.")
                    % {"format": fmt, "formats": ", ".join(FORMATS)}
                )
            return fmt
        if path == "-":
            raise CommandError(_("Give the format of standard input: --format ics or csv."))
        guessed = FORMAT_OF_EXTENSION.get(Path(path).suffix.casefold())
        if guessed is None:
            raise CommandError(
                _("The extension of %(file)s does not tell its format: give --format ics or csv.")
                % {"file": path}
            )
        return guessed

    def service_named(self, organisation, code: str | None):
        if not code:
            return None
        services = Service.objects.filter(organisation=organisation)
        service = services.filter(code=code).first()
        if service is None:
            known = ", ".join(services.order_by("code").values_list("code", flat=True))
            raise CommandError(
                _("No service has the code “%(service)s” (known: %(known)s).")
                % {"service": code, "known": known or _("none")}
            )
        return service

    def figures(self, report: ImportReport) -> list[tuple[str, int]]:
        figures = super().figures(report)
        figures.insert(4, (_("Cancelled"), report.cancelled))
        if report.skipped_count:
            # All-day and recurring events of a calendar: listed, not counted as bad lines.
            figures.append(
                (_("among them, events ignored (not appointments)"), report.skipped_count)
            )
        return figures
