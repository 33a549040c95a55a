"""An experiment for bench/indicators_scale.py: every request indicator from three scans.

`rollups.rebuild` computes each indicator by its own grouped query over the requests: twelve
indicators read the whole history twelve times. Here the same day rows come from three
grouped scans — per day of receipt, per day of the answer, and the answer delays — with the
indicators' filters (channels, kinds) turned into grouping columns, then each indicator's rows
are summed in Python. The bench times it beside the real rebuild and checks that it gives
exactly the roll-ups the rebuild wrote; nothing here is used by the application.
"""

import time
from collections import defaultdict

from django.db.models import Case, Count, IntegerField, Q, Value, When

THANKS, COMPLAINT, OTHER = 0, 1, 2


def _kind_class():
    return Case(
        When(kind="thanks", then=Value(THANKS)),
        When(kind="complaint", then=Value(COMPLAINT)),
        default=Value(OTHER),
        output_field=IntegerField(),
    )


def _atoms(channel_sets: list[frozenset]) -> tuple[dict, Case]:
    """Channels that no indicator tells apart share an atom: {channel: atom}, its CASE."""
    from qualicite.core.choices import Channel

    signature = {c: tuple(c in s for s in channel_sets) for c in Channel.values}
    numbers: dict[tuple, int] = {}
    atom = {c: numbers.setdefault(sig, len(numbers)) for c, sig in signature.items()}
    case = Case(
        *[When(channel=c, then=Value(n)) for c, n in atom.items()],
        default=Value(-1),
        output_field=IntegerField(),
    )
    return atom, case


def compute_all(organisation) -> dict[int, list]:
    """{indicator id: [Row]} of every request indicator over the whole history."""
    from qualicite.indicators import rollups, sources
    from qualicite.indicators.sources_requests import ACKNOWLEDGED_IN_TIME, IN_TIME, REQUESTS
    from qualicite.indicators.sql import local_date
    from qualicite.requests.models import Request

    indicators = rollups.computed_indicators(organisation, family=REQUESTS)
    start = rollups.history_start(organisation, indicators)
    end = rollups.today(organisation)
    scope = sources.Scope(organisation=organisation, indicator=indicators[0], start=start, end=end)
    zone, low, high = scope.zone, scope.start_utc, scope.end_utc
    wanted = {}
    for indicator in indicators:
        scope.indicator = indicator
        wanted[indicator.pk] = (
            frozenset(scope.channels) if scope.channels else None,
            sources.service_scope(indicator),
        )
    atom, atom_case = _atoms(sorted({c for c, _s in wanted.values() if c}, key=sorted))
    requests = Request.objects.filter(organisation=organisation).order_by()

    def day(field):
        return local_date(field, zone, low, high)

    receipt = (
        requests.filter(received_at__gte=low, received_at__lt=high)
        .annotate(d=day("received_at"), a=atom_case, k=_kind_class())
        .values("service_id", "d", "a", "k")
        .annotate(
            n=Count("id"),
            answered=Count("id", filter=Q(replied_at__isnull=False)),
            to_ack=Count("id", filter=Q(acknowledgement_due_at__isnull=False)),
            acked=Count(
                "id", filter=Q(acknowledgement_due_at__isnull=False) & ACKNOWLEDGED_IN_TIME
            ),
        )
    )
    answers = (
        requests.filter(replied_at__gte=low, replied_at__lt=high)
        .annotate(d=day("replied_at"), a=atom_case, k=_kind_class())
        .values("service_id", "d", "a", "k")
        .annotate(n=Count("id"), in_time=Count("id", filter=IN_TIME))
    )
    delays = (
        requests.filter(replied_at__gte=low, replied_at__lt=high, answer_days__isnull=False)
        .exclude(kind="thanks")
        .annotate(d=day("replied_at"), a=atom_case)
        .values("service_id", "d", "a", "answer_days")
        .annotate(n=Count("id"))
    )
    by_source = defaultdict(list)
    for indicator in indicators:
        by_source[indicator.source].append(indicator)
    sums: dict[int, dict] = {
        i.pk: defaultdict(lambda: [0, 0, defaultdict(int)]) for i in indicators
    }

    def takes(indicator, row) -> bool:
        channels, services = wanted[indicator.pk]
        if services is not None and row["service_id"] not in services:
            return False
        return channels is None or row["a"] in {atom[c] for c in channels}

    for row in receipt:
        key = (row["service_id"], row["d"])
        for name, num, den, kinds in (
            ("requests.answered", "answered", "n", (COMPLAINT, OTHER)),
            ("requests.acknowledged_in_time", "acked", "to_ack", (COMPLAINT, OTHER)),
            ("requests.complaint_rate", None, "n", (THANKS, COMPLAINT, OTHER)),
        ):
            if row["k"] not in kinds:
                continue
            for indicator in by_source.get(name, ()):
                if takes(indicator, row):
                    entry = sums[indicator.pk][key]
                    entry[0] += row[num] if num else (row["n"] if row["k"] == COMPLAINT else 0)
                    entry[1] += row[den]
    for row in answers:
        key = (row["service_id"], row["d"])
        for name, kinds in (
            ("requests.answered_in_time", (COMPLAINT, OTHER)),
            ("requests.complaints_answered_in_time", (COMPLAINT,)),
        ):
            if row["k"] not in kinds:
                continue
            for indicator in by_source.get(name, ()):
                if takes(indicator, row):
                    entry = sums[indicator.pk][key]
                    entry[0] += row["in_time"]
                    entry[1] += row["n"]
    histogram_sources = (
        "requests.answer_delay_median",
        "requests.answer_delay_p90",
        "requests.answer_delay_mean",
    )
    for row in delays:
        key = (row["service_id"], row["d"])
        for name in histogram_sources:
            for indicator in by_source.get(name, ()):
                if takes(indicator, row):
                    entry = sums[indicator.pk][key]
                    entry[0] += row["answer_days"] * row["n"]
                    entry[1] += row["n"]
                    entry[2][str(row["answer_days"])] += row["n"]
    found = {}
    for indicator in indicators:
        histograms = indicator.source in histogram_sources
        found[indicator.pk] = [
            sources.Row(service, d, num, den, dict(histogram) if histograms else {})
            for (service, d), (num, den, histogram) in sums[indicator.pk].items()
            if den
        ]
    return found


