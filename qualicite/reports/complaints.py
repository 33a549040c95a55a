"""The yearly complaints report (bilan des réclamations): the figures, read from the requests.

What is counted
---------------

Requests of kind complaint, suggestion and thanks whose ``received_at`` falls in the year, the
year being read in the organisation's time zone (a letter received at 00:30 on 1 January in
Paris belongs to the new year even though it is still 31 December in UTC). A member restricted
to some services sees only the requests of those services (``permissions.scope``).

The headline figures are about complaints:

* outcome: founded, partly founded, unfounded (closed complaints), not yet closed;
* answered (``replied_at`` set) and still unanswered;
* answered within the committed delay: ``replied_at <= due_at``, as a share of the answered;
* answer delay: days from ``received_at`` to ``replied_at``, counted in the request's own kind of
  days (working, business or calendar) by the calendar (``deadlines.calendar(...).count_days``),
  with the public holidays and the closures of the request's site (or its service's site);
* median and 90th percentile of those delays by the **nearest-rank** method: the P-th percentile
  of n sorted delays is the one at rank ⌈P × n / 100⌉, i.e. the smallest delay within which at
  least P % of the answered complaints were answered. It is always a delay that was observed
  (a whole number of days). With no answered complaint there is no figure (None, shown as "no
  data"), never 0.

Each figure is compared with the previous year's, computed the same way.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field

from django.utils import timezone
from django.utils.dates import MONTHS
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from qualicite.core import permissions
from qualicite.core.choices import Channel, RequestKind
from qualicite.core.models import Service, Site
from qualicite.reports.models import ComplaintActions
from qualicite.requests import deadlines
from qualicite.requests.models import Outcome, Request, Status, Theme

KINDS = (RequestKind.COMPLAINT, RequestKind.SUGGESTION, RequestKind.THANKS)
PERCENTILES = (50, 90)
# Upper bounds (days, included) of the answer-delay distribution; the last bucket is open.
DELAY_BUCKETS = (0, 5, 10, 15, 30)

# Value kinds: how a number is shown and stored in a spreadsheet.
COUNT, PERCENT, DAYS = "count", "percent", "days"


def nearest_rank(sorted_values: list[int], percentile: int) -> int | None:
    """The `percentile`-th percentile by nearest rank: the value at rank ⌈p·n/100⌉ (1-based)."""
    if not sorted_values:
        return None
    rank = -(-percentile * len(sorted_values) // 100)  # ceiling in integers: no float error
    return sorted_values[max(rank, 1) - 1]


def year_bounds(organisation, year: int) -> tuple[dt.datetime, dt.datetime]:
    """1 January 00:00 of `year` and of the next, in the organisation's time zone."""
    zone = organisation.zone
    return (
        dt.datetime(year, 1, 1, tzinfo=zone),
        dt.datetime(year + 1, 1, 1, tzinfo=zone),
    )


def current_year(organisation) -> int:
    return timezone.localtime(timezone.now(), organisation.zone).year


# ---------------------------------------------------------------------------------------------
# Figures of one year


@dataclass
class Figures:
    """Everything the report says about one year, before it is laid out in tables."""

    year: int
    counts: Counter = field(default_factory=Counter)  # kind → n
    by_service: dict = field(default_factory=dict)  # service id or None → Counter(kind)
    by_channel: dict = field(default_factory=dict)  # channel → Counter(kind)
    by_theme: dict = field(default_factory=dict)  # theme id or None → Counter(kind)
    by_month: dict = field(default_factory=dict)  # 1..12 → Counter(kind)
    outcomes: Counter = field(default_factory=Counter)  # outcome value, "open" or "closed"
    delays: list[int] = field(default_factory=list)  # answered complaints, sorted
    in_time: int = 0
    unanswered: int = 0

    @property
    def answered(self) -> int:
        return len(self.delays)

    @property
    def share_in_time(self) -> float | None:
        """Answered within the committed delay, in percent of the answered complaints."""
        return 100 * self.in_time / self.answered if self.answered else None

    @property
    def median(self) -> int | None:
        return nearest_rank(self.delays, 50)

    @property
    def p90(self) -> int | None:
        return nearest_rank(self.delays, 90)


