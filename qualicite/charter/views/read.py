"""Reading the référentiel: the public commitments, the staff overview, one commitment."""

from django.http import Http404
from django.shortcuts import render

from qualicite.charter import queries
from qualicite.core import permissions
from qualicite.core.permissions import Perm, organisation_view, public_organisation


def can_manage(request, organisation) -> bool:
    return permissions.has_perm(request.user, organisation, Perm.MANAGE_REFERENTIEL)


@public_organisation
def public_home(request, organisation):
    return render(
        request,
        "charter/public_home.html",
        {"programmes": queries.public_commitments(organisation)},
    )


@organisation_view(Perm.VIEW_REFERENTIEL)
def referentiel(request, organisation):
    return render(
        request,
        "charter/referentiel.html",
        {
            "programmes": queries.referentiel(organisation),
            "can_manage": can_manage(request, organisation),
            "templates_left": bool(queries.available_templates(organisation)),
        },
    )


@organisation_view(Perm.VIEW_REFERENTIEL)
def commitment_detail(request, organisation, pk):
    commitment = queries.commitment(organisation, pk).first()
    if commitment is None:
        raise Http404
    return render(
        request,
        "charter/commitment_detail.html",
        {"commitment": commitment, "can_manage": can_manage(request, organisation)},
    )
