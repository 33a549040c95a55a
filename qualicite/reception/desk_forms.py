"""Forms of the desk pages: the arrival at the tablet, the site, the staffing period, imports."""

from datetime import timedelta

from django import forms
from django.utils.translation import gettext_lazy as _

from qualicite.core import permissions
from qualicite.core.models import Service
from qualicite.reception import desk_queries

# A year of visits is what a staffing study looks at; longer periods are refused.
MAX_STAFFING_DAYS = 366
MAX_IMPORT_BYTES = 50 * 1024 * 1024
# What <input type="date"> sends and shows.
ISO_DATE = "%Y-%m-%d"
DATE_ATTRS = {"type": "date"}


class SiteChoiceForm(forms.Form):
    site = forms.ModelChoiceField(label=_("Desk of"), queryset=None, empty_label=None)

    def __init__(self, *args, organisation, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["site"].queryset = desk_queries.sites(organisation)


class ArrivalForm(forms.Form):
    """One tap: a reason button submits the form; the service chosen stays for the next one."""

    service = forms.ModelChoiceField(
        label=_("Service"),
        queryset=None,
        required=False,
        widget=forms.RadioSelect,
        empty_label=_("Not specified"),
    )
    reason = forms.CharField(required=False, max_length=120, widget=forms.HiddenInput)
    other_reason = forms.CharField(
        label=_("Other reason"),
        required=False,
        max_length=120,
        help_text=_("Type it when none of the buttons fits, then record the arrival."),
    )

    def __init__(self, *args, site, user, **kwargs):
        super().__init__(*args, **kwargs)
        services = desk_queries.site_services(site, user)
        field = self.fields["service"]
        field.queryset = Service.objects.filter(pk__in=[s.pk for s in services]).order_by(
            "position", "name"
        )
        # A member restricted to some services records only visits they will see.
        if permissions.restricted_service_ids(user, site.organisation) is not None:
            field.required = True
            field.empty_label = None

    def clean(self):
        cleaned = super().clean()
        cleaned["reason"] = (cleaned.get("other_reason", "") or cleaned.get("reason", "")).strip()
        return cleaned


class StaffingForm(forms.Form):
    start = forms.DateField(
        label=_("From"), input_formats=[ISO_DATE], widget=forms.DateInput(DATE_ATTRS, ISO_DATE)
    )
    end = forms.DateField(
        label=_("To"), input_formats=[ISO_DATE], widget=forms.DateInput(DATE_ATTRS, ISO_DATE)
    )
    site = forms.ModelChoiceField(
        label=_("Site"), queryset=None, required=False, empty_label=_("All sites")
    )
    service = forms.ModelChoiceField(
        label=_("Service"), queryset=None, required=False, empty_label=_("All your services")
    )

    def __init__(self, *args, organisation, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["site"].queryset = desk_queries.sites(organisation)
        self.fields["service"].queryset = permissions.visible_services(user, organisation).order_by(
            "position", "name"
        )

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("start"), cleaned.get("end")
        if start and end:
            if end < start:
                self.add_error("end", _("The end of the period is before its start."))
            elif end - start > timedelta(days=MAX_STAFFING_DAYS):
                self.add_error("end", _("Choose a period of one year at most."))
        return cleaned


class DeskImportForm(forms.Form):
    file = forms.FileField(
        label=_("Export of the ticketing system (CSV)"),
        help_text=_("One line per ticket, with a header line naming the columns."),
    )
    mapping = forms.CharField(
        label=_("Column mapping (YAML)"),
        widget=forms.Textarea(attrs={"rows": 16, "spellcheck": "false", "class": "code"}),
        help_text=_("Which column holds what; the guide explains every key."),
    )
    site = forms.ModelChoiceField(
        label=_("Site of the lines without one"),
        queryset=None,
        required=False,
        empty_label=_("None: every line names its site"),
    )

    def __init__(self, *args, organisation, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["site"].queryset = desk_queries.sites(organisation)

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_IMPORT_BYTES:
            raise forms.ValidationError(_("The file is larger than 50 MB."))
        return upload
