"""What every page needs: the current organisation's branding and the role's navigation."""

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from qualicite.core import permissions
from qualicite.core.permissions import Perm

# (url name, label, permission) — later apps add their sections here.
NAVIGATION = [
    ("core:workspace", _("Home"), Perm.VIEW_WORKSPACE),
    ("requests:queue", _("Requests"), Perm.VIEW_REQUESTS),
    ("deliveries:index", _("Service deliveries"), Perm.VIEW_REQUESTS),
    ("charter:referentiel", _("Commitments"), Perm.VIEW_REFERENTIEL),
    ("indicators:dashboard", _("Indicators"), Perm.VIEW_INDICATORS),
    ("indicator_alerts:index", _("Alerts"), Perm.VIEW_INDICATORS),
    ("indicator_values:index", _("Values to enter"), Perm.ENTER_INDICATOR_VALUES),
    ("desk:tablet", _("Desk"), Perm.RECEIVE_VISITORS),
    ("appointments:index", _("Appointments"), Perm.RECEIVE_VISITORS),
    ("reception:calls", _("Phone calls"), Perm.MANAGE_RECEPTION),
    ("reports:complaints", _("Complaints report"), Perm.VIEW_REPORTS),
    ("reports:call_peaks", _("Call peaks"), Perm.VIEW_INDICATORS),
    ("core:organisation", _("Services and sites"), Perm.VIEW_ORGANISATION),
    ("privacy:index", _("Personal data"), Perm.MANAGE_PERSONAL_DATA),
    ("core:history", _("History"), Perm.VIEW_HISTORY),
]


def navigation(request):
    organisation = getattr(request, "organisation", None)
    user = getattr(request, "user", None)
    context = {"organisation": organisation, "nav_items": [], "user_memberships": []}
    if user is not None and user.is_authenticated:
        context["user_memberships"] = sorted(
            permissions.memberships(user).values(), key=lambda m: m.organisation.name
        )
    if organisation is None:
        return context
    granted = permissions.perms(user, organisation) if user is not None else frozenset()
    current = request.path
    for url_name, label, perm in NAVIGATION:
        if perm in granted:
            url = reverse(url_name, kwargs={"org_slug": organisation.slug})
            is_current = current == url or (
                url_name != "core:workspace" and current.startswith(url)
            )
            context["nav_items"].append({"url": url, "label": label, "current": is_current})
    context["membership"] = permissions.membership(user, organisation) if user else None
    if user is not None and user.is_authenticated and user.is_staff:
        context["admin_url"] = reverse("admin:index")
    return context
