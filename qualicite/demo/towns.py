"""The two demo towns, modelled on DOMAIN.md's typical organisations (fictional names).

INSEE codes 99xxx are used because INSEE gives them to foreign countries, never to
a commune: a demo town can never be mistaken for a real one.
"""

import datetime as dt

from qualicite.core.choices import DayKind, HolidayRegion
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

# ---------------------------------------------------------------------------------------------
# Requests: each town's configuration and what its citizens write about over a year.
# A topic is (service code, theme, kind, subject, weight, prestation name or None); the weight
# says how often it comes up compared with the town's other topics.

STREETS = [
    "rue de la République",
    "rue des Lilas",
    "avenue Jean-Jaurès",
    "impasse des Vergers",
    "chemin du Moulin",
    "rue Victor-Hugo",
    "place du Marché",
    "allée des Tilleuls",
    "rue de l'École",
    "route de la Forêt",
]

# The announced delays are those towns commonly publish: 5 working days for a civil-status
# copy, some 4–5 weeks for identity documents (the State's processing included), a month
# for an informative town-planning certificate (Code de l'urbanisme, art. R410-9).
_IDENTITY = {"channels": {"desk": 92, "web": 8}}

REQUEST_SETUPS = {
    "beaulieu": {
        "per_year": 3000,
        # The month before the demo's day (requests_year.Year): État civil, short of staff
        # in a rush of identity documents, misses many due dates and delivers acts late.
        "busy": {
            "service": "etat-civil",
            "volume": 1.4,
            "late_rate": 0.3,
            "delivery_late_rate": 0.2,
        },
        "postcode": "14999",
        "city": "Beaulieu-sur-Orne",
        "settings": {
            "default_delay_days": 15,
            "acknowledgement_delay_days": 2,
            "reminder_days_before": 3,
            "complaint_replies_need_validation": True,
        },
        "themes": [
            "Accueil et horaires",
            "Titres d'identité",
            "Actes d'état civil",
            "Élections et recensement",
            "Facturation cantine et périscolaire",
            "Salles municipales",
            "Voirie et propreté",
        ],
        # name, service, days, day kind, yearly counter deliveries not logged as requests,
        # reference prefix, channel weights of the requests that ask for it
        "prestations": [
            ("Passeport", "etat-civil", 25, DayKind.WORKING, 380, "PA", _IDENTITY),
            (
                "Carte nationale d'identité",
                "etat-civil",
                20,
                DayKind.WORKING,
                520,
                "CNI",
                _IDENTITY,
            ),
            ("Copie d'acte d'état civil", "etat-civil", 5, DayKind.WORKING, 0, "EC", {}),
            ("Attestation fiscale", "finances", 10, DayKind.WORKING, 0, "AF", {}),
            ("Réservation de salle", "accueil", 10, DayKind.WORKING, 0, "SAL", {}),
        ],
        "topics": {
            ("accueil", "Accueil et horaires"): [
                ("information", 5, "Horaires d'ouverture le samedi"),
                ("information", 2, "Rendez-vous avec un élu"),
                ("complaint", 3, "Attente trop longue à l'accueil"),
                ("complaint", 3, "Personne ne répond au standard"),
                ("suggestion", 2, "Ouvrir l'accueil un soir par semaine"),
                ("thanks", 2, "Merci pour l'accueil chaleureux"),
            ],
            ("accueil", "Voirie et propreté"): [
                ("information", 3, "À qui signaler un nid-de-poule ?"),
                ("complaint", 2, "Dépôts sauvages près de l'école"),
                ("suggestion", 1, "Plus de poubelles au parc"),
            ],
            ("etat-civil", "Titres d'identité"): [
                ("information", 6, "Pièces à fournir pour une carte d'identité"),
                ("information", 5, "Délai pour obtenir un passeport"),
                ("service", 3, "Demande de passeport", "Passeport"),
                ("service", 3, "Renouvellement de carte d'identité", "Carte nationale d'identité"),
                ("complaint", 3, "Pas de rendez-vous pour une carte d'identité"),
                ("suggestion", 2, "Prendre rendez-vous en ligne"),
                ("thanks", 2, "Merci pour la rapidité du passeport"),
            ],
            ("etat-civil", "Actes d'état civil"): [
                ("information", 3, "Démarches pour un mariage civil"),
                ("information", 1, "Reconnaissance anticipée d'un enfant"),
                ("service", 6, "Copie intégrale d'acte de naissance", "Copie d'acte d'état civil"),
                ("service", 3, "Extrait d'acte de mariage", "Copie d'acte d'état civil"),
                ("complaint", 1, "Erreur dans mon acte de naissance"),
            ],
            ("elections", "Élections et recensement"): [
                ("information", 4, "Inscription sur les listes électorales"),
                ("information", 3, "Établir une procuration de vote"),
                ("information", 2, "Recensement citoyen à 16 ans"),
                ("service", 1, "Attestation d'inscription électorale"),
                ("thanks", 1, "Merci pour l'aide à la procuration"),
            ],
            ("finances", "Facturation cantine et périscolaire"): [
                ("information", 4, "Explication de ma facture de cantine"),
                ("information", 2, "Moyens de paiement acceptés"),
                ("service", 3, "Attestation fiscale pour frais de garde", "Attestation fiscale"),
                ("complaint", 3, "Facture de cantine erronée"),
                ("complaint", 1, "Prélèvement effectué deux fois"),
                ("suggestion", 2, "Payer les factures en ligne"),
            ],
            ("accueil", "Salles municipales"): [
                ("service", 3, "Réservation de la salle des fêtes", "Réservation de salle"),
            ],
            ("population", "Accueil et horaires"): [
                ("service", 1, "Attestation d'accueil d'un parent étranger"),
            ],
        },
    },
    "saint-aubin": {
        "per_year": 2000,
        # Town planning, swamped by building applications, answers many requests late.
        "busy": {"service": "urbanisme", "volume": 1.3, "late_rate": 0.4},
        "postcode": "57999",
        "city": "Saint-Aubin-lès-Prés",
        "settings": {
            "default_delay_days": 10,
            "acknowledgement_delay_days": 2,
            "reminder_days_before": 2,
            "complaint_replies_need_validation": True,
        },
        "themes": [
            "Accueil et horaires",
            "Urbanisme et travaux",
            "Voirie et propreté",
            "Stationnement et tranquillité",
            "Action sociale",
            "Site internet et bulletin",
            "Actes d'état civil",
            "Titres d'identité",
            "Salles municipales",
            "Cimetière",
        ],
        "prestations": [
            ("Passeport", "etat-civil", 25, DayKind.WORKING, 140, "PA", _IDENTITY),
            (
                "Carte nationale d'identité",
                "etat-civil",
                20,
                DayKind.WORKING,
                210,
                "CNI",
                _IDENTITY,
            ),
            ("Copie d'acte d'état civil", "etat-civil", 5, DayKind.WORKING, 0, "EC", {}),
            ("Attestation fiscale", "affaires-generales", 10, DayKind.WORKING, 0, "AF", {}),
            ("Réservation de salle", "affaires-generales", 15, DayKind.CALENDAR, 0, "SAL", {}),
            (
                "Certificat d'urbanisme d'information",
                "urbanisme",
                30,
                DayKind.CALENDAR,
                0,
                "CU",
                {},
            ),
        ],
        "topics": {
            ("accueil", "Accueil et horaires"): [
                ("information", 4, "Horaires de la mairie pendant l'été"),
                ("complaint", 2, "Standard difficile à joindre"),
                ("suggestion", 2, "Une permanence le samedi matin"),
                ("thanks", 2, "Merci pour votre accueil"),
            ],
            ("urbanisme", "Urbanisme et travaux"): [
                ("information", 5, "Faut-il un permis pour un abri de jardin ?"),
                ("information", 3, "Consulter le plan local d'urbanisme"),
                (
                    "service",
                    3,
                    "Certificat d'urbanisme d'information",
                    "Certificat d'urbanisme d'information",
                ),
                ("complaint", 2, "Délai d'instruction de ma déclaration préalable"),
            ],
            ("communication", "Site internet et bulletin"): [
                ("information", 2, "Annoncer une fête de quartier"),
                ("complaint", 1, "Bulletin municipal non distribué"),
                ("suggestion", 2, "Publier les menus de la cantine en ligne"),
            ],
            ("affaires-generales", "Cimetière"): [
                ("information", 2, "Renouveler une concession au cimetière"),
            ],
            ("etat-civil", "Titres d'identité"): [
                ("information", 3, "Pièces pour une carte d'identité"),
                ("service", 2, "Demande de passeport", "Passeport"),
                ("service", 2, "Carte d'identité", "Carte nationale d'identité"),
            ],
            ("ccas", "Action sociale"): [
                ("information", 2, "Portage de repas à domicile"),
                ("complaint", 1, "Réponse tardive à ma demande d'aide"),
                ("thanks", 1, "Merci au CCAS pour son aide"),
            ],
            ("police", "Stationnement et tranquillité"): [
                ("information", 2, "Opération tranquillité vacances"),
                ("complaint", 3, "Stationnement gênant devant mon garage"),
            ],
            ("technique", "Voirie et propreté"): [
                ("information", 3, "Prochaine collecte des encombrants"),
                ("service", 3, "Réparer un lampadaire"),
                ("complaint", 3, "Trottoir dangereux avenue des Prés"),
                ("complaint", 2, "Éclairage public en panne"),
                ("suggestion", 2, "Un banc près de l'arrêt de bus"),
                ("thanks", 2, "Merci pour la réparation rapide"),
            ],
            ("etat-civil", "Actes d'état civil"): [
                ("service", 4, "Copie d'acte de naissance", "Copie d'acte d'état civil"),
            ],
            ("affaires-generales", "Salles municipales"): [
                ("service", 3, "Réserver la salle polyvalente", "Réservation de salle"),
            ],
            ("affaires-generales", "Accueil et horaires"): [
                ("service", 1, "Attestation fiscale", "Attestation fiscale"),
            ],
        },
    },
}

