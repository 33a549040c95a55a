"""The reports' event log in the admin, read-only like every app's."""

from django.contrib import admin

from qualicite.core.admin_scoping import EventLogAdmin
from qualicite.reports.models import ReportEvent


@admin.register(ReportEvent)
class ReportEventAdmin(EventLogAdmin):
    event_model = ReportEvent
