"""Every write to the référentiel goes through here, and each writes a CharterEvent."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from qualicite.charter import templates_catalogue, yaml_io
from qualicite.charter.models import (
    EARLIEST,
    CharterEvent,
    Commitment,
    Indicator,
    IndicatorRevision,
    Programme,
    ServiceTarget,
    ordered_channels,
)
from qualicite.charter.yaml_io import InvalidReferentiel, Referentiel
from qualicite.core import events
from qualicite.core.models import Organisation, Service

TEXT_FIELDS = ("description", "public_text")
# The fields whose changes apply from an effective date (IndicatorRevision).
VERSIONED_FIELDS = ("target", "warning_threshold", "delay_days", "threshold_seconds")


def _log(organisation, *, actor, verb, subject=None, **details):
    return events.record(
        CharterEvent,
        organisation=organisation,
        actor=actor,
        verb=verb,
        subject=subject,
        details=details,
    )


def _normalise(fields: dict) -> dict:
    """Browsers send CRLF in text areas; exports stay clean with plain newlines."""
    for name in TEXT_FIELDS:
        if isinstance(fields.get(name), str):
            fields[name] = fields[name].replace("\r\n", "\n").replace("\r", "\n")
    if "channels" in fields:
        fields["channels"] = ordered_channels(fields["channels"])
    return fields


def _apply_changes(instance, fields: dict) -> list[str]:
    """Set the fields that differ from the stored row; return their names."""
    stored = type(instance).objects.get(pk=instance.pk) if instance.pk else None
    changed = []
    for name, value in fields.items():
        if stored is None or getattr(stored, name) != value:
            changed.append(name)
        setattr(instance, name, value)
    return sorted(changed)


def _reorder(queryset: QuerySet, moved=None, position: int | None = None) -> None:
    """Number the rows 1…n in their order; put `moved` at `position` (1-based) when given."""
    rows = list(queryset.order_by("position", "id"))
    if moved is not None and position is not None:
        rows = [row for row in rows if row.pk != moved.pk]
        rows.insert(max(0, min(position - 1, len(rows))), moved)
    for index, row in enumerate(rows, 1):
        if row.position != index:
            type(row).objects.filter(pk=row.pk).update(position=index)
        if moved is not None and row.pk == moved.pk:
            moved.position = index


def _check_services(organisation: Organisation, services) -> list[Service]:
    services = list(services)
    if any(service.organisation_id != organisation.pk for service in services):
        raise ValidationError({"services": _("A service belongs to another organisation.")})
    return services


# ---------------------------------------------------------------------------
# Programmes


@transaction.atomic
def create_programme(organisation: Organisation, *, actor, **fields) -> Programme:
    programme = Programme(organisation=organisation, **_normalise(fields))
    last = Programme.objects.filter(organisation=organisation).aggregate(Max("position"))
    programme.position = (last["position__max"] or 0) + 1
    programme.full_clean()
    programme.save()
    _log(organisation, actor=actor, verb="programme.created", subject=programme, key=programme.key)
    return programme


@transaction.atomic
def update_programme(programme: Programme, *, actor, **fields) -> Programme:
    changed = _apply_changes(programme, _normalise(fields))
    if changed:
        programme.full_clean()
        programme.save()
        _log(
            programme.organisation,
            actor=actor,
            verb="programme.updated",
            subject=programme,
            key=programme.key,
            fields=changed,
        )
    return programme


@transaction.atomic
def delete_programme(programme: Programme, *, actor) -> None:
    organisation = programme.organisation
    _log(
        organisation,
        actor=actor,
        verb="programme.deleted",
        subject=programme,
        key=programme.key,
        commitments=programme.commitments.count(),
    )
    programme.delete()
    _reorder(Programme.objects.filter(organisation=organisation))


# ---------------------------------------------------------------------------
# Commitments


@transaction.atomic
def create_commitment(
    programme: Programme, *, actor, services=(), position: int | None = None, **fields
) -> Commitment:
    organisation = programme.organisation
    services = _check_services(organisation, services)
    commitment = Commitment(organisation=organisation, programme=programme, **_normalise(fields))
    commitment.position = 1_000_000
    commitment.full_clean()
    commitment.save()
    commitment.services.set(services)
    _reorder(programme.commitments.all(), commitment, position)
    _log(
        organisation,
        actor=actor,
        verb="commitment.created",
        subject=commitment,
        programme=programme.key,
        number=commitment.number,
    )
    return commitment


@transaction.atomic
def update_commitment(
    commitment: Commitment, *, actor, services=None, position: int | None = None, **fields
) -> Commitment:
    """Change a commitment; `programme` moves it, `position` (1-based) moves it in the list."""
    organisation = commitment.organisation
    old_programme_id = Commitment.objects.values_list("programme_id", flat=True).get(
        pk=commitment.pk
    )
    if "programme" in fields and fields["programme"].organisation_id != organisation.pk:
        raise ValidationError({"programme": _("This programme belongs to another organisation.")})
    changed = _apply_changes(commitment, _normalise(fields))
    if changed:
        commitment.full_clean()
        commitment.save()
    if services is not None:
        services = _check_services(organisation, services)
        if {s.pk for s in services} != set(commitment.services.values_list("pk", flat=True)):
            commitment.services.set(services)
            changed.append("services")
    before = commitment.position
    if commitment.programme_id != old_programme_id:
        _reorder(Commitment.objects.filter(programme_id=old_programme_id))
        commitment.position = 1_000_000
        Commitment.objects.filter(pk=commitment.pk).update(position=commitment.position)
    _reorder(commitment.programme.commitments.all(), commitment, position)
    if commitment.position != before and "position" not in changed:
        changed.append("position")
    if changed:
        _log(
            organisation,
            actor=actor,
            verb="commitment.updated",
            subject=commitment,
            number=commitment.number,
            fields=sorted(changed),
        )
    return commitment


@transaction.atomic
def delete_commitment(commitment: Commitment, *, actor) -> None:
    programme = commitment.programme
    _log(
        commitment.organisation,
        actor=actor,
        verb="commitment.deleted",
        subject=commitment,
        programme=programme.key,
        number=commitment.number,
        indicators=sorted(commitment.indicators.values_list("code", flat=True)),
    )
    commitment.delete()
    _reorder(programme.commitments.all())


# ---------------------------------------------------------------------------
# Indicators and their per-service targets


@dataclass(frozen=True)
class TargetRow:
    service: Service
    target: object
    warning_threshold: object = None


@transaction.atomic
def create_indicator(commitment: Commitment, *, actor, service_targets=None, **fields) -> Indicator:
    indicator = Indicator(
        organisation=commitment.organisation, commitment=commitment, **_normalise(fields)
    )
    indicator.position = 1_000_000
    indicator.full_clean()
    indicator.save()
    _reorder(commitment.indicators.all(), indicator)
    _log(
        commitment.organisation,
        actor=actor,
        verb="indicator.created",
        subject=indicator,
        code=indicator.code,
        commitment=commitment.number,
    )
    if service_targets:
        set_service_targets(indicator, service_targets, actor=actor, effective_from=EARLIEST)
    else:
        record_revision(indicator, effective_from=EARLIEST)
    return indicator


def _today(organisation) -> date:
    return timezone.now().astimezone(ZoneInfo(organisation.time_zone)).date()


def _cents(value) -> str | None:
    return None if value is None else str(Decimal(value).quantize(Decimal("0.01")))


def _definition(indicator: Indicator) -> dict:
    """The versioned part of an indicator as stored in a revision, normalised to compare."""
    return {
        "target": _cents(indicator.target),
        "warning_threshold": _cents(indicator.warning_threshold),
        "delay_days": indicator.delay_days,
        "threshold_seconds": indicator.threshold_seconds,
        "service_targets": {
            str(t.service_id): [_cents(t.target), _cents(t.warning_threshold)]
            for t in ServiceTarget.objects.filter(indicator=indicator).order_by("service_id")
        },
    }


def _revision_definition(revision: IndicatorRevision) -> dict:
    return {
        "target": _cents(revision.target),
        "warning_threshold": _cents(revision.warning_threshold),
        "delay_days": revision.delay_days,
        "threshold_seconds": revision.threshold_seconds,
        "service_targets": revision.service_targets,
    }


def record_revision(indicator: Indicator, *, effective_from: date | None = None):
    """Keep the indicator's current target, delays and service targets in force from a date.

    Nothing is written when the definition in force on that date is already the same. A
    revision dated later than `effective_from` stays: it was planned and still applies.
    """
    effective_from = effective_from or _today(indicator.organisation)
    wanted = _definition(indicator)
    current = (
        IndicatorRevision.objects.filter(indicator=indicator, effective_from__lte=effective_from)
        .order_by("-effective_from")
        .first()
    )
    if current is not None and _revision_definition(current) == wanted:
        return current
    revision, _created = IndicatorRevision.objects.update_or_create(
        indicator=indicator,
        effective_from=effective_from,
        defaults={"organisation_id": indicator.organisation_id, **wanted},
    )
    return revision


@transaction.atomic
def update_indicator(
    indicator: Indicator, *, actor, service_targets=None, effective_from=None, **fields
) -> Indicator:
    """Change an indicator; `commitment` moves it; `service_targets` replaces the overrides.

    A new target, warning threshold, delay or threshold applies from `effective_from` (today
    by default): the periods before keep the definition that was in force then.
    """
    organisation = indicator.organisation
    old_commitment_id = Indicator.objects.values_list("commitment_id", flat=True).get(
        pk=indicator.pk
    )
    if "commitment" in fields and fields["commitment"].organisation_id != organisation.pk:
        raise ValidationError({"commitment": _("This commitment belongs to another organisation.")})
    changed = _apply_changes(indicator, _normalise(fields))
    if changed:
        indicator.full_clean()
        indicator.save()
        if indicator.commitment_id != old_commitment_id:
            _reorder(Indicator.objects.filter(commitment_id=old_commitment_id))
            indicator.position = 1_000_000
            Indicator.objects.filter(pk=indicator.pk).update(position=indicator.position)
            _reorder(indicator.commitment.indicators.all())
        _log(
            organisation,
            actor=actor,
            verb="indicator.updated",
            subject=indicator,
            code=indicator.code,
            fields=changed,
            **({"effective_from": effective_from.isoformat()} if effective_from else {}),
        )
    if service_targets is not None:
        set_service_targets(indicator, service_targets, actor=actor, effective_from=effective_from)
    elif set(changed) & set(VERSIONED_FIELDS):
        record_revision(indicator, effective_from=effective_from)
    return indicator


@transaction.atomic
def delete_indicator(indicator: Indicator, *, actor) -> None:
    commitment = indicator.commitment
    _log(
        indicator.organisation,
        actor=actor,
        verb="indicator.deleted",
        subject=indicator,
        code=indicator.code,
        commitment=commitment.number,
    )
    indicator.delete()
    _reorder(commitment.indicators.all())


def _target_row(row) -> TargetRow:
    if isinstance(row, TargetRow):
        return row
    if isinstance(row, dict):
        return TargetRow(row["service"], row["target"], row.get("warning_threshold"))
    return TargetRow(*row)


@transaction.atomic
def set_service_targets(
    indicator: Indicator, rows, *, actor, effective_from=None
) -> list[ServiceTarget]:
    """Replace the indicator's per-service targets by `rows` (TargetRow, dict or tuple).

    The new targets, with the indicator's own, apply from `effective_from` (today by default).
    """
    organisation = indicator.organisation
    wanted = [_target_row(row) for row in rows]
    codes = [row.service.code for row in wanted]
    if len(set(codes)) != len(codes):
        raise ValidationError({"service": _("A service has two targets for this indicator.")})
    _check_services(organisation, [row.service for row in wanted])
    existing = {t.service_id: t for t in indicator.service_targets.select_related("service")}
    kept, before, after = [], {}, {}
    for row in wanted:
        target = existing.pop(row.service.pk, None)
        if target is not None:
            before[row.service.code] = _target_text(target)
        else:
            target = ServiceTarget(organisation=organisation, indicator=indicator)
        target.service = row.service
        target.target = row.target
        target.warning_threshold = row.warning_threshold
        target.full_clean()
        target.save()
        # Read back through the field so 90 and 90.00 compare equal.
        target.refresh_from_db(fields=["target", "warning_threshold"])
        after[row.service.code] = _target_text(target)
        kept.append(target)
    for target in existing.values():
        before[target.service.code] = _target_text(target)
        target.delete()
    if before != after:
        _log(
            organisation,
            actor=actor,
            verb="indicator.targets_changed",
            subject=indicator,
            code=indicator.code,
            before=before,
            after=after,
        )
    record_revision(indicator, effective_from=effective_from)
    return kept


def _target_text(target: ServiceTarget) -> str:
    warning = target.warning_threshold
    return f"{target.target}" + (f" / {warning}" if warning is not None else "")


# ---------------------------------------------------------------------------
# Templates, import


@dataclass
class ImportSummary:
    created: Counter = field(default_factory=Counter)
    updated: Counter = field(default_factory=Counter)
    deleted: Counter = field(default_factory=Counter)

    @property
    def changed(self) -> bool:
        return bool(+self.created or +self.updated or +self.deleted)

    def as_dict(self) -> dict:
        return {
            "created": dict(sorted(self.created.items())),
            "updated": dict(sorted(self.updated.items())),
            "deleted": dict(sorted(self.deleted.items())),
        }

    def __str__(self) -> str:
        if not self.changed:
            return _("Nothing changed: the référentiel was already as described.")
        return _("%(created)s created, %(updated)s updated, %(deleted)s deleted.") % {
            "created": sum(self.created.values()),
            "updated": sum(self.updated.values()),
            "deleted": sum(self.deleted.values()),
        }


def _upsert(instance, fields: dict, kind: str, summary: ImportSummary) -> bool:
    """Save `instance` with `fields` when new or different; return whether it changed."""
    created = instance.pk is None
    changed = [name for name, value in fields.items() if getattr(instance, name) != value]
    for name in changed:
        setattr(instance, name, fields[name])
    if created:
        instance.save()
        summary.created[kind] += 1
    elif changed:
        instance.save(update_fields=changed)
        summary.updated[kind] += 1
    return created or bool(changed)


def _apply(organisation: Organisation, referentiel: Referentiel, *, replace: bool):
    """Write a checked référentiel: match by key / number / code, update in place.

    With `replace`, what the file does not describe is deleted (the file is the
    whole référentiel); without, the file's programmes are added to the others.
    """
    summary = ImportSummary()
    programmes = {p.key: p for p in Programme.objects.filter(organisation=organisation)}
    commitments = {
        (c.programme_id, c.number): c
        for c in Commitment.objects.filter(organisation=organisation).prefetch_related("services")
    }
    indicators = {i.code: i for i in Indicator.objects.filter(organisation=organisation)}
    targets = {
        (t.indicator_id, t.service_id): t
        for t in ServiceTarget.objects.filter(organisation=organisation)
    }
    offset = 0 if replace else max((p.position for p in programmes.values()), default=0)
    kept = {"programme": set(), "commitment": set(), "indicator": set(), "service_target": set()}
    new_indicators: set[str] = set()
    for p_index, parsed in enumerate(referentiel.programmes, 1):
        programme = programmes.get(parsed.fields["key"]) or Programme(organisation=organisation)
        _upsert(programme, {**parsed.fields, "position": offset + p_index}, "programme", summary)
        kept["programme"].add(programme.pk)
        for c_index, parsed_c in enumerate(parsed.commitments, 1):
            commitment = commitments.get((programme.pk, parsed_c.fields["number"])) or Commitment(
                organisation=organisation
            )
            fields = {**parsed_c.fields, "programme_id": programme.pk, "position": c_index}
            changed = _upsert(commitment, fields, "commitment", summary)
            wanted = {s.pk for s in parsed_c.services}
            if wanted != {s.pk for s in commitment.services.all()}:
                commitment.services.set(parsed_c.services)
                if not changed:
                    summary.updated["commitment"] += 1
            kept["commitment"].add(commitment.pk)
            for i_index, parsed_i in enumerate(parsed_c.indicators, 1):
                indicator = indicators.get(parsed_i.fields["code"]) or Indicator(
                    organisation=organisation
                )
                if indicator.pk is None:
                    new_indicators.add(parsed_i.fields["code"])
                fields = {**parsed_i.fields, "commitment_id": commitment.pk, "position": i_index}
                _upsert(indicator, fields, "indicator", summary)
                kept["indicator"].add(indicator.pk)
                for parsed_t in parsed_i.service_targets:
                    target = targets.get((indicator.pk, parsed_t.service.pk)) or ServiceTarget(
                        organisation=organisation
                    )
                    fields = {
                        **parsed_t.fields,
                        "indicator_id": indicator.pk,
                        "service_id": parsed_t.service.pk,
                    }
                    _upsert(target, fields, "service_target", summary)
                    kept["service_target"].add(target.pk)
    if replace:
        for kind, model in (
            ("service_target", ServiceTarget),
            ("indicator", Indicator),
            ("commitment", Commitment),
            ("programme", Programme),
        ):
            gone = model.objects.filter(organisation=organisation).exclude(pk__in=kept[kind])
            count = gone.count()
            if count:
                gone.delete()
                summary.deleted[kind] += count
    # Targets read from a file apply from today; a new indicator's from the start.
    for indicator in Indicator.objects.filter(pk__in=kept["indicator"]):
        record_revision(
            indicator, effective_from=EARLIEST if indicator.code in new_indicators else None
        )
    return summary


@transaction.atomic
def import_referentiel(organisation: Organisation, text_or_stream, *, actor) -> ImportSummary:
    """Replace the organisation's référentiel by the file's, or change nothing.

    Raises InvalidReferentiel (a ValidationError) listing every problem with its line.
    Importing the export of the same référentiel changes nothing and writes no event.
    """
    referentiel = yaml_io.parse(organisation, text_or_stream)
    summary = _apply(organisation, referentiel, replace=True)
    if summary.changed:
        _log(organisation, actor=actor, verb="referentiel.imported", **summary.as_dict())
    return summary


@transaction.atomic
def adopt_template(organisation: Organisation, template_key: str, *, actor) -> list[Programme]:
    """Add a built-in template's programme to the organisation's référentiel."""
    template = templates_catalogue.get(template_key)
    if template is None:
        raise ValidationError(
            _("“%(key)s” is not a built-in template; the templates are: %(keys)s.")
            % {"key": template_key, "keys": ", ".join(templates_catalogue.keys())}
        )
    if Programme.objects.filter(organisation=organisation, template=template.key).exists():
        raise ValidationError(
            _("The template “%(name)s” has already been adopted by this organisation.")
            % {"name": template.name}
        )
    try:
        referentiel = yaml_io.parse(organisation, template.read())
    except InvalidReferentiel as error:  # pragma: no cover - the test suite imports every template
        raise ValidationError(
            _("The built-in template “%(key)s” is invalid: %(problems)s")
            % {"key": template.key, "problems": "; ".join(error.messages)}
        ) from None
    keys = [p.fields["key"] for p in referentiel.programmes]
    clash = Programme.objects.filter(organisation=organisation, key__in=keys)
    if clash.exists():
        raise ValidationError(
            _("A programme with the key “%(key)s” already exists; rename it before adopting.")
            % {"key": clash.first().key}
        )
    codes = Indicator.objects.filter(
        organisation=organisation, code__in=referentiel.indicator_codes()
    ).values_list("code", flat=True)
    if codes:
        raise ValidationError(
            _("These indicator codes are already used: %(codes)s.")
            % {"codes": ", ".join(sorted(codes))}
        )
    for programme in referentiel.programmes:
        programme.fields["template"] = template.key
    summary = _apply(organisation, referentiel, replace=False)
    adopted = list(Programme.objects.filter(organisation=organisation, key__in=keys))
    for programme in adopted:
        _log(
            organisation,
            actor=actor,
            verb="template.adopted",
            subject=programme,
            template=template.key,
            **summary.as_dict(),
        )
    return adopted
