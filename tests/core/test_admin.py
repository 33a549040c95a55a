"""The admin is the configuration tool: an organisation's administrator sees only their own.

Every registered model is visited through the real admin URLs as the administrator
of `org`, as every other role, as the administrator of `other_org` and as a
superuser (platform operator).
"""

from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from qualicite.charter.models import (
    Indicator,
)
from qualicite.core import services
from qualicite.core.admin_scoping import organisation_id_of
from qualicite.core.models import (
    Membership,
    Organisation,
    OrganisationEvent,
    Role,
    Service,
)
from tests.core.admin_support import (
    MODELS,
    NO_ADD_FOR_ADMINISTRATORS,
    an_object,
    change,
    changelist,
    error_codes,
    form_data,
    form_errors,
    listed,
    one_agent,
    staff,
)

User = get_user_model()

# ---------------------------------------------------------------------------
# Scoping of lists and objects
# ---------------------------------------------------------------------------


def test_it_lists_only_the_administrators_organisation_on_every_changelist(
    client_for, world, administrator
):
    org, _other_org = world
    client = client_for(administrator)
    for prefix, rows in MODELS.items():
        response = client.get(changelist(prefix))
        assert response.status_code == 200, prefix
        assert listed(response) == set(rows(org).values_list("pk", flat=True)), prefix
        assert listed(response), prefix


def test_it_opens_the_administrators_own_objects(client_for, world, administrator):
    org, _other_org = world
    client = client_for(administrator)
    for prefix in MODELS:
        response = client.get(change(prefix, an_object(prefix, org)))
        assert response.status_code == 200, prefix


def test_it_hides_another_organisations_objects_from_an_administrator(
    client_for, world, administrator
):
    _org, other_org = world
    client = client_for(administrator)
    for prefix in MODELS:
        obj = an_object(prefix, other_org)
        for view in ("change", "history", "delete"):
            response = client.get(reverse(f"admin:{prefix}_{view}", args=[obj.pk]))
            if view == "delete" and prefix in NO_ADD_FOR_ADMINISTRATORS:
                assert response.status_code == 403, (prefix, view)
            else:
                assert response.status_code == 302, (prefix, view)
                assert response["Location"] == reverse("admin:index"), (prefix, view)
        response = client.post(change(prefix, obj), {"name": "Piraté"})
        assert response.status_code in (302, 403), prefix
    assert not Service.objects.filter(name="Piraté").exists()
    assert other_org.name == Organisation.objects.get(pk=other_org.pk).name


def test_it_hides_another_organisations_users_and_their_password_page(
    client_for, world, administrator
):
    _org, other_org = world
    stranger = one_agent(other_org)
    response = client_for(administrator).get(
        reverse("admin:auth_user_password_change", args=[stranger.pk])
    )
    assert response.status_code == 404


def test_it_shows_every_organisation_to_a_superuser(client_for, world, superuser):
    org, other_org = world
    client = client_for(superuser)
    for prefix, rows in MODELS.items():
        response = client.get(changelist(prefix))
        assert response.status_code == 200, prefix
        expected = set(rows(org).values_list("pk", flat=True)) | set(
            rows(other_org).values_list("pk", flat=True)
        )
        assert expected <= listed(response), prefix
        assert client.get(change(prefix, an_object(prefix, other_org))).status_code == 200


def test_it_refuses_the_admin_to_every_other_role_even_with_staff_status(client_for, world, users):
    org, _other_org = world
    problems = []
    for role, user in users.items():
        if role == Role.ADMINISTRATOR:
            continue
        staff(user)
        client = client_for(user)
        index = client.get(reverse("admin:index"))
        if index.status_code != 200 or index.context["app_list"]:
            problems.append((role, "index", index.status_code))
        for prefix in MODELS:
            for url in (
                changelist(prefix),
                reverse(f"admin:{prefix}_add"),
                change(prefix, an_object(prefix, org)),
            ):
                got = client.get(url).status_code
                if got != 403:
                    problems.append((role, url, got))
    assert not problems, "\n".join(map(str, problems))


def test_it_sends_members_without_staff_status_to_the_admin_login(client_for, world, users):
    org, _other_org = world
    for role, user in users.items():
        client = client_for(user)
        for prefix in MODELS:
            response = client.get(change(prefix, an_object(prefix, org)))
            assert response.status_code == 302, (role, prefix)
            assert response["Location"].startswith(reverse("admin:login")), (role, prefix)


def test_it_refuses_an_inactive_administrator_membership(client_for, world, administrator):
    Membership.objects.filter(user=administrator).update(is_active=False)
    response = client_for(administrator).get(changelist("core_service"))
    assert response.status_code == 403


