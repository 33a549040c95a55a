"""The one place that decides what a user may see and do in an organisation.

A user acts in an organisation through their Membership: its role grants
permissions, and its services (when any) restrict which services' records the
user sees. Nothing is granted outside a membership: not even a superuser sees
an organisation's workspace without one (superusers configure in /admin/).
"""

from enum import StrEnum
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.shortcuts import get_object_or_404

from qualicite.core.models import Membership, Organisation, Role, Service


class Perm(StrEnum):
    VIEW_WORKSPACE = "view_workspace"
    VIEW_ORGANISATION = "view_organisation"
    VIEW_REFERENTIEL = "view_referentiel"
    MANAGE_REFERENTIEL = "manage_referentiel"
    MANAGE_ORGANISATION = "manage_organisation"
    VIEW_HISTORY = "view_history"
    VIEW_REQUESTS = "view_requests"
    HANDLE_REQUESTS = "handle_requests"
    VALIDATE_REPLIES = "validate_replies"
    MANAGE_PERSONAL_DATA = "manage_personal_data"
    VIEW_REPORTS = "view_reports"
    MANAGE_REPORTS = "manage_reports"
    VIEW_INDICATORS = "view_indicators"
    # Enter values by hand; which indicators a member may enter is decided per indicator
    # (its responsible person, the heads of its services, the quality managers).
    ENTER_INDICATOR_VALUES = "enter_indicator_values"
    # Enter values for closed periods, close any alert.
    MANAGE_INDICATORS = "manage_indicators"
    # The desk tablet and appointments: record arrivals, calls to the counter, check-ins.
    RECEIVE_VISITORS = "receive_visitors"
    # Import phone-system logs, map queues to services, flag test calls, import bookings.
    MANAGE_RECEPTION = "manage_reception"


_EVERY_ROLE = {
    Perm.VIEW_WORKSPACE,
    Perm.VIEW_ORGANISATION,
    Perm.VIEW_REFERENTIEL,
    Perm.VIEW_REQUESTS,
}
# Those who answer citizens: agents, their heads, and the quality manager.
_HANDLERS = {Perm.HANDLE_REQUESTS, Perm.ENTER_INDICATOR_VALUES, Perm.RECEIVE_VISITORS}

ROLE_PERMISSIONS: dict[str, frozenset[Perm]] = {
    Role.AGENT: frozenset(_EVERY_ROLE | _HANDLERS),
    Role.SERVICE_HEAD: frozenset(
        _EVERY_ROLE | _HANDLERS | {Perm.VALIDATE_REPLIES, Perm.VIEW_REPORTS, Perm.VIEW_INDICATORS}
    ),
    Role.QUALITY_MANAGER: frozenset(
        _EVERY_ROLE
        | _HANDLERS
        | {
            Perm.MANAGE_REFERENTIEL,
            Perm.VIEW_HISTORY,
            Perm.VALIDATE_REPLIES,
            Perm.MANAGE_PERSONAL_DATA,
            Perm.VIEW_REPORTS,
            Perm.MANAGE_REPORTS,
            Perm.VIEW_INDICATORS,
            Perm.MANAGE_INDICATORS,
            Perm.MANAGE_RECEPTION,
        }
    ),
    Role.AUDITOR: frozenset(
        _EVERY_ROLE | {Perm.VIEW_HISTORY, Perm.VIEW_REPORTS, Perm.VIEW_INDICATORS}
    ),
    Role.DIRECTION: frozenset(_EVERY_ROLE | {Perm.VIEW_REPORTS, Perm.VIEW_INDICATORS}),
    Role.ADMINISTRATOR: frozenset(
        _EVERY_ROLE
        | {
            Perm.MANAGE_ORGANISATION,
            Perm.VIEW_HISTORY,
            Perm.MANAGE_PERSONAL_DATA,
            Perm.MANAGE_RECEPTION,
        }
    ),
}

_CACHE_ATTRIBUTE = "_qualicite_memberships"


