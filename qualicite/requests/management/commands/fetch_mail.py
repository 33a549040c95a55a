"""`qualicite fetch_mail [ORG]`: read the IMAP mailboxes now (`qualicite tick` does it too)."""

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from qualicite.core.commands import organisation_named
from qualicite.requests import mail
from qualicite.requests.models import Mailbox


class Command(BaseCommand):
    help = (
        "Turn the new messages of the IMAP mailboxes into requests and move them to the "
        "folder for processed messages. Without ORG, every active mailbox is read."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "org",
            nargs="?",
            metavar="ORG",
            help="Organisation address name (slug); its mailbox is read even when not active.",
        )

    def handle(self, *args, org=None, **options):
        if org is None:
            mailboxes = list(mail.active_mailboxes())
        else:
            organisation = organisation_named(org)
            mailboxes = list(Mailbox.objects.filter(organisation=organisation))
            if not mailboxes:
                raise CommandError(
                    _("%(org)s has no mailbox: add one in the administration.") % {"org": org}
                )
        failing = 0
        for mailbox in mailboxes:
            report = mail.fetch_mailbox(mailbox)
            line = _(
                "%(org)s, %(mailbox)s: %(imported)s imported, %(known)s already known, "
                "%(skipped)s automatic set aside, %(refused)s refused"
            ) % {
                "org": mailbox.organisation.slug,
                "mailbox": mailbox,
                "imported": report.imported,
                "known": report.known,
                "skipped": report.skipped,
                "refused": report.refused,
            }
            self.stdout.write(line)
            if report.error:
                failing += 1
                self.stderr.write(
                    _("%(mailbox)s cannot be read: %(error)s")
                    % {"mailbox": mailbox, "error": report.error}
                )
        if failing:
            raise CommandError(_("%(count)s mailbox(es) could not be read.") % {"count": failing})