def test_it_gives_an_administrator_of_two_organisations_both(client_for, world, administrator):
    org, other_org = world
    services.grant_membership(other_org, actor=None, user=administrator, role=Role.ADMINISTRATOR)
    response = client_for(administrator).get(changelist("core_service"))
    assert listed(response) == set(
        Service.objects.filter(organisation__in=[org, other_org]).values_list("pk", flat=True)
    )
    assert "organisation" in response.context["cl"].list_display


def test_it_offers_list_filters_only_for_the_administrators_own_rows(
    client_for, world, administrator
):
    org, _other_org = world
    response = client_for(administrator).get(changelist("core_membership"))
    choices = set()
    for spec in response.context["cl"].filter_specs:
        if hasattr(spec, "lookup_choices") and spec.field.related_model is Service:
            choices |= {pk for pk, _label in spec.lookup_choices}
    assert choices
    assert choices <= set(org.service_set.values_list("pk", flat=True))
    assert "organisation" not in response.context["cl"].list_display


# ---------------------------------------------------------------------------
# Choices and validation of related rows
# ---------------------------------------------------------------------------


def test_it_hides_other_organisations_rows_from_the_choices_of_add_forms(
    client_for, world, administrator
):
    org, _other_org = world
    client = client_for(administrator)
    expected = {
        "core_service": ["organisation", "parent"],
        "core_site": ["organisation", "services"],
        "core_membership": ["organisation", "services", "user"],
        "charter_programme": ["organisation"],
        "charter_commitment": ["organisation", "programme", "services"],
        "charter_indicator": ["organisation", "commitment"],
    }
    for prefix, fields in expected.items():
        response = client.get(reverse(f"admin:{prefix}_add"))
        assert response.status_code == 200, prefix
        form = response.context["adminform"].form
        for name in fields:
            rows = list(form.fields[name].queryset)
            assert rows, (prefix, name)
            for row in rows:
                if isinstance(row, User):
                    assert row.memberships.filter(organisation=org).exists(), (prefix, name)
                else:
                    assert organisation_id_of(row) == org.pk, (prefix, name, row)
        assert form.fields["organisation"].initial == org.pk


def test_it_offers_only_the_indicators_organisation_in_service_targets(
    client_for, world, superuser
):
    org, _other_org = world
    indicator = Indicator.objects.get(organisation=org)
    response = client_for(superuser).get(change("charter_indicator", indicator))
    formset = response.context["inline_admin_formsets"][0].formset
    choices = formset.empty_form.fields["service"].queryset
    assert set(choices) == set(org.service_set.all())


def test_it_refuses_a_membership_with_another_organisations_service(
    client_for, world, administrator
):
    org, other_org = world
    client = client_for(administrator)
    membership = Membership.objects.get(user=one_agent(org))
    page = client.get(change("core_membership", membership))
    foreign = other_org.service_set.get(code="accueil")
    response = client.post(
        change("core_membership", membership), form_data(page, services=[str(foreign.pk)])
    )
    assert response.status_code == 200
    assert error_codes(response, "services") == {"invalid_choice"}
    assert not membership.services.exists()


def test_it_refuses_another_organisations_service_even_to_a_superuser(client_for, world, superuser):
    org, other_org = world
    client = client_for(superuser)
    member = one_agent(org)
    Membership.objects.filter(user=member).delete()
    page = client.get(reverse("admin:core_membership_add"))
    response = client.post(
        reverse("admin:core_membership_add"),
        form_data(
            page,
            organisation=str(org.pk),
            user=str(member.pk),
            role=Role.AGENT,
            services=[str(other_org.service_set.get(code="accueil").pk)],
            is_active="on",
        ),
    )
    assert response.status_code == 200
    assert error_codes(response, "services") == {"other_organisation"}
    assert not Membership.objects.filter(user=member).exists()


def test_it_refuses_a_parent_service_of_another_organisation_even_to_a_superuser(
    client_for, world, superuser
):
    org, other_org = world
    client = client_for(superuser)
    page = client.get(reverse("admin:core_service_add"))
    response = client.post(
        reverse("admin:core_service_add"),
        form_data(
            page,
            organisation=str(org.pk),
            parent=str(other_org.service_set.get(code="etat-civil").pk),
            name="Mariages",
            code="mariages",
            position="0",
        ),
    )
    assert response.status_code == 200
    assert "other_organisation" in error_codes(response, "parent")
    assert not Service.objects.filter(code="mariages").exists()


def test_it_refuses_to_create_rows_in_another_organisation(client_for, world, administrator):
    _org, other_org = world
    client = client_for(administrator)
    page = client.get(reverse("admin:core_service_add"))
    response = client.post(
        reverse("admin:core_service_add"),
        form_data(page, organisation=str(other_org.pk), name="Intrus", code="intrus"),
    )
    assert response.status_code == 200
    assert error_codes(response, "organisation") == {"invalid_choice"}
    assert not Service.objects.filter(code="intrus").exists()