# ---------------------------------------------------------------------------------------------
# Indicators (qualicite.demo.indicators_demo): the results each town publishes, who answers
# for some of them, how many items its checks by hand count, and which of those slipped into
# the warning band in the busy month.

INDICATOR_SETUPS = {
    "beaulieu": {
        "published": [
            "qv-courriels-delai",
            "qv-courriers-delai",
            "qv-demandes-repondues",
            "qv-actes-delai",
            "qv-titres-delai",
            "qv-reclamations-delai",
            "qv-proprete-locaux",
            "qv-signaletique",
        ],
        "owners": {
            "qv-courriels-delai": Role.QUALITY_MANAGER,
            "qv-actes-delai": Role.SERVICE_HEAD,
            "qv-titres-delai": Role.SERVICE_HEAD,
        },
        "counts": {
            "qv-signaletique": 30,
            "qv-proprete-locaux": 20,
            "qv-accessibilite-pmr": 24,
            "qv-information-a-jour": 40,
            "qv-agents-formes": 12,
            "qv-agents-sensibilises": 45,
            "qv-documents-revus": 16,
            "qv-actions-soldees": 10,
            "qv-actes-sans-erreur": 180,
        },
        "slipping": ["qv-proprete-locaux"],
    },
    "saint-aubin": {
        "published": [
            "spp-reponses-delai",
            "spp-ar-electronique",
            "spp-ar-postal",
            "spp-demandes-repondues",
            "spp-orientation",
        ],
        "owners": {
            "spp-reponses-delai": Role.SERVICE_HEAD,
            "spp-ar-postal": Role.QUALITY_MANAGER,
        },
        "counts": {"spp-accompagnement": 15, "spp-orientation": 60, "spp-eco-responsabilite": 12},
        "slipping": [],
    },
}

