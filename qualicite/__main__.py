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
        args = list(sys.argv[1:] if argv is None else argv)
        if args and "-" in args[0] and not args[0].startswith("-"):
            # `qualicite fetch-mail` reads better; Django names commands after modules.
            args[0] = args[0].replace("-", "_")
        execute_from_command_line(["qualicite", *args])
    except ImproperlyConfigured as exc:
        # One clear line instead of a traceback: the deployment is misconfigured.
        print(f"qualicite: configuration error: {exc}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
