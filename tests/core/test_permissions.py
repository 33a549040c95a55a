from qualicite.core import permissions, services
from qualicite.core.models import Role, Service
from qualicite.core.permissions import Perm


def test_only_the_quality_manager_may_change_the_referentiel(org, users):
    allowed = {
        role
        for role, user in users.items()
        if permissions.has_perm(user, org, Perm.MANAGE_REFERENTIEL)
    }
    assert allowed == {Role.QUALITY_MANAGER}


def test_a_user_has_no_permission_in_another_organisation(org, users, other_org):
    for user in users.values():
        assert permissions.perms(user, other_org) == frozenset()
        assert not permissions.visible_services(user, other_org).exists()


def test_a_revoked_membership_grants_nothing(org, users):
    agent = users[Role.AGENT]
    services.revoke_membership(permissions.membership(agent, org), actor=None)
    agent.refresh_from_db()  # the next request loads the user afresh
    permissions.forget(agent)
    assert not permissions.has_perm(agent, org, Perm.VIEW_WORKSPACE)


def test_a_restricted_member_sees_sub_services_but_not_siblings(org, users):
    visible = set(
        permissions.visible_services(users["restricted_agent"], org).values_list("code", flat=True)
    )
    assert visible == {"etat-civil", "naissances"}


def test_scope_keeps_only_rows_of_the_organisation_and_allowed_services(org, other_org, users):
    rows = Service.objects.all()
    scoped = permissions.scope(rows, users["restricted_agent"], org, service_field="pk")
    assert set(scoped.values_list("code", flat=True)) == {"etat-civil", "naissances"}
    unrestricted = permissions.scope(rows, users[Role.AGENT], org, service_field="pk")
    assert unrestricted.count() == Service.objects.filter(organisation=org).count()
    assert not permissions.scope(rows, users[Role.AGENT], other_org).exists()


def test_an_inactive_organisation_grants_nothing(org, users):
    org.is_active = False
    org.save()
    permissions.forget(users[Role.AGENT])
    assert permissions.membership(users[Role.AGENT], org) is None
