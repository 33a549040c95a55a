"""The forms citizens fill without an account: writing to the town, following a request."""

import re
import secrets

from django import forms
from django.core import signing
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from qualicite.core.choices import Channel, RequestKind
from qualicite.core.models import Service
from qualicite.requests import attachments as attachment_rules
from qualicite.requests.models import CODE_ALPHABET, CODE_LENGTH, normalise_code

MAX_FILES = 10
SUBJECT_MAX = 200
MESSAGE_MAX = 5000
ADDRESS_MAX = 500

# The idempotency token: random, signed, tied to the organisation, valid for a day (a form
# left open over lunch still works; an old copy of the page cannot be replayed for ever).
_TOKEN_SALT = "qualicite.requests.public_form"
TOKEN_MAX_AGE = 24 * 3600

_PHONE = re.compile(r"^\+?[0-9 .()\-]{6,30}$")
_POSTCODE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z \-]{2,9}$")

# The kinds in the words a citizen would use, in the order people think of them.
CITIZEN_KINDS = [
    (RequestKind.INFORMATION, _("I would like some information")),
    (RequestKind.SERVICE, _("I am asking for a service (a certificate, a booking, an act…)")),
    (RequestKind.COMPLAINT, _("I am not satisfied and wish to complain")),
    (RequestKind.SUGGESTION, _("I have a suggestion")),
    (RequestKind.THANKS, _("I wish to say thank you")),
]
REPLY_CHANNELS = [
    ("", _("No preference")),
    (Channel.EMAIL, _("By e-mail")),
    (Channel.LETTER, _("By post")),
    (Channel.PHONE, _("By phone")),
]
# The contact each reply channel needs, and the error shown when it is missing.
_CHANNEL_NEEDS = {
    Channel.EMAIL: ("citizen_email", _("Give your e-mail address to be answered by e-mail.")),
    Channel.LETTER: ("citizen_address", _("Give your postal address to be answered by post.")),
    Channel.PHONE: ("citizen_phone", _("Give your phone number to be answered by phone.")),
}


def new_token(organisation) -> str:
    return signing.dumps({"o": organisation.pk, "k": secrets.token_hex(16)}, salt=_TOKEN_SALT)


def idempotency_key(token: str, organisation) -> str | None:
    """The key a token carries, or None when it is forged, expired or from another town."""
    try:
        payload = signing.loads(token or "", salt=_TOKEN_SALT, max_age=TOKEN_MAX_AGE)
    except signing.BadSignature:
        return None
    if not isinstance(payload, dict) or payload.get("o") != organisation.pk:
        return None
    key = payload.get("k")
    return f"web-{key}" if isinstance(key, str) and key else None