class _Calendars:
    """One calendar per (site, day kind), built once and reused for every request."""

    def __init__(self, organisation):
        self.organisation = organisation
        self.sites = {
            site.pk: site
            for site in Site.objects.filter(organisation=organisation).prefetch_related(
                "opening_hours", "closures"
            )
        }
        self.services = {s.pk: s for s in Service.objects.filter(organisation=organisation)}
        self._service_sites: dict[int, Site | None] = {}
        self._calendars: dict[tuple[int | None, str], object] = {}

    def _site(self, site_id, service_id) -> Site | None:
        if site_id is not None:
            return self.sites.get(site_id)
        if service_id is None:
            return None
        if service_id not in self._service_sites:
            # The same choice as when the due date was set (deadlines.site_for).
            self._service_sites[service_id] = deadlines.site_for(
                self.organisation, site=None, service=self.services.get(service_id)
            )
        return self._service_sites[service_id]

    def count_days(self, *, site_id, service_id, day_kind, start, end) -> int:
        site = self._site(site_id, service_id)
        key = (site.pk if site is not None else None, day_kind)
        calendar = self._calendars.get(key)
        if calendar is None:
            calendar = self._calendars[key] = deadlines.calendar(
                self.organisation, site=site, day_kind=day_kind
            )
        return calendar.count_days(start, end)


_FIELDS = (
    "kind",
    "channel",
    "service_id",
    "theme_id",
    "site_id",
    "status",
    "outcome",
    "received_at",
    "replied_at",
    "due_at",
    "day_kind",
)


def requests_of(organisation, year: int, *, user=None):
    """The requests the report counts for `year`, limited to what `user` may see (if given)."""
    start, end = year_bounds(organisation, year)
    queryset = Request.objects.filter(
        organisation=organisation, kind__in=KINDS, received_at__gte=start, received_at__lt=end
    )
    if user is not None:
        queryset = permissions.scope(queryset, user, organisation)
    return queryset


def figures(organisation, year: int, *, user=None, calendars: _Calendars | None = None) -> Figures:
    """Count one year in a single pass over its requests."""
    calendars = calendars or _Calendars(organisation)
    zone = organisation.zone
    found = Figures(year=year)
    rows = requests_of(organisation, year, user=user).order_by().values_list(*_FIELDS)
    for (
        kind,
        channel,
        service_id,
        theme_id,
        site_id,
        status,
        outcome,
        received_at,
        replied_at,
        due_at,
        day_kind,
    ) in rows.iterator(chunk_size=5000):
        found.counts[kind] += 1
        found.by_service.setdefault(service_id, Counter())[kind] += 1
        found.by_channel.setdefault(channel, Counter())[kind] += 1
        found.by_theme.setdefault(theme_id, Counter())[kind] += 1
        found.by_month.setdefault(received_at.astimezone(zone).month, Counter())[kind] += 1
        if kind != RequestKind.COMPLAINT:
            continue
        if status != Status.CLOSED:
            found.outcomes["open"] += 1
        else:
            found.outcomes[outcome or "closed"] += 1
        if replied_at is None:
            found.unanswered += 1
            continue
        found.delays.append(
            calendars.count_days(
                site_id=site_id,
                service_id=service_id,
                day_kind=day_kind,
                start=received_at,
                end=replied_at,
            )
        )
        if replied_at <= due_at:
            found.in_time += 1
    found.delays.sort()
    return found


# ---------------------------------------------------------------------------------------------
# Tables: what every format (page, PDF, spreadsheets, CSV) lays out


@dataclass
class Row:
    label: str
    values: list  # int, float or None (no data), one per value column
    kind: str = ""  # overrides the table's column kinds for the whole row (key figures)
    key: str = ""  # a stable identifier: service code, channel, month number…


@dataclass
class Table:
    key: str
    title: str
    sheet: str  # short name of its spreadsheet tab (at most 31 characters)
    columns: list[str]  # the row-label column first, then one per value
    rows: list[Row]
    total: Row | None = None
    kinds: list[str] = field(default_factory=list)  # per value column; COUNT by default
    signed: frozenset[int] = frozenset()  # value columns that are changes (+3, −2)

    def kind_of(self, row: Row, index: int) -> str:
        if row.kind:
            return row.kind
        return self.kinds[index] if index < len(self.kinds) else COUNT

    def cells(self, row: Row):
        """(value, kind, signed) for each value of `row`."""
        for index, value in enumerate(row.values):
            yield value, self.kind_of(row, index), index in self.signed


def _kind_columns() -> list[str]:
    return [
        pgettext("report column", "Complaints"),
        pgettext("report column", "Suggestions"),
        pgettext("report column", "Thanks"),
        _("Total"),
    ]


def _kind_row(label: str, counter: Counter | None, key="") -> Row:
    counter = counter or Counter()
    values = [counter[kind] for kind in KINDS]
    return Row(label, [*values, sum(values)], key=key)


def _kind_total(rows: list[Row]) -> Row:
    return Row(_("Total"), [sum(row.values[i] for row in rows) for i in range(len(KINDS) + 1)])


def _by_kind_table(key, title, sheet, first_column, rows) -> Table:
    return Table(key, title, sheet, [first_column, *_kind_columns()], rows, _kind_total(rows))


