"""Reception's models in the admin: an administrator sees only their organisation's rows."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from qualicite.core.models import Role
from qualicite.reception.models import (
    Appointment,
    Call,
    CallImport,
    DeskVisit,
    QueueMapping,
    ReceptionEvent,
)
from tests.core.admin_support import change, changelist, listed, staff
from tests.reception.test_import_calls import answered_call, log, run

MODELS = {
    "reception_queuemapping": QueueMapping,
    "reception_callimport": CallImport,
    "reception_call": Call,
    "reception_deskvisit": DeskVisit,
    "reception_appointment": Appointment,
    "reception_receptionevent": ReceptionEvent,
}
READ_ONLY = {"reception_callimport", "reception_call", "reception_receptionevent"}


@pytest.fixture
def rows(org, other_org):
    """One row of every reception model in each organisation."""
    for organisation in (org, other_org):
        run(organisation, log(*answered_call()))
        site = organisation.site_set.get()
        moment = datetime(2025, 1, 6, 9, tzinfo=UTC)
        DeskVisit.objects.create(organisation=organisation, site=site, arrived_at=moment)
        Appointment.objects.create(organisation=organisation, site=site, starts_at=moment)
    return org


def test_an_administrator_sees_only_the_rows_of_their_organisation(client_for, rows, users):
    client = client_for(staff(users[Role.ADMINISTRATOR]))
    for prefix, model in MODELS.items():
        response = client.get(changelist(prefix))
        assert response.status_code == 200, prefix
        assert listed(response) == set(
            model.objects.filter(organisation=rows).values_list("pk", flat=True)
        ), prefix
        theirs = model.objects.exclude(organisation=rows).first()
        assert client.get(change(prefix, theirs)).status_code in (302, 403, 404), prefix
        ours = model.objects.filter(organisation=rows).first()
        assert client.get(change(prefix, ours)).status_code == 200, prefix


def test_imported_rows_are_read_only_in_the_admin(client_for, rows, users):
    client = client_for(staff(users[Role.ADMINISTRATOR]))
    for prefix in READ_ONLY:
        assert client.get(f"{changelist(prefix)}add/").status_code == 403, prefix
    call = Call.objects.filter(organisation=rows).first()
    page = client.get(change("reception_call", call)).content.decode()
    assert 'name="wait_seconds"' not in page
    uploaded = client.get(change("reception_callimport", CallImport.objects.first()))
    assert "call-imports/" not in uploaded.content.decode()


def test_other_roles_do_not_reach_the_reception_admin(client_for, rows, users):
    client = client_for(staff(users[Role.QUALITY_MANAGER]))
    for prefix in MODELS:
        assert client.get(changelist(prefix)).status_code in (302, 403), prefix
