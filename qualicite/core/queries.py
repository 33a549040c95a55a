"""Reads of organisations, services and sites shared by views, the API and reports."""

from django.db.models import Prefetch, QuerySet

from qualicite.core.models import OpeningHours, Organisation, Service, Site


def service_tree(services: QuerySet[Service]) -> list[tuple[Service, int]]:
    """Services in display order with their depth; a child whose parent is hidden is a root."""
    rows = list(services.order_by("position", "name"))
    ids = {s.pk for s in rows}
    children: dict[int | None, list[Service]] = {}
    for service in rows:
        parent = service.parent_id if service.parent_id in ids else None
        children.setdefault(parent, []).append(service)
    ordered: list[tuple[Service, int]] = []

    def walk(parent, depth):
        for service in children.get(parent, []):
            ordered.append((service, depth))
            walk(service.pk, depth + 1)

    walk(None, 0)
    return ordered


def sites_with_hours(organisation: Organisation) -> QuerySet[Site]:
    return Site.objects.filter(organisation=organisation).prefetch_related(
        Prefetch("opening_hours", queryset=OpeningHours.objects.order_by("weekday", "opens")),
        "closures",
        "services",
    )
