"""The `qualicite` command: Django's management commands under one name."""

import os
import sys


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "qualicite.settings")
    from django.core.exceptions import ImproperlyConfigured

    try:
        from django.conf import settings
        from django.core.management import execute_from_command_line

        settings.INSTALLED_APPS  # noqa: B018 - read the settings now, to fail fast
        execute_from_command_line(["qualicite", *(sys.argv[1:] if argv is None else argv)])
    except ImproperlyConfigured as exc:
        # One clear line instead of a traceback: the deployment is misconfigured.
        print(f"qualicite: configuration error: {exc}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
