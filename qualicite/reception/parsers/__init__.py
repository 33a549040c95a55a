"""Streaming parsers of phone-system logs: bytes in, `CallRecord`s and a report out.

No database and no Django settings: the import service of the reception app drives them.
Usage::

    from qualicite.reception.parsers import parse

    with open(path, "rb") as file:
        result = parse(file, "asterisk-queue-log", carried=previous_state)
        for call in result:            # CallRecords, yielded as the calls end
            save(call)
    if not result.report.importable:   # empty, wrong format, or too many bad lines
        roll back; show result.report.error
    else: keep result.carried          # the calls still open, for the next file

A `CallRecord` is a named tuple; its times are epoch numbers (`entered_ts`, `ended_ts`) with
`entered_at` / `ended_at` properties giving aware UTC datetimes, so that a bulk writer can
skip building two datetimes per call.

Speed: the Asterisk queue_log's reading loop and the assembly of its calls have a compiled
fast path (`_fastpath.c`, built by `pip install` when a C compiler is there) for their common
case; `fastpath_active()` says whether a parse started now uses it, and the environment
variable QUALICITE_PURE_PARSERS=1, read at each parse, keeps it all in Python. Both give the
same calls, reports and carried states.

Formats (`FORMATS`): "asterisk-queue-log" (queue_log.py), "wazo-queue-log-csv"
(queue_log.py), "asterisk-cdr-csv" (cdr.py) and "csv" with a YAML `mapping`
(mapped_csv.py). Memory stays bounded by the calls open at once whatever the file's size;
the verdict on the file (`report.error`, `report.too_many_bad`) is known only once every call
has been consumed, so the caller saves the calls in a transaction and rolls it back when the
report is not importable: an import is whole or nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import tzinfo
from itertools import islice
from typing import Any

from qualicite.reception.parsers.calls import (
    Assembler,
    CallRecord,
    CarriedState,
    Outcome,
    fastpath_active,
)
from qualicite.reception.parsers.cdr import read_cdr
from qualicite.reception.parsers.lines import LineReader, Source
from qualicite.reception.parsers.mapped_csv import Mapping, MappingError, load_mapping, read_mapped
from qualicite.reception.parsers.queue_log import read_asterisk, read_wazo
from qualicite.reception.parsers.report import ImportReport, Problem
from qualicite.reception.parsers.times import Clock

FORMATS = ("asterisk-queue-log", "wazo-queue-log-csv", "asterisk-cdr-csv", "csv")

__all__ = [
    "FORMATS",
    "CallRecord",
    "CarriedState",
    "ImportReport",
    "Mapping",
    "MappingError",
    "Outcome",
    "ParseResult",
    "Problem",
    "fastpath_active",
    "load_mapping",
    "parse",
]


class ParseResult:
    """Iterate over it for the calls; then read `report` and `carried`.

    Iterating a second time yields nothing. `carried` is available once the calls have been
    consumed (None for the CSV formats, whose rows are whole calls).
    """

    def __init__(self, batches: Iterator[list[CallRecord]], report: ImportReport):
        self._batches = batches
        self.report = report
        self._carried: CarriedState | None = None
        self._done = False
        self._assembler: Assembler | None = None

    def __iter__(self) -> Iterator[CallRecord]:
        for batch in self._batches:
            yield from batch
        self._done = True

    def batches(self) -> Iterator[list[CallRecord]]:
        """The calls in lists, as the parser assembles them (no generator step per call)."""
        yield from self._batches
        self._done = True

    @property
    def done(self) -> bool:
        return self._done

    @property
    def open_calls(self) -> int:
        """How many calls are open right now (entered, not ended): what the memory holds."""
        return len(self._assembler.open) if self._assembler is not None else 0

    @property
    def carried(self) -> CarriedState | None:
        if not self._done:
            raise RuntimeError("consume the calls before asking for the carried state")
        return self._carried

    def all(self) -> list[CallRecord]:
        """Every call as a list (tests and small files: this holds them all in memory)."""
        return list(self)


def parse(
    source: Source,
    fmt: str,
    *,
    mapping: Mapping | str | dict[str, Any] | None = None,
    carried: CarriedState | dict[str, Any] | None = None,
    max_bad_share: float = 0.05,
    timezone: str | tzinfo | None = None,
    keep: int = 100,
    reorder_seconds: float = 60,
    reorder_lines: int = 256,
    max_open_seconds: float = 86400,
) -> ParseResult:
    """Parses `source` (binary file, bytes, or iterable of bytes) in format `fmt`.

    - `mapping`: for "csv", a `Mapping`, its YAML text or a dict (`load_mapping`).
    - `carried`: the `CarriedState` (or its `to_json()`) of the previous file of the same PBX.
    - `max_bad_share`: above this share of malformed lines the report refuses the file.
    - `timezone`: zone of times written without an offset (Wazo, CDR); UTC by default.
    - `keep`: how many rejected lines and warnings the report keeps (all are counted).
    - `reorder_seconds`, `reorder_lines`: how far a line may arrive out of order.
    - `max_open_seconds`: an open call with no event for this long is closed incomplete.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    report = ImportReport(fmt=fmt, max_bad_share=max_bad_share, keep=keep)
    clock = Clock(timezone)
    if fmt == "csv":
        if mapping is None:
            raise ValueError("the csv format needs a mapping")
        if not isinstance(mapping, Mapping):
            mapping = load_mapping(mapping)
        reader = LineReader(source, encoding=mapping.encoding)
        result = ParseResult(iter(()), report)
        result._batches = _finishing(_lists(read_mapped(reader, report, mapping)), result, None)
        return result
    reader = LineReader(source)
    if fmt == "asterisk-cdr-csv":
        result = ParseResult(iter(()), report)
        calls = read_cdr(
            reader, report, clock, reorder_seconds=reorder_seconds, reorder_lines=reorder_lines
        )
        result._batches = _finishing(_lists(calls), result, None)
        return result
    if isinstance(carried, dict):
        carried = CarriedState.from_json(carried)
    assembler = Assembler(
        report,
        carried,
        reorder_seconds=reorder_seconds,
        reorder_lines=reorder_lines,
        max_open_seconds=max_open_seconds,
    )
    read = read_asterisk if fmt == "asterisk-queue-log" else read_wazo
    result = ParseResult(iter(()), report)
    result._assembler = assembler
    result._batches = _finishing(read(reader, report, assembler, clock), result, assembler)
    return result


def _lists(calls: Iterator[CallRecord], size: int = 1000) -> Iterator[list[CallRecord]]:
    """The calls of a reader that yields them one by one, in lists."""
    while batch := list(islice(calls, size)):
        yield batch


def _finishing(
    batches: Iterator[list[CallRecord]], result: ParseResult, assembler: Assembler | None
) -> Iterator[list[CallRecord]]:
    report = result.report
    yield from batches
    if assembler is not None:
        if report.error is not None and report.error.code in ("wrong_format", "missing_columns"):
            result._carried = CarriedState(
                open=assembler.open, closed=assembler.closed, high_water=assembler.high_water
            )
        else:
            records, result._carried = assembler.finish()
            yield records
    report.finish()