class MultipleFileInput(forms.FileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one input; cleans to a list (empty when none was chosen)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        if not data:
            return super().clean(None, initial) or []
        files = data if isinstance(data, list | tuple) else [data]
        return [super(MultipleFileField, self).clean(item, initial) for item in files]


def _service_tree(services) -> list[tuple[Service, str]]:
    """Each service after its parent, labelled with its parents' names."""
    children: dict[int | None, list[Service]] = {}
    for service in services:
        children.setdefault(service.parent_id, []).append(service)
    ordered, pending = [], [(service, service.name) for service in children.get(None, [])][::-1]
    while pending:
        service, label = pending.pop()
        ordered.append((service, label))
        pending.extend(
            (child, f"{label} › {child.name}") for child in children.get(service.pk, [])[::-1]
        )
    return ordered


class PublicRequestForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("What is your message about?"), choices=CITIZEN_KINDS, widget=forms.RadioSelect
    )
    service = forms.ModelChoiceField(
        label=_("Service concerned"),
        queryset=Service.objects.none(),
        required=False,
        empty_label=_("I don't know"),
        help_text=_("If you are not sure, leave “I don't know”: we will direct your request."),
    )
    subject = forms.CharField(label=_("Subject"), max_length=SUBJECT_MAX)
    body = forms.CharField(
        label=_("Your message"),
        max_length=MESSAGE_MAX,
        widget=forms.Textarea(attrs={"rows": 8}),
    )
    attachments = MultipleFileField(
        label=_("Attachments (optional)"),
        required=False,
    )
    citizen_name = forms.CharField(
        label=_("Your name"),
        max_length=200,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    citizen_email = forms.EmailField(
        label=_("E-mail address"),
        required=False,
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
        help_text=_("We send you an acknowledgement with your tracking code."),
    )
    citizen_phone = forms.CharField(
        label=_("Phone number"),
        max_length=30,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "tel", "type": "tel"}),
    )
    citizen_address = forms.CharField(
        label=_("Postal address"),
        max_length=ADDRESS_MAX,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "autocomplete": "street-address"}),
    )
    citizen_postcode = forms.CharField(
        label=_("Postcode"),
        max_length=10,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "postal-code", "class": "input-short"}),
        help_text=_("Needed with a postal address; it also lets you follow a letter."),
    )
    preferred_reply_channel = forms.ChoiceField(
        label=_("How would you like to be answered?"),
        choices=REPLY_CHANNELS,
        required=False,
        widget=forms.RadioSelect,
    )
    consent = forms.BooleanField(
        label=_("I have read how my personal data will be used to handle my request."),
        error_messages={
            "required": _("Tick this box to confirm you have read how your data is used.")
        },
    )
    # The honeypot: hidden from people and assistive technologies, filled in by robots.
    website = forms.CharField(
        label=_("Leave this field empty"),
        required=False,
        widget=forms.TextInput(attrs={"tabindex": "-1", "autocomplete": "off"}),
    )
    token = forms.CharField(widget=forms.HiddenInput, required=False)

    def __init__(self, organisation, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.organisation = organisation
        # Set here, not on the class: the numbers go into the text in the current language.
        self.fields["body"].help_text = gettext("At most %(count)s characters.") % {
            "count": MESSAGE_MAX
        }
        self.fields["attachments"].help_text = gettext(
            "Up to %(count)s files, %(each)s each and %(total)s in all: PDF, images (JPEG, "
            "PNG), office documents or text."
        ) % {
            "count": MAX_FILES,
            "each": filesizeformat(attachment_rules.MAX_FILE_BYTES),
            "total": filesizeformat(attachment_rules.MAX_TOTAL_BYTES),
        }
        field = self.fields["service"]
        field.queryset = Service.objects.filter(organisation=organisation)
        # Parents before their sub-services, so "État civil › Naissances" follows "État civil".
        field.choices = [("", field.empty_label)] + [
            (service.pk, label) for service, label in _service_tree(field.queryset)
        ]

    @property
    def is_spam(self) -> bool:
        return bool((self.data.get("website") or "").strip())

    def clean_citizen_phone(self):
        phone = self.cleaned_data["citizen_phone"]
        if phone and (not _PHONE.match(phone) or sum(ch.isdigit() for ch in phone) < 6):
            raise forms.ValidationError(
                _(
                    "Enter a phone number with digits only, "
                    "e.g. 01 23 45 67 89 or +33 1 23 45 67 89."
                )
            )
        return phone

    def clean_citizen_postcode(self):
        postcode = self.cleaned_data["citizen_postcode"]
        if postcode and not _POSTCODE.match(postcode):
            raise forms.ValidationError(_("Enter a postcode, e.g. 75011."))
        return postcode.upper()

    def clean_attachments(self):
        files = self.cleaned_data["attachments"]
        if len(files) > MAX_FILES:
            raise forms.ValidationError(
                gettext("Send at most %(count)s files.") % {"count": MAX_FILES}
            )
        uploads = []
        for file in files:
            file.seek(0)
            uploads.append(attachment_rules.Upload(file.name, file.read()))
        # Raises one message per refused file; the view then saves nothing at all.
        attachment_rules.check(uploads)
        return uploads

    def clean(self):
        cleaned = super().clean()
        contacts = ("citizen_email", "citizen_phone", "citizen_address")
        if not any(cleaned.get(name) for name in contacts) and not any(
            name in self.errors for name in contacts
        ):
            self.add_error(
                "citizen_email",
                _("Give at least one way to answer you: e-mail, phone or postal address."),
            )
        if (
            cleaned.get("citizen_address")
            and not cleaned.get("citizen_postcode")
            and "citizen_postcode" not in self.errors
        ):
            self.add_error("citizen_postcode", _("Give the postcode of your address."))
        needs = _CHANNEL_NEEDS.get(cleaned.get("preferred_reply_channel"))
        if needs and not cleaned.get(needs[0]) and needs[0] not in self.errors:
            self.add_error("preferred_reply_channel", needs[1])
        return cleaned


class TrackingForm(forms.Form):
    code = forms.CharField(
        label=_("Tracking code"),
        max_length=20,
        help_text=_("8 letters and digits, given in your acknowledgement, e.g. K7QX-M3TB."),
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "spellcheck": "false", "class": "input-code"}
        ),
    )
    proof = forms.CharField(
        label=_("Your e-mail address, or your postcode"),
        max_length=254,
        help_text=_(
            "The e-mail address you gave with your request. If you gave none (a letter, a "
            "phone call), the postcode of your address."
        ),
        widget=forms.TextInput(attrs={"autocomplete": "email", "spellcheck": "false"}),
    )

    def clean_code(self):
        code = normalise_code(self.cleaned_data["code"])
        if len(code) != CODE_LENGTH or set(code) - set(CODE_ALPHABET):
            raise forms.ValidationError(
                _("A tracking code has 8 letters and digits, e.g. K7QX-M3TB.")
            )
        return code

    def clean_proof(self):
        return self.cleaned_data["proof"].strip()
