"""Reader of any phone system's CSV export, through a YAML column mapping.

One row is one call's visit to one queue. The mapping says which column holds what::

    # mapping.yaml
    delimiter: ";"               # optional: "," ";" "|" or "tab"; default: guessed from the
                                 # first line
    encoding: cp1252             # optional, default utf-8 (cp1252 for most Excel exports)
    header: true                 # default true: columns are named by the first line;
                                 # false: columns are numbers from 1
    time_format: "%d/%m/%Y %H:%M:%S"   # "iso" (default), "epoch", or a strptime format
    timezone: Europe/Paris       # zone of times without an offset; default UTC
    queue: accueil               # a constant queue, when no column gives it
    columns:
      call_id: Identifiant       # optional: without it, a digest of the row
      queue: File                # required unless `queue` above
      entered_at: [Date, Heure]  # required; a list is joined with a space
      wait_seconds: Attente      # seconds, "m:ss" or "h:mm:ss"
      answered_at: Décroché      # times read with time_format
      ended_at: Fin
      talk_seconds: Durée
      agent: Agent
      outcome: Statut
      caller: Appelant
      transfers: Transferts
      ring_no_answer: Sonneries
    outcomes:                    # required with columns.outcome: value in the file → outcome
      Répondu: answered
      Abandonné: abandoned
      Dissuadé: timeout

Outcomes are answered, abandoned, timeout, exit_empty, exit_key, not_admitted, incomplete;
values are matched ignoring case and surrounding spaces, and a value the mapping does not list
rejects the row. Without an outcome column a row is answered when it has an agent, an answer
time or a talk time, else abandoned.

The wait is `wait_seconds`; else the answer time (answered) or the end time (not answered)
minus the entry; a row where it cannot be computed is rejected. The talk time is
`talk_seconds`, else end − answer, and only for answered rows.

`load_mapping` checks the whole mapping before any row is read and raises `MappingError`
listing every problem. A last line without an end of line is accepted when it has all its
columns. A row identical in (call id, queue, entry) to a recent one is a duplicate and ignored.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfoNotFoundError

import yaml

from qualicite.reception.parsers.calls import CallRecord, Outcome
from qualicite.reception.parsers.lines import MAX_LINE, LastLine, LineReader
from qualicite.reception.parsers.queue_log import PROBE_LINES, BadLine, _wrong_format
from qualicite.reception.parsers.report import ImportReport
from qualicite.reception.parsers.times import MAX_TS, MIN_TS, Clock, epoch, zone

FIELDS = (
    "call_id",
    "queue",
    "entered_at",
    "answered_at",
    "ended_at",
    "wait_seconds",
    "talk_seconds",
    "agent",
    "outcome",
    "caller",
    "transfers",
    "ring_no_answer",
)
TOP_KEYS = ("delimiter", "encoding", "header", "time_format", "timezone", "queue")
TOP_KEYS += ("columns", "outcomes")
DELIMITERS = {",": ",", ";": ";", "|": "|", "tab": "\t", "\t": "\t"}
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

Column = str | int


class MappingError(ValueError):
    """The mapping was refused; `problems` lists every reason."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


@dataclass(frozen=True)
class Mapping:
    columns: dict[str, tuple[Column, ...]]
    outcomes: dict[str, str] = field(default_factory=dict)
    delimiter: str | None = None
    encoding: str = "utf-8"
    header: bool = True
    time_format: str = "iso"
    timezone: str = "UTC"
    queue: str = ""


def read_yaml(source: str | bytes | dict[str, Any]) -> dict:
    """A mapping's YAML text as a dict (a dict is taken as it is); MappingError otherwise."""
    if isinstance(source, bytes | str):
        try:
            data = yaml.load(source or "", Loader=_LOADER)
        except yaml.YAMLError as error:
            raise MappingError([f"not valid YAML: {error}"]) from None
    else:
        data = source
    if not isinstance(data, dict):
        raise MappingError(["the mapping must be a YAML mapping (key: value lines)"])
    return data