# name, kind ("" for every kind), subject, body. Variables are those of reply templates.
REPLY_TEMPLATES = [
    (
        "Réponse à une demande d'information",
        "information",
        "Votre demande {{ code }}",
        "Bonjour {{ citizen_name }},\n\nVous nous avez interrogés le {{ received_date }} "
        "au sujet de « {{ subject }} ». Voici les informations demandées.\n\n"
        "Le service {{ service }} reste à votre disposition.\n\n{{ organisation }}",
    ),
    (
        "Votre demande est traitée",
        "service",
        "Votre demande {{ code }} est traitée",
        "Bonjour {{ citizen_name }},\n\nVotre demande « {{ subject }} » du {{ received_date }} "
        "est traitée : le document est disponible ou vous a été adressé.\n\n{{ organisation }}",
    ),
    (
        "Réclamation fondée",
        "complaint",
        "Suite donnée à votre réclamation {{ code }}",
        "Bonjour {{ citizen_name }},\n\nNous avons examiné votre réclamation « {{ subject }} ». "
        "Elle est fondée : nous vous présentons nos excuses et avons pris les mesures "
        "nécessaires pour que cela ne se reproduise pas.\n\n{{ organisation }}",
    ),
    (
        "Réclamation non fondée",
        "complaint",
        "Suite donnée à votre réclamation {{ code }}",
        "Bonjour {{ citizen_name }},\n\nNous avons examiné votre réclamation « {{ subject }} ». "
        "Après vérification, le service {{ service }} a agi conformément aux règles ; nous "
        "vous en expliquons ci-dessous les raisons. Si ce désaccord persiste, vous pouvez "
        "saisir le médiateur.\n\n{{ organisation }}",
    ),
    (
        "Merci pour votre suggestion",
        "suggestion",
        "Votre suggestion {{ code }}",
        "Bonjour {{ citizen_name }},\n\nMerci pour votre suggestion « {{ subject }} ». Elle "
        "sera étudiée par le service {{ service }} lors de la prochaine revue de nos "
        "engagements.\n\n{{ organisation }}",
    ),
    (
        "Merci pour votre message",
        "thanks",
        "Merci pour votre message",
        "Bonjour {{ citizen_name }},\n\nMerci pour votre message, que nous avons transmis "
        "au service {{ service }}.\n\n{{ organisation }}",
    ),
]

