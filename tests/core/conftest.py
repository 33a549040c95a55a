"""Fixtures of the admin tests (an administrator with staff status, a superuser, both towns)."""

import pytest
from django.contrib.auth import get_user_model

from qualicite.core.models import Role
from tests.conftest import PASSWORD
from tests.core.admin_support import make_referentiel, staff


@pytest.fixture
def administrator(users):
    return staff(users[Role.ADMINISTRATOR])


@pytest.fixture
def other_administrator(other_users):
    return staff(other_users[Role.ADMINISTRATOR])


@pytest.fixture
def superuser(db):
    return get_user_model().objects.create_superuser("operator", "operator@example.org", PASSWORD)


@pytest.fixture
def world(org, other_org, users, other_users):
    """Both organisations fully set up, référentiel included."""
    make_referentiel(org)
    make_referentiel(other_org)
    return org, other_org
