"""System checks for configuration mistakes that would only show later."""

import os
from pathlib import Path

from django.conf import settings
from django.core.checks import Error, Warning, register


@register()
def var_directory_is_writable(app_configs=None, **kwargs):
    errors = []
    for name in ("VAR_DIR", "MEDIA_ROOT"):
        path = Path(getattr(settings, name))
        existing = next((p for p in (path, *path.parents) if p.exists()), None)
        if existing is None or not os.access(existing, os.W_OK):
            errors.append(
                Error(
                    f"{name} ({path}) cannot be written to.",
                    hint="Create the folder and give the application's user write access.",
                    id="qualicite.E001",
                )
            )
    return errors


@register(deploy=True)
def production_mode_is_set(app_configs=None, **kwargs):
    if getattr(settings, "PRODUCTION", False):
        return []
    return [
        Warning(
            "QUALICITE_ENV is not 'production': debug pages and the development key are allowed.",
            hint="Set QUALICITE_ENV=production on a public server.",
            id="qualicite.W001",
        )
    ]
