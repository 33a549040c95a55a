"""`qualicite referentiel …`: export, import, list and adopt référentiel templates.

qualicite referentiel export ORG FILE.yaml     (FILE “-” writes to standard output)
qualicite referentiel import ORG FILE.yaml     (FILE “-” reads standard input)
qualicite referentiel templates
qualicite referentiel adopt ORG TEMPLATE
"""

import sys
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from qualicite.charter import services, templates_catalogue, yaml_io
from qualicite.core.commands import organisation_named
from qualicite.core.models import Organisation


class Command(BaseCommand):
    help = "Export, import and adopt an organisation's référentiel (commitments, indicators)."

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        export = actions.add_parser(
            "export", help="Write the référentiel as YAML.", description="Write the référentiel."
        )
        export.add_argument("org", metavar="ORG", help="Organisation address name (slug).")
        export.add_argument("file", metavar="FILE", help="YAML file to write; - for stdout.")
        load = actions.add_parser(
            "import",
            help="Replace the référentiel by a YAML file's, or change nothing.",
            description="Replace the référentiel by a file's; an invalid file changes nothing.",
        )
        load.add_argument("org", metavar="ORG", help="Organisation address name (slug).")
        load.add_argument("file", metavar="FILE", help="YAML file to read; - for stdin.")
        actions.add_parser("templates", help="List the built-in templates.")
        adopt = actions.add_parser("adopt", help="Add a built-in template to the référentiel.")
        adopt.add_argument("org", metavar="ORG", help="Organisation address name (slug).")
        adopt.add_argument("template", metavar="TEMPLATE", help="Template key (see templates).")

    def handle(self, *args, action, **options):
        return getattr(self, f"do_{action}")(**options)

    @staticmethod
    def organisation(slug: str) -> Organisation:
        return organisation_named(slug)

    def do_export(self, *, org, file, **options):
        text = yaml_io.export_referentiel(self.organisation(org))
        if file == "-":
            self.stdout.write(text, ending="")
            return
        try:
            Path(file).write_text(text, encoding="utf-8")
        except OSError as error:
            raise CommandError(
                _("Cannot write %(file)s: %(error)s.") % {"file": file, "error": error.strerror}
            ) from None
        self.stdout.write(
            _("Référentiel of %(org)s written to %(file)s.") % {"org": org, "file": file}
        )

    def do_import(self, *, org, file, **options):
        organisation = self.organisation(org)
        if file == "-":
            data = sys.stdin.buffer.read() if hasattr(sys.stdin, "buffer") else sys.stdin.read()
        else:
            try:
                data = Path(file).read_bytes()
            except OSError as error:
                raise CommandError(
                    _("Cannot read %(file)s: %(error)s.") % {"file": file, "error": error.strerror}
                ) from None
        try:
            summary = services.import_referentiel(organisation, data, actor=None)
        except yaml_io.InvalidReferentiel as error:
            for problem in error.problems:
                where = f"{file}:{problem.line}" if problem.line else file
                self.stderr.write(f"{where}: {problem.message}")
            raise CommandError(
                _("%(count)s problem(s) in %(file)s; nothing was imported.")
                % {"count": len(error.problems), "file": file},
                returncode=1,
            ) from None
        self.stdout.write(
            _("Référentiel of %(org)s imported from %(file)s: %(summary)s")
            % {"org": org, "file": file, "summary": summary}
        )
        for label, counts in summary.as_dict().items():
            for kind, count in counts.items():
                self.stdout.write(f"  {label} {kind.replace('_', ' ')}s: {count}")

    def do_templates(self, **options):
        for template in templates_catalogue.TEMPLATES:
            self.stdout.write(f"{template.key}\t{template.name}")
            self.stdout.write(f"\t{template.description}")

    def do_adopt(self, *, org, template, **options):
        organisation = self.organisation(org)
        try:
            adopted = services.adopt_template(organisation, template, actor=None)
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        for programme in adopted:
            count = programme.commitments.count()
            self.stdout.write(
                _(
                    "Adopted “%(template)s” in %(org)s: programme “%(name)s” (%(key)s), "
                    "%(count)s commitments."
                )
                % {
                    "template": template,
                    "org": org,
                    "name": programme.name,
                    "key": programme.key,
                    "count": count,
                }
            )
