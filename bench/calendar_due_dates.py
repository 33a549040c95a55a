"""How fast the calendar computes due dates (every request of issue [2] needs one).

Run: .venv/bin/python bench/calendar_due_dates.py [N]
Prints the throughput of `add_days` and `count_days` over N random receipts
spread over 2025–2027, with a site's opening hours and a closure, and the
memory the process used.
"""

import datetime as dt
import random
import resource
import sys
import time
from zoneinfo import ZoneInfo

from qualicite.core.calendar import Calendar

PARIS = ZoneInfo("Europe/Paris")


def main(count: int) -> None:
    calendar = Calendar(
        holiday_region="57",
        opening_hours={
            day: [(dt.time(8, 30), dt.time(12)), (dt.time(13, 30), dt.time(17, 30))]
            for day in range(5)
        },
        closures=[(dt.date(2026, 5, 15), dt.date(2026, 5, 15))],
    )
    rng = random.Random(1)
    start = dt.datetime(2025, 1, 1, tzinfo=PARIS)
    receipts = [start + dt.timedelta(seconds=rng.randrange(3 * 365 * 86400)) for _ in range(count)]
    delays = [rng.choice((5, 15, 22)) for _ in range(count)]

    began = time.perf_counter()
    dues = [calendar.add_days(r, n) for r, n in zip(receipts, delays, strict=True)]
    add_seconds = time.perf_counter() - began

    began = time.perf_counter()
    counted = [calendar.count_days(r, d) for r, d in zip(receipts, dues, strict=True)]
    count_seconds = time.perf_counter() - began
    assert counted == delays

    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"receipts: {count}")
    print(f"add_days:   {count / add_seconds:,.0f} per second ({add_seconds:.2f} s)")
    print(f"count_days: {count / count_seconds:,.0f} per second ({count_seconds:.2f} s)")
    print(f"peak memory: {peak_mb:.0f} MB")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
