import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.urls import reverse
from django.utils.translation import gettext

from qualicite.charter.models import Commitment
from qualicite.core import permissions
from qualicite.core.models import Membership, Organisation, Role, Service
from qualicite.core.permissions import Perm
from qualicite.demo.loader import DEMO_PASSWORD


@pytest.fixture
def demo(db, capsys):
    call_command("demo")
    return capsys.readouterr().out


def test_it_creates_the_two_towns_with_one_login_per_role(demo):
    assert set(Organisation.objects.values_list("slug", flat=True)) == {"beaulieu", "saint-aubin"}
    for organisation in Organisation.objects.all():
        roles = set(
            Membership.objects.filter(organisation=organisation).values_list("role", flat=True)
        )
        assert roles == set(Role.values)
    expected = gettext("Password for every demo login: %(password)s") % {"password": DEMO_PASSWORD}
    assert expected in demo
    assert "beaulieu-qualite" in demo and "saint-aubin-agent" in demo


def test_the_smaller_town_keeps_three_services_outside_the_scope(demo):
    outside = Service.objects.filter(organisation__slug="saint-aubin", in_scope=False)
    assert set(outside.values_list("code", flat=True)) == {"ccas", "police", "technique"}


def test_each_town_has_adopted_its_referentiel(demo):
    for slug in ("beaulieu", "saint-aubin"):
        assert Commitment.objects.filter(organisation__slug=slug).count() >= 8


def test_running_it_twice_changes_nothing(demo):
    counts = (
        Organisation.objects.count(),
        Service.objects.count(),
        Commitment.objects.count(),
        Membership.objects.count(),
        get_user_model().objects.count(),
    )
    call_command("demo")
    assert counts == (
        Organisation.objects.count(),
        Service.objects.count(),
        Commitment.objects.count(),
        Membership.objects.count(),
        get_user_model().objects.count(),
    )


def test_every_printed_login_works_with_the_demo_password(demo, client):
    for membership in Membership.objects.select_related("user", "organisation"):
        assert client.login(username=membership.user.username, password=DEMO_PASSWORD)
        response = client.get(
            reverse("core:workspace", kwargs={"org_slug": membership.organisation.slug})
        )
        assert response.status_code == 200
        client.logout()


def test_a_demo_user_sees_nothing_of_the_other_town(demo, client):
    client.login(username="beaulieu-qualite", password=DEMO_PASSWORD)
    assert (
        client.get(reverse("core:workspace", kwargs={"org_slug": "saint-aubin"})).status_code == 403
    )
    user = get_user_model().objects.get(username="beaulieu-qualite")
    assert not permissions.has_perm(
        user, Organisation.objects.get(slug="saint-aubin"), Perm.VIEW_WORKSPACE
    )


def test_the_demo_agent_is_restricted_to_the_front_desk(demo):
    user = get_user_model().objects.get(username="beaulieu-agent")
    visible = permissions.visible_services(user, Organisation.objects.get(slug="beaulieu"))
    assert list(visible.values_list("code", flat=True)) == ["accueil"]


def test_scale_adds_agents_deterministically(db):
    call_command("demo", "--scale", "2", verbosity=0)
    first = sorted(get_user_model().objects.values_list("username", "first_name", "last_name"))
    call_command("demo", "--scale", "2", verbosity=0)
    assert first == sorted(
        get_user_model().objects.values_list("username", "first_name", "last_name")
    )
    assert Membership.objects.filter(user__username__startswith="beaulieu-agent-").count() == 5
