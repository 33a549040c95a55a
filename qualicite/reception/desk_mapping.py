"""CSV exports read through a YAML column mapping: the desk and appointment imports share it.

The mapping follows the phone-log mapping (`parsers/mapped_csv.py`): the same top keys
(`delimiter`, `encoding`, `header`, `time_format`, `timezone`, `columns`), a list of columns
joined with a space for a date and a time kept apart, and tables translating the values of
the file (`statuses: {Abandon: left}`). Each import says which fields it reads
(`Spec`); `load_mapping` checks the whole mapping before a row is read and raises
`MappingError` listing every problem. `read_rows` then yields one `MappedRow` per data line
with its line number; a value that cannot be read raises `RowError` from the row's
accessors, and the caller rejects that line alone. A file that cannot be read at all (wrong
encoding, missing columns) raises `FileRefused`.

Differences with the phone mapping, because desk and booking exports are written by office
software rather than by a phone system: times without an offset are read in the
organisation's time zone unless the mapping says otherwise, `time_format` may be a list of
formats tried in turn, and `max_bad_share` sets the share of bad lines above which nothing
is imported (5 % by default).
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.utils.translation import gettext as _

from qualicite.reception.parsers.mapped_csv import (
    DELIMITERS,
    MappingError,
    checked_columns,
    column_positions,
    read_yaml,
)

__all__ = [
    "FileRefused",
    "ImportReport",
    "MappedRow",
    "Mapping",
    "MappingError",
    "RowError",
    "Skipped",
    "Spec",
    "load_mapping",
    "read_rows",
]

Column = str | int
DEFAULT_MAX_BAD_SHARE = 0.05
# Rejected lines kept with their reason in a report; every one is counted.
KEEP_REJECTED = 200


class RowError(ValueError):
    """One line cannot be imported; the message says why, in the user's language."""


class FileRefused(ValueError):
    """The file cannot be read at all: nothing is imported."""


class Skipped(str):
    """The reason a well-formed record is not for this import (an all-day event in a
    calendar): reported with the rejected lines, but not counted as a bad line."""


@dataclass(frozen=True)
class Spec:
    """What one import reads: its fields, the tables and the constants it takes."""

    fields: tuple[str, ...]
    # Each entry: at least one of these fields must be mapped (or given as a constant).
    required: tuple[tuple[str, ...], ...]
    # Tables translating the file's values: name → the values allowed on the right (None: any).
    tables: dict[str, frozenset[str] | None] = field(default_factory=dict)
    # Constants standing for a column: site: mairie.
    constants: tuple[str, ...] = ()


@dataclass(frozen=True)
class Mapping:
    columns: dict[str, tuple[Column, ...]]
    tables: dict[str, dict[str, str]]
    constants: dict[str, str]
    delimiter: str | None
    encoding: str
    header: bool
    time_formats: tuple[str, ...]
    timezone: str
    max_bad_share: float


TOP_KEYS = ("delimiter", "encoding", "header", "time_format", "timezone", "max_bad_share")
TOP_KEYS += ("columns",)


def _check_columns(raw, spec: Spec, header: bool, problems: list[str]) -> dict:
    columns: dict[str, tuple[Column, ...]] = {}
    if raw is None:
        return columns
    if not isinstance(raw, dict):
        problems.append("columns must map fields to columns of the file")
        return columns
    for name, value in raw.items():
        if name not in spec.fields:
            problems.append(f"columns: unknown field {name!r} (expected {', '.join(spec.fields)})")
            continue
        values = value if isinstance(value, list) else [value]
        checked = checked_columns(name, values, header, problems)
        if checked:
            columns[name] = checked
    return columns


def _check_tables(data: dict, spec: Spec, problems: list[str]) -> dict:
    tables: dict[str, dict[str, str]] = {}
    for name, allowed in spec.tables.items():
        raw = data.get(name) or {}
        if not isinstance(raw, dict):
            problems.append(f"{name} must map values of the file to values of Qualicité")
            continue
        table = {}
        for value, meaning in raw.items():
            meaning = str(meaning).strip()
            if allowed is not None and meaning not in allowed:
                problems.append(
                    f"{name}: {meaning!r} for {value!r} is not one of {', '.join(sorted(allowed))}"
                )
            table[str(value).strip().casefold()] = meaning
        tables[name] = table
    return tables


