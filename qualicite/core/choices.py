"""Vocabulary shared by every app (DOMAIN.md): channels, request kinds, day kinds."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Channel(models.TextChoices):
    LETTER = "letter", _("Letter")
    EMAIL = "email", _("E-mail")
    PHONE = "phone", _("Phone")
    DESK = "desk", _("Front desk")
    WEB = "web", _("Web form")
    SOCIAL = "social", _("Social network")
    API = "api", _("API")


class RequestKind(models.TextChoices):
    INFORMATION = "information", _("Information request")
    SERVICE = "service", _("Service request")
    COMPLAINT = "complaint", _("Complaint")
    SUGGESTION = "suggestion", _("Suggestion")
    THANKS = "thanks", _("Thanks")


class DayKind(models.TextChoices):
    """How a delay is counted (DOMAIN.md: jours ouvrés / ouvrables / calendaires)."""

    WORKING = "working", _("Working days (Monday to Friday)")
    BUSINESS = "business", _("Business days (Monday to Saturday)")
    CALENDAR = "calendar", _("Calendar days")


class HolidayRegion(models.TextChoices):
    """Codes are the `holidays` package's subdivisions for France ('' = mainland)."""

    MAINLAND = "", _("Mainland France")
    MOSELLE = "57", _("Moselle (Alsace-Moselle)")
    ALSACE = "6AE", _("Bas-Rhin and Haut-Rhin (Alsace-Moselle)")
    GUADELOUPE = "971", _("Guadeloupe")
    MARTINIQUE = "972", _("Martinique")
    GUYANE = "973", _("French Guiana")
    REUNION = "974", _("La Réunion")
    MAYOTTE = "976", _("Mayotte")
    SAINT_BARTHELEMY = "BL", _("Saint-Barthélemy")
    SAINT_MARTIN = "MF", _("Saint-Martin")
    SAINT_PIERRE = "PM", _("Saint-Pierre-et-Miquelon")
