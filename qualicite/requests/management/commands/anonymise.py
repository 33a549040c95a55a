from django.core.management.base import BaseCommand
from django.utils import timezone

from qualicite.core.commands import organisation_named
from qualicite.core.models import Organisation
from qualicite.requests import privacy


class Command(BaseCommand):
    help = (
        "Erase the personal data of closed requests kept longer than the retention of their "
        "kind (RGPD). `tick` does it every minute; this command does it at once, or with "
        "--dry-run says how many requests would be anonymised."
    )

    def add_arguments(self, parser):
        parser.add_argument("organisation", nargs="?", help="Address name (slug); default: all.")
        parser.add_argument(
            "--dry-run", action="store_true", help="Count the requests, change nothing."
        )

    def handle(self, *args, organisation=None, dry_run=False, **options):
        if organisation is not None:
            organisations = [organisation_named(organisation)]
        else:
            organisations = list(Organisation.objects.order_by("name"))
        now = timezone.now()
        total = 0
        for found in organisations:
            rows = privacy.retention_overview(found, now)
            due = sum(row.expired for row in rows)
            detail = ", ".join(f"{row.kind} {row.expired}" for row in rows if row.expired)
            if dry_run:
                self.stdout.write(
                    f"{found.slug}: {due} request(s) would be anonymised"
                    + (f" ({detail})" if detail else "")
                )
                total += due
                continue
            done = privacy.anonymise_expired(now, found)
            self.stdout.write(
                f"{found.slug}: {done} request(s) anonymised" + (f" ({detail})" if detail else "")
            )
            total += done
        verb = "would be anonymised" if dry_run else "anonymised"
        self.stdout.write(f"total: {total} request(s) {verb}")
