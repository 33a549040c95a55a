"""Forms of the values entered by hand and of the alerts.

The forms parse; the rules (range, period open, one value per period, who may) are checked by
`services`, whose errors the views put next to the fields.
"""

from django import forms
from django.utils.translation import gettext_lazy as _

from qualicite.charter.models import Unit
from qualicite.indicators import periods, services
from qualicite.requests import attachments

# How many past periods the entry form offers, by period kind.
PERIODS_OFFERED = {"day": 14, "week": 8, "month": 12, "quarter": 8, "year": 4}


class EvidenceField(forms.FileField):
    """One file, read into an attachments.Upload and checked like request attachments."""

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def clean(self, data, initial=None):
        data = super().clean(data, initial)
        if not data:
            return None
        if data.size > attachments.MAX_FILE_BYTES:
            # Do not read a huge file into memory only to refuse it.
            raise forms.ValidationError(services.too_large(data.name))
        upload = attachments.Upload(data.name, data.read())
        errors = services.evidence_errors(upload)
        if errors:
            raise forms.ValidationError(errors["evidence"])
        return upload


class FiguresForm(forms.Form):
    value = forms.DecimalField(
        label=_("Value"),
        required=False,
        localize=True,
        help_text=_("Leave it empty when you give the counts below: it is computed from them."),
    )
    numerator = forms.IntegerField(
        label=_("Items compliant (or counted yes)"), required=False, localize=True
    )
    denominator = forms.IntegerField(
        label=_("Items checked (or counted in all)"), required=False, localize=True
    )
    comment = forms.CharField(
        label=_("Comment"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("How the value was obtained, what was seen, what was done."),
    )
    evidence = EvidenceField(
        label=_("Evidence"),
        help_text=_(
            "A photo, a scan of the check sheet or a spreadsheet: PDF, image or office "
            "document, at most 10 MB."
        ),
    )

    def __init__(self, *args, indicator, **kwargs):
        super().__init__(*args, **kwargs)
        self.indicator = indicator
        self.fields["value"].label = _("Value (%(unit)s)") % {"unit": indicator.get_unit_display()}
        if indicator.unit != Unit.PERCENT:
            self.fields["numerator"].label = _("Sum measured")
            self.fields["denominator"].label = _("Number of measures")
            self.fields["numerator"].help_text = _(
                "With the number of measures, the value is their mean."
            )
        else:
            self.fields["denominator"].help_text = _(
                "The percentage is the items compliant out of the items checked."
            )

    def figures(self) -> dict:
        data = self.cleaned_data
        return {
            "value": data["value"],
            "numerator": data["numerator"],
            "denominator": data["denominator"],
            "comment": data["comment"],
            "evidence": data["evidence"],
        }


class EnterValueForm(FiguresForm):
    """A value for one period (and service) of an indicator entered by hand."""

    field_order = ["service", "period_start", "value", "numerator", "denominator"]

    def __init__(self, *args, indicator, user, today, **kwargs):
        super().__init__(*args, indicator=indicator, **kwargs)
        current = periods.containing(today, indicator.period)
        offered = periods.series(current, PERIODS_OFFERED.get(indicator.period, 12))[::-1]
        choices = [(p.start.isoformat(), _capital(p.label)) for p in offered]
        chosen = self.initial.get("period_start")
        if chosen and not any(p.start == chosen for p in offered):
            period = periods.containing(chosen, indicator.period)
            choices.append((period.start.isoformat(), _capital(period.label)))
        self.fields["period_start"] = forms.DateField(
            label=_("Period"),
            widget=forms.Select(choices=choices),
            help_text=_(
                "Values for a period can be entered until %(days)s days after its end; "
                "after that only a quality manager can."
            )
            % {"days": services.GRACE_DAYS},
        )
        services_offered = services.enterable_services(user, indicator)
        if services_offered is not None:
            self.fields["service"] = forms.ModelChoiceField(
                label=_("Service"),
                queryset=indicator.organisation.service_set.filter(
                    pk__in=[s.pk for s in services_offered]
                ),
                to_field_name="code",
                empty_label=None if len(services_offered) == 1 else "—",
            )
        self.order_fields(self.field_order)


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


class CorrectValueForm(FiguresForm):
    evidence = EvidenceField(
        label=_("Replace the evidence"),
        help_text=_("Leave empty to keep the current file. PDF, image or office document."),
    )


class AlertFilterForm(forms.Form):
    ORGANISATION = "organisation"

    service = forms.ChoiceField(label=_("Service"), required=False)

    def __init__(self, *args, services, consolidated: bool, **kwargs):
        super().__init__(*args, **kwargs)
        choices = [("", _("All"))]
        if consolidated:
            choices.append((self.ORGANISATION, _("Whole organisation (consolidated figure)")))
        choices += [(service.code, service.name) for service in services]
        self.fields["service"].choices = choices


class CloseAlertForm(forms.Form):
    comment = forms.CharField(
        label=_("What was done"),
        widget=forms.Textarea(attrs={"rows": 4}),
        error_messages={"required": _("Say what was done about this result.")},
        help_text=_(
            "The cause found and the action taken (or why none is needed). It stays with "
            "the alert for the steering committee and the auditors."
        ),
    )
