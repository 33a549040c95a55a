"""The demo towns' indicators: values entered by hand, published results, alerts.

After the year of requests (requests_year), each town gets what its quality manager would
have done over the same year — the values of the référentiel's indicators measured by hand
(cleanliness checks, signage audits, errors in civil-status acts…) entered period after
period, a few indicators published on the public results page with someone responsible for
them — then its daily roll-ups are rebuilt, so that the dashboard is filled at once, and the
alerts of the last closed periods are raised. The busy month of requests_year being the last
closed one, those alerts are there to see as soon as the demo is loaded.

Everything goes through the domain services (`indicators.services.enter_value`,
`charter.services.update_indicator`, `indicators.alerts.raise_alerts`), and running it again
adds nothing: a period that has its value keeps it, an alert is raised once.
"""

import math
import random
from datetime import date, timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.test.utils import override_settings

from qualicite.charter import services as charter_services
from qualicite.charter.models import Indicator, SourceKind, Unit
from qualicite.core.models import Organisation, Role
from qualicite.demo.towns import ROLE_LOGIN_WORDS
from qualicite.indicators import alerts, periods, rollups
from qualicite.indicators import services as indicator_services
from qualicite.indicators.models import ManualValue

# How many items a check counts, per indicator entered by hand (shares): signage points,
# cleanliness checks, agents trained… An indicator not listed counts DEFAULT_COUNT.
DEFAULT_COUNT = 20
# The demo's people have addresses under .invalid: the alerts' e-mails go nowhere, as the
# year's acknowledgements were never sent either, whatever mail server the site has.
NO_MAIL = "django.core.mail.backends.dummy.EmailBackend"


def _member(organisation: Organisation, role: str):
    """The demo login of `role` (loader.build_town made one per role)."""
    username = f"{organisation.slug}-{ROLE_LOGIN_WORDS[role]}"
    return get_user_model().objects.get(username=username)


def _periods(kind: str, first_day: date, today: date) -> list[periods.Period]:
    """The periods of `kind` closed before `today` that end within the demo year."""
    found = []
    period = periods.last_closed(kind, today)
    while period.end >= first_day:
        found.append(period)
        period = period.previous()
    return found[::-1]


def _figures(indicator: Indicator, setup: dict, rng: random.Random, *, slipped: bool):
    """(value, numerator, denominator) of one period: the target met, or just missed."""
    target = indicator.target if indicator.target is not None else Decimal(100)
    if indicator.unit != Unit.PERCENT:
        # A count (steering committees held, report published): the target.
        return target, None, None
    total = setup.get("counts", {}).get(indicator.code, DEFAULT_COUNT)
    needed = math.ceil(target * total / 100)  # the fewest items that meet the target
    if slipped and indicator.warning_threshold is not None:
        # In the warning band: below the target, not below the threshold.
        floor = math.ceil(indicator.warning_threshold * total / 100)
        numerator = max(floor, needed - 1 - rng.randrange(2))
    else:
        numerator = needed + rng.randint(0, total - needed)
    return None, numerator, total


def enter_values(organisation: Organisation, setup: dict, *, actor, seed: int, today: date):
    """A value for each closed period of the year, for each indicator entered by hand."""
    first_day = today - timedelta(days=365)
    busy = periods.last_closed("month", today)
    manual = Indicator.objects.filter(
        organisation=organisation, source_kind=SourceKind.MANUAL
    ).order_by("pk")
    entered = set(
        ManualValue.objects.filter(organisation=organisation).values_list(
            "indicator_id", "period_start"
        )
    )
    for indicator in manual:
        rng = random.Random(f"{seed}:{organisation.slug}:{indicator.code}")
        for period in _periods(indicator.period, first_day, today):
            slipped = indicator.code in setup.get("slipping", ()) and period == busy
            value, numerator, denominator = _figures(indicator, setup, rng, slipped=slipped)
            if (indicator.pk, period.start) in entered:
                continue
            indicator_services.enter_value(
                indicator,
                actor=actor,
                period_start=period.start,
                value=value,
                numerator=numerator,
                denominator=denominator,
                today=today,
            )


def publish(organisation: Organisation, setup: dict, *, actor) -> None:
    """Publish the results the town shows its citizens; name who answers for some."""
    indicators = {i.code: i for i in Indicator.objects.filter(organisation=organisation)}
    for code in setup.get("published", ()):
        charter_services.update_indicator(indicators[code], actor=actor, results_published=True)
    for code, role in setup.get("owners", {}).items():
        owner = _member(organisation, role)
        charter_services.update_indicator(indicators[code], actor=actor, owner=owner)


def build_indicators(organisation: Organisation, setup: dict, *, seed: int, today: date) -> None:
    # Closed periods may only be entered by a quality manager: the demo's enters them all.
    manager = _member(organisation, Role.QUALITY_MANAGER)
    enter_values(organisation, setup, actor=manager, seed=seed, today=today)
    publish(organisation, setup, actor=manager)
    # The requests were written in bulk, without the signals that mark days to roll up.
    rollups.rebuild(organisation)
    with override_settings(EMAIL_BACKEND=NO_MAIL):
        alerts.raise_alerts(organisation, today=today)
