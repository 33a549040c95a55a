"""Staff forms: quick entry, queue filters, routing, replies, closing."""

from django import forms
from django.contrib.auth import get_user_model
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from qualicite.core import permissions
from qualicite.core.choices import Channel, RequestKind
from qualicite.core.models import Membership, Site
from qualicite.requests import attachments
from qualicite.requests.models import Escalation, Outcome, Prestation, ReplyTemplate, Status, Theme

# Channels an agent types in; e-mail and the web form arrive by themselves.
ENTRY_CHANNELS = [
    (c.value, c.label) for c in (Channel.PHONE, Channel.DESK, Channel.LETTER, Channel.SOCIAL)
]
REPLY_CHANNELS = [
    (c.value, c.label) for c in (Channel.EMAIL, Channel.LETTER, Channel.PHONE, Channel.DESK)
]


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one field; each read into an attachments.Upload."""

    widget = MultipleFileInput

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def clean(self, data, initial=None):
        files = data if isinstance(data, list | tuple) else ([data] if data else [])
        uploads = []
        for item in files:
            if item.size > attachments.MAX_FILE_BYTES:
                # Do not read a huge file into memory only to refuse it.
                raise forms.ValidationError(
                    _("“%(name)s” is too large (at most 10 MB per file).") % {"name": item.name}
                )
            uploads.append(attachments.Upload(item.name, item.read()))
        try:
            attachments.check(uploads)
        except forms.ValidationError as error:
            raise forms.ValidationError(error.messages) from None
        return uploads


class CitizenForm(forms.Form):
    """How to answer the citizen: the same fields wherever a request is entered or corrected."""

    citizen_name = forms.CharField(label=_("Citizen's name"), max_length=200, required=False)
    citizen_phone = forms.CharField(label=_("Phone"), max_length=40, required=False)
    citizen_email = forms.EmailField(label=_("E-mail"), required=False)
    citizen_address = forms.CharField(
        label=_("Postal address"), widget=forms.Textarea(attrs={"rows": 2}), required=False
    )
    citizen_postcode = forms.CharField(label=_("Postcode"), max_length=10, required=False)
    preferred_reply_channel = forms.ChoiceField(
        label=_("Answer by"), choices=[("", _("same channel")), *REPLY_CHANNELS], required=False
    )
    is_anonymous = forms.BooleanField(label=_("Anonymous (no answer expected)"), required=False)


def _organisation_choices(form, organisation, user):
    services = permissions.visible_services(user, organisation).order_by("name")
    form.fields["service"].queryset = services
    if "site" in form.fields:
        form.fields["site"].queryset = Site.objects.filter(organisation=organisation)
    if "theme" in form.fields:
        form.fields["theme"].queryset = Theme.objects.filter(
            organisation=organisation, is_active=True
        )
    if "prestation" in form.fields:
        form.fields["prestation"].queryset = Prestation.objects.filter(
            organisation=organisation, is_active=True, service__in=services
        )


class QuickEntryForm(CitizenForm):
    """One screen for phone, desk, letter and social-network requests, in tab order."""

    channel = forms.ChoiceField(label=_("Channel"), choices=ENTRY_CHANNELS, initial=Channel.PHONE)
    kind = forms.ChoiceField(
        label=_("Kind"), choices=RequestKind.choices, initial=RequestKind.INFORMATION
    )
    service = forms.ModelChoiceField(label=_("Service"), queryset=None)
    subject = forms.CharField(label=_("Subject"), max_length=300)
    body = forms.CharField(
        label=_("Message"), widget=forms.Textarea(attrs={"rows": 4}), required=False
    )
    theme = forms.ModelChoiceField(label=_("Theme"), queryset=None, required=False)
    site = forms.ModelChoiceField(label=_("Site"), queryset=None, required=False)
    prestation = forms.ModelChoiceField(
        label=_("Service delivery type"), queryset=None, required=False
    )
    received_at = forms.DateTimeField(
        label=_("Received on"),
        required=False,
        help_text=_("Leave empty for now; give the date of receipt for a letter."),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    uploads = MultipleFileField(label=_("Attachments"))

    def __init__(self, *args, organisation, user, **kwargs):
        super().__init__(*args, **kwargs)
        _organisation_choices(self, organisation, user)
        self.fields["subject"].widget.attrs["autofocus"] = True

    def clean_received_at(self):
        value = self.cleaned_data.get("received_at")
        if value and value > timezone.now():
            raise forms.ValidationError(_("A request cannot be received in the future."))
        return value


class QueueFilterForm(forms.Form):
    search = forms.CharField(label=_("Search"), required=False)
    status = forms.ChoiceField(
        label=_("Status"),
        required=False,
        choices=[("", _("Open")), ("all", _("All")), *Status.choices],
    )
    due = forms.ChoiceField(
        label=_("Due"),
        required=False,
        choices=[("", _("Any time")), ("overdue", _("Overdue")), ("week", _("Due this week"))],
    )
    assigned = forms.ChoiceField(
        label=_("Assigned"),
        required=False,
        choices=[("", _("Anyone")), ("me", _("To me")), ("nobody", _("To nobody"))],
    )
    kind = forms.ChoiceField(
        label=_("Kind"), required=False, choices=[("", _("All")), *RequestKind.choices]
    )
    channel = forms.ChoiceField(
        label=_("Channel"), required=False, choices=[("", _("All")), *Channel.choices]
    )
    service = forms.ModelChoiceField(label=_("Service"), queryset=None, required=False)
    theme = forms.ModelChoiceField(label=_("Theme"), queryset=None, required=False)
    site = forms.ModelChoiceField(label=_("Site"), queryset=None, required=False)

    def __init__(self, *args, organisation, user, **kwargs):
        super().__init__(*args, **kwargs)
        _organisation_choices(self, organisation, user)
        for field in ("service", "theme", "site"):
            self.fields[field].empty_label = _("All")


def handlers(organisation, user):
    """Members who may be given requests: those who handle them, in the user's services."""
    rows = Membership.objects.filter(
        organisation=organisation,
        is_active=True,
        role__in=[r for r, p in permissions.ROLE_PERMISSIONS.items() if "handle_requests" in p],
    ).values_list("user_id", flat=True)
    return get_user_model().objects.filter(pk__in=rows, is_active=True).order_by("username")


