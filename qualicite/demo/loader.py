"""Builds the demo towns through the domain services, deterministically (seeded).

Running it again changes nothing but the demo passwords, which are reset so the
printed logins always work. Each town also gets its request configuration and a
year of requests (qualicite.demo.requests_year), made once: a town that already has
requests keeps them; a year of phone calls (monthly queue_logs imported by
`import-calls`), desk visits and appointments (qualicite.demo.reception_demo), made once
too; then the values of its indicators measured by hand, its published results, its
roll-ups and its alerts (qualicite.demo.indicators_demo).
"""

import random
from dataclasses import dataclass
from datetime import date

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone, translation

from qualicite.charter import services as charter_services
from qualicite.core import services as core_services
from qualicite.core.models import Organisation, Role
from qualicite.demo import indicators_demo, reception_demo, requests_year
from qualicite.demo.towns import (
    FIRST_NAMES,
    INDICATOR_SETUPS,
    LAST_NAMES,
    RECEPTION_SETUPS,
    REQUEST_SETUPS,
    ROLE_LOGIN_WORDS,
    TOWNS,
)

DEMO_PASSWORD = "qualicite-demo"


@dataclass
class DemoLogin:
    organisation: str
    username: str
    role: str
    restricted_to: list[str]


def _person(rng: random.Random) -> tuple[str, str]:
    return rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)


def _user(username: str, first_name: str, last_name: str, *, is_staff: bool):
    user, _ = get_user_model().objects.update_or_create(
        username=username,
        defaults={
            "first_name": first_name,
            "last_name": last_name,
            "email": f"{username}@demo.qualicite.invalid",
            "is_staff": is_staff,
            "is_active": True,
        },
    )
    user.set_password(DEMO_PASSWORD)
    user.save(update_fields=["password"])
    return user


@transaction.atomic
def build_town(
    town: dict, *, scale: int, rng: random.Random, seed: int, today: date
) -> list[DemoLogin]:
    organisation = Organisation.objects.filter(slug=town["slug"]).first()
    if organisation is None:
        organisation = core_services.create_organisation(
            actor=None,
            name=town["name"],
            slug=town["slug"],
            insee_code=town["insee_code"],
            holiday_region=town["holiday_region"],
            primary_colour=town["primary_colour"],
        )
        by_code = {}
        for position, (code, name, parent, in_scope) in enumerate(town["services"]):
            by_code[code] = core_services.create_service(
                organisation,
                actor=None,
                code=code,
                name=name,
                parent=by_code.get(parent),
                in_scope=in_scope,
                position=position,
            )
        for site in town["sites"]:
            created = core_services.create_site(
                organisation,
                actor=None,
                code=site["code"],
                name=site["name"],
                address=site["address"],
                phone=site.get("phone", ""),
                services=[by_code[code] for code in site["services"]],
                opening_hours=site["hours"],
            )
            for start, end, reason in site["closures"]:
                core_services.add_site_closure(
                    created, actor=None, start_date=start, end_date=end, reason=reason
                )
        for template in town["templates"]:
            charter_services.adopt_template(organisation, template, actor=None)

    services_by_code = {s.code: s for s in organisation.service_set.all()}
    logins = []
    for role, restricted in town["roles"].items():
        username = f"{town['slug']}-{ROLE_LOGIN_WORDS[role]}"
        user = _user(username, *_person(rng), is_staff=role == Role.ADMINISTRATOR)
        core_services.grant_membership(
            organisation,
            actor=None,
            user=user,
            role=role,
            services=[services_by_code[code] for code in restricted],
        )
        logins.append(DemoLogin(organisation.name, username, str(Role(role).label), restricted))
    # --scale: more agents, one per in-scope service and scale step (for load tests).
    for step in range(2, scale + 1):
        for code, service in services_by_code.items():
            if not service.in_scope:
                continue
            user = _user(f"{town['slug']}-agent-{code}-{step}", *_person(rng), is_staff=False)
            core_services.grant_membership(
                organisation, actor=None, user=user, role=Role.AGENT, services=[service]
            )
    # Texts written into requests (reply subjects…) are in the platform's language.
    with translation.override(settings.LANGUAGE_CODE):
        requests_year.build_year(organisation, REQUEST_SETUPS[town["slug"]], seed=seed, today=today)
        # Before the indicators: their roll-ups and alerts count the calls, visits, appointments.
        reception_demo.build_reception(
            organisation,
            RECEPTION_SETUPS[town["slug"]],
            seed=seed,
            today=today,
            busy=REQUEST_SETUPS[town["slug"]].get("busy", {}),
        )
        indicators_demo.build_indicators(
            organisation, INDICATOR_SETUPS[town["slug"]], seed=seed, today=today
        )
    return logins


def build_demo(*, scale: int = 1, seed: int = 2026, today: date | None = None) -> list[DemoLogin]:
    """The towns, their users and a year of requests ending yesterday (or before `today`)."""
    rng = random.Random(seed)
    today = today or timezone.localdate()
    logins = []
    for town in TOWNS:
        logins.extend(build_town(town, scale=scale, rng=rng, seed=seed, today=today))
    return logins
