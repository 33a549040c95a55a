"""What the public results page and the hall poster show, read from the roll-ups at request time.

An indicator is shown when its result is published (`Indicator.results_published`) and its
commitment is shown to the public. Its latest result is that of the last closed period of its
own kind (last month for a monthly indicator), never of the period still running.

Places: each site with the services it receives (and their sub-services); a site's figure
adds the figures of those services that the indicator's commitment covers. An indicator
whose commitment covers every service also gets a line for the whole organisation, and so
does one whose services no site receives, so that a published result is never left out.

The number of queries does not grow with the number of indicators or sites: one `results()`
per kind of period, for every site's services at once.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP

from django.db.models import Prefetch
from django.utils.translation import gettext_lazy as _

from qualicite.charter.models import Commitment, Indicator, SourceKind
from qualicite.core.models import Organisation, Service, Site
from qualicite.indicators import periods, queries, rollups
from qualicite.indicators.queries import Result

WHOLE_ORGANISATION = _("All our services")


@dataclass
class Place:
    """A site, or the whole organisation (site None)."""

    site: Site | None
    name: str
    members: set[int] | None  # the services counted here, sub-services included; None: all
    roots: list[Service] = field(default_factory=list)  # of which none is under another

    @property
    def key(self) -> str:
        return self.site.code if self.site else ""


@dataclass
class Line:
    place: Place
    indicator: Indicator
    result: Result

    @property
    def period(self) -> periods.Period:
        return self.result.period


@dataclass
class CommitmentLines:
    """The lines of one commitment at one place (the page: site by site)."""

    commitment: Commitment
    lines: list[Line] = field(default_factory=list)

    @property
    def text(self) -> str:
        return public_text(self.commitment)


@dataclass
class PlaceResults:
    place: Place
    commitments: list[CommitmentLines] = field(default_factory=list)


@dataclass
class IndicatorLines:
    """One indicator with its line at each place (the poster: commitment by commitment)."""

    indicator: Indicator
    lines: list[Line] = field(default_factory=list)

    @property
    def period(self) -> periods.Period:
        return self.lines[0].period


@dataclass
class CommitmentBlock:
    commitment: Commitment
    indicators: list[IndicatorLines] = field(default_factory=list)

    @property
    def text(self) -> str:
        return public_text(self.commitment)


@dataclass
class PublicResults:
    organisation: Organisation
    indicators: list[Indicator]  # in référentiel order
    lines: list[Line]  # place by place, each place in référentiel order
    updated_at: object  # when the roll-ups were last brought up to date, or None

    @property
    def by_place(self) -> list[PlaceResults]:
        found: dict[str, PlaceResults] = {}
        for line in self.lines:
            place = found.setdefault(line.place.key, PlaceResults(line.place))
            commitment = line.indicator.commitment
            if not place.commitments or place.commitments[-1].commitment != commitment:
                place.commitments.append(CommitmentLines(commitment))
            place.commitments[-1].lines.append(line)
        return list(found.values())

    @property
    def by_commitment(self) -> list[CommitmentBlock]:
        per_indicator: dict[int, list[Line]] = defaultdict(list)
        for line in self.lines:
            per_indicator[line.indicator.pk].append(line)
        blocks: list[CommitmentBlock] = []
        for indicator in self.indicators:
            if not per_indicator[indicator.pk]:
                continue
            if not blocks or blocks[-1].commitment != indicator.commitment:
                blocks.append(CommitmentBlock(indicator.commitment))
            blocks[-1].indicators.append(IndicatorLines(indicator, per_indicator[indicator.pk]))
        return blocks


def public_text(commitment: Commitment) -> str:
    return commitment.public_text.strip() or commitment.title


def published_indicators(organisation: Organisation) -> list[Indicator]:
    """The indicators whose results the organisation publishes, in référentiel order."""
    pks = Indicator.objects.filter(
        organisation=organisation, results_published=True, commitment__is_published=True
    ).values_list("pk", flat=True)
    return queries.indicators_of(organisation, list(pks))


def _tree(organisation: Organisation) -> tuple[dict[int, int | None], dict[int, set[int]]]:
    parents = dict(Service.objects.filter(organisation=organisation).values_list("pk", "parent_id"))
    below: dict[int, set[int]] = {pk: {pk} for pk in parents}
    for pk in parents:
        ancestor = parents[pk]
        seen = set()
        while ancestor is not None and ancestor not in seen:
            seen.add(ancestor)
            below[ancestor].add(pk)
            ancestor = parents.get(ancestor)
    return parents, below


def _places(organisation: Organisation, parents, below) -> list[Place]:
    found = []
    sites = Site.objects.filter(organisation=organisation).prefetch_related(
        Prefetch("services", queryset=Service.objects.order_by("position", "name"))
    )
    for site in sites.order_by("name", "pk"):
        hosted = list(site.services.all())
        hosted_pks = {s.pk for s in hosted}

        def under_another(service, hosted_pks=hosted_pks):
            ancestor = parents.get(service.pk)
            while ancestor is not None:
                if ancestor in hosted_pks:
                    return True
                ancestor = parents.get(ancestor)
            return False

        # A sub-service received at the same site is already in its parent's figure.
        roots = [s for s in hosted if not under_another(s)]
        if roots:
            members = set().union(*(below[s.pk] for s in roots))
            found.append(Place(site, site.name, members, roots))
    return found


def _scope(indicator: Indicator, below: dict[int, set[int]]) -> set[int] | None:
    roots = [s.pk for s in indicator.commitment.services.all()]
    if not roots:
        return None
    return set().union(*(below.get(pk, {pk}) for pk in roots))


def _combined(indicator: Indicator, period, parts: list[Result]) -> Result:
    """One site's result from the results of its services, which share no record."""
    if len(parts) == 1:
        return parts[0]
    result = Result(indicator, None, period)
    with_data = [part for part in parts if part.has_data]
    if with_data and all(part.denominator for part in with_data):
        histogram: dict[str, int] = defaultdict(int)
        for part in with_data:
            for value, n in part.histogram.items():
                histogram[value] += n
        result.numerator = sum(part.numerator for part in with_data)
        result.denominator = sum(part.denominator for part in with_data)
        result.histogram = dict(histogram)
        result.value = queries.value_of(
            indicator, result.numerator, result.denominator, result.histogram
        )
    elif with_data and indicator.source_kind == SourceKind.MANUAL:
        # Values entered without their counts: their mean, as `results()` combines them.
        mean = sum(part.value for part in with_data) / len(with_data)
        result.value = mean.quantize(queries.CENT, rounding=ROUND_HALF_UP)
    result.target, result.warning_threshold = queries.target_in_force(indicator, None, period)
    result.status = queries.status_of(
        indicator, result.value, result.target, result.warning_threshold
    )
    return result


