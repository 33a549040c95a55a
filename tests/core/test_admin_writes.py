"""Admin writes: validation of related rows, events, and the users of an organisation."""

import datetime as dt

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.urls import reverse

from qualicite.charter.models import (
    CharterEvent,
    Commitment,
    Indicator,
    ServiceTarget,
)
from qualicite.core import services
from qualicite.core.models import (
    Membership,
    OrganisationEvent,
    Role,
    Service,
    Site,
)
from tests.conftest import PASSWORD
from tests.core.admin_support import (
    READ_ONLY,
    an_object,
    change,
    changelist,
    error_codes,
    form_data,
    form_errors,
    one_agent,
)

User = get_user_model()

# ---------------------------------------------------------------------------
# Event logs are read-only
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", sorted(READ_ONLY))
def test_it_lets_nobody_write_an_event_log(client_for, world, administrator, superuser, prefix):
    org, _other_org = world
    event = an_object(prefix, org)
    for user in (administrator, superuser):
        client = client_for(user)
        assert client.get(reverse(f"admin:{prefix}_add")).status_code == 403
        page = client.get(change(prefix, event))
        assert page.status_code == 200 and not page.context["has_change_permission"]
        assert client.post(change(prefix, event), {"verb": "forged"}).status_code == 403
        delete = reverse(f"admin:{prefix}_delete", args=[event.pk])
        assert client.post(delete, {"post": "yes"}).status_code == 403
    event.refresh_from_db()
    assert event.verb != "forged"


# ---------------------------------------------------------------------------
# Services, sites, memberships and the référentiel, with their events
# ---------------------------------------------------------------------------


def test_it_records_an_event_when_an_administrator_changes_a_service(
    client_for, world, administrator
):
    org, _other_org = world
    client = client_for(administrator)
    service = org.service_set.get(code="finances")
    page = client.get(change("core_service", service))
    response = client.post(
        change("core_service", service), form_data(page, name="Finances", in_scope=None)
    )
    assert response.status_code == 302
    event = OrganisationEvent.objects.get(organisation=org, verb="service.changed")
    assert event.actor == administrator
    assert event.subject_id == str(service.pk) and event.subject_name == "Finances"
    assert event.details == {"via": "admin", "fields": ["in_scope"]}


def test_it_records_no_event_when_nothing_changed(client_for, world, administrator):
    org, _other_org = world
    client = client_for(administrator)
    service = org.service_set.get(code="finances")
    page = client.get(change("core_service", service))
    before = OrganisationEvent.objects.count()
    assert client.post(change("core_service", service), form_data(page)).status_code == 302
    assert OrganisationEvent.objects.count() == before


def test_it_records_an_event_when_an_administrator_creates_then_deletes_a_service(
    client_for, world, administrator
):
    org, _other_org = world
    client = client_for(administrator)
    page = client.get(reverse("admin:core_service_add"))
    response = client.post(
        reverse("admin:core_service_add"),
        form_data(
            page,
            name="Mariages",
            code="mariages",
            parent=str(org.service_set.get(code="etat-civil").pk),
        ),
    )
    assert response.status_code == 302
    service = Service.objects.get(organisation=org, code="mariages")
    assert service.parent.code == "etat-civil"
    created = OrganisationEvent.objects.get(
        organisation=org, verb="service.created", subject_name="Mariages"
    )
    assert created.details["via"] == "admin" and "name" in created.details["fields"]
    response = client.post(reverse("admin:core_service_delete", args=[service.pk]), {"post": "yes"})
    assert response.status_code == 302
    assert not Service.objects.filter(pk=service.pk).exists()
    deleted = OrganisationEvent.objects.get(organisation=org, verb="service.deleted")
    assert deleted.subject_name == "Mariages" and deleted.actor == administrator


def test_it_records_a_deletion_made_from_the_list(client_for, world, administrator):
    org, _other_org = world
    service = org.service_set.get(code="finances")
    response = client_for(administrator).post(
        changelist("core_service"),
        {"action": "delete_selected", "_selected_action": [service.pk], "post": "yes"},
    )
    assert response.status_code == 302
    assert not Service.objects.filter(pk=service.pk).exists()
    assert OrganisationEvent.objects.filter(
        organisation=org, verb="service.deleted", subject_name="Finances"
    ).exists()


