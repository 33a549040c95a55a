"""Forms of the personal data pages: find a citizen by e-mail, export, filter the access log."""

from django import forms
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from qualicite.core.events import actor_display_name
from qualicite.requests.models import normalise_code


class CitizenLookupForm(forms.Form):
    email = forms.EmailField(
        label=_("Citizen's e-mail address"),
        help_text=_("Every request of the organisation giving this address is listed."),
        widget=forms.EmailInput(attrs={"autocomplete": "off"}),
    )


class ExportForm(forms.Form):
    FORMATS = (("json", "JSON"), ("pdf", "PDF"))

    email = forms.EmailField(widget=forms.HiddenInput)
    format = forms.ChoiceField(choices=FORMATS)


class MemberChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return actor_display_name(obj)


class AccessFilterForm(forms.Form):
    code = forms.CharField(label=_("Tracking code"), required=False, max_length=20)
    user = MemberChoiceField(
        label=_("Staff member"),
        required=False,
        queryset=get_user_model().objects.none(),
        empty_label=_("Everyone"),
    )

    def __init__(self, *args, organisation, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = (
            get_user_model()
            .objects.filter(memberships__organisation=organisation)
            .order_by("last_name", "first_name", "username")
            .distinct()
        )

    def clean_code(self):
        return normalise_code(self.cleaned_data["code"])
