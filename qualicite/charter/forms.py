"""Forms of the référentiel pages; every choice is limited to the user's organisation."""

from django import forms
from django.contrib.auth import get_user_model
from django.forms import inlineformset_factory
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from qualicite.charter import queries
from qualicite.charter.models import Commitment, Indicator, Programme, ServiceTarget
from qualicite.core.choices import Channel
from qualicite.core.models import Organisation, Service

MAX_UPLOAD_BYTES = 2 * 1024 * 1024


class ProgrammeForm(forms.ModelForm):
    class Meta:
        model = Programme
        fields = ["name", "key", "kind", "description"]
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, organisation: Organisation, **kwargs):
        super().__init__(*args, **kwargs)
        self.organisation = organisation
        self.instance.organisation = organisation

    def clean_key(self):
        key = self.cleaned_data["key"]
        taken = Programme.objects.filter(organisation=self.organisation, key=key)
        if taken.exclude(pk=self.instance.pk).exists():
            raise forms.ValidationError(_("Another programme already uses this key."))
        return key


class CommitmentForm(forms.ModelForm):
    channels = forms.MultipleChoiceField(
        label=_("Channels concerned"),
        choices=Channel.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text=_("Leave every box unticked when the commitment covers every channel."),
    )
    position = forms.IntegerField(
        label=_("Place in the programme's list"),
        min_value=1,
        required=False,
        help_text=_("1 puts it first; leave empty to keep its place (or to add it at the end)."),
    )

    class Meta:
        model = Commitment
        fields = [
            "programme",
            "number",
            "title",
            "group",
            "public_text",
            "services",
            "channels",
            "is_published",
        ]
        widgets = {
            "public_text": forms.Textarea(attrs={"rows": 4}),
            "services": forms.CheckboxSelectMultiple,
            "group": forms.TextInput(attrs={"list": "group-options"}),
        }
        help_texts = {
            "group": _("Commitments of the same group are shown together, in the group's order."),
            "public_text": _("What citizens read on the public page and the charter."),
        }

    def __init__(self, *args, organisation: Organisation, **kwargs):
        super().__init__(*args, **kwargs)
        self.organisation = organisation
        self.instance.organisation = organisation
        self.fields["programme"].queryset = queries.programmes(organisation)
        self.fields["programme"].empty_label = None
        self.fields["services"].queryset = Service.objects.filter(
            organisation=organisation
        ).order_by("position", "name")
        if self.instance.pk:
            self.fields["position"].initial = self.instance.position
        self.group_names = queries.group_names(organisation)

    def clean(self):
        cleaned = super().clean()
        programme, number = cleaned.get("programme"), cleaned.get("number")
        if programme is not None and number:
            taken = Commitment.objects.filter(programme=programme, number=number)
            if taken.exclude(pk=self.instance.pk).exists():
                self.add_error("number", _("Another commitment of this programme has this number."))
        return cleaned

    def service_fields(self) -> dict:
        """What services.create_commitment / update_commitment take."""
        data = {name: self.cleaned_data[name] for name in self.Meta.fields}
        data["position"] = self.cleaned_data.get("position")
        return data


