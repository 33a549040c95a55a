"""Forms of the complaints report page: which year to show, and the actions text."""

from django import forms
from django.utils.translation import gettext_lazy as _

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
