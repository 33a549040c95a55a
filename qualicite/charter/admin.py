"""The référentiel in the admin, for organisation administrators and platform operators.

The quality manager edits the référentiel in the application; the admin is the
configuration tool, scoped like every other admin page to the organisations its
user administers (see qualicite.core.admin).
"""

from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from qualicite.charter.models import CharterEvent, Commitment, Indicator, Programme, ServiceTarget
from qualicite.core.admin_scoping import (
    EventLogAdmin,
    OrganisationScopedAdmin,
    OrganisationScopedForm,
    OrganisationScopedInline,
)
from qualicite.core.choices import Channel


@admin.register(Programme)
class ProgrammeAdmin(OrganisationScopedAdmin, admin.ModelAdmin):
    event_model = CharterEvent
    list_display = ("name", "key", "kind", "organisation")
    list_filter = ("kind", "organisation")
    list_select_related = ("organisation",)
    search_fields = ("name", "key")
    fields = ("organisation", "name", "key", "kind", "description", "position", "template")
    readonly_fields = ("template",)
    prepopulated_fields = {"key": ("name",)}


def channels_field(label, help_text):
    return forms.TypedMultipleChoiceField(
        label=label,
        choices=Channel.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=help_text,
    )


class ChannelsForm(OrganisationScopedForm):
    """Channels ticked in boxes rather than typed as JSON, kept in the choices' order."""

    def clean_channels(self):
        chosen = set(self.cleaned_data.get("channels") or [])
        return [code for code in Channel.values if code in chosen]


class CommitmentForm(ChannelsForm):
    channels = channels_field(
        _("channels concerned"), _("Tick none when the commitment covers every channel.")
    )


class IndicatorForm(ChannelsForm):
    channels = channels_field(
        _("channels measured"), _("Tick none to measure the channels of the commitment.")
    )


@admin.register(Commitment)
class CommitmentAdmin(OrganisationScopedAdmin, admin.ModelAdmin):
    event_model = CharterEvent
    form = CommitmentForm
    list_display = ("number", "title", "programme", "is_published", "organisation")
    list_display_links = ("number", "title")
    list_filter = ("is_published", "organisation", "programme")
    list_select_related = ("programme", "organisation")
    search_fields = ("number", "title", "group", "public_text")
    fields = (
        "organisation",
        "programme",
        "number",
        "position",
        "group",
        "title",
        "public_text",
        "services",
        "channels",
        "is_published",
    )
    filter_horizontal = ("services",)


class ServiceTargetInline(OrganisationScopedInline, admin.TabularInline):
    model = ServiceTarget
    fields = ("service", "target", "warning_threshold")
    extra = 0


@admin.register(Indicator)
class IndicatorAdmin(OrganisationScopedAdmin, admin.ModelAdmin):
    event_model = CharterEvent
    form = IndicatorForm
    list_display = ("code", "name", "commitment", "unit", "target", "period", "organisation")
    list_display_links = ("code", "name")
    list_filter = ("unit", "source_kind", "period", "organisation", "commitment__programme")
    list_select_related = ("commitment", "organisation")
    search_fields = ("code", "name", "source")
    fieldsets = (
        (None, {"fields": ("organisation", "commitment", "code", "name", "position")}),
        (
            _("Measure"),
            {
                "fields": (
                    "unit",
                    "source_kind",
                    "source",
                    "channels",
                    "period",
                    "day_kind",
                    "delay_days",
                    "threshold_seconds",
                )
            },
        ),
        (_("Target"), {"fields": ("direction", "target", "warning_threshold")}),
    )
    inlines = [ServiceTargetInline]


@admin.register(CharterEvent)
class CharterEventAdmin(EventLogAdmin):
    event_model = CharterEvent