def load_mapping(source: str | dict[str, Any], spec: Spec, *, default_timezone: str) -> Mapping:
    """Reads and checks a mapping (YAML text or a loaded dict) against what `spec` reads."""
    data = read_yaml(source)
    problems: list[str] = []
    known = set(TOP_KEYS) | set(spec.tables) | set(spec.constants)
    for key in data:
        if key not in known:
            problems.append(f"unknown key {key!r} (expected one of {', '.join(sorted(known))})")
    header = data.get("header", True)
    if not isinstance(header, bool):
        problems.append("header must be true or false")
        header = True
    columns = _check_columns(data.get("columns"), spec, header, problems)
    constants = {}
    for name in spec.constants:
        value = data.get(name)
        if value is not None:
            if not isinstance(value, str | int) or isinstance(value, bool):
                problems.append(f"{name} must be a text")
            else:
                constants[name] = str(value).strip()
    for group in spec.required:
        if not any(name in columns or name in constants for name in group):
            problems.append(f"columns.{' or columns.'.join(group)} is required")
    tables = _check_tables(data, spec, problems)
    delimiter = data.get("delimiter")
    if delimiter is not None and delimiter not in DELIMITERS:
        problems.append(f"delimiter must be one of {', '.join(map(repr, DELIMITERS))}")
        delimiter = None
    encoding = str(data.get("encoding", "utf-8"))
    try:
        codecs.lookup(encoding)
    except LookupError:
        problems.append(f"unknown encoding {encoding!r}")
        encoding = "utf-8"
    raw_formats = data.get("time_format", "iso")
    formats = raw_formats if isinstance(raw_formats, list) else [raw_formats]
    for time_format in formats:
        if not isinstance(time_format, str) or (
            time_format not in ("iso", "epoch") and "%" not in time_format
        ):
            problems.append('time_format must be "iso", "epoch" or a strptime format with %')
            formats = ["iso"]
            break
    timezone = str(data.get("timezone", default_timezone))
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(f"unknown time zone {timezone!r}")
        timezone = default_timezone
    share = data.get("max_bad_share", DEFAULT_MAX_BAD_SHARE)
    if isinstance(share, bool) or not isinstance(share, int | float) or not 0 <= share <= 1:
        problems.append("max_bad_share must be a number between 0 and 1, e.g. 0.05")
        share = DEFAULT_MAX_BAD_SHARE
    if problems:
        raise MappingError(problems)
    return Mapping(
        columns=columns,
        tables=tables,
        constants=constants,
        delimiter=DELIMITERS[delimiter] if delimiter else None,
        encoding=encoding,
        header=header,
        time_formats=tuple(formats),
        timezone=timezone,
        max_bad_share=float(share),
    )


# --- Reading the rows ------------------------------------------------------------------------


def parse_time(text: str, formats: tuple[str, ...], zone: ZoneInfo) -> datetime | None:
    """An aware UTC datetime from `text` in one of `formats`; None when none fits."""
    for time_format in formats:
        try:
            if time_format == "epoch":
                value = datetime.fromtimestamp(float(text.replace(",", ".")), UTC)
            elif time_format == "iso":
                value = datetime.fromisoformat(text.replace("/", "-"))
            else:
                value = datetime.strptime(text, time_format)
        except (ValueError, OverflowError, OSError):
            continue
        if value.tzinfo is None:
            value = value.replace(tzinfo=zone)
        value = value.astimezone(UTC)
        if not 2000 <= value.year < 2100:
            return None
        return value
    return None


def parse_duration(text: str) -> int | None:
    """Seconds of "75", "75.4", "1:15" or "0:01:15"; None when it is not a duration."""
    try:
        if ":" in text:
            total = 0.0
            for part in text.split(":"):
                total = total * 60 + float(part)
        else:
            total = float(text.replace(",", "."))
    except ValueError:
        return None
    if total != total or total < 0 or total > 10**7:
        return None
    return round(total)


class MappedRow:
    """One data line: its number and its fields, read by the mapping's field names."""

    def __init__(self, reader: _Reader, number: int, fields: list[str]):
        self.reader = reader
        self.number = number
        self.fields = fields

    @property
    def mapping(self) -> Mapping:
        return self.reader.mapping

    def has(self, name: str) -> bool:
        return name in self.reader.positions or name in self.mapping.constants

    def text(self, name: str) -> str:
        positions = self.reader.positions.get(name)
        if positions is None:
            return self.mapping.constants.get(name, "")
        return " ".join(self.fields[p].strip() for p in positions if p < len(self.fields)).strip()

    def column(self, name: str) -> str:
        return " + ".join(str(column) for column in self.mapping.columns.get(name, (name,)))

    def time(self, name: str) -> datetime | None:
        """The time in the column(s) of `name`; None when one of them is empty (a date column
        shared by every time, next to an empty "called at" column, means "not called")."""
        positions = self.reader.positions.get(name)
        if positions is not None and any(
            p >= len(self.fields) or not self.fields[p].strip() for p in positions
        ):
            return None
        text = self.text(name)
        if not text:
            return None
        value = parse_time(text, self.mapping.time_formats, self.reader.zone)
        if value is None:
            raise RowError(
                _("%(column)s: “%(value)s” is not a time in the mapping's format")
                % {"column": self.column(name), "value": text[:40]}
            )
        return value

    def seconds(self, name: str) -> int | None:
        text = self.text(name)
        if not text:
            return None
        value = parse_duration(text)
        if value is None:
            raise RowError(
                _("%(column)s: “%(value)s” is not a duration in seconds or minutes:seconds")
                % {"column": self.column(name), "value": text[:40]}
            )
        return value

    def translated(self, name: str, table: str) -> str:
        """The value of `name` through the mapping's table (the value itself when not listed)."""
        text = self.text(name)
        return self.mapping.tables.get(table, {}).get(text.casefold(), text)


