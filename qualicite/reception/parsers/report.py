"""What an import of a phone-system log found: counts, rejected lines and warnings.

An `ImportReport` is filled while a file is read and is complete once the calls have been
consumed. It distinguishes:

- **rejected** lines: malformed input (not UTF-8, too few fields, a bad timestamp, a number
  that is not a number, a truncated last line…). They count towards `bad_share`; when that
  share is above `max_bad_share` (5 % by default) the report says `too_many_bad` and the
  caller must import nothing.
- **warnings**: lines that are well formed but not used (an event this parser does not know,
  an event that arrives after its call ended, a call without its ENTERQUEUE line…). They do
  not count towards the bad share: a PBX may legitimately write custom events.
- a file-level **error** (`error`): the file is empty, does not look like the chosen format,
  or has too many bad lines. `importable` is False when there is one.

Only the first `keep` problems of each list are kept, with their line numbers; every problem
is counted (`rejected_count`, `warnings_count`, and per reason in `counts`).

Messages are English templates marked with `gettext_noop` so that `makemessages` extracts
them; `Problem.code` and `Problem.params` let a view translate them
(`gettext(MESSAGES[code]) % params`). This module needs neither Django nor its settings.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any


def gettext_noop(message: str) -> str:
    """Marks a message for translation without translating it (same name as Django's)."""
    return message


MESSAGES = {
    # Rejected lines.
    "not_utf8": gettext_noop("the line is not valid UTF-8"),
    "not_decodable": gettext_noop("the line cannot be decoded as %(encoding)s"),
    "too_long": gettext_noop("the line is longer than %(limit)s characters"),
    "truncated": gettext_noop("truncated last line (the file ends in the middle of a line)"),
    "too_few_fields": gettext_noop("%(found)s fields where at least %(expected)s are expected"),
    "bad_timestamp": gettext_noop("%(value)r is not a valid time"),
    "timestamp_out_of_range": gettext_noop("the time %(value)r is before 2000 or after 2100"),
    "out_of_order": gettext_noop(
        "the time %(value)s is more than a day before the latest time already read"
    ),
    "bad_number": gettext_noop("%(field)s: %(value)r is not a whole number of seconds"),
    "bad_csv": gettext_noop("the line is not valid CSV: %(detail)s"),
    "missing_value": gettext_noop("the column %(column)r is empty"),
    "unknown_outcome": gettext_noop("%(value)r is not one of the outcomes of the mapping"),
    "no_wait": gettext_noop("the wait cannot be computed (no wait column, no answer time)"),
    "negative_duration": gettext_noop("%(field)s is negative (%(value)s)"),
    # Warnings.
    "unknown_event": gettext_noop("unknown event %(event)r, line ignored"),
    "late_event": gettext_noop(
        "%(event)s for call %(call_id)s in queue %(queue)s arrives after the call ended, ignored"
    ),
    "no_enterqueue": gettext_noop(
        "no ENTERQUEUE line for call %(call_id)s in queue %(queue)s: "
        "its entry time is derived from its wait"
    ),
    "incomplete": gettext_noop(
        "call %(call_id)s entered queue %(queue)s but no end of call was found: "
        "counted as incomplete"
    ),
    "header": gettext_noop("header line"),
    # File-level errors.
    "empty": gettext_noop("the file is empty"),
    "wrong_format": gettext_noop(
        "this file does not look like %(format)s (first lines: %(first_lines)s)"
    ),
    "too_many_bad": gettext_noop(
        "%(bad)s of %(lines)s lines are malformed (%(share)s), more than the %(max_share)s "
        "allowed: nothing is imported"
    ),
    "missing_columns": gettext_noop("the header line lacks the columns %(columns)s"),
}

FORMAT_NAMES = {
    "asterisk-queue-log": gettext_noop("an Asterisk queue_log"),
    "wazo-queue-log-csv": gettext_noop("a Wazo/XiVO queue_log export (CSV)"),
    "asterisk-cdr-csv": gettext_noop("an Asterisk CDR file (Master.csv)"),
    "csv": gettext_noop("the CSV export described by the mapping"),
}


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem: its line number (None for the whole file), a code and its parameters."""

    line: int | None
    code: str
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def message(self) -> str:
        """The English message (translate `MESSAGES[code]` and apply `params` for French)."""
        template = MESSAGES.get(self.code, self.code)
        try:
            return template % self.params
        except (KeyError, TypeError, ValueError):
            return f"{template} {self.params}"

    def __str__(self) -> str:
        if self.line is None:
            return self.message
        return f"line {self.line}: {self.message}"

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "code": self.code, "params": self.params}


@dataclass
class ImportReport:
    """Counts and problems of one file; see the module docstring."""

    fmt: str
    max_bad_share: float = 0.05
    keep: int = 100
    lines_read: int = 0
    blank_lines: int = 0
    calls: int = 0
    calls_carried: int = 0
    ignored_lines: int = 0
    duplicates: int = 0
    rejected_count: int = 0
    warnings_count: int = 0
    truncated_last_line: bool = False
    rejected: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    counts: Counter = field(default_factory=Counter)
    error: Problem | None = None

    def reject(self, line: int | None, code: str, **params: Any) -> None:
        self.rejected_count += 1
        self.counts[code] += 1
        if len(self.rejected) < self.keep:
            self.rejected.append(Problem(line, code, params))

    def warn(self, line: int | None, code: str, **params: Any) -> None:
        self.warnings_count += 1
        self.counts[code] += 1
        if len(self.warnings) < self.keep:
            self.warnings.append(Problem(line, code, params))

    def fail(self, code: str, **params: Any) -> None:
        """Refuses the whole file (the first failure wins)."""
        if self.error is None:
            self.error = Problem(None, code, params)

    @property
    def data_lines(self) -> int:
        """Lines that are not blank."""
        return self.lines_read - self.blank_lines

    @property
    def bad_lines(self) -> int:
        """Rejected lines that count towards the bad share.

        A truncated last line does not: it is what a live log copied while being written looks
        like, and says nothing about the rest of the file.
        """
        return self.rejected_count - (1 if self.truncated_last_line else 0)

    @property
    def bad_share(self) -> float:
        return self.bad_lines / self.data_lines if self.data_lines else 0.0

    @property
    def too_many_bad(self) -> bool:
        return self.bad_share > self.max_bad_share

    @property
    def importable(self) -> bool:
        """True when the calls read may be saved: no file-level error."""
        return self.error is None

    def finish(self) -> None:
        """Called by the parser at the end of the file: turns the counts into a verdict."""
        if self.error is None and self.data_lines == 0:
            self.fail("empty")
        if self.error is None and self.too_many_bad:
            self.fail(
                "too_many_bad",
                bad=self.bad_lines,
                lines=self.data_lines,
                share=f"{self.bad_share:.1%}",
                max_share=f"{self.max_bad_share:.1%}",
            )

    def summary(self) -> str:
        """A few English lines for a command's output."""
        lines = [
            f"lines read: {self.lines_read}",
            f"calls: {self.calls}",
            f"calls still open (carried to the next file): {self.calls_carried}",
            f"lines rejected: {self.rejected_count}",
            f"warnings: {self.warnings_count}",
            f"duplicate lines ignored: {self.duplicates}",
        ]
        lines += [f"  rejected {problem}" for problem in self.rejected]
        lines += [f"  warning {problem}" for problem in self.warnings]
        if self.error is not None:
            lines.append(f"error: {self.error}")
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready form (for an import log)."""
        return {
            "format": self.fmt,
            "lines_read": self.lines_read,
            "blank_lines": self.blank_lines,
            "calls": self.calls,
            "calls_carried": self.calls_carried,
            "ignored_lines": self.ignored_lines,
            "duplicates": self.duplicates,
            "rejected_count": self.rejected_count,
            "warnings_count": self.warnings_count,
            "bad_share": self.bad_share,
            "max_bad_share": self.max_bad_share,
            "truncated_last_line": self.truncated_last_line,
            "rejected": [problem.as_dict() for problem in self.rejected],
            "warnings": [problem.as_dict() for problem in self.warnings],
            "counts": dict(self.counts),
            "error": self.error.as_dict() if self.error else None,
        }