def test_it_edits_a_sites_opening_hours_and_closures_inline(client_for, world, administrator):
    org, other_org = world
    client = client_for(administrator)
    site = Site.objects.get(organisation=org)
    page = client.get(change("core_site", site))
    assert page.status_code == 200
    hours, closures = (inline.formset for inline in page.context["inline_admin_formsets"])
    assert hours.queryset.count() == 5
    data = form_data(page)
    data.update(
        {
            "opening_hours-TOTAL_FORMS": "6",
            "opening_hours-5-weekday": "5",
            "opening_hours-5-opens": "09:00",
            "opening_hours-5-closes": "12:00",
            "opening_hours-5-site": str(site.pk),
            "closures-TOTAL_FORMS": "1",
            "closures-0-start_date": "2025-05-02",
            "closures-0-end_date": "2025-05-02",
            "closures-0-reason": "Pont du 1er mai",
            "closures-0-site": str(site.pk),
            "services": [str(pk) for pk in org.service_set.values_list("pk", flat=True)],
        }
    )
    response = client.post(change("core_site", site), data)
    assert response.status_code == 302, form_errors(response)
    assert site.opening_hours.filter(weekday=5, opens=dt.time(9)).exists()
    assert site.closures.get().reason == "Pont du 1er mai"
    event = OrganisationEvent.objects.get(organisation=org, verb="site.changed")
    assert event.details["fields"] == ["services"]
    kinds = {entry["kind"]: entry for entry in event.details["related"]}
    assert kinds["openinghours"]["added"] and kinds["siteclosure"]["added"]
    other_site = Site.objects.get(organisation=other_org)
    assert other_site.opening_hours.count() == 5 and not other_site.closures.exists()


def test_it_refuses_a_site_with_another_organisations_service(client_for, world, superuser):
    org, other_org = world
    client = client_for(superuser)
    site = Site.objects.get(organisation=org)
    page = client.get(change("core_site", site))
    choices = page.context["adminform"].form.fields["services"].queryset
    assert set(choices) == set(org.service_set.all())
    response = client.post(
        change("core_site", site),
        form_data(page, services=[str(other_org.service_set.get(code="accueil").pk)]),
    )
    assert response.status_code == 200
    assert error_codes(response, "services") == {"invalid_choice"}


def test_it_records_a_membership_change_and_refreshes_permissions(client_for, world, administrator):
    org, _other_org = world
    client = client_for(administrator)
    membership = Membership.objects.get(organisation=org, role=Role.AUDITOR)
    page = client.get(change("core_membership", membership))
    etat_civil = org.service_set.get(code="etat-civil")
    response = client.post(
        change("core_membership", membership),
        form_data(page, role=Role.SERVICE_HEAD, services=[str(etat_civil.pk)]),
    )
    assert response.status_code == 302
    membership.refresh_from_db()
    assert membership.role == Role.SERVICE_HEAD
    assert list(membership.services.all()) == [etat_civil]
    event = OrganisationEvent.objects.get(organisation=org, verb="membership.changed")
    assert set(event.details["fields"]) == {"role", "services"}


def test_it_searches_users_for_a_membership_only_among_the_administrators_members(
    client_for, world, administrator
):
    _org, _other_org = world
    response = client_for(administrator).get(
        reverse("admin:autocomplete"),
        {"app_label": "core", "model_name": "membership", "field_name": "user", "term": "ville"},
    )
    assert response.status_code == 200
    names = {result["text"] for result in response.json()["results"]}
    assert names and all(name.startswith("ville-a-") for name in names)


def test_it_records_charter_changes_in_the_referentiel_history(client_for, world, administrator):
    org, other_org = world
    client = client_for(administrator)
    commitment = Commitment.objects.get(organisation=org)
    page = client.get(change("charter_commitment", commitment))
    response = client.post(
        change("charter_commitment", commitment),
        form_data(page, channels=["letter", "email"], title="Nous répondons sous 10 jours"),
    )
    assert response.status_code == 302
    commitment.refresh_from_db()
    assert commitment.channels == ["letter", "email"]
    event = CharterEvent.objects.get(organisation=org, verb="commitment.changed")
    assert set(event.details["fields"]) == {"channels", "title"}
    assert not CharterEvent.objects.filter(
        organisation=other_org, verb="commitment.changed"
    ).exists()


def test_it_gives_a_new_service_target_the_indicators_organisation(
    client_for, world, administrator
):
    org, other_org = world
    client = client_for(administrator)
    indicator = Indicator.objects.get(organisation=org)
    page = client.get(change("charter_indicator", indicator))
    data = form_data(page)
    data.update(
        {
            "service_targets-TOTAL_FORMS": "2",
            "service_targets-1-service": str(org.service_set.get(code="finances").pk),
            "service_targets-1-target": "80",
            "service_targets-1-indicator": str(indicator.pk),
        }
    )
    response = client.post(change("charter_indicator", indicator), data)
    assert response.status_code == 302, form_errors(response)
    added = ServiceTarget.objects.get(indicator=indicator, service__code="finances")
    assert added.organisation == org
    data["service_targets-1-service"] = str(other_org.service_set.get(code="finances").pk)
    data["service_targets-TOTAL_FORMS"] = "2"
    data["service_targets-INITIAL_FORMS"] = "1"
    response = client.post(change("charter_indicator", indicator), data)
    assert response.status_code == 200
    targets = response.context["inline_admin_formsets"][0].formset
    assert {error.code for error in targets.forms[1].errors.as_data()["service"]} == {
        "invalid_choice"
    }
    assert ServiceTarget.objects.filter(indicator=indicator).count() == 2


