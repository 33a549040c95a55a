"""Forms of the report pages: the complaints report's year and actions text, the call-peak
report's period, service, site and slots."""

from datetime import date

from django import forms
from django.utils.translation import gettext_lazy as _

from qualicite.core import permissions
from qualicite.core.models import Service, Site
from qualicite.indicators import periods
from qualicite.reports.services import MAX_ACTIONS_LENGTH


class YearForm(forms.Form):
    annee = forms.TypedChoiceField(label=_("Year"), coerce=int)

    def __init__(self, *args, years: list[int], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["annee"].choices = [(year, str(year)) for year in years]


class ActionsForm(forms.Form):
    text = forms.CharField(
        label=_("Actions decided from complaints"),
        required=False,
        max_length=MAX_ACTIONS_LENGTH,
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text=_(
            "What the organisation decided to improve after reading this year's complaints "
            "and suggestions. It is printed in every format of the report."
        ),
    )


# --- The call-peak report ---------------------------------------------------------------------

WEEK, MONTH, CUSTOM = "week", "month", "custom"
CALL_PERIODS = [(WEEK, _("Week")), (MONTH, _("Month")), (CUSTOM, _("From one day to another"))]
SLOTS = [("hour", _("By hour")), ("half-hour", _("By half-hour"))]
# A longer range would mix seasons and say little about the slots; and it bounds the work.
MAX_CALL_DAYS = 366
EARLIEST_DAY = date(2000, 1, 1)


def _day_field(label, help_text=""):
    return forms.DateField(
        label=label,
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        input_formats=["%Y-%m-%d"],
        help_text=help_text,
    )


class CallPeaksForm(forms.Form):
    """Which calls the report covers; read from the query string, so it can be bookmarked."""

    periode = forms.ChoiceField(label=_("Period"), choices=CALL_PERIODS, required=False)
    jour = _day_field(
        _("Any day in the week or month"), _("Empty: the last complete week or month.")
    )
    du = _day_field(_("From (custom period)"))
    au = _day_field(_("To (custom period, included)"))
    service = forms.ModelChoiceField(
        label=_("Service"),
        queryset=Service.objects.none(),
        required=False,
        to_field_name="code",
        empty_label=_("All services"),
    )
    site = forms.ModelChoiceField(
        label=_("Site"),
        queryset=Site.objects.none(),
        required=False,
        to_field_name="code",
        empty_label=_("All sites"),
    )
    creneau = forms.ChoiceField(label=_("Slots"), choices=SLOTS, required=False)

    def __init__(self, data=None, *, organisation, user=None, today: date, **kwargs):
        super().__init__(data, **kwargs)
        self.today = today
        services = Service.objects.filter(organisation=organisation)
        if user is not None:
            services = permissions.visible_services(user, organisation)
        self.fields["service"].queryset = services
        self.fields["site"].queryset = Site.objects.filter(organisation=organisation)

    def _check_day(self, name: str, day: date | None) -> None:
        if day is not None and day < EARLIEST_DAY:
            self.add_error(name, _("Choose a day from %(year)s onwards.") % {"year": 2000})
        elif day is not None and day > self.today:
            self.add_error(name, _("Choose a day up to today: no call is known after it."))

    def clean(self):
        cleaned = super().clean()
        kind = cleaned.get("periode") or MONTH
        cleaned["periode"] = kind
        cleaned["creneau"] = cleaned.get("creneau") or "hour"
        if self.errors:
            return cleaned
        if kind == CUSTOM:
            start, end = cleaned.get("du"), cleaned.get("au")
            if start is None:
                self.add_error("du", _("Give the first day of the period."))
            if end is None:
                self.add_error("au", _("Give the last day of the period."))
            self._check_day("du", start)
            self._check_day("au", end)
            if self.errors:
                return cleaned
            if end < start:
                self.add_error("au", _("The last day cannot come before the first."))
            elif (end - start).days + 1 > MAX_CALL_DAYS:
                self.add_error(
                    "au",
                    _("Choose a period of at most %(days)s days.") % {"days": MAX_CALL_DAYS},
                )
            else:
                cleaned["bounds"] = (start, end)
            return cleaned
        day = cleaned.get("jour")
        self._check_day("jour", day)
        if self.errors:
            return cleaned
        period = periods.containing(day, kind) if day else periods.last_closed(kind, self.today)
        cleaned["bounds"] = (period.start, period.end)
        return cleaned

    def query(self) -> dict[str, str]:
        """The query string of the valid form, for the download links."""
        data = self.cleaned_data
        start, end = data["bounds"]
        query = {"periode": CUSTOM, "du": start.isoformat(), "au": end.isoformat()}
        query["creneau"] = data["creneau"]
        if data.get("service"):
            query["service"] = data["service"].code
        if data.get("site"):
            query["site"] = data["site"].code
        return query
