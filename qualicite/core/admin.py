"""Registrations of the core models in the organisation-scoped admin (see admin_scoping.py)."""

import django.contrib.auth.admin  # noqa: F401 - registers the default User admin so it can be replaced
from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from qualicite.core import events, permissions
from qualicite.core.admin_scoping import (
    EventLogAdmin,
    OrganisationScopedAdmin,
    OrganisationScopedInline,
    OrganisationScopedInlineFormSet,
    administered_organisation_ids,
    register_organisation_path,
    related_changes,
    scope_queryset,
)
from qualicite.core.models import (
    Membership,
    OpeningHours,
    Organisation,
    OrganisationEvent,
    Role,
    Service,
    Site,
    SiteClosure,
)

# ---------------------------------------------------------------------------
# Organisations, services, sites, memberships and their history.
# ---------------------------------------------------------------------------

register_organisation_path(OpeningHours, "site__organisation")
register_organisation_path(SiteClosure, "site__organisation")


@admin.register(Organisation)
class OrganisationAdmin(OrganisationScopedAdmin, admin.ModelAdmin):
    list_display = ("name", "slug", "insee_code", "is_active")
    list_filter = ("is_active",)
    search_fields = ("name", "slug", "insee_code")
    prepopulated_fields = {"slug": ("name",)}
    fieldsets = (
        (None, {"fields": ("name", "slug", "insee_code", "is_active")}),
        (_("Personal data"), {"fields": ("data_protection_contact",)}),
        (_("Calendar"), {"fields": ("time_zone", "holiday_region")}),
        (_("Branding"), {"fields": ("logo", "primary_colour")}),
    )

    def _is_superuser(self, request) -> bool:
        return administered_organisation_ids(request.user) is None

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if not self._is_superuser(request):
            # The address name is in every public link; deactivating locks everyone out.
            fields += ["slug", "is_active"]
        return fields

    def has_add_permission(self, request):
        return self._is_superuser(request)

    def has_delete_permission(self, request, obj=None):
        return self._is_superuser(request)

    def get_deleted_objects(self, objs, request):
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        # An organisation's history goes with it; nobody may delete events one by one.
        logs = {
            model._meta.verbose_name
            for model, model_admin in self.admin_site._registry.items()
            if isinstance(model_admin, EventLogAdmin)
        }
        return deleted, counts, perms_needed - logs, protected

    def delete_model(self, request, obj):
        # No event: the organisation's history is deleted with it.
        obj.delete()

    def delete_queryset(self, request, queryset):
        queryset.delete()


@admin.register(Service)
class ServiceAdmin(OrganisationScopedAdmin, admin.ModelAdmin):
    list_display = ("name", "code", "parent", "in_scope", "organisation")
    list_filter = ("in_scope", "organisation", "parent")
    list_select_related = ("parent", "organisation")
    search_fields = ("name", "code", "email")
    fields = ("organisation", "parent", "name", "code", "email", "in_scope", "position")
    prepopulated_fields = {"code": ("name",)}


class OpeningHoursInline(OrganisationScopedInline, admin.TabularInline):
    model = OpeningHours
    extra = 0


class SiteClosureInline(OrganisationScopedInline, admin.TabularInline):
    model = SiteClosure
    extra = 0


@admin.register(Site)
class SiteAdmin(OrganisationScopedAdmin, admin.ModelAdmin):
    list_display = ("name", "code", "phone", "organisation")
    list_filter = ("organisation",)
    list_select_related = ("organisation",)
    search_fields = ("name", "code", "address")
    fields = ("organisation", "name", "code", "address", "phone", "email", "services")
    filter_horizontal = ("services",)
    prepopulated_fields = {"code": ("name",)}
    inlines = [OpeningHoursInline, SiteClosureInline]