# ---------------------------------------------------------------------------
# Users
# ---------------------------------------------------------------------------


def add_user_data(client, organisation, **changes):
    page = client.get(reverse("admin:auth_user_add"))
    assert page.status_code == 200
    data = form_data(
        page,
        username="nouvelle-agente",
        usable_password="true",
        password1=PASSWORD,
        password2=PASSWORD,
        first_name="Camille",
        last_name="Martin",
        email="camille@example.org",
    )
    data.update(
        {
            "memberships-0-organisation": str(organisation.pk),
            "memberships-0-role": Role.AGENT,
            "memberships-0-is_active": "on",
        }
    )
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


def test_it_lets_an_administrator_create_a_member_but_never_a_superuser(
    client_for, world, administrator
):
    org, _other_org = world
    client = client_for(administrator)
    data = add_user_data(
        client,
        org,
        is_superuser="on",
        is_staff="on",
        groups=["1"],
        **{"memberships-0-services": [str(org.service_set.get(code="accueil").pk)]},
    )
    response = client.post(reverse("admin:auth_user_add"), data)
    assert response.status_code == 302
    created = User.objects.get(username="nouvelle-agente")
    assert not created.is_superuser and not created.is_staff
    assert created.check_password(PASSWORD)
    membership = created.memberships.get()
    assert membership.organisation == org and membership.role == Role.AGENT
    assert [s.code for s in membership.services.all()] == ["accueil"]
    event = OrganisationEvent.objects.get(organisation=org, verb="user.created")
    assert event.actor == administrator and event.details["related"][0]["kind"] == "membership"
    assert client.get(change("auth_user", created)).status_code == 200


def test_it_offers_the_six_roles_and_only_the_administrators_organisations(
    client_for, world, administrator
):
    org, _other_org = world
    page = client_for(administrator).get(reverse("admin:auth_user_add"))
    assert "is_superuser" not in page.context["adminform"].form.fields
    formset = page.context["inline_admin_formsets"][0].formset
    form = formset.forms[0]
    assert {value for value, _label in form.fields["role"].choices if value} == set(Role.values)
    assert list(form.fields["organisation"].queryset) == [org]


def test_it_requires_a_membership_when_an_administrator_creates_a_user(
    client_for, world, administrator
):
    org, _other_org = world
    client = client_for(administrator)
    data = add_user_data(
        client, org, **{"memberships-0-organisation": "", "memberships-0-role": ""}
    )
    response = client.post(reverse("admin:auth_user_add"), data)
    assert response.status_code == 200
    assert not User.objects.filter(username="nouvelle-agente").exists()


def test_it_refuses_a_membership_in_another_organisation_on_the_user_form(
    client_for, world, administrator
):
    org, other_org = world
    client = client_for(administrator)
    data = add_user_data(client, org, **{"memberships-0-organisation": str(other_org.pk)})
    response = client.post(reverse("admin:auth_user_add"), data)
    assert response.status_code == 200
    assert not User.objects.filter(username="nouvelle-agente").exists()
    data = add_user_data(
        client,
        org,
        **{"memberships-0-services": [str(other_org.service_set.get(code="accueil").pk)]},
    )
    response = client.post(reverse("admin:auth_user_add"), data)
    assert response.status_code == 200
    assert not User.objects.filter(username="nouvelle-agente").exists()


def test_it_hides_superuser_groups_and_permissions_from_an_administrator(
    client_for, world, administrator
):
    org, _other_org = world
    client = client_for(administrator)
    agent = one_agent(org)
    page = client.get(change("auth_user", agent))
    fields = page.context["adminform"].form.fields
    assert {"is_superuser", "groups", "user_permissions"}.isdisjoint(fields)
    response = client.post(
        change("auth_user", agent), form_data(page, is_superuser="on", groups=["1"])
    )
    assert response.status_code == 302
    agent.refresh_from_db()
    assert not agent.is_superuser


