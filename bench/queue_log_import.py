"""Importing a large queue_log end to end into the database: lines per second, peak memory.

Run:
    .venv/bin/python bench/queue_log_import.py [--lines N] [--file PATH] [--keep-file PATH]
        [--databases sqlite,postgres] [--postgres-url URL] [--no-duckdb]

It writes N lines (10,000,000 by default) of a realistic queue_log with the test generator
(`reception.parsers.generate`: a town hall's weeks, 400 calls a day) — or reads --file — and
imports it with `reception.services.import_calls`, exactly as `qualicite import-calls`
does, into:

* a fresh SQLite database (WAL) in a temporary folder;
* a fresh PostgreSQL database (`--postgres-url`, by default
  postgres://postgres@127.0.0.1:5432/qualicite_bench_calls): the script creates it (it
  refuses one that already exists, so it never writes into a real one) and drops it.

Each import runs in a process of its own (its peak RSS is the import's, and that of the
parsing process it forks is read apart), after migrating the database and creating an
organisation with one site. Printed for each: wall seconds, lines per second, the CPU
seconds of the importing process, of the parsing child and, on PostgreSQL, of the server
process, the calls written (counted in the database afterwards) and the peak memory.

When `duckdb` is importable (in the `test` extra), the same file is read by DuckDB's
`read_csv(delim='|')` and grouped per call (bench/queue_log_parse.py), and the ratio of the
two times is printed. The target (issue 5): ≥ 500,000 lines/s end to end, ≤ 500 MB peak.
docs/performance.md, "Phone logs import", keeps the figures and explains them.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

TARGET_LINES_PER_SECOND = 500_000
TARGET_PEAK_MB = 500
DEFAULT_POSTGRES = "postgres://postgres@127.0.0.1:5432/qualicite_bench_calls"


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=10_000_000)
    parser.add_argument("--file", help="import this queue_log instead of generating one")
    parser.add_argument("--keep-file", help="write the generated file here and keep it")
    parser.add_argument("--databases", default="sqlite,postgres")
    parser.add_argument("--postgres-url", default=os.environ.get("BENCH_POSTGRES_URL", ""))
    parser.add_argument("--no-duckdb", action="store_true")
    parser.add_argument("--import-one", help=argparse.SUPPRESS)  # the child's mode
    return parser.parse_args()


# The child: one import, figures as a JSON line ------------------------------------------


def _process_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def import_one(path: str) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "qualicite.settings")
    os.environ["EMAIL_URL"] = "memory://"
    import datetime as dt

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from qualicite.core import services as core_services
    from qualicite.reception import services
    from qualicite.reception.models import Call

    call_command("migrate", verbosity=0)
    organisation = core_services.create_organisation(actor=None, name="Banc", slug="banc")
    site = core_services.create_site(
        organisation,
        actor=None,
        code="hdv",
        name="Hôtel de ville",
        opening_hours=[(day, dt.time(8, 30), dt.time(17, 30)) for day in range(5)],
    )
    server_pid = None
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            server_pid = cursor.fetchone()[0]
    server_before = _process_cpu(server_pid) if server_pid else 0.0
    began, cpu_began = time.perf_counter(), time.process_time()
    with open(path, "rb") as stream:
        call_import = services.import_calls(
            organisation,
            stream,
            actor=None,
            fmt="asterisk-queue-log",
            file_name=os.path.basename(path),
            site=site,
        )
    seconds = time.perf_counter() - began
    cpu = time.process_time() - cpu_began
    server_cpu = _process_cpu(server_pid) - server_before if server_pid else None
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    figures = {
        "database": connection.vendor,
        "status": call_import.status,
        "seconds": seconds,
        "cpu_seconds": cpu,
        "child_cpu_seconds": children.ru_utime + children.ru_stime,
        "server_cpu_seconds": server_cpu,
        "lines": call_import.lines_read,
        "calls_created": call_import.calls_created,
        "calls_in_database": Call.objects.filter(organisation=organisation).count(),
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "child_peak_mb": children.ru_maxrss / 1024,
    }
    print(json.dumps(figures))


# The parent: the file, the databases, the table -----------------------------------------


def _admin_url(url: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path="/postgres"))


def run_sqlite(path: str) -> dict:
    folder = tempfile.mkdtemp(prefix="qualicite-bench-calls-")
    env = {**os.environ, "QUALICITE_VAR_DIR": folder}
    env.pop("DATABASE_URL", None)
    try:
        return _child(path, env)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def run_postgres(path: str, url: str) -> dict:
    import psycopg

    name = urlsplit(url).path.lstrip("/")
    with psycopg.connect(_admin_url(url), autocommit=True) as admin:
        if admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            sys.exit(f"The database {name!r} exists already: give the bench a database of its own.")
        admin.execute(f'CREATE DATABASE "{name}"')
    folder = tempfile.mkdtemp(prefix="qualicite-bench-calls-")
    try:
        return _child(path, {**os.environ, "DATABASE_URL": url, "QUALICITE_VAR_DIR": folder})
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        with psycopg.connect(_admin_url(url), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _child(path: str, env: dict) -> dict:
    load = os.getloadavg()[0]
    done = subprocess.run(
        [sys.executable, __file__, "--import-one", path],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    figures["load_before"] = load
    return figures


def show(figures: dict) -> None:
    rate = figures["lines"] / figures["seconds"]
    verdict = "met" if rate >= TARGET_LINES_PER_SECOND else "MISSED"
    print(
        f"{figures['database']}: {figures['status']}, {figures['lines']:,} lines in "
        f"{figures['seconds']:.1f} s = {rate:,.0f} lines/s (target "
        f"{TARGET_LINES_PER_SECOND:,}: {verdict}); load average before: "
        f"{figures['load_before']:.1f}"
    )
    server = figures["server_cpu_seconds"]
    print(
        f"  CPU seconds: importing process {figures['cpu_seconds']:.1f}, parsing child "
        f"{figures['child_cpu_seconds']:.1f}"
        + (f", PostgreSQL server process {server:.1f}" if server is not None else "")
    )
    peak = max(figures["peak_mb"], figures["child_peak_mb"])
    print(
        f"  calls written: {figures['calls_created']:,} (in the database: "
        f"{figures['calls_in_database']:,})"
    )
    print(
        f"  peak RSS: importing process {figures['peak_mb']:.0f} MB, parsing child "
        f"{figures['child_peak_mb']:.0f} MB (target {TARGET_PEAK_MB} MB each: "
        f"{'met' if peak <= TARGET_PEAK_MB else 'MISSED'})"
    )


def main() -> None:
    args = parse_args()
    if args.import_one:
        import_one(args.import_one)
        return
    from qualicite.reception.parsers.generate import generate

    path = args.file or args.keep_file or tempfile.mktemp(prefix="queue_log-", suffix=".log")
    generated = not args.file
    try:
        if generated:
            began = time.perf_counter()
            with open(path, "wb") as out:
                stats = generate(out, lines=args.lines)
            print(
                f"generated {stats.lines:,} lines, {stats.calls:,} queue visits, "
                f"{os.path.getsize(path) / 2**20:,.0f} MiB in {time.perf_counter() - began:.0f} s"
            )
        results = []
        for database in args.databases.split(","):
            if database == "sqlite":
                results.append(run_sqlite(path))
            elif database == "postgres":
                results.append(run_postgres(path, args.postgres_url or DEFAULT_POSTGRES))
            else:
                sys.exit(f"unknown database {database!r}")
            show(results[-1])
        if args.no_duckdb:
            return
        from queue_log_parse import duckdb_figures

        duck = duckdb_figures(path)
        if duck is None:
            print("duckdb is not installed (pip install -e '.[test]'): no comparison")
            return
        lines = results[0]["lines"] if results else 0
        print(
            f"duckdb read_csv + group by call: {duck['seconds']:.1f} s "
            f"({lines / duck['seconds']:,.0f} lines/s), {duck['calls']:,} groups"
        )
        for figures in results:
            print(
                f"  {figures['database']} import / duckdb time ratio: "
                f"{figures['seconds'] / duck['seconds']:.1f}"
            )
    finally:
        if generated and not args.keep_file and os.path.exists(path):
            os.unlink(path)


if __name__ == "__main__":
    main()