def checked_columns(name: str, values: list, header: bool, problems: list[str]) -> tuple:
    """The column references of one field (names, or numbers from 1), the wrong ones told."""
    checked: list[Column] = []
    for item in values:
        if isinstance(item, bool) or not isinstance(item, str | int):
            problems.append(f"columns.{name}: {item!r} is not a column name or number")
        elif isinstance(item, int) and item < 1:
            problems.append(f"columns.{name}: column numbers start at 1")
        elif not header and not isinstance(item, int):
            problems.append(f"columns.{name}: without a header, columns are numbers")
        else:
            checked.append(item)
    return tuple(checked)


def load_mapping(source: str | bytes | dict[str, Any]) -> Mapping:
    """Reads and checks a mapping (YAML text or an already loaded dict)."""
    data = read_yaml(source)
    problems: list[str] = []
    for key in data:
        if key not in TOP_KEYS:
            problems.append(f"unknown key {key!r} (expected one of {', '.join(TOP_KEYS)})")
    header = data.get("header", True)
    if not isinstance(header, bool):
        problems.append("header must be true or false")
        header = True
    columns: dict[str, tuple[Column, ...]] = {}
    raw_columns = data.get("columns")
    if not isinstance(raw_columns, dict) or not raw_columns:
        problems.append("columns is required: which column holds the queue, the entry time…")
        raw_columns = {}
    for name, value in raw_columns.items():
        if name not in FIELDS:
            problems.append(f"columns: unknown field {name!r} (expected {', '.join(FIELDS)})")
            continue
        values = value if isinstance(value, list) and name == "entered_at" else [value]
        checked = checked_columns(name, values, header, problems)
        if checked:
            columns[name] = checked
    queue = data.get("queue", "")
    if not isinstance(queue, str):
        problems.append("queue must be a text")
        queue = ""
    if "queue" not in columns and not queue:
        problems.append("columns.queue (or a constant queue) is required")
    if "entered_at" not in columns:
        problems.append("columns.entered_at is required")
    if not {"wait_seconds", "answered_at", "ended_at"} & set(columns):
        problems.append("one of columns.wait_seconds, answered_at or ended_at is required")
    outcomes: dict[str, str] = {}
    raw_outcomes = data.get("outcomes") or {}
    if not isinstance(raw_outcomes, dict):
        problems.append("outcomes must map values of the file to outcomes")
        raw_outcomes = {}
    for value, outcome in raw_outcomes.items():
        if outcome not in Outcome.ALL:
            problems.append(
                f"outcomes: {outcome!r} for {value!r} is not one of {', '.join(Outcome.ALL)}"
            )
        else:
            outcomes[str(value).strip().casefold()] = outcome
    if "outcome" in columns and not outcomes:
        problems.append("outcomes is required with columns.outcome")
    delimiter = data.get("delimiter")
    if delimiter is not None and delimiter not in DELIMITERS:
        problems.append(f"delimiter must be one of {', '.join(map(repr, DELIMITERS))}")
        delimiter = None
    encoding = data.get("encoding", "utf-8")
    try:
        codecs.lookup(str(encoding))
    except LookupError:
        problems.append(f"unknown encoding {encoding!r}")
        encoding = "utf-8"
    time_format = data.get("time_format", "iso")
    if not isinstance(time_format, str) or (
        time_format not in ("iso", "epoch") and "%" not in time_format
    ):
        problems.append('time_format must be "iso", "epoch" or a strptime format with %')
        time_format = "iso"
    timezone = data.get("timezone", "UTC")
    try:
        zone(str(timezone))
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(f"unknown time zone {timezone!r}")
        timezone = "UTC"
    if problems:
        raise MappingError(problems)
    return Mapping(
        columns=columns,
        outcomes=outcomes,
        delimiter=DELIMITERS[delimiter] if delimiter else None,
        encoding=str(encoding),
        header=header,
        time_format=time_format,
        timezone=str(timezone),
        queue=queue,
    )


def duration(text: str, name: str) -> int:
    """Seconds of "75", "75.4", "1:15" or "0:01:15" (BadLine otherwise)."""
    try:
        if ":" in text:
            total = 0.0
            for part in text.split(":"):
                total = total * 60 + float(part)
            value = total
        else:
            value = float(text.replace(",", "."))
    except ValueError:
        raise BadLine("bad_number", field=name, value=text[:40]) from None
    if value != value:  # NaN
        raise BadLine("bad_number", field=name, value=text[:40])
    if value < 0:
        raise BadLine("negative_duration", field=name, value=text[:40])
    return round(value)