def _change(current, previous):
    if current is None or previous is None:
        return None
    return current - previous


@dataclass
class Scope:
    """Whose requests the report covers: the whole organisation, or a member's services."""

    services: list[Service] | None  # None: every service of the organisation

    @property
    def restricted(self) -> bool:
        return self.services is not None

    def describe(self) -> str:
        if self.services is None:
            return _("All services of the organisation.")
        names = ", ".join(s.name for s in self.services) or _("none")
        return _("Limited to your services: %(names)s.") % {"names": names}


@dataclass
class ComplaintsReport:
    organisation: object
    year: int
    scope: Scope
    current: Figures
    previous: Figures
    actions: ComplaintActions | None
    generated_at: dt.datetime
    tables: dict[str, Table] = field(default_factory=dict)

    @property
    def title(self) -> str:
        return _("Complaints report %(year)s") % {"year": self.year}

    @property
    def actions_text(self) -> str:
        return self.actions.text if self.actions is not None else ""

    @property
    def ordered_tables(self) -> list[Table]:
        return list(self.tables.values())

    @property
    def notes(self) -> list[str]:
        """The method, as the page footnote and every export state it."""
        return [
            _(
                "Requests are counted by their date of receipt, in the organisation's time "
                "zone (%(zone)s)."
            )
            % {"zone": self.organisation.time_zone},
            _(
                "Answer delay: the days from receipt to the reply, counted as the request's "
                "commitment counts them (working, business or calendar days), without public "
                "holidays and the site's closures; a reply on the day of receipt counts 0 days."
            ),
            _(
                "Median and 90th percentile by the nearest-rank method: the smallest delay "
                "within which at least half (90 %%) of the answered complaints were answered; "
                "it is always a delay that was observed. “%(none)s” when no complaint was "
                "answered."
            )
            % {"none": _("no data")},
            _(
                "Answered within the committed delay: replies sent on or before the due date, "
                "as a share of the answered complaints."
            ),
        ]


def tree_order(services: list[Service]) -> list[Service]:
    """Each service followed by its sub-services, siblings in their usual order."""
    known = {s.pk for s in services}
    children: dict[int | None, list[Service]] = {}
    for service in services:
        parent = service.parent_id if service.parent_id in known else None
        children.setdefault(parent, []).append(service)
    ordered: list[Service] = []
    pending = list(reversed(children.get(None, [])))
    while pending:
        service = pending.pop()
        ordered.append(service)
        pending.extend(reversed(children.get(service.pk, [])))
    return ordered


def _service_rows(found: Figures, scope: Scope, services: list[Service]) -> list[Row]:
    listed = tree_order(services if scope.services is None else scope.services)
    rows = [_kind_row(s.name, found.by_service.get(s.pk), key=s.code) for s in listed]
    if found.by_service.get(None):
        rows.append(_kind_row(_("No service"), found.by_service[None], key=""))
    return rows


def _theme_rows(found: Figures, themes: list[Theme]) -> list[Row]:
    rows = [
        _kind_row(theme.name, found.by_theme.get(theme.pk), key=str(theme.pk))
        for theme in themes
        if theme.is_active or found.by_theme.get(theme.pk)
    ]
    if found.by_theme.get(None):
        rows.append(_kind_row(_("No theme"), found.by_theme[None], key=""))
    return rows


def month_names() -> list[str]:
    return [str(MONTHS[month]).capitalize() for month in range(1, 13)]


def _delay_buckets(delays: list[int]) -> list[Row]:
    rows, low = [], 0
    for high in DELAY_BUCKETS:
        if high == 0:
            label = _("Same day (0 days)")
        else:
            label = _("%(low)s to %(high)s days") % {"low": low, "high": high}
        rows.append(Row(label, [sum(1 for d in delays if low <= d <= high)], key=f"{low}-{high}"))
        low = high + 1
    rows.append(
        Row(
            _("More than %(days)s days") % {"days": DELAY_BUCKETS[-1]},
            [sum(1 for d in delays if d >= low)],
            key=f"{low}-",
        )
    )
    return rows


def _headline(found: Figures) -> dict[str, int | float | None]:
    return {
        "complaints": found.counts[RequestKind.COMPLAINT],
        "suggestions": found.counts[RequestKind.SUGGESTION],
        "thanks": found.counts[RequestKind.THANKS],
        "founded": found.outcomes[Outcome.FOUNDED],
        "partly_founded": found.outcomes[Outcome.PARTLY_FOUNDED],
        "unfounded": found.outcomes[Outcome.UNFOUNDED],
        "open": found.outcomes["open"],
        "answered": found.answered,
        "unanswered": found.unanswered,
        "in_time": found.share_in_time,
        "median": found.median,
        "p90": found.p90,
    }


