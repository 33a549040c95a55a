"""Configuration of request handling in the admin: themes, prestations, settings, mailbox."""

from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from qualicite.core.admin_scoping import EventLogAdmin, OrganisationScopedAdmin
from qualicite.requests.models import (
    Mailbox,
    Prestation,
    ReplyTemplate,
    RequestEvent,
    RequestSettings,
    Theme,
)


@admin.register(Theme)
class ThemeAdmin(OrganisationScopedAdmin, admin.ModelAdmin):
    event_model = RequestEvent
    list_display = ("name", "is_active", "position", "organisation")
    list_filter = ("is_active", "organisation")
    search_fields = ("name",)
    fields = ("organisation", "name", "position", "is_active")


@admin.register(Prestation)
class PrestationAdmin(OrganisationScopedAdmin, admin.ModelAdmin):
    event_model = RequestEvent
    list_display = ("name", "service", "announced_delay_days", "day_kind", "is_active")
    list_filter = ("is_active", "organisation")
    list_select_related = ("service", "organisation")
    search_fields = ("name",)
    fields = (
        "organisation",
        "service",
        "name",
        "announced_delay_days",
        "day_kind",
        "position",
        "is_active",
    )


@admin.register(ReplyTemplate)
class ReplyTemplateAdmin(OrganisationScopedAdmin, admin.ModelAdmin):
    event_model = RequestEvent
    list_display = ("name", "kind", "is_active", "organisation")
    list_filter = ("kind", "is_active", "organisation")
    search_fields = ("name", "subject", "body")
    fields = ("organisation", "name", "kind", "subject", "body", "is_active")


@admin.register(RequestSettings)
class RequestSettingsAdmin(OrganisationScopedAdmin, admin.ModelAdmin):
    event_model = RequestEvent
    list_display = ("organisation", "default_delay_days", "default_day_kind")
    fieldsets = (
        (None, {"fields": ("organisation",)}),
        (
            _("Delays"),
            {
                "fields": (
                    "default_delay_days",
                    "default_day_kind",
                    "acknowledgement_delay_days",
                    "reminder_days_before",
                    "complaint_replies_need_validation",
                )
            },
        ),
        (
            _("Retention of personal data"),
            {
                "fields": (
                    "retention_information_months",
                    "retention_service_months",
                    "retention_complaint_months",
                    "retention_suggestion_months",
                    "retention_thanks_months",
                )
            },
        ),
    )


@admin.register(Mailbox)
class MailboxAdmin(OrganisationScopedAdmin, admin.ModelAdmin):
    event_model = RequestEvent
    list_display = ("__str__", "organisation", "is_active", "last_checked_at", "status")
    list_filter = ("is_active", "organisation")
    fields = (
        "organisation",
        "host",
        "port",
        "use_ssl",
        "username",
        "password",
        "folder",
        "processed_folder",
        "default_service",
        "is_active",
        "last_checked_at",
        "last_error_at",
        "last_error",
    )
    readonly_fields = ("last_checked_at", "last_error_at", "last_error")

    def get_form(self, request, obj=None, **kwargs):
        kwargs.setdefault("widgets", {})["password"] = forms.PasswordInput(render_value=True)
        return super().get_form(request, obj, **kwargs)

    @admin.display(description=_("status"))
    def status(self, obj):
        if obj.last_error:
            return _("Unreachable: %(error)s") % {"error": obj.last_error[:120]}
        if obj.last_checked_at is None:
            return _("Not read yet")
        return _("Read normally")


@admin.register(RequestEvent)
class RequestEventAdmin(EventLogAdmin):
    event_model = RequestEvent
