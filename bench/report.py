"""The results: a table for people (rich on a terminal, plain text in a log) and JSON for tools."""

from __future__ import annotations

import json
import os
import platform
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Column, Table

from bench.load import Result

HEADERS = ("Workload", "WsgiDAV req/s", "portal req/s", "portal/plain", "WsgiDAV p50/p99 ms", "portal p50/p99 ms")


def ratios(results: list[Result]) -> dict[str, float]:
    """Portal req/s over plain WsgiDAV req/s, per workload: below 1 means the portal is slower."""
    rps = {(r.workload, r.server): r.rps for r in results}
    workloads = dict.fromkeys(r.workload for r in results)
    return {w: round(rps[w, "portal"] / rps[w, "wsgidav"], 2) for w in workloads}


def print_table(results: list[Result], peak_rss_kib: dict[str, int]) -> None:
    rows = _rows(results)
    rss = f"Peak RSS: WsgiDAV {peak_rss_kib['wsgidav']:,} KiB, portal {peak_rss_kib['portal']:,} KiB"
    if sys.stdout.isatty():
        table = Table(HEADERS[0], *(Column(h, justify="right") for h in HEADERS[1:]))
        for row in rows:
            table.add_row(*row)
        console = Console()
        console.print(table)
        console.print(rss, highlight=False)
    else:
        widths = [max(len(cell) for cell in column) for column in zip(HEADERS, *rows)]
        for row in (HEADERS, *rows):
            cells = [row[0].ljust(widths[0]), *(cell.rjust(w) for cell, w in zip(row[1:], widths[1:]))]
            print("  ".join(cells))
        print(rss)


def write_json(path: Path, results: list[Result], peak_rss_kib: dict[str, int]) -> None:
    document = {
        "machine": {
            "nproc": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "results": [
            {
                "workload": r.workload,
                "server": r.server,
                "requests": r.requests,
                "rps": round(r.rps, 2),
                "p50_ms": round(r.percentile_ms(50), 2),
                "p99_ms": round(r.percentile_ms(99), 2),
            }
            for r in results
        ],
        "ratios": ratios(results),
        "peak_rss_kib": peak_rss_kib,
    }
    path.write_text(json.dumps(document, indent=2) + "\n")


def _rows(results: list[Result]) -> list[tuple[str, ...]]:
    by_key = {(r.workload, r.server): r for r in results}
    rows = []
    for workload, ratio in ratios(results).items():
        plain, portal = by_key[workload, "wsgidav"], by_key[workload, "portal"]
        rows.append((
            workload,
            f"{plain.rps:,.1f}",
            f"{portal.rps:,.1f}",
            f"{ratio:.2f}",
            _latency(plain),
            _latency(portal),
        ))  # fmt: skip
    return rows


def _latency(result: Result) -> str:
    return f"{result.percentile_ms(50):.1f} / {result.percentile_ms(99):.1f}"
