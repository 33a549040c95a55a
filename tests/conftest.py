"""Fixtures every test can use: an organisation with one user per role, and another one.

`org` is the organisation under test; `other_org` exists so that isolation tests
can prove a user of one never reads or writes the other.
"""

import datetime as dt
import os

import pytest
from django.contrib.auth import get_user_model

from qualicite.core import services
from qualicite.core.models import Role

# Fixtures of real parts started on loopback, available to every test.
pytest_plugins = ["tests.smtp", "tests.dovecot"]

PASSWORD = "correct-horse-battery-9"


def pytest_report_header(config):
    from django.conf import settings

    return f"database: {settings.DATABASES['default']['ENGINE']} (CI={os.environ.get('CI', '')})"


def make_user(username: str, **fields):
    return get_user_model().objects.create_user(
        username=username, password=PASSWORD, email=f"{username}@example.org", **fields
    )


def make_organisation(slug: str, name: str):
    organisation = services.create_organisation(actor=None, name=name, slug=slug)
    accueil = services.create_service(organisation, actor=None, code="accueil", name="Accueil")
    etat_civil = services.create_service(
        organisation, actor=None, code="etat-civil", name="État civil"
    )
    services.create_service(
        organisation, actor=None, code="naissances", name="Naissances", parent=etat_civil
    )
    services.create_service(organisation, actor=None, code="finances", name="Finances")
    services.create_site(
        organisation,
        actor=None,
        code="mairie",
        name="Hôtel de ville",
        services=[accueil, etat_civil],
        opening_hours=[(d, dt.time(8, 30), dt.time(17, 0)) for d in range(5)],
    )
    return organisation


@pytest.fixture(autouse=True)
def fast_password_hasher(settings):
    """Tests create many users: MD5 keeps that instant (never used outside tests)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def private_files_in_a_temporary_folder(settings, tmp_path):
    """Attachments and other private files go to the test's own folder, never to var/."""
    settings.VAR_DIR = tmp_path / "var"


@pytest.fixture(autouse=True)
def default_language():
    """Each test starts in the default language: a view that activated English (a client
    asking for it) must not change how the next test's labels are worded."""
    from django.conf import settings as django_settings
    from django.utils import translation

    translation.activate(django_settings.LANGUAGE_CODE)
    yield
    translation.activate(django_settings.LANGUAGE_CODE)


@pytest.fixture
def org(db):
    return make_organisation("ville-a", "Ville A")


@pytest.fixture
def other_org(db):
    return make_organisation("ville-b", "Ville B")


@pytest.fixture
def users(org):
    """One user per role in `org`, keyed by role; plus `restricted_agent` (État civil only)."""
    found = {}
    for role in Role.values:
        user = make_user(f"{org.slug}-{role}")
        services.grant_membership(org, actor=None, user=user, role=role)
        found[role] = user
    restricted = make_user(f"{org.slug}-restricted-agent")
    services.grant_membership(
        org,
        actor=None,
        user=restricted,
        role=Role.AGENT,
        services=[org.service_set.get(code="etat-civil")],
    )
    found["restricted_agent"] = restricted
    return found


@pytest.fixture
def other_users(other_org):
    found = {}
    for role in Role.values:
        user = make_user(f"{other_org.slug}-{role}")
        services.grant_membership(other_org, actor=None, user=user, role=role)
        found[role] = user
    return found


@pytest.fixture
def client_for(client):
    """client_for(user) logs the test client in as `user` (None stays anonymous)."""

    def login(user):
        client.logout()
        if user is not None:
            client.force_login(user)
        return client

    return login
