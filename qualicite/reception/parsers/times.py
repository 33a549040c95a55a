"""Timestamps as epoch seconds, read fast: no `datetime` per line.

Phone systems write either epoch seconds (Asterisk's queue_log) or a local or offset date and
time ("2012-07-03 15:27:23.896208", "…+00", "…+02:00", "…Z"). `Clock.parse` reads the second
kind by slicing, with the day's epoch and the zone's offset cached per day and hour, so a file
of millions of lines builds a handful of `datetime` objects. Times without an offset are read
in the clock's zone (UTC unless told); in the hour repeated when clocks go back the first
occurrence is taken.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

# Epoch seconds accepted from a log: 2000-01-01 to 2100-01-01.
MIN_TS = 946684800
MAX_TS = 4102444800

_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def zone(value: str | tzinfo | None) -> tzinfo:
    if value is None or value == "UTC":
        return UTC
    if isinstance(value, tzinfo):
        return value
    return ZoneInfo(value)


class Clock:
    """Turns the date and time texts of one source into epoch seconds (see module doc)."""

    def __init__(self, tz: str | tzinfo | None = None):
        self.tz = zone(tz)
        self.utc = self.tz is UTC
        self._days: dict[str, int] = {}
        self._offsets: dict[tuple[str, int], int] = {}

    def day(self, text: str) -> int:
        """Epoch seconds of 00:00 UTC on the ISO date `text` (ValueError if not a date)."""
        seconds = self._days.get(text)
        if seconds is None:
            if len(text) != 10:
                raise ValueError(text)
            seconds = (date.fromisoformat(text).toordinal() - _EPOCH_ORDINAL) * 86400
            if len(self._days) > 4096:
                self._days.clear()
            self._days[text] = seconds
        return seconds

    def offset(self, text: str, hour: int) -> int:
        """The zone's UTC offset in seconds at `hour` local time on the date `text`."""
        if self.utc:
            return 0
        key = (text, hour)
        seconds = self._offsets.get(key)
        if seconds is None:
            local = datetime.fromisoformat(text).replace(hour=hour, tzinfo=self.tz)
            seconds = int(local.utcoffset().total_seconds())
            if len(self._offsets) > 4096:
                self._offsets.clear()
            self._offsets[key] = seconds
        return seconds

    def parse(self, text: str) -> float | None:
        """Epoch seconds of "YYYY-MM-DD[ T]HH:MM[:SS[.ffffff]][Z|±HH[:MM]]", or None."""
        try:
            if len(text) < 16 or text[10] not in " T" or text[13] != ":":
                return None
            day = self.day(text[:10])
            hour = int(text[11:13])
            minute = int(text[14:16])
            rest = text[16:]
            offset = None
            if rest.endswith("Z"):
                rest, offset = rest[:-1], 0
            else:
                sign = max(rest.rfind("+"), rest.rfind("-"))
                if sign >= 0:
                    offset = _offset(rest[sign:])
                    rest = rest[:sign]
            seconds = 0.0
            if rest:
                if rest[0] != ":":
                    return None
                seconds = float(rest[1:])
                if not 0 <= seconds < 61 or math.isnan(seconds):
                    return None
            if not (0 <= hour < 24 and 0 <= minute < 60):
                return None
            if offset is None:
                offset = self.offset(text[:10], hour)
        except ValueError:
            return None
        value = day + hour * 3600 + minute * 60 + seconds - offset
        return int(value) if value.is_integer() else value

    def parse_datetime(self, value: datetime) -> float:
        if value.tzinfo is None:
            value = value.replace(tzinfo=self.tz)
        return value.timestamp()


def _offset(text: str) -> int:
    """Seconds of "+HH", "+HHMM" or "+HH:MM" (ValueError otherwise)."""
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    if len(digits) not in (2, 4) or not digits.isdigit():
        raise ValueError(text)
    hours = int(digits[:2])
    minutes = int(digits[2:] or 0)
    return sign * int(timedelta(hours=hours, minutes=minutes).total_seconds())


def epoch(text: str) -> float | None:
    """An epoch number ("1366720340", "1366720340.123"), or None."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        return None
    if math.isnan(value) or math.isinf(value):
        return None
    return value
