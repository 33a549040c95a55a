"""Writing an import's calls: a staging table, then a few set-based statements per batch.

`CallWriter` is the bulk writer of `services.import_calls`. The parsers' calls arrive by the
million; what is done per call in Python is kept to one tuple and one lookup, and the rest
is left to the database, batch by batch (`BATCH` calls):

1. the queue of each call gives its site (the queue mapping's, or the import's), and the
   site's opening spans of the batch's days, merged into one sorted list of boundaries,
   tell with one `bisect` whether the call came in while the site was closed;
2. the rows go into a temporary table as they are (COPY on PostgreSQL, executemany on
   SQLite): epoch times, queue names;
3. the rows this file completes (written before as unfinished) are updated, when the
   batch's time range can meet an existing call at all;
4. the rows that entered after every call already there (`fresh_above`) are inserted
   with a plain INSERT; the others with INSERT … ON CONFLICT DO NOTHING on the call's key,
   split between the visits the previous file carried (counted as completed) and the new.

The `reception_call` table carries no foreign-key constraints (ADR 0002): with them the
checks cost PostgreSQL more than the rows themselves.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from operator import itemgetter

from django.db import IntegrityError, connection, transaction
from django.db.models import Max, Min

from qualicite.core.models import Organisation
from qualicite.reception import parsers, queries
from qualicite.reception.models import Call, CallImport, QueueMapping
from qualicite.reception.parsers.calls import ENTER, SEP

# Calls written per statement.
BATCH = 10_000
# SQLite's page cache during an import (KiB).
SQLITE_CACHE_KIB = 64 << 10

STAGING = "reception_call_staging"
CARRIED = "reception_call_carried"
# The staging table: the first eleven fields of the parsers' CallRecord, and whether the call
# came in while its site was closed.
STAGED = (*parsers.CallRecord._fields[:11], "outside_hours")
# Copied from the staging table into a new Call row, or into a row this file completes.
CALL_DATA = ("wait_seconds", "outcome", "agent", "talk_seconds", "transfers", "ring_no_answer")
# A row whose end is unknown: no end event (incomplete), or answered with no end line.
UNFINISHED = (
    "({t}.outcome = 'incomplete' OR ({t}.outcome = 'answered' AND {t}.talk_seconds IS NULL))"
)
# Complete visits first: a key staged twice keeps its finished version.
ON_CONFLICT = (
    f"ORDER BY CASE WHEN {UNFINISHED.format(t='s')} THEN 1 ELSE 0 END "
    "ON CONFLICT (organisation_id, call_id, queue, entered_at) DO NOTHING"
)


def _sqlite_utc(ts):
    """SQLite function for the instants that are not whole seconds (Wazo, CSV): Django's text."""
    if ts is None:
        return None
    return str(datetime.fromtimestamp(ts, UTC).replace(tzinfo=None))


def merged_bounds(spans: Iterable[tuple[float, float]]) -> list[float]:
    """Opening spans as a sorted list [opens, closes, opens, closes, …] of disjoint spans.

    An instant is inside a span when `bisect_right(bounds, ts)` is odd: the same answer as
    "in any of the spans" (`LocalHours.closed`), even for spans that touch or overlap.
    """
    bounds: list[float] = []
    for opens, closes in sorted(spans):
        if closes <= opens:
            continue
        if bounds and opens <= bounds[-1]:
            bounds[-1] = max(bounds[-1], closes)
        else:
            bounds += [opens, closes]
    return bounds


