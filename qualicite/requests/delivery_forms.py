"""Forms of the service-delivery pages; the prestations offered are the user's services' only."""

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from qualicite.requests import delivery_queries

# What <input type="datetime-local"> sends and shows (minutes are precise enough for a counter).
LOCAL_FORMAT = "%Y-%m-%dT%H:%M"


def moment_field(label, *, required: bool, help_text=""):
    return forms.DateTimeField(
        label=label,
        required=required,
        help_text=help_text,
        input_formats=[LOCAL_FORMAT, "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=LOCAL_FORMAT),
    )


def not_in_future(value, message):
    if value is not None and value > timezone.now():
        raise forms.ValidationError(message)
    return value


class RecordDeliveryForm(forms.Form):
    prestation = forms.ModelChoiceField(label=_("Service delivery type"), queryset=None)
    reference = forms.CharField(
        label=_("Reference"),
        max_length=100,
        required=False,
        help_text=_("The file or act number, to find the delivery again (no personal data)."),
    )
    requested_at = moment_field(
        _("Requested on"),
        required=True,
        help_text=_("When the citizen's file was complete: the announced delay starts then."),
    )
    delivered_at = moment_field(
        _("Delivered on"),
        required=False,
        help_text=_("Leave empty while the act is still being prepared."),
    )

    def __init__(self, *args, organisation, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["prestation"].queryset = (
            delivery_queries.visible_prestations(user, organisation)
            .filter(is_active=True)
            .select_related("service")
        )
        self.fields["prestation"].label_from_instance = lambda p: (
            _("%(name)s (%(service)s, %(days)s days)")
            % {"name": p.name, "service": p.service.name, "days": p.announced_delay_days}
        )
        self.fields["requested_at"].initial = timezone.localtime().replace(second=0, microsecond=0)

    def clean_requested_at(self):
        return not_in_future(
            self.cleaned_data.get("requested_at"), _("A request cannot be dated in the future.")
        )

    def clean_delivered_at(self):
        return not_in_future(
            self.cleaned_data.get("delivered_at"), _("A delivery cannot be dated in the future.")
        )

    def clean(self):
        cleaned = super().clean()
        requested, delivered = cleaned.get("requested_at"), cleaned.get("delivered_at")
        if requested and delivered and delivered < requested:
            self.add_error("delivered_at", _("A delivery cannot precede its request."))
        return cleaned


class MarkDeliveredForm(forms.Form):
    delivered_at = moment_field(_("Delivered on"), required=True)

    def __init__(self, *args, delivery, **kwargs):
        super().__init__(*args, **kwargs)
        self.delivery = delivery
        self.fields["delivered_at"].initial = timezone.localtime().replace(second=0, microsecond=0)

    def clean_delivered_at(self):
        delivered = not_in_future(
            self.cleaned_data.get("delivered_at"), _("A delivery cannot be dated in the future.")
        )
        if delivered is not None and delivered < self.delivery.requested_at:
            raise forms.ValidationError(_("A delivery cannot precede its request."))
        return delivered
