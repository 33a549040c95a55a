"""How fast the queue_log parser reads a large file, and in how much memory.

Run: .venv/bin/python bench/queue_log_parse.py [N] [--calls-per-day C] [--keep FILE]
Writes N lines (10,000,000 by default) of a realistic queue_log (the test generator: a town
hall's week, 400 calls a day by default) into a temporary file, then parses it in a fresh
process so that its peak memory is the parser's own, and prints lines per second, calls per
second (of wall time and of CPU time: on a busy machine the first suffers) and the peak
RSS. When `duckdb` is importable (it is not a dependency: install it by
hand to compare), the same file is also read by DuckDB's `read_csv(delim='|')` and grouped per
call (first and last event per call id and queue), and the ratio is printed.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from qualicite.reception.parsers import parse  # noqa: E402
from qualicite.reception.parsers.generate import generate  # noqa: E402


def parse_only(path: str) -> None:
    """In the child process: parse, print a JSON line of figures."""
    began, cpu_began = time.perf_counter(), time.process_time()
    calls = 0
    with open(path, "rb") as file:
        result = parse(file, "asterisk-queue-log")
        for _call in result:
            calls += 1
    seconds = time.perf_counter() - began
    cpu_seconds = time.process_time() - cpu_began
    report = result.report
    print(
        json.dumps(
            {
                "seconds": seconds,
                "cpu_seconds": cpu_seconds,
                "lines": report.lines_read,
                "calls": calls,
                "carried": len(result.carried),
                "rejected": report.rejected_count,
                "warnings": report.warnings_count,
                "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )
    )


def duckdb_figures(path: str) -> dict | None:
    try:
        import duckdb
    except ImportError:
        return None
    columns = {f"c{i}": "VARCHAR" for i in range(10)}
    began = time.perf_counter()
    connection = duckdb.connect()
    row = connection.execute(
        f"""
        select count(*), sum(n) from (
            select c1, c2, min(c0::BIGINT) as first_at, max(c0::BIGINT) as last_at,
                   arg_max(c4, c0::BIGINT) as last_event, count(*) as n
            from read_csv('{path}', delim='|', header=false, columns={columns},
                          null_padding=true, quote='', escape='', ignore_errors=true)
            where c1 not in ('NONE', 'MANAGER')
            group by c1, c2
        )
        """
    ).fetchone()
    return {"seconds": time.perf_counter() - began, "calls": row[0], "call_lines": row[1]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("lines", nargs="?", type=int, default=10_000_000)
    parser.add_argument("--calls-per-day", type=int, default=400)
    parser.add_argument("--keep", help="write the generated file here and keep it")
    parser.add_argument("--parse", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.parse:
        parse_only(args.parse)
        return
    path = args.keep or tempfile.mktemp(prefix="qualicite-queue-log-", suffix=".log")
    try:
        began = time.perf_counter()
        with open(path, "wb") as out:
            stats = generate(out, lines=args.lines, calls_per_day=args.calls_per_day)
        size = os.path.getsize(path)
        print(
            f"generated {stats.lines:,} lines, {stats.calls:,} queue visits, "
            f"{size / 2**20:,.0f} MiB in {time.perf_counter() - began:.1f} s"
        )
        load = os.getloadavg()[0]
        child = subprocess.run(
            [sys.executable, __file__, "--parse", path],
            check=True,
            capture_output=True,
            text=True,
        )
        figures = json.loads(child.stdout.strip().splitlines()[-1])
        rate = figures["lines"] / figures["seconds"]
        cpu_rate = figures["lines"] / figures["cpu_seconds"]
        print(
            f"parsed {figures['lines']:,} lines in {figures['seconds']:.1f} s "
            f"({figures['cpu_seconds']:.1f} s of CPU; load average before: {load:.1f})"
        )
        print(f"  {rate:,.0f} lines per second ({cpu_rate:,.0f} per CPU second)")
        print(f"  {figures['calls'] / figures['seconds']:,.0f} calls per second")
        print(
            f"  calls: {figures['calls']:,}, left open: {figures['carried']:,}, "
            f"rejected lines: {figures['rejected']}, warnings: {figures['warnings']}"
        )
        print(f"  peak memory of the parsing process: {figures['peak_mb']:.0f} MB")
        duck = duckdb_figures(path)
        if duck is None:
            print("duckdb is not installed: no comparison")
        else:
            print(
                f"duckdb read_csv + group by call: {duck['seconds']:.1f} s "
                f"({figures['lines'] / duck['seconds']:,.0f} lines/s), {duck['calls']:,} groups; "
                f"parser / duckdb time ratio: {figures['seconds'] / duck['seconds']:.1f}"
            )
    finally:
        if not args.keep and os.path.exists(path):
            os.unlink(path)


if __name__ == "__main__":
    main()