def build(organisation: Organisation) -> PublicResults:
    indicators = published_indicators(organisation)
    if not indicators:
        return PublicResults(organisation, [], [], queries.last_updated(organisation))
    parents, below = _tree(organisation)
    places = _places(organisation, parents, below)
    whole = Place(None, str(WHOLE_ORGANISATION), None)
    today = rollups.today(organisation)
    root_services = list({s.pk: s for place in places for s in place.roots}.values())
    found: dict[tuple[int, int | None], Result] = {}
    by_kind: dict[str, list[Indicator]] = defaultdict(list)
    for indicator in indicators:
        by_kind[indicator.period].append(indicator)
    for kind, members in by_kind.items():
        period = periods.last_closed(kind, today)
        found.update(queries.results(organisation, members, period, services=root_services))
    lines = []
    for indicator in indicators:
        scope = _scope(indicator, below)
        at_sites = []
        for place in places:
            if scope is not None and not place.members & scope:
                continue
            parts = [
                found[(indicator.pk, s.pk)] for s in place.roots if (indicator.pk, s.pk) in found
            ]
            if parts:
                period = parts[0].period
                at_sites.append(Line(place, indicator, _combined(indicator, period, parts)))
        if indicator.source_kind == SourceKind.MANUAL and not any(
            line.result.has_data for line in at_sites
        ):
            # Entered for the whole organisation, not per service: no site has a figure.
            at_sites = []
        if scope is None or not at_sites:
            lines.append(Line(whole, indicator, found[(indicator.pk, None)]))
        lines.extend(at_sites)
    # The page goes place by place: the whole organisation first, then the sites by name.
    rank = {whole.key: 0, **{place.key: i + 1 for i, place in enumerate(places)}}
    lines.sort(key=lambda line: rank[line.place.key])  # stable: référentiel order kept
    return PublicResults(organisation, indicators, lines, queries.last_updated(organisation))
