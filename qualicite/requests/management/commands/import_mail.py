"""`qualicite import_mail ORG FILE`: record the messages of a .eml or mbox file as requests.

Each message is converted as the mailbox reader does (qualicite.requests.mail); a message
already recorded (same Message-ID) is reported as known, so importing a file twice changes
nothing. Messages are independent: one that is refused does not stop the others.
"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from qualicite.core.commands import organisation_named
from qualicite.core.models import Service
from qualicite.requests import mail
from qualicite.requests.models import Mailbox


class Command(BaseCommand):
    help = "Record the messages of a .eml file or an mbox file as e-mail requests."

    def add_arguments(self, parser):
        parser.add_argument("org", metavar="ORG", help="Organisation address name (slug).")
        parser.add_argument("file", metavar="FILE", help="A .eml file or an mbox file.")
        parser.add_argument(
            "--service",
            metavar="CODE",
            help="Code of the service given to the new requests (default: the mailbox's).",
        )

    def handle(self, *args, org, file, service=None, **options):
        organisation = organisation_named(org)
        target = self.service(organisation, service)
        path = Path(file)
        if not path.is_file():
            raise CommandError(_("Cannot read %(file)s.") % {"file": file})
        counts = dict.fromkeys((mail.IMPORTED, mail.KNOWN, mail.SKIPPED, mail.REFUSED), 0)
        try:
            for number, raw in enumerate(mail.read_mail_file(path), 1):
                outcome = mail.record_message(organisation, raw, service=target)
                counts[outcome.status] += 1
                self.report(number, outcome)
        except OSError as error:
            raise CommandError(
                _("Cannot read %(file)s: %(error)s.") % {"file": file, "error": error}
            ) from None
        self.stdout.write(
            _(
                "%(imported)s imported, %(known)s already known, "
                "%(skipped)s automatic set aside, %(refused)s refused."
            )
            % counts
        )
        if counts[mail.REFUSED]:
            raise CommandError(
                _("%(count)s message(s) refused: see the reasons above.")
                % {"count": counts[mail.REFUSED]}
            )

    @staticmethod
    def service(organisation, code):
        if code:
            found = Service.objects.filter(organisation=organisation, code=code).first()
            if found is None:
                raise CommandError(_("No service has the code “%(code)s”.") % {"code": code})
            return found
        mailbox = Mailbox.objects.filter(organisation=organisation).first()
        return mailbox.default_service if mailbox is not None else None

    def report(self, number: int, outcome) -> None:
        subject = outcome.subject or outcome.message_id
        if outcome.status == mail.IMPORTED:
            line = _("Message %(number)s imported as %(code)s: %(subject)s")
        elif outcome.status == mail.KNOWN:
            line = _("Message %(number)s already known as %(code)s: %(subject)s")
        elif outcome.status == mail.SKIPPED:
            line = _("Message %(number)s set aside (%(reason)s): %(subject)s")
        else:
            line = _("Message %(number)s refused (%(reason)s): %(subject)s")
        code = outcome.request.display_code if outcome.request is not None else ""
        text = line % {
            "number": number,
            "code": code,
            "subject": subject,
            "reason": outcome.reason,
        }
        (self.stderr if outcome.status == mail.REFUSED else self.stdout).write(text)
