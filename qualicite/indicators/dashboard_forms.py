"""The period chooser of the dashboard pages: a kind of period and any day in it.

The form reads the query string (GET), so a dashboard can be bookmarked and shared. Without a
day, the period is the last closed one in the organisation's time zone: the current month is
still filling up and would look worse than it is.
"""

from __future__ import annotations

from datetime import date

from django import forms
from django.utils.translation import gettext_lazy as _

from qualicite.charter.models import Period as PeriodKind
from qualicite.indicators import periods

KINDS = [
    (PeriodKind.MONTH.value, _("Month")),
    (PeriodKind.QUARTER.value, _("Quarter")),
    (PeriodKind.YEAR.value, _("Year")),
]
# Far enough back for any programme's history, and the 12 periods before it still exist.
EARLIEST = date(2000, 1, 1)


class PeriodForm(forms.Form):
    period = forms.ChoiceField(label=_("Period"), choices=KINDS, required=False)
    date = forms.DateField(
        label=_("Any day in the period"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        input_formats=["%Y-%m-%d"],
        help_text=_("Empty: the last closed period."),
    )

    def __init__(self, data=None, *, today: date, **kwargs):
        super().__init__(data, **kwargs)
        self.today = today

    def clean_period(self):
        return self.cleaned_data.get("period") or PeriodKind.MONTH.value

    def clean(self):
        cleaned = super().clean()
        kind = cleaned.get("period") or PeriodKind.MONTH.value
        day = cleaned.get("date")
        if "date" in self.errors:
            return cleaned
        if day is None:
            cleaned["chosen"] = periods.last_closed(kind, self.today)
            return cleaned
        if day < EARLIEST:
            self.add_error(
                "date", _("Choose a day from %(year)s onwards.") % {"year": EARLIEST.year}
            )
        elif day > self.today:
            self.add_error("date", _("Choose a day up to today: no figure exists yet after it."))
        else:
            cleaned["chosen"] = periods.containing(day, kind)
        return cleaned

    @property
    def chosen(self) -> periods.Period | None:
        """The period asked for, once the form is valid."""
        return self.cleaned_data.get("chosen") if self.is_valid() else None


def query_for(period: periods.Period, **extra) -> dict[str, str]:
    """The query parameters that show `period` (and `extra` ones, when set)."""
    query = {"period": period.kind, "date": period.start.isoformat()}
    query.update({key: str(value) for key, value in extra.items() if value not in (None, "")})
    return query


class DashboardForm(PeriodForm):
    subservices = forms.BooleanField(label=_("Show the sub-services too"), required=False)
