"""Pages of the référentiel: thin views that read through queries and write through services."""

from qualicite.charter.views.edit import (
    commitment_create,
    commitment_delete,
    commitment_edit,
    indicator_create,
    indicator_delete,
    indicator_edit,
    programme_create,
    programme_delete,
    programme_edit,
)
from qualicite.charter.views.exchange import adopt, export_yaml, import_yaml
from qualicite.charter.views.read import commitment_detail, public_home, referentiel

__all__ = [
    "adopt",
    "commitment_create",
    "commitment_delete",
    "commitment_detail",
    "commitment_edit",
    "export_yaml",
    "import_yaml",
    "indicator_create",
    "indicator_delete",
    "indicator_edit",
    "programme_create",
    "programme_delete",
    "programme_edit",
    "public_home",
    "referentiel",
]
