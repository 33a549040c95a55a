"""What the management commands of every app share."""

import contextlib
import sys

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


def binary_input(path: str):
    """A FILE argument opened for reading, for a `with`: standard input for "-" (left open)."""
    if path == "-":
        return contextlib.nullcontext(sys.stdin.buffer)
    try:
        return open(path, "rb")  # noqa: SIM115 - closed by the caller's with
    except OSError as error:
        raise CommandError(
            _("Cannot read %(file)s: %(error)s.") % {"file": path, "error": error.strerror or error}
        ) from None
