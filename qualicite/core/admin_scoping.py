"""The Django admin as the organisation's configuration tool, scoped to what its user administers.

Superusers (platform operators) see every organisation. An organisation's
administrator (an active Membership with the administrator role, and the user
has "staff status") sees and changes only the rows of the organisations they
administer; every other role is refused, whatever Django permissions it holds.

Other apps reuse the same pieces in their own admin.py::

    from qualicite.core.admin_scoping import OrganisationScopedAdmin, OrganisationScopedInline

    @admin.register(Survey)
    class SurveyAdmin(OrganisationScopedAdmin, admin.ModelAdmin):
        event_model = SatisfactionEvent
        inlines = [QuestionInline]

    class QuestionInline(OrganisationScopedInline, admin.TabularInline):
        model = Question

A model reaches its organisation through its own `organisation` field; a model
that only reaches it through a parent (OpeningHours through its site) is
declared once with `register_organisation_path(Model, "site__organisation")`.
Foreign keys to a model the admin cannot place in an organisation offer no
choice to a non-superuser: register the model rather than widen the rule.
"""

import django.contrib.auth.admin  # noqa: F401 - registers the default User admin so it can be replaced
from django import forms
from django.contrib import admin
from django.contrib.admin.utils import get_fields_from_path
from django.contrib.auth import get_user_model
from django.core.exceptions import FieldDoesNotExist, ImproperlyConfigured, ValidationError
from django.db.models import Q
from django.forms.models import BaseInlineFormSet
from django.utils.translation import gettext_lazy as _

from qualicite.core import events, permissions
from qualicite.core.models import (
    Membership,
    Organisation,
    OrganisationEvent,
    Role,
)

# ---------------------------------------------------------------------------
# Who administers what, and how a row reaches its organisation.
# ---------------------------------------------------------------------------


def administered_organisation_ids(user) -> frozenset[int] | None:
    """Ids of the organisations `user` may configure in the admin; None means every one.

    A superuser configures every organisation. Anybody else needs staff status
    and an active administrator membership of an active organisation; Django's
    own model permissions play no part.
    """
    if not (
        getattr(user, "is_authenticated", False)
        and getattr(user, "is_active", False)
        and getattr(user, "is_staff", False)
    ):
        return frozenset()
    if user.is_superuser:
        return None
    return frozenset(
        organisation_id
        for organisation_id, found in permissions.memberships(user).items()
        if found.role == Role.ADMINISTRATOR
    )


_ORGANISATION_PATHS: dict[type, str] = {}


def register_organisation_path(model, path: str) -> None:
    """Declare how rows of `model` reach their organisation, e.g. "site__organisation"."""
    _ORGANISATION_PATHS[model] = path


def organisation_path(model) -> str | None:
    """The lookup from `model` to its organisation: "" for Organisation itself, None if unknown."""
    if model in _ORGANISATION_PATHS:
        return _ORGANISATION_PATHS[model]
    if issubclass(model, Organisation):
        return ""
    try:
        field = model._meta.get_field("organisation")
    except FieldDoesNotExist:
        return None
    if field.many_to_one and issubclass(field.related_model, Organisation):
        return "organisation"
    return None


def _in_organisations(path: str, organisation_ids) -> Q:
    return Q(**{f"{path}__in" if path else "pk__in": organisation_ids})


def organisation_of(obj, path: str | None = None) -> Organisation | None:
    """The organisation `obj` belongs to (following `path`, by default its model's)."""
    if path is None:
        path = organisation_path(type(obj))
    if path is None:
        return None
    target = obj
    for hop in path.split("__") if path else ():
        target = getattr(target, hop, None)
        if target is None:
            return None
    return target


def organisation_id_of(obj, path: str | None = None) -> int | None:
    """Like organisation_of, without reading the organisation row itself."""
    if path is None:
        path = organisation_path(type(obj))
    if path is None:
        return None
    if not path:
        return obj.pk
    *hops, last = path.split("__")
    target = obj
    for hop in hops:
        target = getattr(target, hop, None)
        if target is None:
            return None
    return getattr(target, f"{last}_id", None)


