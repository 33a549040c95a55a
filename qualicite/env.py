"""Typed readers for the environment variables that configure Qualicité.

Each reader raises ImproperlyConfigured with one sentence naming the variable,
so a misconfigured deployment stops at start with one clear line.
"""

import contextlib
import os
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return default if value is None else value.strip()


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    word = value.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {value!r}.")


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or not value.strip():
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {value!r}.") from None


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def env_choice(name: str, choices: tuple[str, ...], default: str) -> str:
    value = (os.environ.get(name) or default).strip().lower()
    if value not in choices:
        allowed = ", ".join(choices)
        raise ImproperlyConfigured(f"{name} must be one of {allowed}, not {value!r}.")
    return value


def secret_key(*, required: bool, fallback: str) -> str:
    """SECRET_KEY, or the content of the file named by SECRET_KEY_FILE."""
    key = env_str("SECRET_KEY")
    key_file = env_str("SECRET_KEY_FILE")
    if key_file:
        try:
            key = Path(key_file).read_text().strip()
        except OSError as exc:
            raise ImproperlyConfigured(
                f"SECRET_KEY_FILE {key_file!r} cannot be read: {exc.strerror}."
            ) from None
    if key:
        return key
    if required:
        raise ImproperlyConfigured(
            "SECRET_KEY (or SECRET_KEY_FILE) must be set when QUALICITE_ENV=production."
        )
    return fallback


def database(default_sqlite_path: Path) -> dict:
    """DATABASES['default'] from DATABASE_URL, or SQLite in WAL mode under var/."""
    import dj_database_url

    url = env_str("DATABASE_URL")
    if not url:
        # The embedded default: make var/ on first start (a failure shows in `check`).
        with contextlib.suppress(OSError):
            default_sqlite_path.parent.mkdir(parents=True, exist_ok=True)
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(default_sqlite_path),
            "OPTIONS": {
                # WAL lets the web server, the worker and tick read while one writes.
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
            },
        }
    scheme = urlsplit(url).scheme
    if scheme not in {"postgres", "postgresql", "pgsql", "sqlite"}:
        raise ImproperlyConfigured(
            f"DATABASE_URL must start with postgres:// or sqlite://, not {scheme or url!r}."
        )
    try:
        config = dj_database_url.parse(url, conn_max_age=60, conn_health_checks=True)
    except Exception as exc:  # dj-database-url raises several kinds of error
        raise ImproperlyConfigured(f"DATABASE_URL cannot be read: {exc}.") from None
    if config["ENGINE"].endswith("postgresql") and not config.get("NAME"):
        raise ImproperlyConfigured("DATABASE_URL must name a database, e.g. .../qualicite.")
    return config


EMAIL_BACKENDS = {
    "smtp": "django.core.mail.backends.smtp.EmailBackend",
    "smtps": "django.core.mail.backends.smtp.EmailBackend",
    "submission": "django.core.mail.backends.smtp.EmailBackend",
    "console": "django.core.mail.backends.console.EmailBackend",
    "file": "django.core.mail.backends.filebased.EmailBackend",
    "memory": "django.core.mail.backends.locmem.EmailBackend",
    "dummy": "django.core.mail.backends.dummy.EmailBackend",
}


def email(url: str | None) -> dict:
    """Django e-mail settings from EMAIL_URL, e.g. smtp://user:pass@host:587?tls=1."""
    if not url:
        return {"EMAIL_BACKEND": EMAIL_BACKENDS["console"]}
    parts = urlsplit(url)
    if parts.scheme not in EMAIL_BACKENDS:
        allowed = ", ".join(sorted(EMAIL_BACKENDS))
        raise ImproperlyConfigured(f"EMAIL_URL must start with one of {allowed}.")
    settings = {"EMAIL_BACKEND": EMAIL_BACKENDS[parts.scheme]}
    if parts.scheme == "file":
        settings["EMAIL_FILE_PATH"] = parts.path
        return settings
    if parts.scheme in {"smtp", "smtps", "submission"}:
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        try:
            port = parts.port
        except ValueError:
            raise ImproperlyConfigured("EMAIL_URL has a port that is not a number.") from None
        default_port = {"smtp": 25, "smtps": 465, "submission": 587}[parts.scheme]
        settings.update(
            EMAIL_HOST=parts.hostname or "localhost",
            EMAIL_PORT=port or default_port,
            EMAIL_HOST_USER=unquote(parts.username or ""),
            EMAIL_HOST_PASSWORD=unquote(parts.password or ""),
            EMAIL_USE_SSL=parts.scheme == "smtps" or query.get("ssl") in TRUE_WORDS,
            EMAIL_USE_TLS=parts.scheme == "submission" or query.get("tls") in TRUE_WORDS,
            EMAIL_TIMEOUT=int(query.get("timeout", "20")),
        )
    return settings
