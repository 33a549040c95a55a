"""Forms of the appointment pages: booking and correcting an appointment, importing bookings."""

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from qualicite.core import permissions
from qualicite.core.models import Site
from qualicite.reception.desk_forms import MAX_IMPORT_BYTES

# What <input type="datetime-local"> sends and shows.
LOCAL_FORMAT = "%Y-%m-%dT%H:%M"
ICS, CSV = "ics", "csv"


def moment_field(label, *, required: bool, help_text=""):
    return forms.DateTimeField(
        label=label,
        required=required,
        help_text=help_text,
        input_formats=[LOCAL_FORMAT, "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=LOCAL_FORMAT),
    )


def _services(user, organisation):
    return permissions.visible_services(user, organisation).order_by("position", "name")


def _restrict_service(field, user, organisation):
    field.queryset = _services(user, organisation)
    # A member restricted to some services books only appointments they will see.
    if permissions.restricted_service_ids(user, organisation) is not None:
        field.required = True


class AppointmentForm(forms.Form):
    site = forms.ModelChoiceField(label=_("Site"), queryset=None)
    service = forms.ModelChoiceField(
        label=_("Service"), queryset=None, required=False, empty_label=_("Not specified")
    )
    starts_at = moment_field(_("Slot"), required=True)
    ends_at = moment_field(_("End of the slot"), required=False)
    subject = forms.CharField(label=_("Subject"), max_length=200, required=False)
    citizen = forms.CharField(
        label=_("Citizen"),
        max_length=200,
        required=False,
        help_text=_("Personal data: only what the desk needs to greet the citizen."),
    )

    def __init__(self, *args, organisation, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["site"].queryset = Site.objects.filter(organisation=organisation).order_by(
            "name"
        )
        _restrict_service(self.fields["service"], user, organisation)

    def clean(self):
        cleaned = super().clean()
        starts, ends = cleaned.get("starts_at"), cleaned.get("ends_at")
        if starts and ends and ends <= starts:
            self.add_error("ends_at", _("The end of the slot must be after its start."))
        return cleaned


class EditAppointmentForm(AppointmentForm):
    """The booking, and what happened when the desk forgot to tap (arrival, service)."""

    checked_in_at = moment_field(
        _("Arrived at"), required=False, help_text=_("Leave empty if the citizen has not come.")
    )
    served_at = moment_field(_("Served at"), required=False)

    def clean(self):
        cleaned = super().clean()
        now = timezone.now()
        for name in ("checked_in_at", "served_at"):
            value = cleaned.get(name)
            if value is not None and value > now:
                self.add_error(name, _("This time is in the future."))
        checked, served = cleaned.get("checked_in_at"), cleaned.get("served_at")
        if checked and served and served < checked:
            self.add_error("served_at", _("The citizen cannot be served before arriving."))
        return cleaned


class AppointmentImportForm(forms.Form):
    file_format = forms.ChoiceField(
        label=_("Format"),
        choices=[
            (ICS, _("Calendar (.ics, iCalendar)")),
            (CSV, _("CSV export, with a column mapping")),
        ],
        widget=forms.RadioSelect,
        initial=ICS,
    )
    file = forms.FileField(label=_("File"))
    site = forms.ModelChoiceField(
        label=_("Site of the appointments that do not name one"),
        queryset=None,
        required=False,
        empty_label=_("None: every appointment names its site"),
    )
    service = forms.ModelChoiceField(
        label=_("Service of the appointments that do not name one"),
        queryset=None,
        required=False,
        empty_label=_("Not specified"),
    )
    mapping = forms.CharField(
        label=_("Mapping (YAML)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 14, "spellcheck": "false", "class": "code"}),
        help_text=_(
            "For a CSV file: which column holds what (required). For a calendar: optional "
            "tables from locations to sites and from categories to services."
        ),
    )

    def __init__(self, *args, organisation, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["site"].queryset = Site.objects.filter(organisation=organisation).order_by(
            "name"
        )
        self.fields["service"].queryset = _services(user, organisation)

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_IMPORT_BYTES:
            raise forms.ValidationError(_("The file is larger than 50 MB."))
        return upload

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("file_format") == CSV and not cleaned.get("mapping", "").strip():
            self.add_error("mapping", _("A CSV file needs its column mapping."))
        return cleaned