@admin.register(Membership)
class MembershipAdmin(OrganisationScopedAdmin, admin.ModelAdmin):
    list_display = ("user", "role", "organisation", "is_active")
    list_filter = ("role", "is_active", "organisation", "services")
    list_select_related = ("user", "organisation")
    search_fields = ("user__username", "user__first_name", "user__last_name", "user__email")
    fields = ("organisation", "user", "role", "services", "is_active")
    filter_horizontal = ("services",)
    autocomplete_fields = ("user",)

    def get_readonly_fields(self, request, obj=None):
        fields = super().get_readonly_fields(request, obj)
        if obj is not None:
            fields.append("user")
        return fields

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        permissions.forget(form.instance.user)
        permissions.forget(request.user)


@admin.register(OrganisationEvent)
class OrganisationEventAdmin(EventLogAdmin):
    pass


# ---------------------------------------------------------------------------
# Users: an administrator manages the members of their organisations.
# ---------------------------------------------------------------------------


class MembershipInlineFormSet(OrganisationScopedInlineFormSet):
    # Set per request by MembershipInline.get_formset: True for non-superusers.
    checks_staff_status = False

    def _gives_administrator_role(self, form) -> bool:
        data = getattr(form, "cleaned_data", None) or {}
        return (
            not self._should_delete_form(form)
            and data.get("role") == Role.ADMINISTRATOR
            and bool(data.get("is_active"))
        )

    def clean(self):
        super().clean()
        user = self.instance
        if not self.checks_staff_status or not getattr(user, "is_staff", False):
            return
        if any(self._gives_administrator_role(form) for form in self.forms):
            return
        if user.pk is not None:
            shown = [form.instance.pk for form in self.forms if form.instance.pk]
            elsewhere = Membership.objects.filter(
                user=user, role=Role.ADMINISTRATOR, is_active=True
            ).exclude(pk__in=shown)
            if elsewhere.exists():
                return
        raise ValidationError(
            _(
                "Only members with the administrator role may have staff status: "
                "give them that role or untick “Staff status”."
            ),
            code="staff_without_administrator_role",
        )


class MembershipInline(OrganisationScopedInline, admin.StackedInline):
    model = Membership
    fk_name = "user"
    formset = MembershipInlineFormSet
    fields = ("organisation", "role", "services", "is_active")
    filter_horizontal = ("services",)
    extra = 0

    def _is_superuser(self, request) -> bool:
        return administered_organisation_ids(request.user) is None

    def get_min_num(self, request, obj=None, **kwargs):
        # A user created by an organisation administrator starts as a member.
        return 1 if obj is None and not self._is_superuser(request) else 0

    def get_extra(self, request, obj=None, **kwargs):
        return 1 if obj is None and self._is_superuser(request) else 0

    def _may_change_user(self, request, obj) -> bool:
        # A user the administrator may only view keeps their memberships as they are.
        if obj is None:
            return True
        return self.admin_site.get_model_admin(type(obj)).has_change_permission(request, obj)

    def has_add_permission(self, request, obj=None):
        return super().has_add_permission(request, obj) and self._may_change_user(request, obj)

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and self._may_change_user(request, obj)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and self._may_change_user(request, obj)

    def get_formset(self, request, obj=None, **kwargs):
        kwargs.setdefault("validate_min", True)
        formset = super().get_formset(request, obj, **kwargs)
        formset.checks_staff_status = not self._is_superuser(request)
        return formset


