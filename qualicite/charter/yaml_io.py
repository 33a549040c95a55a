"""A référentiel as YAML: a stable, human-editable export and a strict reader.

The file describes an organisation's whole référentiel::

    format: qualicite-referentiel
    version: 1
    programmes:
      - key: qualivilles
        kind: qualivilles
        name: Nos engagements
        commitments:
          - number: '1'
            title: …
            indicators:
              - code: qv-taux-decroche
                …
                service_targets:
                  - service: etat-civil
                    target: 95

The reader works on PyYAML's node tree (`yaml.compose`) so that every problem is
reported with its line; it collects every problem before giving up, and never
writes: applying a parsed référentiel is `services.import_referentiel`'s job.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple

import yaml
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext as _
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from qualicite.charter import queries, templates_catalogue
from qualicite.charter.models import (
    Commitment,
    Direction,
    Indicator,
    Period,
    Programme,
    ProgrammeKind,
    ServiceTarget,
    SourceKind,
    Unit,
    ordered_channels,
)
from qualicite.core.choices import Channel, DayKind
from qualicite.core.models import Organisation, Service

FORMAT = "qualicite-referentiel"
VERSION = 1
# libyaml's parser when PyYAML was built with it (ten times faster); marks carry lines either way.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


# ---------------------------------------------------------------------------
# Problems


class Problem(NamedTuple):
    line: int | None
    message: str

    def __str__(self) -> str:
        if self.line is None:
            return self.message
        return _("line %(line)s: %(problem)s") % {"line": self.line, "problem": self.message}


class InvalidReferentiel(ValidationError):
    """The file was refused whole; `problems` lists every problem with its line."""

    def __init__(self, problems: list[Problem]):
        self.problems = sorted(problems, key=lambda p: p.line or 0)
        super().__init__([str(problem) for problem in self.problems])


# ---------------------------------------------------------------------------
# What the reader produces


@dataclass
class ParsedServiceTarget:
    line: int
    service: Service
    fields: dict[str, Any]
    lines: dict[str, int]


@dataclass
class ParsedIndicator:
    line: int
    fields: dict[str, Any]
    lines: dict[str, int]
    service_targets: list[ParsedServiceTarget] = field(default_factory=list)


@dataclass
class ParsedCommitment:
    line: int
    fields: dict[str, Any]
    lines: dict[str, int]
    services: list[Service] = field(default_factory=list)
    indicators: list[ParsedIndicator] = field(default_factory=list)


@dataclass
class ParsedProgramme:
    line: int
    fields: dict[str, Any]
    lines: dict[str, int]
    commitments: list[ParsedCommitment] = field(default_factory=list)


@dataclass
class Referentiel:
    programmes: list[ParsedProgramme]

    def indicator_codes(self) -> list[str]:
        return [
            indicator.fields["code"]
            for programme in self.programmes
            for commitment in programme.commitments
            for indicator in commitment.indicators
        ]


# ---------------------------------------------------------------------------
# The file's keys: YAML key → (model field, kind, required, default, choices)


@dataclass(frozen=True)
class Key:
    field: str | None
    kind: str
    required: bool = False
    default: Any = None
    choices: type[models.TextChoices] | tuple[str, ...] | None = None


HEADER_KEYS = {
    "format": Key(None, "text", required=True),
    "version": Key(None, "integer", required=True),
    "programmes": Key(None, "list", required=True),
}
PROGRAMME_KEYS = {
    "key": Key("key", "text", required=True),
    "kind": Key("kind", "choice", required=True, choices=ProgrammeKind),
    "name": Key("name", "text", required=True),
    "description": Key("description", "text", default=""),
    "template": Key("template", "template", default=""),
    "commitments": Key(None, "list"),
}
COMMITMENT_KEYS = {
    "number": Key("number", "number", required=True),
    "group": Key("group", "text", default=""),
    "title": Key("title", "text", required=True),
    "public_text": Key("public_text", "text", default=""),
    "published": Key("is_published", "boolean", default=True),
    "services": Key(None, "services"),
    "channels": Key("channels", "channels", default=[]),
    "indicators": Key(None, "list"),
}
INDICATOR_KEYS = {
    "code": Key("code", "text", required=True),
    "name": Key("name", "text", required=True),
    "unit": Key("unit", "choice", default=Unit.PERCENT.value, choices=Unit),
    "source_kind": Key(
        "source_kind", "choice", default=SourceKind.COMPUTED.value, choices=SourceKind
    ),
    "source": Key("source", "text", default=""),
    "direction": Key(
        "direction", "choice", default=Direction.HIGHER_IS_BETTER.value, choices=Direction
    ),
    "target": Key("target", "decimal"),
    "warning_threshold": Key("warning_threshold", "decimal"),
    "period": Key("period", "choice", default=Period.MONTH.value, choices=Period),
    "channels": Key("channels", "channels", default=[]),
    "day_kind": Key("day_kind", "choice", default=DayKind.WORKING.value, choices=DayKind),
    "delay_days": Key("delay_days", "integer"),
    "threshold_seconds": Key("threshold_seconds", "integer"),
    "service_targets": Key(None, "list"),
}
SERVICE_TARGET_KEYS = {
    "service": Key(None, "service", required=True),
    "target": Key("target", "decimal", required=True),
    "warning_threshold": Key("warning_threshold", "decimal"),
}


def _yaml_key(keys: dict[str, Key], model_field: str) -> str:
    for name, key in keys.items():
        if key.field == model_field:
            return name
    return model_field


def _line(node: Node) -> int:
    return node.start_mark.line + 1


class _Reader:
    """Walks the node tree once, collecting problems instead of stopping at the first."""

    def __init__(self, organisation: Organisation):
        self.organisation = organisation
        self.services = {s.code: s for s in Service.objects.filter(organisation=organisation)}
        self.problems: list[Problem] = []
        self._constructor = SafeConstructor()
        self._visited: set[int] = set()

    def problem(self, node_or_line, message: str) -> None:
        line = node_or_line if isinstance(node_or_line, int | None) else _line(node_or_line)
        self.problems.append(Problem(line, message))

    # -- scalars ---------------------------------------------------------

    def scalar(self, node: Node) -> Any:
        try:
            return self._constructor.construct_object(node, deep=True)
        except ConstructorError as error:
            self.problem(node, _("unreadable value: %(problem)s") % {"problem": error.problem})
            return _INVALID

    def convert(self, name: str, key: Key, node: Node) -> Any:
        """The value of `node` for `key`, or _INVALID after recording why."""
        if key.kind == "list":
            if isinstance(node, ScalarNode) and node.tag == "tag:yaml.org,2002:null":
                return []
            if not isinstance(node, SequenceNode):
                self.problem(node, _("%(key)s: expected a list") % {"key": name})
                return _INVALID
            return node.value
        if key.kind in ("channels", "services"):
            return self.codes(name, key, node)
        if not isinstance(node, ScalarNode):
            self.problem(
                node, _("%(key)s: expected a single value, not a list or mapping") % {"key": name}
            )
            return _INVALID
        value = self.scalar(node)
        if value is _INVALID:
            return value
        if value is None:
            if key.required:
                self.problem(node, _("%(key)s: a value is required") % {"key": name})
                return _INVALID
            return key.default
        return self.typed(name, key, node, value)

    def typed(self, name: str, key: Key, node: Node, value: Any) -> Any:
        def wrong(expected: str):
            self.problem(
                node,
                _("%(key)s: expected %(expected)s, got “%(value)s”")
                % {"key": name, "expected": expected, "value": value},
            )
            return _INVALID

        if key.kind == "text":
            return value if isinstance(value, str) else wrong(_("text"))
        if key.kind == "number":
            if isinstance(value, bool) or not isinstance(value, str | int):
                return wrong(_("a number or short text"))
            return str(value)
        if key.kind == "boolean":
            return value if isinstance(value, bool) else wrong(_("true or false"))
        if key.kind == "integer":
            if isinstance(value, bool) or not isinstance(value, int):
                return wrong(_("a whole number"))
            return value
        if key.kind == "decimal":
            if isinstance(value, bool) or not isinstance(value, int | float):
                return wrong(_("a number"))
            try:
                number = Decimal(str(value))
            except InvalidOperation:
                return wrong(_("a number"))
            return number if number.is_finite() else wrong(_("a finite number"))
        if key.kind == "choice":
            values = key.choices.values if hasattr(key.choices, "values") else key.choices
            if not isinstance(value, str) or value not in values:
                self.problem(
                    node,
                    _("%(key)s: “%(value)s” is not a valid choice; expected one of: %(choices)s")
                    % {"key": name, "value": value, "choices": ", ".join(values)},
                )
                return _INVALID
            return value
        if key.kind == "template":
            known = templates_catalogue.keys()
            if not isinstance(value, str) or value not in known:
                self.problem(
                    node,
                    _(
                        "%(key)s: “%(value)s” is not a built-in template; expected one of: "
                        "%(choices)s"
                    )
                    % {"key": name, "value": value, "choices": ", ".join(known)},
                )
                return _INVALID
            return value
        if key.kind == "service":
            if not isinstance(value, str | int) or isinstance(value, bool):
                return wrong(_("a service code"))
            return self.service(name, node, str(value))
        raise AssertionError(key.kind)  # pragma: no cover - a typo in the key tables

    def service(self, name: str, node: Node, code: str):
        found = self.services.get(code)
        if found is None:
            self.problem(
                node,
                _(
                    "%(key)s: unknown service code “%(code)s”; this organisation's services are: "
                    "%(known)s"
                )
                % {
                    "key": name,
                    "code": code,
                    "known": ", ".join(sorted(self.services)) or _("(none)"),
                },
            )
            return _INVALID
        return found

    def codes(self, name: str, key: Key, node: Node) -> Any:
        """A list of channel or service codes: `[letter, email]`."""
        if isinstance(node, ScalarNode) and node.tag == "tag:yaml.org,2002:null":
            return []
        if not isinstance(node, SequenceNode):
            self.problem(node, _("%(key)s: expected a list of codes") % {"key": name})
            return _INVALID
        found, seen, ok = [], set(), True
        for item in node.value:
            value = self.scalar(item) if isinstance(item, ScalarNode) else _INVALID
            if value is _INVALID or not isinstance(value, str):
                if isinstance(item, ScalarNode) and value is not _INVALID:
                    self.problem(
                        item,
                        _("%(key)s: expected a code, got “%(value)s”")
                        % {"key": name, "value": value},
                    )
                elif not isinstance(item, ScalarNode):
                    self.problem(item, _("%(key)s: expected a code") % {"key": name})
                ok = False
                continue
            if value in seen:
                self.problem(
                    item, _("%(key)s: “%(code)s” is listed twice") % {"key": name, "code": value}
                )
                ok = False
                continue
            seen.add(value)
            if key.kind == "channels":
                if value not in Channel.values:
                    self.problem(
                        item,
                        _("%(key)s: unknown channel “%(code)s”; expected one of: %(choices)s")
                        % {"key": name, "code": value, "choices": ", ".join(Channel.values)},
                    )
                    ok = False
                    continue
                found.append(value)
            else:
                service = self.service(name, item, value)
                if service is _INVALID:
                    ok = False
                    continue
                found.append(service)
        if not ok:
            return _INVALID
        return ordered_channels(found) if key.kind == "channels" else found

    # -- mappings --------------------------------------------------------

    def mapping(self, node: Node, keys: dict[str, Key], what: str):
        """(values by YAML key, lines by YAML key), or None when `node` is not a mapping."""
        if not isinstance(node, MappingNode):
            self.problem(
                node, _("expected %(what)s (a mapping of keys to values)") % {"what": what}
            )
            return None
        if id(node) in self._visited:
            # An alias (*name) to a mapping read already: each record is written out once,
            # which also keeps a file of nested aliases from making the reader loop for ever.
            self.problem(
                node,
                _("%(what)s of this line is repeated through a YAML alias; write each one out")
                % {"what": what},
            )
            return None
        self._visited.add(id(node))
        values, lines = {}, {}
        for key_node, value_node in node.value:
            name = self.scalar(key_node) if isinstance(key_node, ScalarNode) else None
            if not isinstance(name, str):
                self.problem(key_node, _("keys must be text"))
                continue
            if name in lines:
                self.problem(
                    key_node,
                    _("key “%(key)s” appears twice in %(what)s") % {"key": name, "what": what},
                )
                continue
            lines[name] = _line(key_node)
            if name not in keys:
                self.problem(
                    key_node,
                    _("unknown key “%(key)s” in %(what)s; expected one of: %(keys)s")
                    % {"key": name, "what": what, "keys": ", ".join(keys)},
                )
                continue
            values[name] = self.convert(name, keys[name], value_node)
        for name, key in keys.items():
            if key.required and name not in lines:
                self.problem(
                    node, _("missing field “%(key)s” in %(what)s") % {"key": name, "what": what}
                )
        for name, key in keys.items():
            if name not in values and not key.required:
                values[name] = [] if key.kind in ("list", "services") else key.default
        return values, lines

    @staticmethod
    def model_fields(keys, values, lines) -> tuple[dict, dict, list[str]]:
        """Model field values and lines, and the fields already reported as missing or wrong."""
        fields, field_lines, bad = {}, {}, []
        for name, key in keys.items():
            if key.field is None:
                continue
            if values.get(name, _INVALID) is _INVALID:
                bad.append(key.field)
            else:
                fields[key.field] = values[name]
            if name in lines:
                field_lines[key.field] = lines[name]
        return fields, field_lines, bad

    def full_clean(self, instance, keys, line: int, lines: dict, exclude: list[str]) -> None:
        """The model's own checks, each message put back on the line of its key.

        Fields already reported as missing or wrong are left out, so that one mistake
        gives one message.
        """
        try:
            instance.full_clean(
                exclude=[*exclude, "organisation"],
                validate_unique=False,
                validate_constraints=False,
            )
        except ValidationError as error:
            for model_field, messages in error.message_dict.items():
                if model_field in exclude:
                    continue  # already reported as missing or wrong, in the file's words
                name = _yaml_key(keys, model_field)
                for message in messages:
                    if model_field == "__all__":
                        self.problem(line, message)
                    else:
                        self.problem(
                            lines.get(model_field, line),
                            _("%(key)s: %(message)s") % {"key": name, "message": message},
                        )

    # -- the levels ------------------------------------------------------

    def document(self, root: Node) -> Referentiel:
        found = self.mapping(root, HEADER_KEYS, _("the référentiel"))
        if found is None:
            return Referentiel([])
        values, lines = found
        if values.get("format", FORMAT) not in (FORMAT, _INVALID):
            self.problem(lines["format"], _("format: expected “%(format)s”") % {"format": FORMAT})
        if values.get("version", VERSION) not in (VERSION, _INVALID):
            self.problem(
                lines["version"],
                _("version: this Qualicité reads version %(version)s only") % {"version": VERSION},
            )
        programmes = []
        seen: dict[str, int] = {}
        nodes = values.get("programmes", _INVALID)
        for node in nodes if nodes is not _INVALID else ():
            programme = self.programme(node)
            if programme is None:
                continue
            key = programme.fields.get("key")
            if key in seen:
                self.problem(
                    programme.lines.get("key", programme.line),
                    _("key: programme “%(key)s” is already described on line %(line)s")
                    % {"key": key, "line": seen[key]},
                )
            elif key:
                seen[key] = programme.lines.get("key", programme.line)
            programmes.append(programme)
        referentiel = Referentiel(programmes)
        self.check_indicator_codes(referentiel)
        return referentiel

    def programme(self, node: Node) -> ParsedProgramme | None:
        found = self.mapping(node, PROGRAMME_KEYS, _("a programme"))
        if found is None:
            return None
        values, lines = found
        fields, field_lines, bad = self.model_fields(PROGRAMME_KEYS, values, lines)
        parsed = ParsedProgramme(_line(node), fields, field_lines)
        instance = Programme(organisation=self.organisation, **fields)
        self.full_clean(instance, PROGRAMME_KEYS, parsed.line, field_lines, bad)
        seen: dict[str, int] = {}
        commitments = values["commitments"]
        for child in commitments if commitments is not _INVALID else ():
            commitment = self.commitment(child, instance)
            if commitment is None:
                continue
            number = commitment.fields.get("number")
            line = commitment.lines.get("number", commitment.line)
            if number in seen:
                self.problem(
                    line,
                    _("number: commitment %(number)s is already described on line %(line)s")
                    % {"number": number, "line": seen[number]},
                )
            elif number:
                seen[number] = line
            parsed.commitments.append(commitment)
        return parsed

    def commitment(self, node: Node, programme: Programme) -> ParsedCommitment | None:
        found = self.mapping(node, COMMITMENT_KEYS, _("a commitment"))
        if found is None:
            return None
        values, lines = found
        fields, field_lines, bad = self.model_fields(COMMITMENT_KEYS, values, lines)
        services = values["services"] if values["services"] is not _INVALID else []
        parsed = ParsedCommitment(_line(node), fields, field_lines, services)
        instance = Commitment(organisation=self.organisation, programme=programme, **fields)
        self.full_clean(instance, COMMITMENT_KEYS, parsed.line, field_lines, [*bad, "programme"])
        indicators = values["indicators"]
        for child in indicators if indicators is not _INVALID else ():
            indicator = self.indicator(child, instance)
            if indicator is not None:
                parsed.indicators.append(indicator)
        return parsed

    def indicator(self, node: Node, commitment: Commitment) -> ParsedIndicator | None:
        found = self.mapping(node, INDICATOR_KEYS, _("an indicator"))
        if found is None:
            return None
        values, lines = found
        fields, field_lines, bad = self.model_fields(INDICATOR_KEYS, values, lines)
        parsed = ParsedIndicator(_line(node), fields, field_lines)
        instance = Indicator(organisation=self.organisation, commitment=commitment, **fields)
        self.full_clean(instance, INDICATOR_KEYS, parsed.line, field_lines, [*bad, "commitment"])
        seen: dict[str, int] = {}
        targets = values["service_targets"]
        for child in targets if targets is not _INVALID else ():
            target = self.service_target(child, instance)
            if target is None:
                continue
            code = target.service.code
            line = target.lines.get("service", target.line)
            if code in seen:
                self.problem(
                    line,
                    _("service: “%(code)s” already has a target on line %(line)s")
                    % {"code": code, "line": seen[code]},
                )
            else:
                seen[code] = line
            parsed.service_targets.append(target)
        return parsed

    def service_target(self, node: Node, indicator: Indicator) -> ParsedServiceTarget | None:
        found = self.mapping(node, SERVICE_TARGET_KEYS, _("a service target"))
        if found is None:
            return None
        values, lines = found
        fields, field_lines, bad = self.model_fields(SERVICE_TARGET_KEYS, values, lines)
        field_lines["service"] = lines.get("service", _line(node))
        service = values.get("service", _INVALID)
        if service is _INVALID:
            return None
        parsed = ParsedServiceTarget(_line(node), service, fields, field_lines)
        instance = ServiceTarget(
            organisation=self.organisation, indicator=indicator, service=service, **fields
        )
        self.full_clean(
            instance,
            SERVICE_TARGET_KEYS,
            parsed.line,
            field_lines,
            [*bad, "indicator", "service"],
        )
        return parsed

    def check_indicator_codes(self, referentiel: Referentiel) -> None:
        seen: dict[str, int] = {}
        for programme in referentiel.programmes:
            for commitment in programme.commitments:
                for indicator in commitment.indicators:
                    code = indicator.fields.get("code")
                    line = indicator.lines.get("code", indicator.line)
                    if not code:
                        continue
                    if code in seen:
                        self.problem(
                            line,
                            _("code: indicator “%(code)s” is already described on line %(line)s")
                            % {"code": code, "line": seen[code]},
                        )
                    else:
                        seen[code] = line


class _Invalid:
    def __repr__(self):
        return "<invalid>"


_INVALID = _Invalid()


def _text(text_or_stream) -> str:
    if hasattr(text_or_stream, "read"):
        text_or_stream = text_or_stream.read()
    if isinstance(text_or_stream, bytes):
        try:
            text_or_stream = text_or_stream.decode("utf-8")
        except UnicodeDecodeError as error:
            raise InvalidReferentiel(
                [Problem(None, _("the file is not UTF-8 text (%(error)s)") % {"error": error})]
            ) from None
    return text_or_stream.removeprefix("\ufeff")


def parse(organisation: Organisation, text_or_stream) -> Referentiel:
    """Read and check a référentiel file; raise InvalidReferentiel listing every problem."""
    text = _text(text_or_stream)
    try:
        root = yaml.compose(text, Loader=_LOADER)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        message = _("not valid YAML: %(problem)s") % {"problem": error.problem or error.context}
        raise InvalidReferentiel([Problem(mark.line + 1 if mark else None, message)]) from None
    except yaml.YAMLError as error:
        raise InvalidReferentiel(
            [Problem(None, _("not valid YAML: %(problem)s") % {"problem": error})]
        ) from None
    if root is None:
        raise InvalidReferentiel([Problem(None, _("the file is empty"))])
    reader = _Reader(organisation)
    referentiel = reader.document(root)
    if reader.problems:
        raise InvalidReferentiel(reader.problems)
    return referentiel


# ---------------------------------------------------------------------------
# Export


def _number(value: Decimal | None):
    if value is None:
        return None
    if value == value.to_integral_value():
        return int(value)
    return float(value.normalize())


def _put(data: dict, key: str, value) -> None:
    """Optional keys are left out when empty, so the file stays short and stable."""
    if value is None or value == "" or value == []:
        return
    data[key] = value


def referentiel_data(organisation: Organisation) -> dict:
    """The organisation's référentiel as plain data, in a stable order."""
    programmes = []
    for programme in queries.programmes_with_commitments(organisation):
        data = {"key": programme.key, "kind": programme.kind, "name": programme.name}
        _put(data, "description", programme.description)
        _put(data, "template", programme.template)
        data["commitments"] = [_commitment_data(c) for c in programme.commitments.all()]
        programmes.append(data)
    return {"format": FORMAT, "version": VERSION, "programmes": programmes}


