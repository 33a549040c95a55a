"""The figures of a year as a person computes them from the requests, row by row.

Nothing here calls the report's code: the counts come from the rows, the delays from the
calendar request by request, the percentiles from a sort and a rank.
"""

import math
from collections import Counter
from zoneinfo import ZoneInfo

from django.utils.dates import MONTHS
from django.utils.translation import gettext as _

from qualicite.core.choices import RequestKind
from qualicite.requests import deadlines
from qualicite.requests.models import Request, Status

PARIS = ZoneInfo("Europe/Paris")
KINDS = (RequestKind.COMPLAINT, RequestKind.SUGGESTION, RequestKind.THANKS)


def nearest_rank_by_hand(values, percentile):
    ordered = sorted(values)
    if not ordered:
        return None
    return ordered[math.ceil(percentile * len(ordered) / 100) - 1]


class Expected:
    """The figures of `year`, computed row by row from the database, as a person would."""

    def __init__(self, organisation, year, *, service_codes=None):
        self.organisation = organisation
        self.year = year
        rows = [
            r
            for r in Request.objects.filter(organisation=organisation).select_related(
                "service", "theme", "site"
            )
            if r.kind in KINDS and r.received_at.astimezone(PARIS).year == year
        ]
        if service_codes is not None:
            rows = [r for r in rows if r.service is not None and r.service.code in service_codes]
        self.rows = rows
        self.complaints = [r for r in rows if r.kind == RequestKind.COMPLAINT]
        answered = [r for r in self.complaints if r.replied_at is not None]
        self.delays = sorted(
            deadlines.calendar(
                organisation,
                site=deadlines.site_for(organisation, site=r.site, service=r.service),
                day_kind=r.day_kind,
            ).count_days(r.received_at, r.replied_at)
            for r in answered
        )
        self.answered = len(answered)
        self.in_time = sum(1 for r in answered if r.replied_at <= r.due_at)
        self.unanswered = len(self.complaints) - self.answered
        closed = [r for r in self.complaints if r.status == Status.CLOSED]
        self.outcomes = Counter(r.outcome for r in closed)
        self.open = len(self.complaints) - len(closed)

    def count(self, kind):
        return sum(1 for r in self.rows if r.kind == kind)

    @property
    def share_in_time(self):
        return 100 * self.in_time / self.answered if self.answered else None

    @property
    def median(self):
        return nearest_rank_by_hand(self.delays, 50)

    @property
    def p90(self):
        return nearest_rank_by_hand(self.delays, 90)

    def by(self, label_of) -> dict[str, list[int]]:
        """{row label: [complaints, suggestions, thanks, total]} for the rows' labels."""
        found: dict[str, Counter] = {}
        for r in self.rows:
            found.setdefault(label_of(r), Counter())[r.kind] += 1
        return {
            label: [c[k] for k in KINDS] + [sum(c[k] for k in KINDS)] for label, c in found.items()
        }

    def by_month(self) -> dict[str, list[int]]:
        counted = self.by(lambda r: r.received_at.astimezone(PARIS).month)
        return {str(MONTHS[m]).capitalize(): counted.get(m, [0, 0, 0, 0]) for m in range(1, 13)}

    def totals(self) -> list[int]:
        return [self.count(k) for k in KINDS] + [len(self.rows)]


# --- The tables every format must show, as (value, kind, signed) cells ------------------------

COUNT, PERCENT, DAYS = "count", "percent", "days"


def _counts(values):
    return [(v, COUNT, False) for v in values]


def _change(now, before):
    return None if now is None or before is None else now - before