class _Reader:
    def __init__(self, mapping: Mapping):
        self.mapping = mapping
        self.zone = ZoneInfo(mapping.timezone)
        self.positions: dict[str, tuple[int, ...]] = {}


def _guess_delimiter(line: str) -> str:
    counts = {d: line.count(d) for d in (";", ",", "\t", "|")}
    return max(counts, key=counts.get)


def read_rows(stream, mapping: Mapping) -> Iterator[MappedRow | tuple[int, str]]:
    """Yields a `MappedRow` per data line, or (line number, reason) for a line not even CSV.

    Raises FileRefused for a file that cannot be read (encoding, header without the columns).
    """
    encoding = "utf-8-sig" if codecs.lookup(mapping.encoding).name == "utf-8" else mapping.encoding
    text = io.TextIOWrapper(stream, encoding=encoding, newline="", errors="strict")
    reader = _Reader(mapping)
    try:
        first = text.readline()
        if not first.strip():
            raise FileRefused(_("The file is empty."))
        delimiter = mapping.delimiter or _guess_delimiter(first)
        rows = csv.reader(itertools.chain([first], text), delimiter=delimiter)
        if not mapping.header:
            reader.positions = {
                name: tuple(int(c) - 1 for c in columns)
                for name, columns in mapping.columns.items()
            }
        line = 0
        while True:
            start = line + 1
            try:
                fields = next(rows)
            except StopIteration:
                return
            except csv.Error as error:
                line = rows.line_num
                yield (start, _("the line is not valid CSV: %(detail)s") % {"detail": error})
                continue
            line = rows.line_num
            if not any(value.strip() for value in fields):
                continue
            if mapping.header and not reader.positions:
                names = [name.strip() for name in fields]
                reader.positions, missing = column_positions(mapping, names)
                if missing:
                    raise FileRefused(
                        _("The header line lacks the columns of the mapping: %(columns)s.")
                        % {"columns": ", ".join(missing)}
                    )
                continue
            yield MappedRow(reader, start, fields)
    except UnicodeDecodeError:
        raise FileRefused(
            _(
                "The file cannot be read as %(encoding)s. Give its encoding in the mapping, "
                "for example “encoding: cp1252” for an Excel export."
            )
            % {"encoding": mapping.encoding}
        ) from None
    finally:
        text.detach()


# --- The report ------------------------------------------------------------------------------


@dataclass
class ImportReport:
    """What an import did: rows read, created, updated, unchanged, rejected with reasons."""

    file_name: str = ""
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    cancelled: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)
    rejected_count: int = 0
    skipped_count: int = 0  # among the rejected: well formed, but not for this import
    error: str = ""

    def reject(self, line: int, reason: str) -> None:
        self.rejected_count += 1
        if isinstance(reason, Skipped):
            self.skipped_count += 1
        if len(self.rejected) < KEEP_REJECTED:
            self.rejected.append((line, str(reason)))

    @property
    def imported(self) -> bool:
        return not self.error

    @property
    def more_rejected(self) -> int:
        return self.rejected_count - len(self.rejected)

    @property
    def bad_count(self) -> int:
        return self.rejected_count - self.skipped_count

    def too_many_bad(self, share: float) -> bool:
        return self.rows > 0 and self.bad_count > share * self.rows

    def judge(self, share: float, empty: str) -> None:
        """At the end of the reading: refuses an empty file (`empty` says why) or one with
        more than `share` of its lines unreadable."""
        if not self.rows:
            self.error = empty
        elif self.too_many_bad(share):
            self.refuse_for_bad_lines(share)

    def nothing_written(self) -> None:
        """A refused file: the counts of what would have been written go back to zero."""
        self.created = self.updated = self.unchanged = self.cancelled = 0

    def refuse_for_bad_lines(self, share: float) -> None:
        self.error = _(
            "%(bad)s of %(rows)s lines cannot be read, more than the %(share)s %% allowed: "
            "nothing was imported. Correct the file or the mapping and import it again."
        ) % {"bad": self.bad_count, "rows": self.rows, "share": round(share * 100, 1)}

    def as_details(self) -> dict:
        return {
            "file": self.file_name,
            "rows": self.rows,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "cancelled": self.cancelled,
            "rejected": self.rejected_count,
            "error": self.error,
        }