class IndicatorForm(forms.ModelForm):
    channels = forms.MultipleChoiceField(
        label=_("Channels measured"),
        choices=Channel.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text=_("Leave every box unticked to measure the commitment's channels."),
    )

    class Meta:
        model = Indicator
        fields = [
            "commitment",
            "code",
            "name",
            "unit",
            "source_kind",
            "source",
            "direction",
            "target",
            "warning_threshold",
            "period",
            "channels",
            "day_kind",
            "delay_days",
            "threshold_seconds",
            "owner",
            "results_published",
        ]

    def __init__(self, *args, organisation: Organisation, **kwargs):
        super().__init__(*args, **kwargs)
        self.organisation = organisation
        self.instance.organisation = organisation
        self.fields["owner"].queryset = (
            get_user_model()
            .objects.filter(memberships__organisation=organisation, memberships__is_active=True)
            .distinct()
            .order_by("last_name", "first_name", "username")
        )
        self.fields["owner"].label_from_instance = lambda u: u.get_full_name() or u.get_username()
        if self.instance.pk:
            self.fields["effective_from"] = forms.DateField(
                label=_("Changes of target, threshold or delay apply from"),
                required=False,
                initial=timezone.localdate,
                widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
                help_text=_(
                    "Periods that end before this date keep the target that was in force then. "
                    "Empty: today."
                ),
            )
        self.fields["commitment"].queryset = queries.commitments(organisation).order_by(
            "programme__position", "position", "id"
        )
        self.fields["commitment"].empty_label = None
        self.fields["commitment"].label_from_instance = lambda c: (
            f"{c.programme.name} — {c.number}. {c.title}"
        )

    def clean_code(self):
        code = self.cleaned_data["code"]
        taken = Indicator.objects.filter(organisation=self.organisation, code=code)
        if taken.exclude(pk=self.instance.pk).exists():
            raise forms.ValidationError(_("Another indicator of the organisation uses this code."))
        return code

    def service_fields(self) -> dict:
        fields = {name: self.cleaned_data[name] for name in self.Meta.fields}
        if self.cleaned_data.get("effective_from"):
            fields["effective_from"] = self.cleaned_data["effective_from"]
        return fields


class ServiceTargetForm(forms.ModelForm):
    @property
    def template_name(self):
        # The page shows one summary at its top: no summary in every row.
        return self.renderer.form_template_name

    class Meta:
        model = ServiceTarget
        fields = ["service", "target", "warning_threshold"]

    def __init__(self, *args, organisation: Organisation, **kwargs):
        super().__init__(*args, **kwargs)
        self.instance.organisation = organisation
        self.fields["service"].queryset = Service.objects.filter(
            organisation=organisation
        ).order_by("position", "name")
        self.fields["target"].help_text = _("Replaces the indicator's target for this service.")


class BaseServiceTargetFormSet(forms.BaseInlineFormSet):
    def clean(self):
        # Before Django's own uniqueness check, to put the message beside the service field.
        seen = set()
        for form in self.forms:
            if not hasattr(form, "cleaned_data") or self._should_delete_form(form):
                continue
            service = form.cleaned_data.get("service")
            if service is None:
                continue
            if service.pk in seen:
                form.add_error("service", _("This service already has a target above."))
            seen.add(service.pk)
        super().clean()

    def rows(self) -> list[dict]:
        """The targets to keep, for services.set_service_targets."""
        rows = []
        for form in self.forms:
            if self._should_delete_form(form) or not form.cleaned_data.get("service"):
                continue
            rows.append(
                {
                    "service": form.cleaned_data["service"],
                    "target": form.cleaned_data["target"],
                    "warning_threshold": form.cleaned_data.get("warning_threshold"),
                }
            )
        return rows


ServiceTargetFormSet = inlineformset_factory(
    Indicator,
    ServiceTarget,
    form=ServiceTargetForm,
    formset=BaseServiceTargetFormSet,
    fields=["service", "target", "warning_threshold"],
    extra=2,
    can_delete=True,
)


class AdoptTemplateForm(forms.Form):
    template = forms.ChoiceField(label=_("Template"), widget=forms.RadioSelect)

    def __init__(self, *args, organisation: Organisation, **kwargs):
        super().__init__(*args, **kwargs)
        available = queries.available_templates(organisation)
        self.fields["template"].choices = [(t.key, t.name) for t in available]
        self.templates = available


class ImportForm(forms.Form):
    file = forms.FileField(
        label=_("YAML file"),
        help_text=_("A file exported from Qualicité and edited, at most 2 MB."),
        widget=forms.ClearableFileInput(attrs={"accept": ".yaml,.yml,application/yaml,text/yaml"}),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(_("The file is larger than 2 MB."))
        return upload
