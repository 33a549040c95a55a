"""Editing the référentiel (quality manager): programmes, commitments, indicators and targets."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from qualicite.charter import services
from qualicite.charter.forms import (
    CommitmentForm,
    IndicatorForm,
    ProgrammeForm,
    ServiceTargetFormSet,
)
from qualicite.charter.models import Commitment, Indicator, Programme
from qualicite.core.forms import add_errors
from qualicite.core.permissions import Perm, organisation_view


def referentiel_url(organisation, anchor: str = "") -> str:
    url = reverse("charter:referentiel", kwargs={"org_slug": organisation.slug})
    return f"{url}#{anchor}" if anchor else url


def commitment_url(commitment, anchor: str = "") -> str:
    url = reverse(
        "charter:commitment",
        kwargs={"org_slug": commitment.organisation.slug, "pk": commitment.pk},
    )
    return f"{url}#{anchor}" if anchor else url


def form_page(request, *, title, form, cancel_url, submit, formset=None, intro=""):
    return render(
        request,
        "charter/form.html",
        {
            "title": title,
            "form": form,
            "formset": formset,
            "cancel_url": cancel_url,
            "submit": submit,
            "intro": intro,
        },
    )


def confirm_page(request, *, title, consequences, cancel_url):
    return render(
        request,
        "charter/confirm_delete.html",
        {"title": title, "consequences": consequences, "cancel_url": cancel_url},
    )


# ---------------------------------------------------------------------------
# Programmes


@organisation_view(Perm.MANAGE_REFERENTIEL)
def programme_create(request, organisation):
    form = ProgrammeForm(request.POST or None, organisation=organisation)
    if request.method == "POST" and form.is_valid():
        try:
            programme = services.create_programme(
                organisation, actor=request.user, **form.cleaned_data
            )
        except ValidationError as error:
            add_errors(form, error)
        else:
            messages.success(request, _("Programme “%(name)s” created.") % {"name": programme})
            return redirect(referentiel_url(organisation, f"programme-{programme.pk}"))
    return form_page(
        request,
        title=gettext_lazy("New programme"),
        form=form,
        cancel_url=referentiel_url(organisation),
        submit=gettext_lazy("Create the programme"),
        intro=gettext_lazy(
            "A programme holds a set of commitments: a label, a certification or your own "
            "référentiel."
        ),
    )


@organisation_view(Perm.MANAGE_REFERENTIEL)
def programme_edit(request, organisation, pk):
    programme = get_object_or_404(Programme, organisation=organisation, pk=pk)
    form = ProgrammeForm(request.POST or None, instance=programme, organisation=organisation)
    if request.method == "POST" and form.is_valid():
        try:
            services.update_programme(programme, actor=request.user, **form.cleaned_data)
        except ValidationError as error:
            add_errors(form, error)
        else:
            messages.success(request, _("Programme “%(name)s” saved.") % {"name": programme})
            return redirect(referentiel_url(organisation, f"programme-{programme.pk}"))
    return form_page(
        request,
        title=_("Edit the programme “%(name)s”") % {"name": programme.name},
        form=form,
        cancel_url=referentiel_url(organisation, f"programme-{programme.pk}"),
        submit=gettext_lazy("Save"),
    )


@organisation_view(Perm.MANAGE_REFERENTIEL)
def programme_delete(request, organisation, pk):
    programme = get_object_or_404(Programme, organisation=organisation, pk=pk)
    if request.method == "POST":
        name = programme.name
        services.delete_programme(programme, actor=request.user)
        messages.success(request, _("Programme “%(name)s” deleted.") % {"name": name})
        return redirect(referentiel_url(organisation))
    return confirm_page(
        request,
        title=_("Delete the programme “%(name)s”?") % {"name": programme.name},
        consequences=_(
            "Its %(commitments)s commitments and their indicators will be deleted too. "
            "The history keeps a trace of the deletion."
        )
        % {"commitments": programme.commitments.count()},
        cancel_url=referentiel_url(organisation, f"programme-{programme.pk}"),
    )


# ---------------------------------------------------------------------------
# Commitments


@organisation_view(Perm.MANAGE_REFERENTIEL)
def commitment_create(request, organisation):
    initial = {}
    wanted = request.GET.get("programme", "")
    if wanted.isdigit():
        initial["programme"] = Programme.objects.filter(
            organisation=organisation, pk=wanted
        ).first()
    form = CommitmentForm(request.POST or None, initial=initial, organisation=organisation)
    if not form.fields["programme"].queryset.exists():
        messages.info(request, _("Create a programme or adopt a template first."))
        return redirect(referentiel_url(organisation))
    if request.method == "POST" and form.is_valid():
        data = form.service_fields()
        try:
            commitment = services.create_commitment(
                data.pop("programme"), actor=request.user, **data
            )
        except ValidationError as error:
            add_errors(form, error)
        else:
            messages.success(request, _("Commitment “%(name)s” created.") % {"name": commitment})
            return redirect(commitment_url(commitment))
    return form_page(
        request,
        title=gettext_lazy("New commitment"),
        form=form,
        cancel_url=referentiel_url(organisation),
        submit=gettext_lazy("Create the commitment"),
    )


@organisation_view(Perm.MANAGE_REFERENTIEL)
def commitment_edit(request, organisation, pk):
    commitment = get_object_or_404(Commitment, organisation=organisation, pk=pk)
    form = CommitmentForm(request.POST or None, instance=commitment, organisation=organisation)
    if request.method == "POST" and form.is_valid():
        try:
            services.update_commitment(commitment, actor=request.user, **form.service_fields())
        except ValidationError as error:
            add_errors(form, error)
        else:
            messages.success(request, _("Commitment “%(name)s” saved.") % {"name": commitment})
            return redirect(commitment_url(commitment))
    return form_page(
        request,
        title=_("Edit commitment %(number)s") % {"number": commitment.number},
        form=form,
        cancel_url=commitment_url(commitment),
        submit=gettext_lazy("Save"),
    )


@organisation_view(Perm.MANAGE_REFERENTIEL)
def commitment_delete(request, organisation, pk):
    commitment = get_object_or_404(Commitment, organisation=organisation, pk=pk)
    if request.method == "POST":
        name = str(commitment)
        services.delete_commitment(commitment, actor=request.user)
        messages.success(request, _("Commitment “%(name)s” deleted.") % {"name": name})
        return redirect(referentiel_url(organisation))
    return confirm_page(
        request,
        title=_("Delete commitment “%(name)s”?") % {"name": commitment},
        consequences=_(
            "Its %(indicators)s indicators and their targets will be deleted too. "
            "The history keeps a trace of the deletion."
        )
        % {"indicators": commitment.indicators.count()},
        cancel_url=commitment_url(commitment),
    )


# ---------------------------------------------------------------------------
# Indicators with their per-service targets


def _indicator_forms(request, organisation, indicator):
    data = request.POST if request.method == "POST" else None
    form = IndicatorForm(data, instance=indicator, organisation=organisation)
    formset = ServiceTargetFormSet(
        data,
        instance=indicator,
        prefix="targets",
        form_kwargs={"organisation": organisation},
    )
    return form, formset


def _valid(form, formset) -> bool:
    # Validate the indicator first: the targets are checked against its unit and direction.
    form_ok = form.is_valid()
    formset_ok = formset.is_valid()
    return form_ok and formset_ok


@organisation_view(Perm.MANAGE_REFERENTIEL)
def indicator_create(request, organisation, pk):
    commitment = get_object_or_404(Commitment, organisation=organisation, pk=pk)
    indicator = Indicator(organisation=organisation, commitment=commitment)
    form, formset = _indicator_forms(request, organisation, indicator)
    if request.method == "POST" and _valid(form, formset):
        data = form.service_fields()
        try:
            with transaction.atomic():
                indicator = services.create_indicator(
                    data.pop("commitment"),
                    actor=request.user,
                    service_targets=formset.rows(),
                    **data,
                )
        except ValidationError as error:
            add_errors(form, error)
        else:
            messages.success(request, _("Indicator “%(name)s” created.") % {"name": indicator})
            return redirect(commitment_url(indicator.commitment, f"indicator-{indicator.pk}"))
    return form_page(
        request,
        title=_("New indicator for commitment %(number)s") % {"number": commitment.number},
        form=form,
        formset=formset,
        cancel_url=commitment_url(commitment),
        submit=gettext_lazy("Create the indicator"),
    )


@organisation_view(Perm.MANAGE_REFERENTIEL)
def indicator_edit(request, organisation, pk):
    indicator = get_object_or_404(
        Indicator.objects.select_related("commitment"), organisation=organisation, pk=pk
    )
    form, formset = _indicator_forms(request, organisation, indicator)
    if request.method == "POST" and _valid(form, formset):
        try:
            with transaction.atomic():
                services.update_indicator(
                    indicator,
                    actor=request.user,
                    service_targets=formset.rows(),
                    **form.service_fields(),
                )
        except ValidationError as error:
            add_errors(form, error)
        else:
            messages.success(request, _("Indicator “%(name)s” saved.") % {"name": indicator})
            return redirect(commitment_url(indicator.commitment, f"indicator-{indicator.pk}"))
    return form_page(
        request,
        title=_("Edit the indicator “%(name)s”") % {"name": indicator.name},
        form=form,
        formset=formset,
        cancel_url=commitment_url(indicator.commitment, f"indicator-{indicator.pk}"),
        submit=gettext_lazy("Save"),
    )


@organisation_view(Perm.MANAGE_REFERENTIEL)
def indicator_delete(request, organisation, pk):
    indicator = get_object_or_404(
        Indicator.objects.select_related("commitment"), organisation=organisation, pk=pk
    )
    commitment = indicator.commitment
    if request.method == "POST":
        name = indicator.name
        services.delete_indicator(indicator, actor=request.user)
        messages.success(request, _("Indicator “%(name)s” deleted.") % {"name": name})
        return redirect(commitment_url(commitment))
    return confirm_page(
        request,
        title=_("Delete the indicator “%(name)s”?") % {"name": indicator.name},
        consequences=_(
            "Its per-service targets will be deleted too. The history keeps a trace of the "
            "deletion."
        ),
        cancel_url=commitment_url(commitment, f"indicator-{indicator.pk}"),
    )
