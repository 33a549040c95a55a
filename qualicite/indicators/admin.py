"""The indicators' data in the admin, scoped to the administered organisations.

Roll-ups and their work queue are computed: read-only here (`indicators rebuild` recomputes
them). Values entered by hand and alerts may be looked at and, for a fix, changed; the pages
of the workspace remain the way to enter, correct and close them with their event.
"""

from django.contrib import admin

from qualicite.core.admin_scoping import EventLogAdmin, OrganisationScopedAdmin
from qualicite.indicators.models import (
    Alert,
    IndicatorEvent,
    ManualValue,
    PendingRollup,
    Rollup,
    RollupState,
)


class ReadOnlyAdmin(OrganisationScopedAdmin, admin.ModelAdmin):
    """Computed rows: shown, never written through the admin."""

    event_model = IndicatorEvent

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Rollup)
class RollupAdmin(ReadOnlyAdmin):
    list_display = ("day", "indicator", "service", "numerator", "denominator", "organisation")
    list_filter = ("organisation", "indicator")
    list_select_related = ("indicator", "service", "organisation")
    date_hierarchy = "day"


@admin.register(PendingRollup)
class PendingRollupAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "family", "day", "indicator", "organisation")
    list_filter = ("organisation", "family")
    list_select_related = ("indicator", "organisation")


@admin.register(RollupState)
class RollupStateAdmin(ReadOnlyAdmin):
    list_display = ("organisation", "updated_at", "rebuilt_at")


@admin.register(ManualValue)
class ManualValueAdmin(OrganisationScopedAdmin, admin.ModelAdmin):
    event_model = IndicatorEvent
    event_kind = "manual_value"
    list_display = ("indicator", "service", "period_start", "value", "entered_by", "organisation")
    list_filter = ("organisation", "indicator")
    list_select_related = ("indicator", "service", "entered_by", "organisation")
    date_hierarchy = "period_start"
    fields = (
        "organisation",
        "indicator",
        "service",
        "period_start",
        "period_end",
        "value",
        "numerator",
        "denominator",
        "comment",
        "evidence_name",
        "entered_by",
        "entered_at",
    )
    # The evidence file is served by a permission-checked view, never by a storage URL.
    readonly_fields = ("evidence_name", "entered_by", "entered_at")


@admin.register(Alert)
class AlertAdmin(OrganisationScopedAdmin, admin.ModelAdmin):
    event_model = IndicatorEvent
    list_display = ("indicator", "service", "period_start", "status", "value", "closed_at")
    list_filter = ("organisation", "status", "period")
    list_select_related = ("indicator", "service", "organisation")
    date_hierarchy = "period_start"
    fields = (
        "organisation",
        "indicator",
        "service",
        "period",
        "period_start",
        "period_end",
        "status",
        "value",
        "target",
        "numerator",
        "denominator",
        "raised_at",
        "notified_at",
        "recipients",
        "closed_at",
        "closed_by",
        "closing_comment",
    )
    readonly_fields = ("raised_at", "notified_at", "recipients", "closed_by")


@admin.register(IndicatorEvent)
class IndicatorEventAdmin(EventLogAdmin):
    event_model = IndicatorEvent
