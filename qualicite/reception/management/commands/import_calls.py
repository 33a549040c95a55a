"""`qualicite import-calls`: import a file of phone-system logs from the command line.

qualicite import-calls ORG FILE --format asterisk-queue-log|wazo-queue-log-csv|
                                asterisk-cdr-csv|csv [--mapping MAPPING.yaml] [--site SITE]
                                [--progress | --no-progress] [--max-bad-share 0.05]

The file is imported whole or not at all, exactly as an upload on the "Phone-system logs"
page (`reception.services.import_calls`): importing it again changes nothing, and the calls
the previous file of the same format and site left open are completed by this one. FILE "-"
reads standard input. A progress bar is drawn on standard error when it is a terminal (or
with --progress); the report is printed at the end.

Exit status: 0 when the file was imported; 1 when it was refused (empty, wrong format, too
many malformed lines, a wrong mapping) or failed, or when an argument is wrong (unknown
organisation, site or format, a file that cannot be read); 2 for a usage error (a missing
argument), as for every command.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from qualicite.core.commands import binary_input, organisation_named
from qualicite.core.models import Site
from qualicite.reception import queries, services
from qualicite.reception.models import CallFormat, ImportStatus

# Rejected lines and warnings printed at the end (the report keeps more, all are counted).
SHOWN_PROBLEMS = 20


class ProgressBar:
    """A one-line bar redrawn on a terminal: percent of the bytes, lines, lines per second."""

    WIDTH = 30

    def __init__(self, stream, total: int):
        self.stream = stream
        self.total = total
        self.began = time.monotonic()

    def __call__(self, bytes_read: int, lines_read: int) -> None:
        elapsed = max(time.monotonic() - self.began, 1e-6)
        share = bytes_read / self.total if self.total else 0.0
        done = int(share * self.WIDTH)
        bar = "#" * done + "." * (self.WIDTH - done)
        rate = lines_read / elapsed
        self.stream.write(
            f"\r[{bar}] {share:4.0%}  {lines_read:,} lines  {rate:,.0f} lines/s".replace(",", " ")
        )
        self.stream.flush()

    def close(self) -> None:
        self.stream.write("\n")
        self.stream.flush()


class Command(BaseCommand):
    help = "Import a file of phone-system logs (queue_log, Wazo, CDR or mapped CSV)."

    def add_arguments(self, parser):
        parser.add_argument("org", metavar="ORG", help="Organisation address name (slug).")
        parser.add_argument("file", metavar="FILE", help="The log file; - for standard input.")
        parser.add_argument(
            "--format",
            dest="fmt",
            required=True,
            metavar="FORMAT",
            help="One of: " + ", ".join(CallFormat.values) + ".",
        )
        parser.add_argument(
            "--mapping", metavar="MAPPING.yaml", help="Column mapping of a csv export."
        )
        parser.add_argument(
            "--site", metavar="SITE", help="Code of the site of the queues not mapped yet."
        )
        parser.add_argument(
            "--progress",
            action="store_true",
            default=None,
            help="Draw the progress bar even when standard error is not a terminal.",
        )
        parser.add_argument(
            "--no-progress", dest="progress", action="store_false", help="Never draw it."
        )
        parser.add_argument(
            "--max-bad-share",
            type=float,
            default=None,
            metavar="SHARE",
            help="Refuse the file above this share of malformed lines (default 0.05).",
        )

    def handle(self, *args, org, file, fmt, mapping, site, progress, max_bad_share, **options):
        organisation = organisation_named(org)
        if fmt not in CallFormat.values:
            raise CommandError(
                _("Unknown format “%(format)s”: expected one of %(formats)s.")
                % {"format": fmt, "formats": ", ".join(CallFormat.values)}
            )
        if max_bad_share is not None and not 0 <= max_bad_share <= 1:
            raise CommandError(_("--max-bad-share must lie between 0 and 1."))
        mapping_text = ""
        if mapping:
            mapping_text = self.read_text(mapping)
        if fmt == CallFormat.CSV and not mapping_text:
            raise CommandError(_("The csv format needs a column mapping: --mapping FILE."))
        if fmt != CallFormat.CSV and mapping_text:
            raise CommandError(_("--mapping is only used with --format csv."))
        chosen_site = None
        if site:
            chosen_site = Site.objects.filter(organisation=organisation, code=site).first()
            if chosen_site is None:
                known = ", ".join(organisation.site_set.values_list("code", flat=True))
                raise CommandError(
                    _("No site has the code “%(site)s” (known: %(known)s).")
                    % {"site": site, "known": known or _("none")}
                )
        stderr = getattr(self.stderr, "_out", sys.stderr)
        if progress is None:
            progress = stderr.isatty()
        with self.open(file) as stream:
            bar = ProgressBar(stderr, services._size_of(stream)) if progress else None
            call_import = services.import_calls(
                organisation,
                stream,
                actor=None,
                fmt=fmt,
                file_name=Path(file).name if file != "-" else "stdin",
                mapping_text=mapping_text,
                site=chosen_site,
                progress=bar,
                max_bad_share=max_bad_share,
            )
            if bar is not None:
                bar.close()
        self.print_report(call_import)
        if call_import.status == ImportStatus.REFUSED:
            raise CommandError(
                _("Refused, nothing imported: %(reason)s")
                % {"reason": queries.refusal_message(call_import)}
            )
        if call_import.status != ImportStatus.DONE:
            raise CommandError(
                _("The import failed, nothing imported: %(error)s")
                % {"error": (call_import.report or {}).get("failure", "")}
            )

    def read_text(self, path: str) -> str:
        try:
            return Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise CommandError(
                _("Cannot read %(file)s: %(error)s.") % {"file": path, "error": error}
            ) from None

    def open(self, path: str):
        """The file as a binary stream in a `with`; standard input for "-" (left open)."""
        return binary_input(path)

    def print_report(self, call_import) -> None:
        report = call_import.report or {}
        write = self.stdout.write
        write(
            _("%(file)s: %(status)s")
            % {"file": call_import.file_name, "status": call_import.get_status_display()}
        )
        figures = [
            (_("lines read"), call_import.lines_read),
            (_("new calls"), call_import.calls_created),
            (_("calls completed (begun in an earlier file)"), call_import.calls_completed),
            (_("calls already imported"), call_import.calls_unchanged),
            (_("calls still open (for the next file)"), report.get("calls_carried", 0)),
            (_("duplicate lines ignored"), report.get("duplicates", 0)),
            (_("lines rejected"), call_import.lines_rejected),
            (_("warnings"), report.get("warnings_count", 0)),
        ]
        for label, value in figures:
            write(f"  {label}: {value}")
        for kind, title in (("rejected", _("rejected")), ("warnings", _("warning"))):
            problems = queries.report_problems(call_import, kind)
            for problem in problems[:SHOWN_PROBLEMS]:
                where = _("line %(line)s") % {"line": problem.line} if problem.line else "—"
                write(f"  {title} {where}: {problem.message}")