class AssignForm(forms.Form):
    assignee = forms.ModelChoiceField(
        label=_("Assign to"), queryset=None, required=False, empty_label=_("Nobody")
    )

    def __init__(self, *args, organisation, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = handlers(organisation, user)
        self.fields["assignee"].label_from_instance = lambda u: u.get_full_name() or u.username


class BulkForm(AssignForm):
    ACTIONS = [("assign", _("Assign")), ("reroute", _("Send to the service"))]
    action = forms.ChoiceField(label=_("Action"), choices=ACTIONS)
    selected = forms.ModelMultipleChoiceField(queryset=None, widget=forms.MultipleHiddenInput)
    service = forms.ModelChoiceField(label=_("Service"), queryset=None, required=False)
    reason = forms.CharField(label=_("Reason"), required=False, max_length=300)

    def __init__(self, *args, organisation, user, rows, **kwargs):
        super().__init__(*args, organisation=organisation, user=user, **kwargs)
        self.fields["selected"].queryset = rows
        self.fields["service"].queryset = organisation.service_set.order_by("name")

    def clean(self):
        data = super().clean()
        if data.get("action") == "reroute":
            if not data.get("service"):
                self.add_error("service", _("Choose the service."))
            if not (data.get("reason") or "").strip():
                self.add_error("reason", _("Say why the requests change service."))
        return data


class RerouteForm(forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput)
    service = forms.ModelChoiceField(label=_("Service"), queryset=None)
    kind = forms.ChoiceField(label=_("Kind"), choices=RequestKind.choices)
    theme = forms.ModelChoiceField(label=_("Theme"), queryset=None, required=False)
    site = forms.ModelChoiceField(label=_("Site"), queryset=None, required=False)
    prestation = forms.ModelChoiceField(
        label=_("Service delivery type"), queryset=None, required=False
    )
    reason = forms.CharField(
        label=_("Reason"),
        required=False,
        max_length=300,
        help_text=_("Required when the service or the kind changes: the due date is recomputed."),
    )

    def __init__(self, *args, organisation, user, **kwargs):
        super().__init__(*args, **kwargs)
        _organisation_choices(self, organisation, user)
        # Any service of the organisation: a request may be sent outside one's own.
        self.fields["service"].queryset = organisation.service_set.order_by("name")


class ReplyForm(forms.Form):
    template = forms.ModelChoiceField(
        label=_("Start from a template"), queryset=None, required=False
    )
    channel = forms.ChoiceField(label=_("Answer by"), choices=REPLY_CHANNELS)
    subject = forms.CharField(label=_("Subject"), max_length=300, required=False)
    body = forms.CharField(
        label=_("Answer"),
        widget=forms.Textarea(attrs={"rows": 10}),
        help_text=_("For a phone call or the desk, sum up what was said."),
    )
    uploads = MultipleFileField(label=_("Attachments"))

    def __init__(self, *args, request_obj, **kwargs):
        super().__init__(*args, **kwargs)
        templates = ReplyTemplate.objects.filter(
            organisation=request_obj.organisation, is_active=True
        )
        self.fields["template"].queryset = templates.filter(kind__in=["", request_obj.kind])


class ReviewForm(forms.Form):
    decision = forms.ChoiceField(
        label=_("Decision"),
        choices=[("approve", _("Validate and send")), ("reject", _("Send back for changes"))],
        widget=forms.RadioSelect,
    )
    comment = forms.CharField(
        label=_("Comment"), widget=forms.Textarea(attrs={"rows": 3}), required=False
    )


class CloseForm(forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput)
    outcome = forms.ChoiceField(
        label=_("Outcome of the complaint"),
        choices=[("", "—"), *Outcome.choices],
        required=False,
    )


class PauseForm(forms.Form):
    reason = forms.CharField(
        label=_("What is expected from the citizen"), max_length=300, required=True
    )


class EscalateForm(forms.Form):
    to = forms.ChoiceField(label=_("Escalate to"), choices=Escalation.choices)
    reason = forms.CharField(label=_("Reason"), max_length=300, required=False)


class DetailsForm(CitizenForm):
    field_order = ["version", "subject", "body"]

    version = forms.IntegerField(widget=forms.HiddenInput)
    subject = forms.CharField(label=_("Subject"), max_length=300)
    body = forms.CharField(
        label=_("Message"), widget=forms.Textarea(attrs={"rows": 6}), required=False
    )
