"""The two demo towns, modelled on DOMAIN.md's typical organisations (fictional names).

INSEE codes 99xxx are used because INSEE gives them to foreign countries, never to
a commune: a demo town can never be mistaken for a real one.
"""

import datetime as dt

from qualicite.core.choices import HolidayRegion
from qualicite.core.models import Role

MORNING = (dt.time(8, 30), dt.time(12, 0))
AFTERNOON = (dt.time(13, 30), dt.time(17, 30))
WEEKDAYS = range(5)


def _weekly(*spans, saturday_morning=False):
    hours = [(day, opens, closes) for day in WEEKDAYS for opens, closes in spans]
    if saturday_morning:
        hours.append((5, dt.time(9, 0), dt.time(12, 0)))
    return hours


TOWNS = [
    {
        "slug": "beaulieu",
        "name": "Ville de Beaulieu-sur-Orne",
        "insee_code": "99001",
        "holiday_region": HolidayRegion.MAINLAND,
        "primary_colour": "#1f4e8c",
        "population": 20_000,
        "templates": ["qualivilles"],
        # (code, name, parent code, in the certified scope)
        "services": [
            ("accueil", "Accueil et standard", None, True),
            ("population", "Population", None, True),
            ("etat-civil", "État civil", "population", True),
            ("elections", "Élections et recensement", "population", True),
            ("finances", "Finances et facturation", None, True),
        ],
        "sites": [
            {
                "code": "hotel-de-ville",
                "name": "Hôtel de ville",
                "address": "1 place de la Mairie\n14999 Beaulieu-sur-Orne",
                "phone": "02 31 00 00 00",
                "services": ["accueil", "population", "etat-civil", "elections", "finances"],
                "hours": _weekly(MORNING, AFTERNOON, saturday_morning=True),
                "closures": [(dt.date(2026, 5, 15), dt.date(2026, 5, 15), "Pont de l'Ascension")],
            },
        ],
        # role -> service codes the demo user is restricted to (empty: whole organisation)
        "roles": {
            Role.AGENT: ["accueil"],
            Role.SERVICE_HEAD: ["population"],
            Role.QUALITY_MANAGER: [],
            Role.AUDITOR: [],
            Role.DIRECTION: [],
            Role.ADMINISTRATOR: [],
        },
    },
    {
        "slug": "saint-aubin",
        "name": "Commune de Saint-Aubin-lès-Prés",
        "insee_code": "99002",
        "holiday_region": HolidayRegion.MOSELLE,
        "primary_colour": "#2d5a27",
        "population": 8_000,
        "templates": ["services_publics_plus"],
        "services": [
            ("accueil", "Accueil", None, True),
            ("urbanisme", "Urbanisme", None, True),
            ("communication", "Communication", None, True),
            ("affaires-generales", "Affaires générales", None, True),
            ("etat-civil", "État civil", "affaires-generales", True),
            ("ccas", "Action sociale (CCAS)", None, False),
            ("police", "Police municipale", None, False),
            ("technique", "Services techniques", None, False),
        ],
        "sites": [
            {
                "code": "mairie",
                "name": "Mairie",
                "address": "2 rue de l'Église\n57999 Saint-Aubin-lès-Prés",
                "phone": "03 87 00 00 00",
                "services": ["accueil", "urbanisme", "affaires-generales", "etat-civil"],
                "hours": _weekly(MORNING, (dt.time(14, 0), dt.time(17, 0))),
                "closures": [(dt.date(2026, 12, 24), dt.date(2026, 12, 24), "Veille de Noël")],
            },
            {
                "code": "centre-technique",
                "name": "Centre technique municipal",
                "address": "Zone artisanale des Prés\n57999 Saint-Aubin-lès-Prés",
                "services": ["technique"],
                "hours": _weekly((dt.time(8, 0), dt.time(12, 0))),
                "closures": [],
            },
        ],
        "roles": {
            Role.AGENT: ["accueil"],
            Role.SERVICE_HEAD: ["urbanisme"],
            Role.QUALITY_MANAGER: [],
            Role.AUDITOR: [],
            Role.DIRECTION: [],
            Role.ADMINISTRATOR: [],
        },
    },
]

# Short words for the demo logins: "<town>-<word>", e.g. beaulieu-qualite.
ROLE_LOGIN_WORDS = {
    Role.AGENT: "agent",
    Role.SERVICE_HEAD: "chef",
    Role.QUALITY_MANAGER: "qualite",
    Role.AUDITOR: "auditeur",
    Role.DIRECTION: "direction",
    Role.ADMINISTRATOR: "admin",
}

FIRST_NAMES = [
    "Camille",
    "Nicolas",
    "Sophie",
    "Julien",
    "Nathalie",
    "Thomas",
    "Isabelle",
    "Karim",
    "Claire",
    "Mathieu",
    "Aurélie",
    "Sébastien",
    "Émilie",
    "Laurent",
    "Fatima",
    "Olivier",
]
LAST_NAMES = [
    "Martin",
    "Bernard",
    "Dubois",
    "Lefebvre",
    "Moreau",
    "Garnier",
    "Chevalier",
    "Benali",
    "Fournier",
    "Girard",
    "Lambert",
    "Rousseau",
    "Nguyen",
    "Perrin",
    "Morel",
    "Mercier",
]
