"""The results: a table for people (rich on a terminal, plain text in a log) and JSON for tools."""

from __future__ import annotations

import json
import os
import platform
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Column, Table

from bench import memory
from bench.load import Result
from bench.plan import Plan

TITLES = {"wsgidav": "WsgiDAV", "portal": "portal"}  # peers go by their own names
MIB_IN_KIB = 1024


@dataclass(frozen=True)
class Run:
    plan: Plan
    results: list[Result]
    peak_rss_kib: dict[str, int]  # VmHWM of each server after the workloads
    upload_memory: dict[str, memory.UploadMemory]  # portal and plain WsgiDAV
    skipped: dict[str, str]  # peer: why it did not run


def ratios(results: list[Result]) -> dict[str, float]:
    """Portal req/s over plain WsgiDAV req/s, per workload: below 1 means the portal is slower."""
    rps = {(r.workload, r.server): r.rps for r in results}
    workloads = dict.fromkeys(r.workload for r in results)
    return {w: round(rps[w, "portal"] / rps[w, "wsgidav"], 2) for w in workloads}


def print_report(run: Run) -> None:
    headers, rows = _table(run.results)
    notes = _memory_lines(run) + [f"Not run: {reason}" for reason in run.skipped.values()]
    if sys.stdout.isatty():
        table = Table(headers[0], *(Column(h, justify="right") for h in headers[1:]))
        for row in rows:
            table.add_row(*row)
        console = Console()
        console.print(table)
        for line in notes:
            console.print(line, highlight=False)
    else:
        widths = [max(len(cell) for cell in column) for column in zip(headers, *rows)]
        for row in (headers, *rows):
            cells = [row[0].ljust(widths[0]), *(cell.rjust(w) for cell, w in zip(row[1:], widths[1:]))]
            print("  ".join(cells))
        print("\n".join(notes))


def write_json(path: Path, run: Run) -> None:
    document = {
        "machine": {
            "nproc": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "plan": asdict(run.plan),
        "results": [_result_json(r) for r in run.results],
        "ratios": ratios(run.results),
        "peak_rss_kib": run.peak_rss_kib,
        "upload_memory": {
            "workload": memory.name(run.plan),
            "limit_kib": memory.LIMIT_KIB,
            "servers": {
                server: {
                    "before_kib": m.before_kib,
                    "peak_rss_kib": m.peak_rss_kib,
                    "vmhwm_kib": m.hwm_kib,
                    "under_limit": m.under_limit,
                    "seconds": round(m.uploads.wall_seconds, 2),
                    "mb_per_s": round(m.uploads.mb_per_s, 1),
                }
                for server, m in run.upload_memory.items()
            },
        },
        "skipped_peers": run.skipped,
    }
    path.write_text(json.dumps(document, indent=2) + "\n")


def _result_json(result: Result) -> dict:
    document = {
        "workload": result.workload,
        "server": result.server,
        "requests": result.requests,
        "unit": result.unit,
        "rps": round(result.rps, 2),
        "p50_ms": round(result.percentile_ms(50), 2),
        "p99_ms": round(result.percentile_ms(99), 2),
    }
    if result.mb_per_s is not None:
        document["mb_per_s"] = round(result.mb_per_s, 1)
    return document


def _table(results: list[Result]) -> tuple[tuple[str, ...], list[tuple[str, ...]]]:
    """Plain WsgiDAV, the portal and their ratio first, then each peer that ran."""
    by_key = {(r.workload, r.server): r for r in results}
    peers = [s for s in dict.fromkeys(r.server for r in results) if s not in TITLES]
    servers = [*TITLES, *peers]
    headers = (
        "Workload",
        *(f"{TITLES.get(s, s)} req/s" for s in TITLES),
        "portal/plain",
        *(f"{s} req/s" for s in peers),
        *(f"{TITLES.get(s, s)} p50/p99 ms" for s in servers),
    )
    rows = []
    for workload, ratio in ratios(results).items():
        rows.append((
            workload,
            *(_throughput(by_key[workload, s]) for s in TITLES),
            f"{ratio:.2f}",
            *(_throughput(by_key[workload, s]) for s in peers),
            *(_latency(by_key[workload, s]) for s in servers),
        ))  # fmt: skip
    return headers, rows


def _throughput(result: Result) -> str:
    rate = f"{result.rps:,.1f}"
    return rate if result.mb_per_s is None else f"{rate} ({result.mb_per_s:,.0f} MB/s)"


def _latency(result: Result) -> str:
    return f"{result.percentile_ms(50):.1f} / {result.percentile_ms(99):.1f}"


def _memory_lines(run: Run) -> list[str]:
    peaks = ", ".join(f"{TITLES.get(s, s)} {_mib(kib)}" for s, kib in run.peak_rss_kib.items())
    lines = [
        f"Peak RSS after the workloads (VmHWM, since start): {peaks}",
        f"{memory.name(run.plan)} (VmRSS polled every {memory.POLL_SECONDS * 1000:.0f} ms; VmHWM reset just before):",
    ]
    for server, m in run.upload_memory.items():
        verdict = "under" if m.under_limit else "NOT under"
        lines.append(
            f"  {TITLES[server]}: RSS before {_mib(m.before_kib)}, peak {_mib(m.peak_rss_kib)}, "
            f"VmHWM {_mib(m.hwm_kib)}: {verdict} {memory.LIMIT_KIB // MIB_IN_KIB} MiB "
            f"({m.uploads.wall_seconds:.1f} s, {m.uploads.mb_per_s:,.0f} MB/s)"
        )
    return lines


def _mib(kib: int) -> str:
    return f"{kib / MIB_IN_KIB:,.1f} MiB"
