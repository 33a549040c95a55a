"""Django settings, read from the environment (see docs/configuration.md)."""

from pathlib import Path

from django.utils.translation import gettext_lazy as _

from qualicite import env

PACKAGE_DIR = Path(__file__).resolve().parent
BASE_DIR = Path(env.env_str("QUALICITE_HOME") or Path.cwd()).resolve()
VAR_DIR = Path(env.env_str("QUALICITE_VAR_DIR") or BASE_DIR / "var").resolve()

QUALICITE_ENV = env.env_choice("QUALICITE_ENV", ("development", "production"), "development")
PRODUCTION = QUALICITE_ENV == "production"

SECRET_KEY = env.secret_key(
    required=PRODUCTION,
    fallback="development-only-key-never-use-in-production-8c1f2d6a9b7e4f30a5d1",
)
DEBUG = env.env_bool("DEBUG", default=not PRODUCTION)
ALLOWED_HOSTS = env.env_list(
    "ALLOWED_HOSTS", [] if PRODUCTION else ["127.0.0.1", "localhost", "[::1]", "testserver"]
)
CSRF_TRUSTED_ORIGINS = env.env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "qualicite.core",
    "qualicite.charter",
    "qualicite.requests",
    "qualicite.reception",
    "qualicite.indicators",
    "qualicite.reports",
    "qualicite.demo",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.forms",
    "django_tasks",
    "django_tasks_db",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "qualicite.urls"
WSGI_APPLICATION = "qualicite.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [PACKAGE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "qualicite.core.context_processors.navigation",
            ],
        },
    },
]

FORM_RENDERER = "qualicite.core.forms.FormRenderer"

DATABASES = {"default": env.database(VAR_DIR / "qualicite.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"

LANGUAGE_CODE = "fr"
LANGUAGES = [("fr", _("French")), ("en", _("English"))]
LOCALE_PATHS = [PACKAGE_DIR / "locale"]
USE_I18N = True
USE_TZ = True
# Stored in UTC; each organisation shows its own zone (Europe/Paris by default).
TIME_ZONE = "Europe/Paris"

STATIC_URL = "/static/"
# The project's own assets (qualicite/static/), beside each app's static/ folder.
STATICFILES_DIRS = [PACKAGE_DIR / "static"]
STATIC_ROOT = Path(env.env_str("STATIC_ROOT") or VAR_DIR / "static")
# Uploaded files (logos, later attachments) live outside the static tree.
MEDIA_ROOT = Path(env.env_str("MEDIA_ROOT") or VAR_DIR / "media")
MEDIA_URL = "/media/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
# In development WhiteNoise serves straight from the apps, no collectstatic needed.
WHITENOISE_USE_FINDERS = not PRODUCTION
WHITENOISE_AUTOREFRESH = DEBUG

TASKS = {
    "default": {
        "BACKEND": env.env_str("TASKS_BACKEND") or "django_tasks_db.DatabaseBackend",
        "QUEUES": ["default"],
    }
}

_email = env.email(env.env_str("EMAIL_URL"))
EMAIL_BACKEND = _email.pop("EMAIL_BACKEND")
globals().update(_email)
DEFAULT_FROM_EMAIL = env.env_str("DEFAULT_FROM_EMAIL") or "Qualicité <qualicite@localhost>"
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# Security: production defaults pass `qualicite check --deploy` with no warning.
SESSION_COOKIE_SECURE = env.env_bool("SESSION_COOKIE_SECURE", PRODUCTION)
CSRF_COOKIE_SECURE = env.env_bool("CSRF_COOKIE_SECURE", PRODUCTION)
SECURE_SSL_REDIRECT = env.env_bool("SECURE_SSL_REDIRECT", PRODUCTION)
SECURE_HSTS_SECONDS = env.env_int("SECURE_HSTS_SECONDS", 31536000 if PRODUCTION else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", PRODUCTION)
SECURE_HSTS_PRELOAD = env.env_bool("SECURE_HSTS_PRELOAD", PRODUCTION)
if env.env_bool("BEHIND_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_AGE = env.env_int("SESSION_COOKIE_AGE", 8 * 3600)
PASSWORD_RESET_TIMEOUT = 3 * 3600

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.env_str("LOG_LEVEL") or "INFO"},
    # WeasyPrint logs each rendering step at INFO: only its warnings are worth reading.
    "loggers": {"django.db.backends": {"level": "WARNING"}, "weasyprint": {"level": "WARNING"}},
}

# Qualicité's own settings.
QUALICITE_TICK_SECONDS = env.env_int("QUALICITE_TICK_SECONDS", 60)
QUALICITE_TASK_RETENTION_DAYS = env.env_int("QUALICITE_TASK_RETENTION_DAYS", 30)
# Links in e-mails (acknowledgements, reminders) need the public address of the site.
QUALICITE_BASE_URL = env.env_str("QUALICITE_BASE_URL") or "http://127.0.0.1:8000"
