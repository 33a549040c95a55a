"""Adopting a built-in template, and the référentiel as a YAML file (quality manager)."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from qualicite.charter import queries, services, yaml_io
from qualicite.charter.forms import AdoptTemplateForm, ImportForm
from qualicite.charter.views.edit import add_errors, referentiel_url
from qualicite.core.permissions import Perm, organisation_view


@organisation_view(Perm.MANAGE_REFERENTIEL)
def adopt(request, organisation):
    form = AdoptTemplateForm(request.POST or None, organisation=organisation)
    if request.method == "POST" and form.is_valid():
        try:
            adopted = services.adopt_template(
                organisation, form.cleaned_data["template"], actor=request.user
            )
        except ValidationError as error:
            add_errors(form, ValidationError({"template": error.messages}))
        else:
            names = ", ".join(p.name for p in adopted)
            messages.success(
                request,
                _("Template adopted: “%(names)s”. You can now adapt its commitments and targets.")
                % {"names": names},
            )
            anchor = f"programme-{adopted[0].pk}" if adopted else ""
            return redirect(referentiel_url(organisation, anchor))
    return render(
        request,
        "charter/adopt.html",
        {
            "form": form,
            "templates": form.templates,
            "adopted": queries.adopted_templates(organisation),
        },
    )


@organisation_view(Perm.MANAGE_REFERENTIEL)
def export_yaml(request, organisation):
    response = HttpResponse(
        yaml_io.export_referentiel(organisation), content_type="application/yaml; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="referentiel-{organisation.slug}.yaml"'
    return response


@organisation_view(Perm.MANAGE_REFERENTIEL)
def import_yaml(request, organisation):
    form = ImportForm(request.POST or None, request.FILES or None)
    problems, file_name = [], ""
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        file_name = upload.name
        try:
            summary = services.import_referentiel(organisation, upload.read(), actor=request.user)
        except yaml_io.InvalidReferentiel as error:
            problems = error.problems
            form.add_error(
                "file",
                _("Correct the problems listed above, then import the file again."),
            )
        except ValidationError as error:
            add_errors(form, error)
        else:
            messages.success(request, _("Référentiel imported. %(summary)s") % {"summary": summary})
            return redirect(referentiel_url(organisation))
    return render(
        request,
        "charter/import.html",
        {"form": form, "problems": problems, "file_name": file_name},
    )