def test_it_does_not_let_an_administrator_edit_a_superuser(client_for, world, administrator):
    org, _other_org = world
    operator = User.objects.create_superuser("operateur-a", "op-a@example.org", PASSWORD)
    services.grant_membership(org, actor=None, user=operator, role=Role.AGENT)
    client = client_for(administrator)
    page = client.get(change("auth_user", operator))
    assert page.status_code == 200 and not page.context["has_change_permission"]
    response = client.post(change("auth_user", operator), {"username": "pris", "is_active": ""})
    assert response.status_code == 403
    password = reverse("admin:auth_user_password_change", args=[operator.pk])
    assert client.get(password).status_code == 403
    delete = reverse("admin:auth_user_delete", args=[operator.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    operator.refresh_from_db()
    assert operator.username == "operateur-a" and operator.is_active


def test_it_does_not_let_an_administrator_edit_a_user_holding_django_permissions(
    client_for, world, administrator
):
    org, _other_org = world
    agent = one_agent(org)
    agent.user_permissions.add(Permission.objects.get(codename="view_group"))
    client = client_for(administrator)
    response = client.post(
        reverse("admin:auth_user_password_change", args=[agent.pk]),
        {"password1": "nouveau-mot-de-passe-42", "password2": "nouveau-mot-de-passe-42"},
    )
    assert response.status_code == 403


def test_it_leaves_a_user_shared_with_another_organisation_to_a_platform_operator(
    client_for, world, administrator, other_users
):
    org, _other_org = world
    shared = other_users[Role.ADMINISTRATOR]
    services.grant_membership(org, actor=None, user=shared, role=Role.AGENT)
    client = client_for(administrator)
    page = client.get(change("auth_user", shared))
    assert page.status_code == 200 and not page.context["has_change_permission"]
    memberships = page.context["inline_admin_formsets"][0].formset.queryset
    assert [m.organisation for m in memberships] == [org]
    response = client.post(
        reverse("admin:auth_user_password_change", args=[shared.pk]),
        {"password1": "nouveau-mot-de-passe-42", "password2": "nouveau-mot-de-passe-42"},
    )
    assert response.status_code == 403
    shared.refresh_from_db()
    assert shared.check_password(PASSWORD)


def test_it_lets_an_administrator_reset_a_members_password(client_for, world, administrator):
    org, _other_org = world
    agent = one_agent(org)
    response = client_for(administrator).post(
        reverse("admin:auth_user_password_change", args=[agent.pk]),
        {
            "password1": "nouveau-mot-de-passe-42",
            "password2": "nouveau-mot-de-passe-42",
            "usable_password": "true",
        },
    )
    assert response.status_code == 302
    agent.refresh_from_db()
    assert agent.check_password("nouveau-mot-de-passe-42")
    assert OrganisationEvent.objects.filter(
        organisation=org, verb="user.password_changed", subject_id=str(agent.pk)
    ).exists()


def test_it_gives_staff_status_only_to_administrator_members(client_for, world, administrator):
    org, _other_org = world
    client = client_for(administrator)
    agent = one_agent(org)
    page = client.get(change("auth_user", agent))
    response = client.post(change("auth_user", agent), form_data(page, is_staff="on"))
    assert response.status_code == 200
    codes = {
        error.code
        for formset in response.context["inline_admin_formsets"]
        for error in formset.formset.non_form_errors().as_data()
    }
    assert codes == {"staff_without_administrator_role"}
    agent.refresh_from_db()
    assert not agent.is_staff
    response = client.post(
        change("auth_user", agent),
        form_data(page, is_staff="on", **{"memberships-0-role": Role.ADMINISTRATOR}),
    )
    assert response.status_code == 302
    agent.refresh_from_db()
    assert agent.is_staff and agent.memberships.get().role == Role.ADMINISTRATOR
    event = OrganisationEvent.objects.get(organisation=org, verb="user.changed")
    assert event.details["fields"] == ["is_staff"]
    assert client_for(agent).get(changelist("core_service")).status_code == 200


def test_it_lists_only_the_members_of_the_administrators_organisations(
    client_for, world, administrator
):
    response = client_for(administrator).get(changelist("auth_user"))
    names = {user.username for user in response.context["cl"].result_list}
    assert names and all(name.startswith("ville-a-") for name in names)
    filters = {spec.field_path for spec in response.context["cl"].filter_specs}
    assert filters == {"is_staff", "is_active"}


def test_it_opens_the_admin_index_with_only_the_administrators_models(
    client_for, world, administrator
):
    response = client_for(administrator).get(reverse("admin:index"))
    models = {
        model["object_name"] for app in response.context["app_list"] for model in app["models"]
    }
    assert models == {
        "Organisation",
        "Service",
        "Site",
        "Membership",
        "OrganisationEvent",
        "User",
        "Programme",
        "Commitment",
        "Indicator",
        "CharterEvent",
        "Theme",
        "Prestation",
        "ReplyTemplate",
        "RequestSettings",
        "Mailbox",
        "RequestEvent",
        "ReportEvent",
        "Rollup",
        "PendingRollup",
        "RollupState",
        "ManualValue",
        "Alert",
        "IndicatorEvent",
        "QueueMapping",
        "CallImport",
        "Call",
        "DeskVisit",
        "Appointment",
        "ReceptionEvent",
    }
