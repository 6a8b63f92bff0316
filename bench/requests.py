"""`python -m bench.requests`: ask 10,000 clients for their documents at once, then list what is outstanding.

Imports the clients with the real `davportal client import` (one contact each), then makes a
request from a template for every client of the matter type (`requests.for_matter_type`, what
`davportal request create --matter-type` runs), timed; more templates make more requests per
client (the issue's 50,000 requests for 10,000 clients: five). Then it times pages of the list of
everything outstanding (`requests.outstanding`, what `davportal request list` and the staff page
read): the first, a filtered one and a late one, each the median of several reads. SQLite, and
PostgreSQL when a URL is given (`--postgres URL` or DAVPORTAL_TEST_POSTGRES_URL), in the same run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path

import yaml
from sqlalchemy import event

from bench.provisioning import _database
from davportal.core.settings import settings_of
from davportal.services import requests as document_requests
from davportal.services.portal import Portal
from policy import Actor, Role

ACTOR = Actor("cli:bench", Role.STAFF, is_admin=True)
NOW = datetime(2026, 12, 1, 8, 0, tzinfo=timezone.utc)
ITEMS = [{"name": "P60 from your employer", "note": "Or P45, if you left a job during the year."},
         {"name": "Bank statements", "note": "Every account, the last three months.", "files": 3},
         {"name": "Interest and dividend statements"}, {"name": "Pension contributions"},
         {"name": "Charitable donations"}, {"name": "Rental income and expenses"},
         {"name": "Signed engagement letter"}]  # fmt: skip
PAGE = 50
READS = 9  # each page is read this many times; the median is reported


@dataclass
class Figures:
    database: str
    requests: int  # made by the timed run
    created_s: float  # the first template, for every client
    total_requests: int  # outstanding once every template ran
    first_ms: float
    filtered_ms: float
    late_ms: float
    statements: int  # per page (each of the three)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.requests", description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=10_000)
    parser.add_argument("--templates", type=int, default=5,
                        help="request templates run for every client; the first is timed (default 5)")  # fmt: skip
    parser.add_argument("--postgres", default=os.environ.get("DAVPORTAL_TEST_POSTGRES_URL"),
                        help="PostgreSQL URL to measure too (a schema of its own is made and dropped)")  # fmt: skip
    args = parser.parse_args(argv)
    rows = []
    for backend in ["sqlite", "postgresql"] if args.postgres else ["sqlite"]:
        workdir = Path(tempfile.mkdtemp(prefix="davportal-requests-"))
        try:
            with _database(backend, workdir, args.postgres) as url:
                _progress(f"{backend}: importing {args.clients:,} clients")
                rows.append(_run(backend, workdir, url, args.clients, max(1, args.templates)))
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
    _print(rows, args.clients)
    return 0


def _run(backend: str, workdir: Path, url: str, count: int, templates: int) -> Figures:
    types = workdir / "types.yaml"
    requests = {f"papers-{n}": {"title": f"Tax return papers {n}", "due_in_days": 20 + 10 * n,
                                "participants": ["client"], "items": ITEMS} for n in range(templates)}  # fmt: skip
    types.write_text(yaml.safe_dump({"matter_types": {"tax": {"name": "Annual tax return", "requests": requests}}}))
    config = {"davportal": {"database_url": url, "storage_root": str(workdir / "files"),
                            "matter_types_file": str(types)}}  # fmt: skip
    config_file = workdir / "davportal.yaml"
    config_file.write_text(yaml.safe_dump(config))
    csv = workdir / "clients.csv"
    csv.write_text("id,name,matter_type,contact_login,contact_email\n" + "".join(
        f"c{n:05},Client {n},tax,contact{n:05},contact{n:05}@example.com\n" for n in range(count)))  # fmt: skip
    davportal = Path(sys.executable).parent / "davportal"
    subprocess.run([str(davportal), "client", "import", str(csv), "--config", str(config_file)], check=True,
                   stdout=subprocess.DEVNULL)  # fmt: skip
    portal = Portal(settings_of(config))
    try:
        _progress(f"{backend}: a request from a template for each of the {count:,} clients")
        start = time.perf_counter()
        done = document_requests.for_matter_type(portal, "tax", "papers-0", actor=ACTOR, now=NOW)
        created = time.perf_counter() - start
        for n in range(1, templates):
            _progress(f"{backend}: template {n + 1} of {templates}")
            document_requests.for_matter_type(portal, "tax", f"papers-{n}", actor=ACTOR, now=NOW)
        _progress(f"{backend}: pages of the outstanding list")
        with portal.engine.begin() as connection:
            # The planner's statistics after a bulk load, as PostgreSQL's autovacuum would gather them.
            connection.exec_driver_sql("ANALYZE")
        with portal.sessions() as session:
            total = document_requests.count_outstanding(session)
            pages = {
                "first": {},
                "filtered": {"client": "client 12", "overdue_on": date(2027, 1, 1)},
                "late": {"offset": max(0, total - PAGE)},
            }
            timings, statements = {}, set()
            for name, filters in pages.items():
                timings[name], counted = _page(portal, session, filters)
                statements.add(counted)
    finally:
        portal.engine.dispose()
    return Figures(backend, len(done.made), created, total, timings["first"], timings["filtered"], timings["late"],
                   max(statements))  # fmt: skip


def _page(portal: Portal, session, filters: dict) -> tuple[float, int]:
    """The median time of a page of the outstanding list, in ms, and the statements one read runs."""
    statements: list[str] = []

    def count(*args) -> None:
        statements.append(args[2])

    times = []
    for n in range(READS):
        if n == READS - 1:
            event.listen(portal.engine, "before_cursor_execute", count)
        start = time.perf_counter()
        rows = document_requests.outstanding(session, limit=PAGE, **filters)
        times.append((time.perf_counter() - start) * 1000)
        assert rows, f"an empty page: {filters}"
    event.remove(portal.engine, "before_cursor_execute", count)
    return statistics.median(times), len(statements)


def _print(rows: list[Figures], clients: int) -> None:
    headers = ["database", f"requests for {clients:,} clients", "per client", "outstanding",
               f"first page ({PAGE})", "filtered page", "late page", "statements a page"]  # fmt: skip
    cells = [[row.database, f"{row.created_s:.1f} s", f"{row.created_s / max(row.requests, 1) * 1000:.2f} ms",
              f"{row.total_requests:,}", f"{row.first_ms:.1f} ms", f"{row.filtered_ms:.1f} ms",
              f"{row.late_ms:.1f} ms", str(row.statements)] for row in rows]  # fmt: skip
    widths = [max(len(cell) for cell in column) for column in zip(headers, *cells)]
    print(f"Document requests: one template for every client (timed), then pages of the outstanding list "
          f"(median of {READS} reads)")  # fmt: skip
    for row in (headers, *cells):
        print("  ".join([row[0].ljust(widths[0]), *(cell.rjust(w) for cell, w in zip(row[1:], widths[1:]))]))


def _progress(message: str) -> None:
    # Progress on stderr: stdout carries only the table.
    print(f"bench: {message}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