def _key_figures(current: Figures, previous: Figures) -> Table:
    labels = [
        ("complaints", _("Complaints received"), COUNT),
        ("suggestions", _("Suggestions received"), COUNT),
        ("thanks", _("Thanks received"), COUNT),
        ("founded", _("Complaints founded"), COUNT),
        ("partly_founded", _("Complaints partly founded"), COUNT),
        ("unfounded", _("Complaints unfounded"), COUNT),
        ("open", _("Complaints not yet closed"), COUNT),
        ("answered", _("Complaints answered"), COUNT),
        ("unanswered", _("Complaints not yet answered"), COUNT),
        ("in_time", _("Answered within the committed delay"), PERCENT),
        ("median", _("Median answer delay (days)"), DAYS),
        ("p90", _("90th percentile of the answer delay (days)"), DAYS),
    ]
    now, before = _headline(current), _headline(previous)
    rows = [
        Row(label, [now[key], before[key], _change(now[key], before[key])], kind=kind, key=key)
        for key, label, kind in labels
    ]
    return Table(
        "key_figures",
        _("Key figures and comparison with %(year)s") % {"year": previous.year},
        _("Key figures"),
        [_("Figure"), str(current.year), str(previous.year), pgettext("report column", "Change")],
        rows,
        signed=frozenset({2}),
    )


def _outcome_table(found: Figures) -> Table:
    complaints = found.counts[RequestKind.COMPLAINT]
    labels = [
        (Outcome.FOUNDED, Outcome.FOUNDED.label),
        (Outcome.PARTLY_FOUNDED, Outcome.PARTLY_FOUNDED.label),
        (Outcome.UNFOUNDED, Outcome.UNFOUNDED.label),
        ("open", _("Not yet closed")),
    ]
    if found.outcomes["closed"]:
        labels.append(("closed", _("Closed without an outcome")))
    rows = []
    for key, label in labels:
        count = found.outcomes[key]
        share = 100 * count / complaints if complaints else None
        rows.append(Row(str(label), [count, share], key=str(key)))
    return Table(
        "outcomes",
        _("Outcome of the complaints"),
        _("Outcome"),
        [_("Outcome"), _("Complaints"), _("Share")],
        rows,
        Row(_("Total"), [complaints, 100.0 if complaints else None]),
        kinds=[COUNT, PERCENT],
    )


def build(organisation, year: int, *, user=None) -> ComplaintsReport:
    """The report of `year` for `organisation`, as `user` may see it (None: everything)."""
    calendars = _Calendars(organisation)
    if user is None or permissions.restricted_service_ids(user, organisation) is None:
        scope = Scope(None)
    else:
        scope = Scope(list(permissions.visible_services(user, organisation)))
    current = figures(organisation, year, user=user, calendars=calendars)
    previous = figures(organisation, year - 1, user=user, calendars=calendars)
    services = list(Service.objects.filter(organisation=organisation))
    themes = list(Theme.objects.filter(organisation=organisation))
    report = ComplaintsReport(
        organisation=organisation,
        year=year,
        scope=scope,
        current=current,
        previous=previous,
        actions=ComplaintActions.objects.filter(organisation=organisation, year=year).first(),
        generated_at=timezone.localtime(timezone.now(), organisation.zone),
    )
    months = month_names()
    tables = [
        _key_figures(current, previous),
        _by_kind_table(
            "by_month",
            _("Requests by month of receipt"),
            pgettext("sheet", "By month"),
            _("Month"),
            [_kind_row(months[m - 1], current.by_month.get(m), key=str(m)) for m in range(1, 13)],
        ),
        _by_kind_table(
            "by_service",
            _("Requests by service"),
            pgettext("sheet", "By service"),
            _("Service"),
            _service_rows(current, scope, services),
        ),
        _by_kind_table(
            "by_channel",
            _("Requests by channel"),
            pgettext("sheet", "By channel"),
            _("Channel"),
            [
                _kind_row(str(label), current.by_channel.get(value), key=value)
                for value, label in Channel.choices
            ],
        ),
        _by_kind_table(
            "by_theme",
            _("Requests by theme"),
            pgettext("sheet", "By theme"),
            _("Theme"),
            _theme_rows(current, themes),
        ),
        _outcome_table(current),
        Table(
            "delays",
            _("Answer delays of the answered complaints"),
            _("Answer delays"),
            [_("Answer delay"), _("Complaints")],
            _delay_buckets(current.delays),
            Row(_("Total"), [current.answered]),
        ),
    ]
    report.tables = {table.key: table for table in tables}
    return report