def _commitment_data(commitment: Commitment) -> dict:
    data = {"number": commitment.number}
    _put(data, "group", commitment.group)
    data["title"] = commitment.title
    _put(data, "public_text", commitment.public_text)
    data["published"] = commitment.is_published
    _put(data, "services", sorted(s.code for s in commitment.services.all()))
    _put(data, "channels", ordered_channels(commitment.channels))
    _put(data, "indicators", [_indicator_data(i) for i in commitment.indicators.all()])
    return data


def _indicator_data(indicator: Indicator) -> dict:
    data = {
        "code": indicator.code,
        "name": indicator.name,
        "unit": indicator.unit,
        "source_kind": indicator.source_kind,
    }
    _put(data, "source", indicator.source)
    data["direction"] = indicator.direction
    _put(data, "target", _number(indicator.target))
    _put(data, "warning_threshold", _number(indicator.warning_threshold))
    data["period"] = indicator.period
    _put(data, "channels", ordered_channels(indicator.channels))
    data["day_kind"] = indicator.day_kind
    _put(data, "delay_days", indicator.delay_days)
    _put(data, "threshold_seconds", indicator.threshold_seconds)
    targets = sorted(indicator.service_targets.all(), key=lambda t: t.service.code)
    _put(data, "service_targets", [_service_target_data(t) for t in targets])
    return data


def _service_target_data(target: ServiceTarget) -> dict:
    data = {"service": target.service.code, "target": _number(target.target)}
    _put(data, "warning_threshold", _number(target.warning_threshold))
    return data


class _Dumper(yaml.SafeDumper):
    """Block style with indented lists; code lists on one line; long texts as blocks."""

    def increase_indent(self, flow=False, indentless=False):
        return super().increase_indent(flow, False)


def _represent_str(dumper, value: str):
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


def _represent_list(dumper, value: list):
    flow = bool(value) and all(isinstance(item, str) for item in value)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", value, flow_style=flow)


_Dumper.add_representer(str, _represent_str)
_Dumper.add_representer(list, _represent_list)


def dump(data: dict) -> str:
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100, indent=2)


def export_referentiel(organisation: Organisation) -> str:
    """The organisation's whole référentiel as YAML; the same référentiel gives the same bytes."""
    return dump(referentiel_data(organisation))
