"""The built-in référentiel templates an organisation can adopt.

Each template is a YAML file in builtin/, in the same format as an export, so the
importer that checks a user's file checks the templates too.
"""

from dataclasses import dataclass
from pathlib import Path

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

BUILTIN_DIR = Path(__file__).resolve().parent / "builtin"


@dataclass(frozen=True)
class Template:
    key: str
    name: str | Promise
    description: str | Promise
    file: str

    @property
    def path(self) -> Path:
        return BUILTIN_DIR / self.file

    def read(self) -> str:
        return self.path.read_text(encoding="utf-8")


TEMPLATES: tuple[Template, ...] = (
    Template(
        key="qualivilles",
        name=_("Qualivilles-style town hall référentiel"),
        description=_(
            "About twenty commitments in five groups for the public-facing services of a "
            "town hall: reception and answers, organisation, steering, specific services, "
            "satisfaction and complaints."
        ),
        file="qualivilles.yaml",
    ),
    Template(
        key="qualiparis",
        name=_("QualiPARIS base commitments"),
        description=_(
            "The twelve commitments common to every facility of the QualiPARIS label, from "
            "information and reception to answers within one month and the mediator."
        ),
        file="qualiparis.yaml",
    ),
    Template(
        key="services_publics_plus",
        name=_("Services Publics+ commitments"),
        description=_(
            "The State's Services Publics+ commitments: courtesy and the right to make "
            "mistakes, reachability, answers within announced delays, published results."
        ),
        file="services_publics_plus.yaml",
    ),
)

_BY_KEY = {template.key: template for template in TEMPLATES}


def keys() -> list[str]:
    return [template.key for template in TEMPLATES]


def get(key: str) -> Template | None:
    return _BY_KEY.get(key)