class _Row:
    """Reads one split row by field name."""

    def __init__(self, mapping: Mapping, positions: dict[str, tuple[int, ...]], clock: Clock):
        self.mapping = mapping
        self.positions = positions
        self.clock = clock

    def text(self, fields: list[str], name: str) -> str:
        positions = self.positions.get(name)
        if positions is None:
            return ""
        return " ".join(fields[p].strip() for p in positions if p < len(fields)).strip()

    def time(self, fields: list[str], name: str) -> float | None:
        text = self.text(fields, name)
        if not text:
            return None
        time_format = self.mapping.time_format
        if time_format == "epoch":
            value = epoch(text)
        elif time_format == "iso":
            value = self.clock.parse(text)
            if value is None:
                try:
                    value = self.clock.parse_datetime(datetime.fromisoformat(text))
                except ValueError:
                    value = None
        else:
            try:
                value = self.clock.parse_datetime(datetime.strptime(text, time_format))
            except ValueError:
                value = None
        if value is None:
            raise BadLine("bad_timestamp", value=text[:40])
        if value < MIN_TS or value > MAX_TS:
            raise BadLine("timestamp_out_of_range", value=text[:40])
        return value

    def seconds(self, fields: list[str], name: str) -> int | None:
        text = self.text(fields, name)
        return duration(text, name) if text else None

    def record(self, fields: list[str], number: int, line: str) -> CallRecord:
        mapping = self.mapping
        entered = self.time(fields, "entered_at")
        if entered is None:
            raise BadLine("missing_value", column=_label(mapping.columns["entered_at"]))
        queue = self.text(fields, "queue") or mapping.queue
        if not queue:
            raise BadLine("missing_value", column=_label(mapping.columns["queue"]))
        answered_at = self.time(fields, "answered_at")
        ended_at = self.time(fields, "ended_at")
        wait = self.seconds(fields, "wait_seconds")
        talk = self.seconds(fields, "talk_seconds")
        agent = self.text(fields, "agent")
        if "outcome" in self.positions:
            value = self.text(fields, "outcome")
            outcome = mapping.outcomes.get(value.casefold())
            if outcome is None:
                raise BadLine("unknown_outcome", value=value[:40])
        elif agent or answered_at is not None or (talk or 0) > 0:
            outcome = Outcome.ANSWERED
        else:
            outcome = Outcome.ABANDONED
        answered = outcome == Outcome.ANSWERED
        if wait is None:
            if answered and answered_at is not None:
                wait = round(answered_at - entered)
            elif answered and ended_at is not None and talk is not None:
                wait = round(ended_at - talk - entered)
            elif not answered and ended_at is not None:
                wait = round(ended_at - entered)
            else:
                raise BadLine("no_wait")
            if wait < 0:
                raise BadLine("negative_duration", field="wait", value=wait)
        if not answered:
            talk = None
        elif talk is None and answered_at is not None and ended_at is not None:
            talk = max(0, round(ended_at - answered_at))
        if ended_at is None:
            ended_at = entered + wait + (talk or 0)
        call_id = self.text(fields, "call_id")
        if not call_id:
            call_id = "row-" + hashlib.sha1(line.encode()).hexdigest()[:20]
        return CallRecord(
            call_id,
            queue,
            entered,
            wait,
            outcome,
            agent if answered else "",
            talk,
            self._count(fields, "transfers"),
            self._count(fields, "ring_no_answer"),
            ended_at,
            self.text(fields, "caller"),
            number,
            number,
        )

    def _count(self, fields: list[str], name: str) -> int:
        text = self.text(fields, name)
        if not text:
            return 0
        try:
            value = int(text)
        except ValueError:
            raise BadLine("bad_number", field=name, value=text[:40]) from None
        if value < 0:
            raise BadLine("negative_duration", field=name, value=value)
        return value


