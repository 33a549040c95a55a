"""Every write to organisations, services, sites and memberships goes through here."""

from django.db import transaction

from qualicite.core import events, permissions
from qualicite.core.models import (
    Membership,
    OpeningHours,
    Organisation,
    OrganisationEvent,
    Service,
    Site,
    SiteClosure,
)


def _log(organisation, *, actor, verb, subject=None, **details):
    return events.record(
        OrganisationEvent,
        organisation=organisation,
        actor=actor,
        verb=verb,
        subject=subject,
        details=details,
    )


@transaction.atomic
def create_organisation(*, actor, name: str, slug: str, **fields) -> Organisation:
    organisation = Organisation(name=name, slug=slug, **fields)
    organisation.full_clean()
    organisation.save()
    _log(organisation, actor=actor, verb="organisation.created", subject=organisation)
    return organisation


@transaction.atomic
def update_organisation(organisation: Organisation, *, actor, **fields) -> Organisation:
    changed = {k: v for k, v in fields.items() if getattr(organisation, k) != v}
    for key, value in changed.items():
        setattr(organisation, key, value)
    if changed:
        organisation.full_clean()
        organisation.save()
        _log(
            organisation,
            actor=actor,
            verb="organisation.updated",
            subject=organisation,
            fields=sorted(changed),
        )
    return organisation


@transaction.atomic
def create_service(
    organisation: Organisation, *, actor, code: str, name: str, parent=None, **fields
) -> Service:
    service = Service(organisation=organisation, code=code, name=name, parent=parent, **fields)
    service.full_clean()
    service.save()
    _log(organisation, actor=actor, verb="service.created", subject=service, code=code)
    return service


@transaction.atomic
def create_site(
    organisation: Organisation,
    *,
    actor,
    code: str,
    name: str,
    opening_hours=(),
    services=(),
    **fields,
) -> Site:
    """Create a site; opening_hours is a list of (weekday, opens, closes)."""
    site = Site(organisation=organisation, code=code, name=name, **fields)
    site.full_clean()
    site.save()
    site.services.set(services)
    for weekday, opens, closes in opening_hours:
        span = OpeningHours(site=site, weekday=weekday, opens=opens, closes=closes)
        span.full_clean()
        span.save()
    _log(organisation, actor=actor, verb="site.created", subject=site, code=code)
    return site


@transaction.atomic
def add_site_closure(site: Site, *, actor, start_date, end_date, reason="") -> SiteClosure:
    closure = SiteClosure(site=site, start_date=start_date, end_date=end_date, reason=reason)
    closure.full_clean()
    closure.save()
    _log(
        site.organisation,
        actor=actor,
        verb="site.closure_added",
        subject=site,
        start=start_date.isoformat(),
        end=end_date.isoformat(),
        reason=reason,
    )
    return closure


@transaction.atomic
def grant_membership(
    organisation: Organisation, *, actor, user, role: str, services=()
) -> Membership:
    """Give `user` a role in `organisation` (replacing any role they had there)."""
    found, created = Membership.objects.update_or_create(
        organisation=organisation, user=user, defaults={"role": role, "is_active": True}
    )
    found.services.set(services)
    permissions.forget(user)
    _log(
        organisation,
        actor=actor,
        verb="membership.granted" if created else "membership.changed",
        subject=found,
        user=user.get_username(),
        role=role,
        services=sorted(service.code for service in found.services.all()),
    )
    return found


@transaction.atomic
def revoke_membership(membership: Membership, *, actor) -> None:
    membership.is_active = False
    membership.save(update_fields=["is_active"])
    permissions.forget(membership.user)
    _log(
        membership.organisation,
        actor=actor,
        verb="membership.revoked",
        subject=membership,
        user=membership.user.get_username(),
    )
