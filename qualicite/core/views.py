"""Pages of the core app: home, workspace, services and sites, history, health."""

from django.db import connection
from django.http import FileResponse, Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from qualicite.core import events, permissions, queries
from qualicite.core.models import Organisation
from qualicite.core.permissions import Perm, organisation_view


def home(request):
    """Staff land in their organisation; everyone else sees the public pages."""
    if request.user.is_authenticated:
        found = permissions.memberships(request.user)
        if len(found) == 1:
            only = next(iter(found.values()))
            return redirect("core:workspace", org_slug=only.organisation.slug)
    organisations = Organisation.objects.filter(is_active=True)
    return render(request, "core/home.html", {"organisations": organisations})


@organisation_view(Perm.VIEW_WORKSPACE)
def workspace(request, organisation):
    services = queries.service_tree(permissions.visible_services(request.user, organisation))
    return render(
        request,
        "core/workspace.html",
        {"services": services, "perms": permissions.perms(request.user, organisation)},
    )


@organisation_view(Perm.VIEW_ORGANISATION)
def organisation_detail(request, organisation):
    services = queries.service_tree(permissions.visible_services(request.user, organisation))
    return render(
        request,
        "core/organisation.html",
        {"services": services, "sites": queries.sites_with_hours(organisation)},
    )


@organisation_view(Perm.VIEW_ORGANISATION)
def service_detail(request, organisation, service_code):
    # A member restricted to other services gets 404, as for a service that does not exist.
    service = get_object_or_404(
        permissions.visible_services(request.user, organisation), code=service_code
    )
    children = queries.service_tree(
        permissions.visible_services(request.user, organisation).filter(parent=service)
    )
    return render(
        request,
        "core/service.html",
        {"service": service, "children": children, "sites": service.sites.all()},
    )


@organisation_view(Perm.VIEW_HISTORY)
def history(request, organisation):
    return render(request, "core/history.html", {"events": events.history(organisation)})


@never_cache
@require_GET
def healthz(request):
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        database = "ok"
    except Exception as exc:  # any database failure is what this endpoint reports
        database = f"error: {type(exc).__name__}"
    status = 200 if database == "ok" else 503
    return JsonResponse(
        {"status": "ok" if status == 200 else "error", "database": database}, status=status
    )


def organisation_logo(request, org_slug):
    """The logo is public (it heads the public pages), served by the app itself."""
    organisation = get_object_or_404(Organisation, slug=org_slug, is_active=True)
    if not organisation.logo:
        raise Http404
    response = FileResponse(organisation.logo.open("rb"))
    response["Cache-Control"] = "public, max-age=3600"
    response["X-Content-Type-Options"] = "nosniff"
    return response
