"""Reception's data in the admin, scoped to the administered organisations.

Imports and calls come from the phone system's files: shown read-only (a call is changed by
importing, by its queue's mapping or by the test-call flag, on the workspace pages, which
keep the indicators in step). Queue mappings, desk visits and appointments may be fixed here.
"""

from django.contrib import admin

from qualicite.core.admin_scoping import EventLogAdmin, OrganisationScopedAdmin
from qualicite.reception.models import (
    Appointment,
    Call,
    CallImport,
    DeskVisit,
    QueueMapping,
    ReceptionEvent,
)


class ReceptionAdmin(OrganisationScopedAdmin, admin.ModelAdmin):
    event_model = ReceptionEvent


class ReadOnlyAdmin(ReceptionAdmin):
    """Rows written by imports: shown, never written through the admin (deleting is allowed
    to superusers and administrators, to remove a wrong import's calls)."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(QueueMapping)
class QueueMappingAdmin(ReceptionAdmin):
    list_display = ("queue", "service", "site", "counted", "organisation")
    list_filter = ("organisation", "counted", "service")
    list_select_related = ("service", "site", "organisation")
    search_fields = ("queue",)


@admin.register(CallImport)
class CallImportAdmin(ReadOnlyAdmin):
    list_display = (
        "file_name",
        "format",
        "status",
        "created_at",
        "lines_read",
        "calls_created",
        "lines_rejected",
        "organisation",
    )
    list_filter = ("organisation", "status", "format")
    list_select_related = ("organisation",)
    date_hierarchy = "created_at"
    search_fields = ("file_name",)
    # The uploaded file holds callers' numbers: it is not offered for download here.
    exclude = ("file", "carried")


@admin.register(Call)
class CallAdmin(ReadOnlyAdmin):
    list_display = (
        "entered_at",
        "queue",
        "service",
        "outcome",
        "wait_seconds",
        "counted",
        "is_test",
        "organisation",
    )
    list_filter = ("organisation", "outcome", "counted", "is_test", "outside_hours", "service")
    list_select_related = ("service", "organisation")
    date_hierarchy = "entered_at"
    search_fields = ("call_id", "queue")


@admin.register(DeskVisit)
class DeskVisitAdmin(ReceptionAdmin):
    event_kind = "desk_visit"
    list_display = ("arrived_at", "site", "service", "reason", "called_at", "done_at")
    list_filter = ("organisation", "site", "source", "left_without_service")
    list_select_related = ("site", "service", "organisation")
    date_hierarchy = "arrived_at"


@admin.register(Appointment)
class AppointmentAdmin(ReceptionAdmin):
    list_display = ("starts_at", "site", "service", "subject", "status")
    list_filter = ("organisation", "site", "status")
    list_select_related = ("site", "service", "organisation")
    date_hierarchy = "starts_at"
    search_fields = ("subject", "external_id")


@admin.register(ReceptionEvent)
class ReceptionEventAdmin(EventLogAdmin):
    event_model = ReceptionEvent
