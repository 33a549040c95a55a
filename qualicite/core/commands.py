"""What the management commands of every app share."""

from django.core.management.base import CommandError
from django.utils.translation import gettext as _

from qualicite.core.models import Organisation


def organisation_named(slug: str) -> Organisation:
    """The organisation an ORG argument names, or a CommandError listing the known ones."""
    try:
        return Organisation.objects.get(slug=slug)
    except Organisation.DoesNotExist:
        known = ", ".join(Organisation.objects.values_list("slug", flat=True)) or _("none")
        raise CommandError(
            _("No organisation has the address name “%(slug)s” (known: %(known)s).")
            % {"slug": slug, "known": known}
        ) from None