def expected_tables(now: Expected, before: Expected, *, services, themes, channels) -> dict:
    """{table key: {"title", "rows": {label: cells}, "total": cells}} for `now`'s year.

    `services`, `themes` and `channels` are the (label, match) pairs the report lists.
    """
    zero = [0, 0, 0, 0]

    def by(label_of, labels, none_label):
        counted = now.by(label_of)
        rows = {label: _counts(counted.pop(label, zero)) for label in labels}
        if None in counted:
            rows[none_label] = _counts(counted.pop(None))
        assert not counted, f"rows outside the listed labels: {counted}"
        return rows

    complaints = now.count(RequestKind.COMPLAINT)
    outcome_counts = {
        str(label): now.outcomes[value]
        for value, label in (
            ("founded", _("Founded")),
            ("partly_founded", _("Partly founded")),
            ("unfounded", _("Unfounded")),
        )
    }
    outcome_counts[_("Not yet closed")] = now.open
    buckets = [(_("Same day (0 days)"), 0, 0)]
    low = 1
    for high in (5, 10, 15, 30):
        buckets.append((_("%(low)s to %(high)s days") % {"low": low, "high": high}, low, high))
        low = high + 1
    buckets.append((_("More than %(days)s days") % {"days": 30}, 31, 10**9))

    def figure(label, value_now, value_before, kind=COUNT):
        return label, [
            (value_now, kind, False),
            (value_before, kind, False),
            (_change(value_now, value_before), kind, True),
        ]

    key_figures = dict(
        [
            figure(
                _("Complaints received"),
                now.count(RequestKind.COMPLAINT),
                before.count(RequestKind.COMPLAINT),
            ),
            figure(
                _("Suggestions received"),
                now.count(RequestKind.SUGGESTION),
                before.count(RequestKind.SUGGESTION),
            ),
            figure(
                _("Thanks received"),
                now.count(RequestKind.THANKS),
                before.count(RequestKind.THANKS),
            ),
            figure(_("Complaints founded"), now.outcomes["founded"], before.outcomes["founded"]),
            figure(
                _("Complaints partly founded"),
                now.outcomes["partly_founded"],
                before.outcomes["partly_founded"],
            ),
            figure(
                _("Complaints unfounded"), now.outcomes["unfounded"], before.outcomes["unfounded"]
            ),
            figure(_("Complaints not yet closed"), now.open, before.open),
            figure(_("Complaints answered"), now.answered, before.answered),
            figure(_("Complaints not yet answered"), now.unanswered, before.unanswered),
            figure(
                _("Answered within the committed delay"),
                now.share_in_time,
                before.share_in_time,
                PERCENT,
            ),
            figure(_("Median answer delay (days)"), now.median, before.median, DAYS),
            figure(_("90th percentile of the answer delay (days)"), now.p90, before.p90, DAYS),
        ]
    )
    return {
        "key_figures": {
            "title": _("Key figures and comparison with %(year)s") % {"year": before.year},
            "rows": key_figures,
            "total": None,
        },
        "by_month": {
            "title": _("Requests by month of receipt"),
            "rows": {label: _counts(values) for label, values in now.by_month().items()},
            "total": _counts(now.totals()),
        },
        "by_service": {
            "title": _("Requests by service"),
            "rows": by(lambda r: r.service.name if r.service else None, services, _("No service")),
            "total": _counts(now.totals()),
        },
        "by_channel": {
            "title": _("Requests by channel"),
            "rows": by(lambda r: channels[r.channel], channels.values(), ""),
            "total": _counts(now.totals()),
        },
        "by_theme": {
            "title": _("Requests by theme"),
            "rows": by(lambda r: r.theme.name if r.theme else None, themes, _("No theme")),
            "total": _counts(now.totals()),
        },
        "outcomes": {
            "title": _("Outcome of the complaints"),
            "rows": {
                label: [
                    (count, COUNT, False),
                    (100 * count / complaints if complaints else None, PERCENT, False),
                ]
                for label, count in outcome_counts.items()
            },
            "total": [(complaints, COUNT, False), (100.0 if complaints else None, PERCENT, False)],
        },
        "delays": {
            "title": _("Answer delays of the answered complaints"),
            "rows": {
                label: [(sum(1 for d in now.delays if low <= d <= high), COUNT, False)]
                for label, low, high in buckets
            },
            "total": [(now.answered, COUNT, False)],
        },
    }
