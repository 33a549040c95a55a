"""`qualicite serve`: the embedded set-up — web server, background worker and tick together."""

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _


def _interrupt(signum, frame):
    raise KeyboardInterrupt


class Command(BaseCommand):
    help = "Serve Qualicité with its background worker and the periodic tick. Ctrl-C stops all."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--workers", type=int, default=2, help="Web server processes.")

    def handle(self, *args, host, port, workers, **options):
        qualicite = [sys.executable, "-m", "qualicite"]
        children = {
            "web": [
                sys.executable,
                "-m",
                "gunicorn",
                "qualicite.wsgi:application",
                "--bind",
                f"{host}:{port}",
                "--workers",
                str(workers),
                "--threads",
                "4",
                "--access-logfile",
                "-" if options["verbosity"] > 1 else "/dev/null",
                "--log-level",
                "warning",
                # Finish requests in flight, but never hold up a stop for long.
                "--graceful-timeout",
                "5",
            ],
            "worker": [*qualicite, "worker"],
            "tick": [*qualicite, "tick", "--every", str(settings.QUALICITE_TICK_SECONDS)],
        }
        # Links in e-mails point at this server unless the deployment says otherwise.
        os.environ.setdefault("QUALICITE_BASE_URL", f"http://{host}:{port}")
        # Each child leads its own process group, so that a child which does not stop in
        # time is killed with everything it started (gunicorn's workers hold our output).
        processes = {
            name: subprocess.Popen(command, start_new_session=True)
            for name, command in children.items()
        }
        self.stdout.write(
            self.style.SUCCESS(
                _("Qualicité is served on %(url)s") % {"url": f"http://{host}:{port}/"}
            )
            + "\n"
            + _("(web server, background worker and tick are running; Ctrl-C stops all three)")
        )
        # SIGTERM (systemd, docker) stops as cleanly as Ctrl-C.
        signal.signal(signal.SIGTERM, _interrupt)
        exit_code = 0
        try:
            while True:
                for name, process in processes.items():
                    if process.poll() is not None:
                        self.stderr.write(
                            f"serve: the {name} process stopped ({process.returncode})"
                        )
                        exit_code = process.returncode or 1
                        raise KeyboardInterrupt
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            self.stop(processes)
        if exit_code:
            sys.exit(exit_code)

    def stop(self, processes):
        for process in processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        for process in processes.values():
            remaining = max(0.1, deadline - time.monotonic())
            try:
                process.wait(remaining)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self.stdout.write(_("Qualicité stopped."))
