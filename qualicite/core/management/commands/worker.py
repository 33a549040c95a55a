from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Run the background worker (the Django Tasks database backend)."

    def add_arguments(self, parser):
        parser.add_argument("--batch", action="store_true", help="Run what is queued, then exit.")
        parser.add_argument("--interval", type=float, default=1.0)

    def handle(self, *args, batch, interval, **options):
        worker_options = {"queue_name": "*", "interval": interval, "reload": False}
        if batch:
            worker_options["batch"] = True
        call_command("db_worker", **worker_options, verbosity=options["verbosity"])
