"""Reads of the référentiel shared by views, exports, the API and reports."""

from dataclasses import dataclass, field

from django.db.models import Prefetch, QuerySet

from qualicite.charter import templates_catalogue
from qualicite.charter.models import (
    Commitment,
    Indicator,
    IndicatorRevision,
    Programme,
    ServiceTarget,
)
from qualicite.core.models import Organisation, Service


def _indicators() -> QuerySet[Indicator]:
    return (
        Indicator.objects.order_by("position", "id")
        .select_related("owner")
        .prefetch_related(
            Prefetch(
                "service_targets",
                queryset=ServiceTarget.objects.select_related("service").order_by(
                    "service__position", "service__name"
                ),
            ),
            Prefetch("revisions", queryset=IndicatorRevision.objects.order_by("effective_from")),
        )
    )


def _commitments() -> QuerySet[Commitment]:
    return Commitment.objects.order_by("position", "id").prefetch_related(
        Prefetch("services", queryset=Service.objects.order_by("position", "name")),
        Prefetch("indicators", queryset=_indicators()),
    )


def programmes_with_commitments(organisation: Organisation) -> QuerySet[Programme]:
    """Programmes in order, with commitments, services, indicators and targets prefetched."""
    return (
        Programme.objects.filter(organisation=organisation)
        .order_by("position", "name", "id")
        .prefetch_related(Prefetch("commitments", queryset=_commitments()))
    )


def commitment(organisation: Organisation, pk: int) -> QuerySet[Commitment]:
    """The commitment `pk` of `organisation` (empty for another organisation's id)."""
    return _commitments().filter(organisation=organisation, pk=pk).select_related("programme")


def commitments(organisation: Organisation) -> QuerySet[Commitment]:
    return Commitment.objects.filter(organisation=organisation).select_related("programme")


def indicators(organisation: Organisation) -> QuerySet[Indicator]:
    return _indicators().filter(organisation=organisation).select_related("commitment__programme")


def programmes(organisation: Organisation) -> QuerySet[Programme]:
    return Programme.objects.filter(organisation=organisation).order_by("position", "name", "id")


@dataclass
class Group:
    name: str
    commitments: list[Commitment] = field(default_factory=list)


def grouped(commitments) -> list[Group]:
    """Commitments by group, groups in the order they first appear (one heading per group)."""
    groups: dict[str, Group] = {}
    for item in commitments:
        groups.setdefault(item.group, Group(item.group)).commitments.append(item)
    return list(groups.values())


@dataclass
class ProgrammeView:
    programme: Programme
    groups: list[Group]


def referentiel(organisation: Organisation) -> list[ProgrammeView]:
    """Every programme with its commitments grouped, for the staff overview."""
    return [
        ProgrammeView(programme, grouped(programme.commitments.all()))
        for programme in programmes_with_commitments(organisation)
    ]


def public_commitments(organisation: Organisation) -> list[ProgrammeView]:
    """The published commitments by programme and group, for the public pages."""
    rows = (
        Commitment.objects.filter(organisation=organisation, is_published=True)
        .select_related("programme")
        .prefetch_related(
            Prefetch("services", queryset=Service.objects.order_by("position", "name")),
            Prefetch("indicators", queryset=Indicator.objects.order_by("position", "id")),
        )
        .order_by("programme__position", "programme__name", "programme_id", "position", "id")
    )
    by_programme: dict[int, tuple[Programme, list[Commitment]]] = {}
    for row in rows:
        by_programme.setdefault(row.programme_id, (row.programme, []))[1].append(row)
    return [ProgrammeView(programme, grouped(items)) for programme, items in by_programme.values()]


def adopted_templates(organisation: Organisation) -> set[str]:
    return set(
        Programme.objects.filter(organisation=organisation)
        .exclude(template="")
        .values_list("template", flat=True)
    )


def available_templates(organisation: Organisation) -> list[templates_catalogue.Template]:
    """Built-in templates the organisation has not adopted yet."""
    adopted = adopted_templates(organisation)
    return [t for t in templates_catalogue.TEMPLATES if t.key not in adopted]


def group_names(organisation: Organisation) -> list[str]:
    """Groups already used, to suggest them when editing a commitment."""
    return sorted(
        set(
            Commitment.objects.filter(organisation=organisation)
            .exclude(group="")
            .values_list("group", flat=True)
        )
    )