class OrganisationUserAdmin(UserAdmin):
    """Users, scoped: an organisation administrator sees the members of their organisations.

    Rules for a non-superuser:
    - they see users with a membership (active or not) in an organisation they administer;
    - they change or delete only users all of whose memberships are in organisations
      they administer, and never a superuser or a user holding Django groups or
      permissions (a user shared with another organisation is changed by a platform
      operator);
    - superuser status, groups and Django permissions are not shown;
    - staff status (access to this admin) is only for members with the administrator role;
    - a user they create gets a membership in the same form.
    """

    inlines = [MembershipInline]
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("username", "usable_password", "password1", "password2"),
            },
        ),
        (_("Personal info"), {"fields": ("first_name", "last_name", "email")}),
    )
    organisation_fieldsets = (
        (None, {"fields": ("username", "password")}),
        (_("Personal info"), {"fields": ("first_name", "last_name", "email")}),
        (_("Permissions"), {"fields": ("is_active", "is_staff")}),
        (_("Important dates"), {"fields": ("last_login", "date_joined")}),
    )

    def _organisation_ids(self, request):
        return administered_organisation_ids(request.user)

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        return scope_queryset(queryset, self._organisation_ids(request))

    def _user_organisation_ids(self, user) -> set[int]:
        return set(Membership.objects.filter(user=user).values_list("organisation_id", flat=True))

    def has_module_permission(self, request):
        organisation_ids = self._organisation_ids(request)
        return organisation_ids is None or bool(organisation_ids)

    def has_add_permission(self, request):
        return self.has_module_permission(request)

    def has_view_permission(self, request, obj=None):
        organisation_ids = self._organisation_ids(request)
        if organisation_ids is None:
            return True
        if not organisation_ids:
            return False
        return obj is None or bool(self._user_organisation_ids(obj) & organisation_ids)

    def has_change_permission(self, request, obj=None):
        organisation_ids = self._organisation_ids(request)
        if organisation_ids is None:
            return True
        if not organisation_ids:
            return False
        if obj is None:
            return True
        if obj.is_superuser or obj.groups.exists() or obj.user_permissions.exists():
            # Platform operators and accounts with Django permissions are not theirs to manage.
            return False
        theirs = self._user_organisation_ids(obj)
        return bool(theirs) and theirs <= organisation_ids

    def has_delete_permission(self, request, obj=None):
        return self.has_change_permission(request, obj)

    def get_fieldsets(self, request, obj=None):
        if obj is None or self._organisation_ids(request) is None:
            return super().get_fieldsets(request, obj)
        return self.organisation_fieldsets

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if self._organisation_ids(request) is not None:
            fields += ["last_login", "date_joined"]
        return fields

    def get_list_filter(self, request):
        if self._organisation_ids(request) is None:
            return super().get_list_filter(request)
        return ("is_staff", "is_active")

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        if self._organisation_ids(request) is not None and "is_staff" in form.base_fields:
            form.base_fields["is_staff"].help_text = _(
                "Opens this administration on the organisations where the user has the "
                "administrator role; only such members may have it."
            )
        return form

    # Events ------------------------------------------------------------------

    def _record(self, request, user, verb, organisation_ids, details):
        visible = self._organisation_ids(request)
        if visible is not None:
            organisation_ids = set(organisation_ids) & visible
        for organisation in Organisation.objects.filter(pk__in=organisation_ids):
            events.record(
                OrganisationEvent,
                organisation=organisation,
                actor=request.user,
                verb=verb,
                subject=user,
                details=details,
            )

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        permissions.forget(form.instance)
        permissions.forget(request.user)
        related = related_changes(formsets)
        if change and not form.changed_data and not related:
            return
        organisation_ids = self._user_organisation_ids(form.instance)
        for formset in formsets:
            organisation_ids |= {
                row.organisation_id for row in getattr(formset, "deleted_objects", ())
            }
        details = {"via": "admin", "fields": list(form.changed_data)}
        if related:
            details["related"] = related
        verb = "user.changed" if change else "user.created"
        self._record(request, form.instance, verb, organisation_ids, details)

    def delete_model(self, request, obj):
        self._record(
            request, obj, "user.deleted", self._user_organisation_ids(obj), {"via": "admin"}
        )
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self._record(
                request, obj, "user.deleted", self._user_organisation_ids(obj), {"via": "admin"}
            )
        super().delete_queryset(request, queryset)

    def user_change_password(self, request, id, form_url=""):
        response = super().user_change_password(request, id, form_url)
        if (
            request.method == "POST"
            and response.status_code == 302
            and response["Location"] != request.get_full_path()
        ):
            user = self.get_object(request, unquote(id))
            self._record(
                request,
                user,
                "user.password_changed",
                self._user_organisation_ids(user),
                {"via": "admin"},
            )
        return response


User = get_user_model()
if admin.site.is_registered(User):
    admin.site.unregister(User)
admin.site.register(User, OrganisationUserAdmin)