def memberships(user) -> dict[int, Membership]:
    """The user's active memberships by organisation id, read once per request."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return {}
    cached = getattr(user, _CACHE_ATTRIBUTE, None)
    if cached is None:
        rows = (
            Membership.objects.filter(user=user, is_active=True, organisation__is_active=True)
            .select_related("organisation")
            .prefetch_related("services")
        )
        cached = {m.organisation_id: m for m in rows}
        setattr(user, _CACHE_ATTRIBUTE, cached)
    return cached


def forget(user) -> None:
    """Drop the cached memberships (after a membership changed)."""
    if hasattr(user, _CACHE_ATTRIBUTE):
        delattr(user, _CACHE_ATTRIBUTE)


def membership(user, organisation: Organisation) -> Membership | None:
    return memberships(user).get(organisation.pk)


def has_perm(user, organisation: Organisation, perm: Perm) -> bool:
    found = membership(user, organisation)
    return found is not None and perm in ROLE_PERMISSIONS.get(found.role, frozenset())


def perms(user, organisation: Organisation) -> frozenset[Perm]:
    found = membership(user, organisation)
    return ROLE_PERMISSIONS.get(found.role, frozenset()) if found else frozenset()


def _with_descendants(organisation: Organisation, roots: set[int]) -> set[int]:
    children: dict[int | None, list[int]] = {}
    for pk, parent in Service.objects.filter(organisation=organisation).values_list(
        "pk", "parent_id"
    ):
        children.setdefault(parent, []).append(pk)
    found, pending = set(), list(roots)
    while pending:
        pk = pending.pop()
        if pk not in found:
            found.add(pk)
            pending.extend(children.get(pk, ()))
    return found


def restricted_service_ids(user, organisation: Organisation) -> set[int] | None:
    """The services a restricted member may see (with sub-services), None when unrestricted."""
    found = membership(user, organisation)
    if found is None:
        return set()
    roots = {service.pk for service in found.services.all()}
    if not roots:
        return None
    return _with_descendants(organisation, roots)


def visible_services(user, organisation: Organisation) -> QuerySet[Service]:
    services = Service.objects.filter(organisation=organisation)
    if membership(user, organisation) is None:
        return services.none()
    allowed = restricted_service_ids(user, organisation)
    return services if allowed is None else services.filter(pk__in=allowed)


def scope(
    queryset: QuerySet, user, organisation: Organisation, *, service_field: str | None = "service"
) -> QuerySet:
    """Rows of `organisation` that `user` may see.

    Rows are limited to the member's services when the membership is restricted;
    a row whose service is empty is then hidden too (it belongs to no service the
    member was given). For a field holding several services, rows touching one
    allowed service are kept.
    """
    queryset = queryset.filter(organisation=organisation)
    if membership(user, organisation) is None:
        return queryset.none()
    allowed = restricted_service_ids(user, organisation)
    if allowed is None or service_field is None:
        return queryset
    return queryset.filter(Q(**{f"{service_field}__in": allowed})).distinct()


def organisation_view(perm: Perm):
    """Decorate a view of /<org-slug>/espace/…: resolve the organisation, check `perm`.

    Anonymous users go to the login page; members without the permission and
    users of other organisations get 403. The view receives the organisation as
    its second argument; request.organisation and request.membership are set.
    """

    def decorator(view):
        @wraps(view)
        def wrapper(request, org_slug, *args, **kwargs):
            organisation = get_object_or_404(Organisation, slug=org_slug, is_active=True)
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not has_perm(request.user, organisation, perm):
                raise PermissionDenied
            request.organisation = organisation
            request.membership = membership(request.user, organisation)
            return view(request, organisation, *args, **kwargs)

        wrapper.required_perm = perm
        return wrapper

    return decorator


def public_organisation(view):
    """Decorate a public view of /<org-slug>/…: no account needed, unknown slug is 404."""

    @wraps(view)
    def wrapper(request, org_slug, *args, **kwargs):
        organisation = get_object_or_404(Organisation, slug=org_slug, is_active=True)
        request.organisation = organisation
        return view(request, organisation, *args, **kwargs)

    return wrapper
