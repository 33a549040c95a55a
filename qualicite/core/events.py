"""The event-log pattern every app uses: one call per write, names frozen at write time."""

from django.db import models

SYSTEM_ACTOR_NAME = "Qualicité"


def actor_display_name(actor) -> str:
    if actor is None:
        return SYSTEM_ACTOR_NAME
    full_name = actor.get_full_name() if hasattr(actor, "get_full_name") else ""
    return full_name or actor.get_username()


def record(
    event_model: type[models.Model],
    *,
    organisation,
    actor,
    verb: str,
    subject: models.Model | None = None,
    details: dict | None = None,
    **extra,
):
    """Write one event of `event_model` (a subclass of core.models.EventBase).

    `actor` is a user or None for the system (tick, imports run by cron).
    `extra` fills the app's own columns, e.g. a foreign key to the subject.
    """
    fields = {
        "organisation": organisation,
        "actor": actor if actor is not None and actor.pk else None,
        "actor_name": actor_display_name(actor),
        "verb": verb,
        "details": details or {},
        **extra,
    }
    if subject is not None:
        fields.update(
            subject_kind=subject._meta.label_lower,
            subject_id=str(subject.pk),
            subject_name=str(subject)[:300],
        )
    return event_model.objects.create(**fields)


# Every app registers its event model so the organisation's history shows them all.
_event_models: list[type[models.Model]] = []


def register_event_model(model: type[models.Model]) -> type[models.Model]:
    if model not in _event_models:
        _event_models.append(model)
    return model


def history(organisation, *, limit: int = 200) -> list:
    """The latest events of every registered app for one organisation, newest first."""
    rows = []
    for model in _event_models:
        rows.extend(model.objects.filter(organisation=organisation).order_by("-at", "-id")[:limit])
    rows.sort(key=lambda event: event.at, reverse=True)
    return rows[:limit]