# ---------------------------------------------------------------------------------------------
# Phone and front desk (qualicite.demo.reception_demo and queue_logs): each town's phone
# queues and what they answer for, its desks and the reasons people come, its appointments.
# In the busy month of REQUEST_SETUPS the busy service is short of staff on every channel.

RECEPTION_SETUPS = {
    "beaulieu": {
        "phone": {
            "calls_per_day": 220,  # an ordinary weekday, every queue
            "test_caller": "0231000099",  # the quality manager's test calls, flagged later
            "busy_staffing": 0.65,  # agents on duty in the busy service's queues
            "busy_volume": 1.25,
            # queue, service, site, share of the calls, agents, load (calls per agent,
            # relative), queue its timed-out calls overflow to, counted in the statistics
            "queues": [
                ("standard", "accueil", "hotel-de-ville", 0.5, 3, 0.8, "standard-debordement"),
                ("standard-debordement", "accueil", "hotel-de-ville", 0, 2, 0.5),
                ("etat-civil", "etat-civil", "hotel-de-ville", 0.24, 2, 0.9),
                ("elections", "elections", "hotel-de-ville", 0.06, 1, 0.6),
                ("facturation", "finances", "hotel-de-ville", 0.17, 2, 0.8),
                ("interne", None, "hotel-de-ville", 0.03, 2, 0.3, None, False),
            ],
        },
        "desk": {
            # site, visitors on an ordinary weekday, counters, how visits are recorded:
            # "ticketing" (a ticket dispenser whose export is imported each month) or "tablet"
            "sites": [("hotel-de-ville", 100, 3, "ticketing")],
            "busy_slowdown": 1.5,  # the busy service's visits take longer (staff in training)
            # site, reason, service, weight, minutes at the counter (median)
            "reasons": [
                ("hotel-de-ville", "Carte d'identité ou passeport", "etat-civil", 16, 9),
                ("hotel-de-ville", "Acte d'état civil", "etat-civil", 10, 5),
                ("hotel-de-ville", "Déclaration de naissance ou de décès", "etat-civil", 4, 14),
                ("hotel-de-ville", "Renseignement", "accueil", 30, 3),
                ("hotel-de-ville", "Inscription sur les listes électorales", "elections", 5, 6),
                ("hotel-de-ville", "Facture de cantine", "finances", 11, 6),
                ("hotel-de-ville", "Attestation d'accueil", "population", 3, 10),
            ],
        },
        "appointments": [
            {
                "site": "hotel-de-ville",
                "service": "etat-civil",
                "slot_minutes": 20,
                "stations": 1,  # the identity-document station (dispositif de recueil)
                "weekdays": [0, 1, 2, 3, 4],
                "booked": 0.8,  # share of the slots taken in an ordinary month
                "minutes": 13,  # at the station (median)
                "subjects": {
                    "Dépôt d'une demande de carte d'identité": 5,
                    "Dépôt d'une demande de passeport": 4,
                    "Remise d'un titre d'identité": 3,
                },
            },
        ],
    },
    "saint-aubin": {
        "phone": {
            "calls_per_day": 90,
            "test_caller": "0387000099",
            "busy_staffing": 0.6,
            "busy_volume": 1.3,
            "queues": [
                ("accueil", "accueil", "mairie", 0.55, 2, 0.75, "accueil-renvoi"),
                ("accueil-renvoi", "accueil", "mairie", 0, 1, 0.5),
                ("urbanisme", "urbanisme", "mairie", 0.2, 1, 0.85),
                ("etat-civil", "etat-civil", "mairie", 0.15, 1, 0.75),
                ("services-techniques", "technique", "centre-technique", 0.1, 1, 0.7),
            ],
        },
        "desk": {
            "sites": [("mairie", 38, 2, "tablet"), ("centre-technique", 5, 1, "tablet")],
            "busy_slowdown": 1.6,
            "reasons": [
                ("mairie", "Renseignement", "accueil", 30, 3),
                ("mairie", "Permis de construire ou déclaration préalable", "urbanisme", 10, 15),
                ("mairie", "Carte d'identité ou passeport", "etat-civil", 12, 9),
                ("mairie", "Acte d'état civil", "etat-civil", 8, 5),
                ("mairie", "Réservation de salle", "affaires-generales", 5, 8),
                ("mairie", "Cimetière", "affaires-generales", 2, 10),
                ("centre-technique", "Signalement voirie ou éclairage", "technique", 6, 6),
                ("centre-technique", "Prêt de matériel", "technique", 3, 8),
            ],
        },
        "appointments": [
            {
                "site": "mairie",
                "service": "etat-civil",
                "slot_minutes": 30,
                "stations": 1,
                "weekdays": [0, 1, 2, 3, 4],
                "booked": 0.6,
                "minutes": 15,
                "subjects": {
                    "Dépôt d'une demande de carte d'identité": 5,
                    "Dépôt d'une demande de passeport": 3,
                    "Remise d'un titre d'identité": 2,
                },
            },
            {
                "site": "mairie",
                "service": "urbanisme",
                "slot_minutes": 45,
                "stations": 1,
                "weekdays": [1, 3],  # the town planner sees the public on Tuesdays and Thursdays
                "booked": 0.5,
                "minutes": 30,
                "subjects": {"Conseil avant un permis de construire": 3, "Dépôt d'un dossier": 1},
            },
        ],
        # Services Publics+ asks for the answer rate; the town also measures its pickup time
        # and its appointments (commitment number, then the indicator's fields).
        "indicators": [
            (
                2,
                {
                    "code": "spp-appels-25s",
                    "name": "Appels décrochés en moins de 25 secondes",
                    "source": "phone.answered_within",
                    "target": 80,
                    "warning_threshold": 70,
                    "threshold_seconds": 25,
                    "channels": ["phone"],
                },
            ),
            (
                2,
                {
                    "code": "spp-rendez-vous",
                    "name": "Rendez-vous honorés dans les 10 minutes",
                    "source": "appointments.respected",
                    "target": 95,
                    "warning_threshold": 90,
                    "threshold_seconds": 600,
                    "channels": ["desk"],
                },
            ),
        ],
    },
}
