"""Forms of the phone pages: a log file to import, a queue's mapping, the calls' filters."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from qualicite.core.models import Organisation, Service, Site
from qualicite.reception import parsers
from qualicite.reception.models import CallFormat, CallOutcome

# A column mapping is a few dozen lines: anything bigger is not one.
MAX_MAPPING_BYTES = 64 * 1024


class UploadForm(forms.Form):
    file = forms.FileField(
        label=_("Log file"),
        help_text=_(
            "The phone system's log as it is exported: Asterisk queue_log, Wazo/XiVO "
            "queue_log table in CSV, Asterisk CDR (Master.csv), or any CSV export."
        ),
    )
    format = forms.ChoiceField(label=_("Format"), choices=CallFormat.choices)
    site = forms.ModelChoiceField(
        label=_("Site"),
        queryset=Site.objects.none(),
        required=False,
        empty_label=_("— none —"),
        help_text=_(
            "The site of the queues that are not mapped to a site yet. The calls left open "
            "at the end of a file are completed by the next file of the same format and site."
        ),
    )
    mapping = forms.CharField(
        label=_("Column mapping (YAML)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 10, "spellcheck": "false"}),
        help_text=_(
            "Only for “Other CSV export”: which column holds the queue, the time of entry, "
            "the wait… (see the user guide)."
        ),
    )
    mapping_file = forms.FileField(
        label=_("…or the column mapping as a file"),
        required=False,
        help_text=_("A .yaml file, instead of pasting it above."),
    )

    def __init__(self, *args, organisation: Organisation, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["site"].queryset = Site.objects.filter(organisation=organisation)

    def clean(self):
        cleaned = super().clean()
        text = (cleaned.get("mapping") or "").strip()
        upload = cleaned.get("mapping_file")
        if upload is not None:
            if text:
                self.add_error(
                    "mapping_file", _("Give the mapping once: pasted above or as a file.")
                )
                return cleaned
            if upload.size > MAX_MAPPING_BYTES:
                self.add_error("mapping_file", _("This file is too big to be a column mapping."))
                return cleaned
            try:
                text = upload.read().decode("utf-8").strip()
            except UnicodeDecodeError:
                self.add_error("mapping_file", _("The mapping file must be UTF-8 text."))
                return cleaned
        field = "mapping_file" if upload is not None else "mapping"
        fmt = cleaned.get("format")
        if fmt == CallFormat.CSV:
            if not text:
                self.add_error(
                    "mapping", _("An “Other CSV export” needs a column mapping: paste it here.")
                )
            else:
                try:
                    parsers.load_mapping(text)
                except parsers.MappingError as error:
                    for problem in error.problems:
                        self.add_error(field, problem)
        elif text and fmt:
            self.add_error(
                field, _("A column mapping is only used with the format “Other CSV export”.")
            )
        cleaned["mapping_text"] = text if fmt == CallFormat.CSV else ""
        return cleaned


class QueueMappingForm(forms.Form):
    service = forms.ModelChoiceField(
        label=_("Service"),
        queryset=Service.objects.none(),
        required=False,
        empty_label=_("— not mapped —"),
        help_text=_("The service whose indicators count the calls of this queue."),
    )
    site = forms.ModelChoiceField(
        label=_("Site"),
        queryset=Site.objects.none(),
        required=False,
        empty_label=_("— the site named at import —"),
        help_text=_("Its opening hours decide which calls came outside opening hours."),
    )
    counted = forms.BooleanField(
        label=_("Count its calls in the statistics"),
        required=False,
        help_text=_("Untick for internal or technical queues the public never reaches."),
    )

    def __init__(self, *args, organisation: Organisation, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["service"].queryset = Service.objects.filter(organisation=organisation)
        self.fields["site"].queryset = Site.objects.filter(organisation=organisation)


class CallFilterForm(forms.Form):
    day = forms.DateField(
        label=_("Day"),
        required=False,
        # A date field takes ISO dates whatever the language; the browser shows them localised.
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    queue = forms.ChoiceField(label=_("Queue"), required=False)
    outcome = forms.ChoiceField(
        label=_("Outcome"),
        required=False,
        choices=[("", _("All"))] + list(CallOutcome.choices),
    )
    test_only = forms.BooleanField(label=_("Test calls only"), required=False)

    def __init__(self, *args, queues: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["queue"].choices = [("", _("All"))] + [(name, name) for name in queues]
