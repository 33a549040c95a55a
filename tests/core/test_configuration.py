"""Settings come from the environment; bad configuration stops at start with one line."""

import os
import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured

from qualicite import env


def run_qualicite(*args, **environment):
    """Run the real `qualicite` command in a clean environment (settings read at start)."""
    hidden = {"DATABASE_URL", "SECRET_KEY", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    base = {k: v for k, v in os.environ.items() if k not in hidden}
    base.pop("DJANGO_SETTINGS_MODULE", None)
    return subprocess.run(
        [sys.executable, "-m", "qualicite", *args],
        env={**base, **environment},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_without_a_secret_stops_with_one_clear_line(tmp_path):
    result = run_qualicite(
        "check", QUALICITE_ENV="production", ALLOWED_HOSTS="x.fr", QUALICITE_VAR_DIR=str(tmp_path)
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines == [
        "qualicite: configuration error: SECRET_KEY (or SECRET_KEY_FILE) must be set when "
        "QUALICITE_ENV=production."
    ]


def test_a_bad_database_url_stops_with_one_clear_line(tmp_path):
    result = run_qualicite(
        "check", DATABASE_URL="mysql-ish://nowhere", QUALICITE_VAR_DIR=str(tmp_path)
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "qualicite: configuration error: DATABASE_URL must start with postgres:// or "
        "sqlite://, not 'mysql-ish'."
    ]


def test_the_deploy_check_is_clean_in_production(tmp_path):
    result = run_qualicite(
        "check",
        "--deploy",
        QUALICITE_ENV="production",
        SECRET_KEY="a-long-random-secret-" + "x7Qp2!kZ" * 8,
        ALLOWED_HOSTS="qualite.ville.fr",
        QUALICITE_VAR_DIR=str(tmp_path),
    )
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout
    assert "WARNING" not in result.stdout + result.stderr


def test_the_secret_can_come_from_a_file(tmp_path, monkeypatch):
    key_file = tmp_path / "secret"
    key_file.write_text("from-a-file\n")
    monkeypatch.setenv("SECRET_KEY_FILE", str(key_file))
    monkeypatch.delenv("SECRET_KEY", raising=False)
    assert env.secret_key(required=True, fallback="") == "from-a-file"


def test_an_unreadable_secret_file_is_named_in_the_error(tmp_path, monkeypatch):
    monkeypatch.setenv("SECRET_KEY_FILE", str(tmp_path / "absent"))
    with pytest.raises(ImproperlyConfigured, match="SECRET_KEY_FILE .*absent.* cannot be read"):
        env.secret_key(required=True, fallback="")


@pytest.mark.parametrize(
    "value, expected", [("true", True), ("0", False), ("yes", True), ("off", False)]
)
def test_booleans_accept_the_usual_words(monkeypatch, value, expected):
    monkeypatch.setenv("SOME_FLAG", value)
    assert env.env_bool("SOME_FLAG", default=not expected) is expected


def test_a_bad_boolean_is_refused_with_its_name(monkeypatch):
    monkeypatch.setenv("SOME_FLAG", "perhaps")
    with pytest.raises(ImproperlyConfigured, match="SOME_FLAG must be true or false"):
        env.env_bool("SOME_FLAG", default=False)


def test_a_bad_integer_is_refused_with_its_name(monkeypatch):
    monkeypatch.setenv("SOME_NUMBER", "ten")
    with pytest.raises(ImproperlyConfigured, match="SOME_NUMBER must be a whole number"):
        env.env_int("SOME_NUMBER", 1)


def test_lists_are_comma_separated(monkeypatch):
    monkeypatch.setenv("ALLOWED_HOSTS", "a.fr, b.fr,,")
    assert env.env_list("ALLOWED_HOSTS", []) == ["a.fr", "b.fr"]


def test_an_unknown_environment_name_is_refused(monkeypatch):
    monkeypatch.setenv("QUALICITE_ENV", "staging")
    with pytest.raises(ImproperlyConfigured, match="QUALICITE_ENV must be one of"):
        env.env_choice("QUALICITE_ENV", ("development", "production"), "development")


def test_email_url_gives_smtp_settings():
    settings = env.email("submission://agent%40ville.fr:s%C3%A9cret@smtp.ville.fr")
    assert settings == {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "smtp.ville.fr",
        "EMAIL_PORT": 587,
        "EMAIL_HOST_USER": "agent@ville.fr",
        "EMAIL_HOST_PASSWORD": "sécret",
        "EMAIL_USE_SSL": False,
        "EMAIL_USE_TLS": True,
        "EMAIL_TIMEOUT": 20,
    }


def test_email_url_with_an_unknown_scheme_is_refused():
    with pytest.raises(ImproperlyConfigured, match="EMAIL_URL must start with one of"):
        env.email("pigeon://roof")


def test_without_email_url_mail_goes_to_the_console():
    assert env.email(None) == {"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"}


def test_database_url_for_postgresql_is_parsed(monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", "postgres://qc:pw@db.ville.fr:5433/qualicite")
    config = env.database(tmp_path / "x.sqlite3")
    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert (config["HOST"], config["PORT"], config["NAME"]) == ("db.ville.fr", 5433, "qualicite")


def test_without_database_url_sqlite_lives_in_var(monkeypatch, tmp_path):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    config = env.database(tmp_path / "var" / "q.sqlite3")
    assert config["ENGINE"] == "django.db.backends.sqlite3"
    assert (tmp_path / "var").is_dir()


def test_commands_answer_to_their_dashed_names(tmp_path):
    result = run_qualicite("fetch-mail", "--help", QUALICITE_VAR_DIR=str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "IMAP" in result.stdout or "fetch_mail" in result.stdout