def _is_user_model(model) -> bool:
    return issubclass(model, get_user_model())


def scope_queryset(queryset, organisation_ids: frozenset[int] | None):
    """Rows of `queryset` that belong to one of `organisation_ids` (None: leave as is).

    Users belong to the organisations they have a membership in. Rows of a model
    with no known way to an organisation are all withheld.
    """
    if organisation_ids is None:
        return queryset
    model = queryset.model
    if _is_user_model(model):
        members = Membership.objects.filter(organisation__in=organisation_ids)
        return queryset.filter(pk__in=members.values("user_id"))
    path = organisation_path(model)
    if path is None:
        return queryset.none()
    return queryset.filter(_in_organisations(path, organisation_ids))


def _narrow_to_organisation(queryset, organisation_id: int):
    """Choices of a related field once the object's organisation is known."""
    model = queryset.model
    path = organisation_path(model)
    if _is_user_model(model) or path is None:
        return queryset
    return queryset.filter(_in_organisations(path, [organisation_id]))


# ---------------------------------------------------------------------------
# Forms: related rows must belong to the object's organisation.
# ---------------------------------------------------------------------------


class OrganisationScopedForm(forms.ModelForm):
    """A model form whose related rows all belong to the object's organisation.

    Once the organisation is known (an existing object, or an inline row under a
    parent), foreign-key and many-to-many choices are narrowed to it; on
    validation every chosen row must belong to the organisation the object
    belongs to (the one chosen in the form, or its parent's).
    """

    def __init__(self, *args, scoped_organisation_id: int | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.scoped_organisation_id = scoped_organisation_id
        if (
            scoped_organisation_id is not None
            and "organisation" not in self.fields
            and organisation_path(type(self.instance)) == "organisation"
            and self.instance.organisation_id is None
        ):
            # An inline row with its own organisation column takes its parent's.
            self.instance.organisation_id = scoped_organisation_id
        known = self._known_organisation_id()
        if known is None:
            return
        for name, field in self.fields.items():
            if name != "organisation" and isinstance(field, forms.ModelChoiceField):
                field.queryset = _narrow_to_organisation(field.queryset, known)

    def _known_organisation_id(self) -> int | None:
        if self.scoped_organisation_id is not None:
            return self.scoped_organisation_id
        if self.instance.pk is None:
            return None
        return organisation_id_of(self.instance)

    def _organisation_id_to_match(self, cleaned_data) -> int | None:
        if "organisation" in self.fields:
            chosen = cleaned_data.get("organisation")
            return organisation_id_of(chosen) if chosen is not None else None
        if self.scoped_organisation_id is not None:
            return self.scoped_organisation_id
        return organisation_id_of(self.instance)

    def clean(self):
        cleaned_data = super().clean()
        organisation_id = self._organisation_id_to_match(cleaned_data)
        if organisation_id is None:
            return cleaned_data
        for name, field in list(self.fields.items()):
            if not isinstance(field, forms.ModelChoiceField) or cleaned_data.get(name) is None:
                continue
            value = cleaned_data[name]
            rows = list(value) if isinstance(field, forms.ModelMultipleChoiceField) else [value]
            strangers = [
                row for row in rows if organisation_id_of(row) not in (None, organisation_id)
            ]
            if strangers:
                self.add_error(
                    name,
                    ValidationError(
                        _("%(rows)s belongs to another organisation."),
                        code="other_organisation",
                        params={"rows": ", ".join(str(row) for row in strangers)},
                    ),
                )
        return cleaned_data


class OrganisationScopedInlineFormSet(BaseInlineFormSet):
    """Tells every inline form the organisation of the parent object."""

    def get_form_kwargs(self, index):
        kwargs = super().get_form_kwargs(index)
        kwargs["scoped_organisation_id"] = organisation_id_of(self.instance)
        return kwargs


# ---------------------------------------------------------------------------
# The mixins.
# ---------------------------------------------------------------------------


class _ScopedChoices:
    """Foreign-key and many-to-many choices limited to the administered organisations."""

    def _scoped_choices(self, db_field, request, kwargs):
        if "queryset" in kwargs:
            queryset = kwargs["queryset"]
        else:
            queryset = self.get_field_queryset(kwargs.get("using"), db_field, request)
            if queryset is None:
                queryset = db_field.remote_field.model._default_manager.all()
        return scope_queryset(queryset, administered_organisation_ids(request.user))

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        kwargs["queryset"] = self._scoped_choices(db_field, request, kwargs)
        organisation_ids = administered_organisation_ids(request.user)
        if (
            issubclass(db_field.related_model, Organisation)
            and organisation_ids is not None
            and len(organisation_ids) == 1
        ):
            kwargs.setdefault("initial", next(iter(organisation_ids)))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.remote_field.through._meta.auto_created:
            kwargs["queryset"] = self._scoped_choices(db_field, request, kwargs)
        return super().formfield_for_manytomany(db_field, request, **kwargs)


class OrganisationScopedAdmin(_ScopedChoices):
    """Mix into a ModelAdmin (before it) to scope it to the administered organisations.

    - rows: only those of organisations the user administers (superuser: all);
    - permissions: superusers and those administrators only, never other roles;
    - choices: related rows of those organisations, then of the object's own;
    - validation: related rows belong to the object's organisation;
    - the organisation of an existing object cannot be changed;
    - every write records an event (`event_model`, verb "<model>.created|changed|deleted").
    """

    form = OrganisationScopedForm
    # Lookup from the model to its organisation; derived from the model when None.
    organisation_path: str | None = None
    event_model = OrganisationEvent
    # First part of the event verb; the model's name when None.
    event_kind: str | None = None

    def __init__(self, model, admin_site):
        super().__init__(model, admin_site)
        if self.organisation_path is None:
            self.organisation_path = organisation_path(model)
        if self.organisation_path is None:
            raise ImproperlyConfigured(
                f"{type(self).__name__}: {model._meta.label} has no organisation field; "
                "set organisation_path or call register_organisation_path()."
            )

    # Rows and permissions ----------------------------------------------------

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        organisation_ids = administered_organisation_ids(request.user)
        if organisation_ids is None:
            return queryset
        return queryset.filter(_in_organisations(self.organisation_path, organisation_ids))

    def administers_any(self, request) -> bool:
        organisation_ids = administered_organisation_ids(request.user)
        return organisation_ids is None or bool(organisation_ids)

    def administers(self, request, obj=None) -> bool:
        organisation_ids = administered_organisation_ids(request.user)
        if organisation_ids is None:
            return True
        if not organisation_ids:
            return False
        if obj is None:
            return True
        return organisation_id_of(obj, self.organisation_path) in organisation_ids

    def has_module_permission(self, request):
        return self.administers_any(request)

    def has_view_permission(self, request, obj=None):
        return self.administers(request, obj)

    def has_add_permission(self, request):
        return self.administers_any(request)

    def has_change_permission(self, request, obj=None):
        return self.administers(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self.administers(request, obj)

    # Forms and lists ---------------------------------------------------------

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        if not issubclass(form, OrganisationScopedForm):
            raise ImproperlyConfigured(
                f"{type(self).__name__}.form must subclass OrganisationScopedForm."
            )
        return form

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        # Moving a row to another organisation would strand what refers to it.
        moving = obj is not None and self.organisation_path == "organisation"
        if moving and "organisation" not in fields:
            fields.append("organisation")
        return fields

    def get_prepopulated_fields(self, request, obj=None):
        # Codes and keys are identifiers: suggested when adding, never rewritten.
        return super().get_prepopulated_fields(request, obj) if obj is None else {}

    def _shows_one_organisation(self, request) -> bool:
        organisation_ids = administered_organisation_ids(request.user)
        return organisation_ids is not None and len(organisation_ids) <= 1

    def get_list_display(self, request):
        columns = list(super().get_list_display(request))
        if self._shows_one_organisation(request):
            columns = [column for column in columns if column != "organisation"]
        return columns

    def get_list_filter(self, request):
        filters = []
        for item in super().get_list_filter(request):
            if isinstance(item, str):
                if item == "organisation" and self._shows_one_organisation(request):
                    continue
                if get_fields_from_path(self.model, item)[-1].is_relation:
                    # Offer only related rows that appear in the (scoped) list.
                    item = (item, admin.RelatedOnlyFieldListFilter)
            filters.append(item)
        return filters

    # Events ------------------------------------------------------------------

    def record_admin_event(self, request, obj, action: str, *, fields=(), formsets=()):
        organisation = organisation_of(obj, self.organisation_path)
        if organisation is None:
            return None
        details = {"via": "admin", "fields": list(fields)}
        related = related_changes(formsets)
        if related:
            details["related"] = related
        return events.record(
            self.event_model,
            organisation=organisation,
            actor=request.user,
            verb=f"{self.event_kind or self.model._meta.model_name}.{action}",
            subject=obj,
            details=details,
        )

    def save_related(self, request, form, formsets, change):
        # The event is written here, after save_model and the many-to-many and
        # inline rows, so that it describes the whole change; the admin runs
        # both in one transaction.
        super().save_related(request, form, formsets, change)
        if change and not form.changed_data and not related_changes(formsets):
            return
        self.record_admin_event(
            request,
            form.instance,
            "changed" if change else "created",
            fields=form.changed_data,
            formsets=formsets,
        )

    def delete_model(self, request, obj):
        self.record_admin_event(request, obj, "deleted")
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.record_admin_event(request, obj, "deleted")
        super().delete_queryset(request, queryset)


def related_changes(formsets) -> list[dict]:
    """What the inline formsets added, changed and deleted, with names as they are now."""
    changes = []
    for formset in formsets:
        entry = {
            "added": [str(obj) for obj in getattr(formset, "new_objects", ())],
            "changed": [str(obj) for obj, _fields in getattr(formset, "changed_objects", ())],
            "deleted": [str(obj) for obj in getattr(formset, "deleted_objects", ())],
        }
        entry = {key: value for key, value in entry.items() if value}
        if entry:
            changes.append({"kind": formset.model._meta.model_name, **entry})
    return changes


class OrganisationScopedInline(_ScopedChoices):
    """Mix into an InlineModelAdmin (before it): rows and choices of the parent's organisation."""

    form = OrganisationScopedForm
    formset = OrganisationScopedInlineFormSet

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        return scope_queryset(queryset, administered_organisation_ids(request.user))

    def administers(self, request, obj=None) -> bool:
        """`obj` is the parent object."""
        organisation_ids = administered_organisation_ids(request.user)
        if organisation_ids is None:
            return True
        if not organisation_ids:
            return False
        if obj is None:
            return True
        parent_organisation_id = organisation_id_of(obj)
        return parent_organisation_id is None or parent_organisation_id in organisation_ids

    def has_view_permission(self, request, obj=None):
        return self.administers(request, obj)

    def has_add_permission(self, request, obj=None):
        return self.administers(request, obj)

    def has_change_permission(self, request, obj=None):
        return self.administers(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self.administers(request, obj)

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        if not issubclass(formset, OrganisationScopedInlineFormSet) or not issubclass(
            formset.form, OrganisationScopedForm
        ):
            raise ImproperlyConfigured(
                f"{type(self).__name__} needs OrganisationScopedInlineFormSet and "
                "OrganisationScopedForm (or subclasses)."
            )
        return formset


class EventLogAdmin(OrganisationScopedAdmin, admin.ModelAdmin):
    """An app's event log: read by its organisation's administrators, written by nobody."""

    list_display = ("at", "organisation", "actor_name", "verb", "subject_name")
    list_filter = ("organisation", "verb")
    search_fields = ("actor_name", "verb", "subject_name", "subject_id")
    date_hierarchy = "at"
    list_select_related = ("organisation",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