def _label(columns: tuple[Column, ...]) -> str:
    return " + ".join(str(column) for column in columns)


def _split(line: str, delimiter: str) -> list[str]:
    if '"' not in line:
        return line.split(delimiter)
    return next(csv.reader((line,), delimiter=delimiter, strict=True))


def _guess_delimiter(line: str) -> str:
    counts = {d: line.count(d) for d in (";", ",", "\t", "|")}
    return max(counts, key=counts.get)


def read_mapped(
    reader: LineReader,
    report: ImportReport,
    mapping: Mapping,
    *,
    closed_max: int = 20000,
) -> Iterator[CallRecord]:
    """Yields one call per row of a CSV export described by `mapping`."""
    clock = Clock(mapping.timezone)
    delimiter = mapping.delimiter
    positions: dict[str, tuple[int, ...]] | None = None
    if not mapping.header:
        positions = {
            name: tuple(int(c) - 1 for c in columns) for name, columns in mapping.columns.items()
        }
    width = 0
    row: _Row | None = None
    recent: dict[tuple, None] = {}
    accepted = 0
    tried: list[str] = []
    number = 0
    for batch in reader:
        last = batch.__class__ is LastLine
        for line in batch:
            number += 1
            if not line:
                if line is None:
                    report.reject(number, "not_decodable", encoding=mapping.encoding)
                elif line is False:
                    report.reject(number, "too_long", limit=MAX_LINE)
                else:
                    report.blank_lines += 1
                continue
            if delimiter is None:
                delimiter = _guess_delimiter(line)
            if positions is None:
                try:
                    names = [name.strip() for name in _split(line, delimiter)]
                except csv.Error as error:
                    report.reject(number, "bad_csv", detail=str(error))
                    continue
                positions, missing = column_positions(mapping, names)
                if missing:
                    report.fail("missing_columns", columns=", ".join(missing))
                    return
                report.ignored_lines += 1
                continue
            if row is None:
                row = _Row(mapping, positions, clock)
                width = 1 + max((max(p) for p in positions.values() if p), default=0)
            try:
                fields = _split(line, delimiter)
                if len(fields) < width:
                    raise BadLine("too_few_fields", found=len(fields), expected=width)
                record = row.record(fields, number, line)
            except csv.Error as error:
                if last:
                    report.truncated_last_line = True
                    report.reject(number, "truncated")
                else:
                    report.reject(number, "bad_csv", detail=str(error))
                record = None
            except BadLine as bad:
                if last and bad.code == "too_few_fields":
                    report.truncated_last_line = True
                    report.reject(number, "truncated")
                else:
                    report.reject(number, bad.code, **bad.params)
                record = None
            if record is None:
                if not accepted:
                    tried.append(line)
                    if len(tried) >= PROBE_LINES:
                        _wrong_format(report, tried[:3])
                        return
                continue
            accepted += 1
            key = record.key
            if key in recent:
                report.duplicates += 1
                continue
            recent[key] = None
            if len(recent) > closed_max:
                del recent[next(iter(recent))]
            report.calls += 1
            yield record
        report.lines_read = number
    report.lines_read = number
    if not accepted and tried:
        _wrong_format(report, tried[:3])


def column_positions(mapping, names: list[str]) -> tuple[dict[str, tuple[int, ...]], list[str]]:
    """Positions of each field's columns in a header's `names` (by exact name, then by name
    whatever its case, or by 1-based number), and the columns not found. `mapping` is any
    mapping with `columns` (field -> column names or numbers): the desk imports' too."""
    exact = {name: index for index, name in reversed(list(enumerate(names)))}
    folded = {name.casefold(): index for index, name in reversed(list(enumerate(names)))}
    positions: dict[str, tuple[int, ...]] = {}
    missing: list[str] = []
    for field_name, columns in mapping.columns.items():
        found: list[int] = []
        for column in columns:
            if isinstance(column, int):
                found.append(column - 1)
            elif column in exact:
                found.append(exact[column])
            elif column.casefold() in folded:
                found.append(folded[column.casefold()])
            else:
                missing.append(str(column))
        positions[field_name] = tuple(found)
    return positions, missing