class CallWriter:
    """Stages the parsers' calls in batches and merges them into `reception_call`.

    Counts what it did (`created`, `completed`, `unchanged`) and the local days touched.
    """

    def __init__(self, organisation: Organisation, call_import: CallImport, carried):
        self.organisation = organisation
        self.call_import = call_import
        self.hours = queries.LocalHours(organisation)
        self.postgres = connection.vendor == "postgresql"
        self.rows: list = []
        self.created = self.completed = self.unchanged = 0
        self.days: set[date] = set()
        # queue -> site whose hours apply (the mapping's, else the import's; None: no site)
        self.site_of_queue: dict[str, int | None] = {
            queue: site_id or call_import.site_id
            for queue, site_id in QueueMapping.objects.filter(
                organisation=organisation
            ).values_list("queue", "site_id")
        }
        self.new_queues: list[str] = []
        # Existing calls of the organisation: a batch outside their range cannot meet one.
        bounds = Call.objects.filter(organisation=organisation).aggregate(
            low=Min("entered_at"), high=Max("entered_at")
        )
        self.existing = None
        if bounds["low"] is not None:
            self.existing = (bounds["low"].timestamp(), bounds["high"].timestamp())
        carried_visits = []
        for key, queued in carried.open.items() if carried is not None else ():
            call_id, _sep, queue = key.partition(SEP)
            entries = [event[0] for event in queued if event[1] == ENTER] or [None]
            carried_visits += [(call_id, queue, entry) for entry in entries]
        self.has_carried = bool(carried_visits)
        # Above this time no staged call can meet a row already there: every call of the
        # organisation, every carried visit and every call staged so far entered before it.
        # The rows above it are inserted as they are, without the cost of ON CONFLICT.
        self.fresh_above = max(
            [self.existing[1] if self.existing else -1e18]
            + [entry for _call, _queue, entry in carried_visits if entry is not None]
        )
        number = "double precision" if self.postgres else ""
        with connection.cursor() as cursor:
            self.cache_size = None
            if not self.postgres:
                connection.connection.create_function(
                    "qualicite_utc", 1, _sqlite_utc, deterministic=True
                )
                # The calls' indexes outgrow SQLite's 2 MiB page cache after a few hundred
                # thousand calls; a larger one, for the import only, saves re-reading them.
                cursor.execute("PRAGMA cache_size")
                self.cache_size = cursor.fetchone()[0]
                cursor.execute(f"PRAGMA cache_size = {-SQLITE_CACHE_KIB}")
            for table in (STAGING, CARRIED):
                cursor.execute(f"DROP TABLE IF EXISTS {table}")
            if self.postgres:
                kinds = dict.fromkeys(STAGED, "text")
                kinds.update(dict.fromkeys(("entered_ts", "ended_ts"), number))
                kinds.update(
                    dict.fromkeys(
                        ("wait_seconds", "talk_seconds", "transfers", "ring_no_answer"), "integer"
                    )
                )
                kinds["outside_hours"] = "boolean"
            else:
                kinds = dict.fromkeys(STAGED, "")  # no affinity: values kept as given
            columns = ", ".join(f"{name} {kinds[name]}" for name in STAGED)
            cursor.execute(f"CREATE TEMPORARY TABLE {STAGING} ({columns})")
            cursor.execute(
                f"CREATE TEMPORARY TABLE {CARRIED} (call_id text, queue text, entered_ts {number})"
            )
            if carried_visits:
                cursor.executemany(f"INSERT INTO {CARRIED} VALUES (%s, %s, %s)", carried_visits)

    def instant(self, column: str) -> str:
        """SQL giving the stored instant of an epoch column of the staging table."""
        if self.postgres:
            return f"to_timestamp({column})"
        return (
            f"CASE typeof({column}) WHEN 'integer' THEN datetime({column}, 'unixepoch') "
            f"ELSE qualicite_utc({column}) END"
        )

    def add(self, records: Iterable[parsers.CallRecord]) -> None:
        """Takes calls to write: one by one from an iterable, or a whole list at once (the
        batches of a parsing process: no Python loop per call here)."""
        rows = self.rows
        if records.__class__ is list:
            rows += records
            if len(rows) >= BATCH:
                self.flush()
            return
        append = rows.append
        batch = BATCH
        for record in records:
            append(record)
            if len(rows) >= batch:
                self.flush()

    def _bounds_of_queue(self, queue: str, bounds_of_site: dict, days) -> list[float] | None:
        """The opening bounds of the batch's `days` that apply to a queue; a queue seen for
        the first time gets its mapping (the import's site, no service yet)."""
        if queue not in self.site_of_queue:
            mapping, created = QueueMapping.objects.get_or_create(
                organisation=self.organisation, queue=queue
            )
            self.site_of_queue[queue] = mapping.site_id or self.call_import.site_id
            if created:
                self.new_queues.append(queue)
        site_id = self.site_of_queue[queue]
        if site_id is None:
            return None
        if site_id not in bounds_of_site:
            first, last = days
            spans = []
            while first <= last:
                spans += self.hours.spans(site_id, first)
                first += timedelta(days=1)
            bounds_of_site[site_id] = merged_bounds(spans)
        return bounds_of_site[site_id]

    def _staged_rows(self, low: float, high: float) -> list[tuple]:
        """The batch's rows for the staging table, each with its "outside hours" flag."""
        days = (self.hours.day(low), self.hours.day(high))
        bounds_of_site: dict[int, list[float]] = {}
        bounds_of = {
            queue: self._bounds_of_queue(queue, bounds_of_site, days)
            for queue in self.site_of_queue
        }
        staged = []
        append = staged.append
        get = bounds_of.get
        unknown = staged  # any object that is not a list of bounds, nor None
        for row in self.rows:
            bounds = get(row[1], unknown)
            if bounds is unknown:
                bounds = bounds_of[row[1]] = self._bounds_of_queue(row[1], bounds_of_site, days)
            if bounds is None:
                append(row[:11] + (False,))
            else:
                append(row[:11] + (not bisect_right(bounds, row[2]) & 1,))
        return staged

    def _stage(self, cursor, rows: list[tuple]) -> None:
        if self.postgres:
            with cursor.cursor.copy(f"COPY {STAGING} FROM STDIN") as copy:
                write = copy.write_row
                for row in rows:
                    write(row)
        else:
            marks = ", ".join("?" * len(STAGED))
            cursor.cursor.executemany(f"INSERT INTO {STAGING} VALUES ({marks})", rows)

    @property
    def mapping_join(self) -> str:
        return (
            "LEFT JOIN reception_queuemapping AS m ON m.organisation_id = %s AND m.queue = s.queue"
        )

    def flush(self) -> None:
        if not self.rows:
            return
        staged = len(self.rows)
        organisation_id = self.organisation.pk
        import_id = self.call_import.pk
        entered = self.instant("s.entered_ts")
        key = (
            "c.organisation_id = %s AND c.call_id = s.call_id AND c.queue = s.queue "
            f"AND c.entered_at = {entered}"
        )
        entries = list(map(itemgetter(2), self.rows))
        low, high = min(entries), max(entries)
        del entries
        rows = self._staged_rows(low, high)
        self.rows.clear()
        with connection.cursor() as cursor:
            self._stage(cursor, rows)
            del rows
            completed = 0
            if self.existing is not None and low <= self.existing[1] and high >= self.existing[0]:
                # The rows this file completes: written as unfinished, now finished.
                updates = ", ".join(f"{name} = s.{name}" for name in CALL_DATA)
                cursor.execute(
                    f"UPDATE reception_call AS c SET {updates}, call_import_id = %s, "
                    f"ended_at = {self.instant('s.ended_ts')}, "
                    "caller = CASE WHEN s.caller <> '' THEN s.caller ELSE c.caller END "
                    f"FROM {STAGING} AS s WHERE {key} AND {UNFINISHED.format(t='c')} "
                    f"AND NOT {UNFINISHED.format(t='s')}",
                    [import_id, organisation_id],
                )
                completed = cursor.rowcount
            default_site = int(self.call_import.site_id) if self.call_import.site_id else "NULL"
            columns = ", ".join(CALL_DATA)
            columns += ", organisation_id, call_id, queue, entered_at, ended_at, caller, "
            columns += "service_id, site_id, counted, outside_hours, is_test, call_import_id"
            values = ", ".join(f"s.{name}" for name in CALL_DATA)
            values += f", %s, s.call_id, s.queue, {entered}, {self.instant('s.ended_ts')}, "
            values += f"s.caller, m.service_id, COALESCE(m.site_id, {default_site}), "
            values += "COALESCE(m.counted, TRUE), s.outside_hours, FALSE, %s"
            params = [organisation_id, import_id, organisation_id]
            was_carried = (
                f"EXISTS (SELECT 1 FROM {CARRIED} AS k WHERE k.call_id = s.call_id AND "
                "k.queue = s.queue AND (k.entered_ts IS NULL OR k.entered_ts = s.entered_ts))"
            )
            insert = f"INSERT INTO reception_call ({columns}) SELECT {values} "
            insert += f"FROM {STAGING} AS s {self.mapping_join} WHERE "
            fresh = 0
            if high > self.fresh_above:
                where = f"s.entered_ts > {self.fresh_above!r}"
                if self.has_carried:
                    where += f" AND NOT {was_carried}"
                fresh = self._insert_fresh(cursor, f"{insert} {where}", params)
            inserted = {False: fresh, True: 0}
            older = (False, True) if self.has_carried else (None,)
            for carried in older if low <= self.fresh_above else ():
                where = f"s.entered_ts <= {self.fresh_above!r}"
                if carried is not None:
                    where += f" AND {'' if carried else 'NOT '}{was_carried}"
                cursor.execute(f"{insert} {where} {ON_CONFLICT}", params)
                inserted[bool(carried)] += cursor.rowcount
            self.fresh_above = max(self.fresh_above, high)
            written = completed + inserted[False] + inserted[True]
            bucket = (
                "floor(s.entered_ts / 900)::bigint"
                if self.postgres
                else "CAST(s.entered_ts AS INTEGER) / 900"
            )
            if written == staged:
                cursor.execute(f"SELECT DISTINCT {bucket} FROM {STAGING} AS s")
            elif written:
                cursor.execute(
                    f"SELECT DISTINCT {bucket} FROM {STAGING} AS s JOIN reception_call AS c "
                    f"ON {key} WHERE c.call_import_id = %s",
                    [organisation_id, import_id],
                )
            if written:
                self.days.update(self.hours.day(row[0] * 900) for row in cursor.fetchall())
            cursor.execute(f"{'TRUNCATE' if self.postgres else 'DELETE FROM'} {STAGING}")
        self.created += inserted[False]
        self.completed += completed + inserted[True]
        self.unchanged += staged - written

    @staticmethod
    def _insert_fresh(cursor, insert: str, params: list) -> int:
        """Runs `insert`, of staged calls that entered after `fresh_above`: they cannot meet
        a row already there, so a plain INSERT does (ON CONFLICT costs PostgreSQL a third
        more per row). Two copies of one call in a batch would still meet: the unique key
        refuses them, the savepoint is rolled back and ON CONFLICT sorts them out."""
        try:
            with transaction.atomic():
                cursor.execute(insert, params)
        except IntegrityError:
            cursor.execute(f"{insert} {ON_CONFLICT}", params)
        return cursor.rowcount

    def close(self) -> None:
        self.flush()
        with connection.cursor() as cursor:
            for table in (STAGING, CARRIED):
                cursor.execute(f"DROP TABLE IF EXISTS {table}")
            if self.cache_size is not None:
                cursor.execute(f"PRAGMA cache_size = {int(self.cache_size)}")
