from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from qualicite.demo.loader import DEMO_PASSWORD, build_demo
from qualicite.demo.towns import TOWNS
from qualicite.requests.models import Delivery, Request


class Command(BaseCommand):
    help = (
        "Create (or refresh) the demo towns, their users and a year of requests, then print "
        "the logins."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--scale", type=int, default=1, help="Agents per service in scope (default 1)."
        )
        parser.add_argument("--seed", type=int, default=2026, help="Seed of the generator.")

    def handle(self, *args, scale, seed, **options):
        if scale < 1:
            raise CommandError("--scale must be 1 or more.")
        logins = build_demo(scale=scale, seed=seed)
        self.stdout.write(self.style.SUCCESS(_("Demo towns are ready.")))
        self.stdout.write(
            _("Password for every demo login: %(password)s") % {"password": DEMO_PASSWORD} + "\n"
        )
        current = None
        for login in logins:
            if login.organisation != current:
                current = login.organisation
                self.stdout.write(f"\n{current}")
            scope = (
                " "
                + _("(restricted to: %(services)s)") % {"services": ", ".join(login.restricted_to)}
                if login.restricted_to
                else ""
            )
            self.stdout.write(f"  {login.username:<24} {login.role}{scope}")
        self.stdout.write("")
        for town in TOWNS:
            self.stdout.write(
                _("%(town)s: %(requests)s requests and %(deliveries)s deliveries over a year.")
                % {
                    "town": town["name"],
                    "requests": Request.objects.filter(organisation__slug=town["slug"]).count(),
                    "deliveries": Delivery.objects.filter(organisation__slug=town["slug"]).count(),
                }
            )