def test_it_keeps_the_organisation_of_an_existing_row(client_for, world, superuser):
    org, other_org = world
    service = org.service_set.get(code="finances")
    client = client_for(superuser)
    page = client.get(change("core_service", service))
    response = client.post(
        change("core_service", service),
        form_data(page, organisation=str(other_org.pk), name="Finances et budget"),
    )
    assert response.status_code == 302
    service.refresh_from_db()
    assert service.organisation == org and service.name == "Finances et budget"


# ---------------------------------------------------------------------------
# The organisation itself
# ---------------------------------------------------------------------------


def test_it_lets_an_administrator_configure_their_organisation(
    client_for, world, administrator, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    org, _other_org = world
    client = client_for(administrator)
    page = client.get(change("core_organisation", org))
    assert "slug" not in page.context["adminform"].form.fields
    assert "is_active" not in page.context["adminform"].form.fields
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    data = form_data(
        page,
        name="Ville A la Jolie",
        slug="autre-adresse",
        primary_colour="#7a1f3d",
        holiday_region="57",
    )
    data["logo"] = SimpleUploadedFile("logo.png", png, content_type="image/png")
    response = client.post(change("core_organisation", org), data)
    assert response.status_code == 302
    org.refresh_from_db()
    assert org.name == "Ville A la Jolie"
    assert org.slug == "ville-a"
    assert org.primary_colour == "#7a1f3d" and org.holiday_region == "57"
    assert org.logo.name.endswith(".png")
    event = OrganisationEvent.objects.get(organisation=org, verb="organisation.changed")
    assert set(event.details["fields"]) == {"name", "primary_colour", "holiday_region", "logo"}


def test_it_refuses_a_primary_colour_white_text_cannot_be_read_on(client_for, world, administrator):
    org, _other_org = world
    client = client_for(administrator)
    page = client.get(change("core_organisation", org))
    response = client.post(
        change("core_organisation", org), form_data(page, primary_colour="#ffcc00")
    )
    assert response.status_code == 200
    assert "primary_colour" in form_errors(response)


def test_it_refuses_a_logo_that_is_not_a_png_or_jpeg(client_for, world, administrator):
    org, _other_org = world
    client = client_for(administrator)
    page = client.get(change("core_organisation", org))
    data = form_data(page)
    data["logo"] = SimpleUploadedFile("logo.svg", b"<svg xmlns='http://www.w3.org/2000/svg'/>")
    response = client.post(change("core_organisation", org), data)
    assert response.status_code == 200
    assert "logo" in form_errors(response)


def test_it_does_not_let_an_administrator_add_or_delete_organisations(
    client_for, world, administrator
):
    org, _other_org = world
    client = client_for(administrator)
    assert client.get(reverse("admin:core_organisation_add")).status_code == 403
    response = client.post(
        reverse("admin:core_organisation_add"), {"name": "Ville C", "slug": "ville-c"}
    )
    assert response.status_code == 403
    delete = reverse("admin:core_organisation_delete", args=[org.pk])
    assert client.get(delete).status_code == 403
    assert client.post(delete, {"post": "yes"}).status_code == 403
    response = client.post(
        changelist("core_organisation"),
        {"action": "delete_selected", "_selected_action": [org.pk], "post": "yes"},
    )
    assert Organisation.objects.filter(pk=org.pk).exists()
    assert not Organisation.objects.filter(slug="ville-c").exists()


def test_it_lets_a_superuser_add_and_delete_an_organisation_with_its_history(
    client_for, world, superuser
):
    client = client_for(superuser)
    page = client.get(reverse("admin:core_organisation_add"))
    response = client.post(
        reverse("admin:core_organisation_add"),
        form_data(page, name="Ville C", slug="ville-c", time_zone="Europe/Paris"),
    )
    assert response.status_code == 302
    created = Organisation.objects.get(slug="ville-c")
    assert OrganisationEvent.objects.filter(
        organisation=created, verb="organisation.created"
    ).exists()
    services.create_service(created, actor=superuser, code="accueil", name="Accueil")
    delete = reverse("admin:core_organisation_delete", args=[created.pk])
    page = client.get(delete)
    # Its event log goes with it, although nobody may delete events one by one.
    assert page.status_code == 200 and not page.context["perms_lacking"]
    assert client.post(delete, {"post": "yes"}).status_code == 302
    assert not Organisation.objects.filter(pk=created.pk).exists()
    assert not OrganisationEvent.objects.filter(organisation_id=created.pk).exists()
