"""Files that must never be served as they are: attachments, evidence, phone-system logs."""

import os

from django.conf import settings
from django.core.files.storage import FileSystemStorage


class PrivateStorage(FileSystemStorage):
    """Attachments live under var/, never under a served tree; a view checks access.

    The folder is read from the settings at each use (not at import) so that a deployment,
    or a test, that moves QUALICITE_VAR_DIR moves the attachments with it.
    """

    @property
    def base_location(self):
        return str(settings.VAR_DIR / "attachments")

    @property
    def location(self):
        return os.path.abspath(self.base_location)

    def deconstruct(self):
        return ("qualicite.core.storage.PrivateStorage", (), {})
