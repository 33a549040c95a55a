import signal
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections

from qualicite.core.tick import run_tick


class Command(BaseCommand):
    help = (
        "Run the periodic jobs once (reminders, escalations, mailbox polling, roll-ups, "
        "retention). Idempotent: run it every minute from cron or a systemd timer."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--every",
            type=int,
            metavar="SECONDS",
            help="Keep running, once every SECONDS (used by `qualicite serve`).",
        )

    def handle(self, *args, every=None, **options):
        if every is None:
            if not self.run_once(options["verbosity"]):
                raise CommandError("at least one tick job failed (see above)")
            return
        stopping = []
        signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
        interval = every or settings.QUALICITE_TICK_SECONDS
        try:
            while not stopping:
                started = time.monotonic()
                self.run_once(options["verbosity"])
                close_old_connections()
                while not stopping and time.monotonic() - started < interval:
                    time.sleep(0.5)
        except KeyboardInterrupt:
            pass

    def run_once(self, verbosity: int) -> bool:
        all_ok = True
        for outcome in run_tick():
            all_ok &= outcome.ok
            if not outcome.ok:
                self.stderr.write(f"tick: {outcome.name} failed: {outcome.summary}")
            elif verbosity > 1 or (verbosity > 0 and outcome.summary):
                summary = outcome.summary or "nothing to do"
                self.stdout.write(f"tick: {outcome.name}: {summary} ({outcome.seconds:.2f} s)")
        return all_ok