def same_as_rollups(organisation, found: dict[int, list]) -> bool:
    """Whether `found` holds exactly the request roll-ups that rebuild() wrote."""
    from qualicite.indicators.models import Rollup

    stored = set()
    for row in Rollup.objects.filter(indicator_id__in=list(found)).values_list(
        "indicator_id", "service_id", "day", "numerator", "denominator", "histogram"
    ):
        stored.add((*row[:5], tuple(sorted(row[5].items()))))
    made = {
        (pk, r.service_id, r.day, r.numerator, r.denominator, tuple(sorted(r.histogram.items())))
        for pk, rows in found.items()
        for r in rows
    }
    return made == stored


def report(organisation, events: int) -> None:
    """The request indicators from three scans, against the roll-ups rebuild() wrote."""
    from qualicite.indicators import rollups

    began, cpu = time.perf_counter(), time.process_time()
    found = compute_all(organisation)
    took, cpu = time.perf_counter() - began, time.process_time() - cpu
    others = [i for i in rollups.computed_indicators(organisation) if i.pk not in found]
    start = rollups.history_start(organisation, others)
    began = time.perf_counter()
    for indicator in others:
        rollups.compute(indicator, start, rollups.today(organisation))
    rest = time.perf_counter() - began
    print(
        f"experiment, {events:,} events: {len(found)} request indicators from three scans in "
        f"{took:.1f} s (CPU {cpu:.1f} s; + {len(others)} delivery indicators as today: "
        f"{rest:.1f} s); "
        f"same roll-ups as rebuild(): {'yes' if same_as_rollups(organisation, found) else 'NO'}",
        flush=True,
    )
