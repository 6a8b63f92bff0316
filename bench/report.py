"""The results: tables for people (rich on a terminal, plain text in a log) and JSON for tools.

One set of tables per portal database. Plain WsgiDAV and the peers do not use the database: they
were measured once, and the same figures stand in every set.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Column, Table

from bench import memory, processes, servers
from bench.load import Result
from bench.plan import Plan

REFERENCE = "wsgidav"
PORTALS = ("portal", "portal-n")
MIB_IN_KIB = 1024


@dataclass(frozen=True)
class Run:
    plan: Plan
    workers: int  # processes of portal-n
    titles: dict[str, str]  # workload name: the table's row
    results: list[Result]
    memory: dict[str, memory.ServerMemory]  # by server label
    skipped: dict[str, str]  # server or database: why it did not run
    postgresql_databases: list[str]  # the ones the run made for the portals, dropped when it ends


def ratios(run: Run) -> dict[str, dict[str, dict[str, float]]]:
    """Portal throughput over plain WsgiDAV's, per database, portal and workload: below 1 is slower."""
    by_key = _by_key(run.results)
    found: dict[str, dict[str, dict[str, float]]] = {}
    for (workload, server, database), result in by_key.items():
        reference = by_key.get((workload, REFERENCE, None))
        if server in PORTALS and reference and database:
            found.setdefault(database, {}).setdefault(server, {})[workload] = round(result.rps / reference.rps, 2)
    return found


def print_report(run: Run) -> None:
    for database in _databases(run):
        where = f" (portal on {database})" if database else ""
        for caption, cell, ratio in (
            ("Throughput: requests/s (MB/s for transfers); ratio = portal / plain WsgiDAV", _throughput, _faster),
            ("Server CPU per request (per pair, per operation), ms: user + system of every server process; "
             "ratio = portal / plain WsgiDAV", _cpu, _cpu_ratio),
            ("Latency p50 / p99, ms", _latency, None),
        ):  # fmt: skip
            headers, rows = _table(run, database, cell, ratio)
            _print_table(caption + where, headers, rows)
    notes = [
        *_memory_lines(run),
        "Plain WsgiDAV: lxml, logging off, properties and locks in memory, "
        f"{servers.WSGIDAV_BLOCK_SIZE // 1024} KiB blocks like the portal (its default is 8 KiB).",
    ]
    notes += [f"Not run: {name}: {reason}" for name, reason in run.skipped.items()]
    print("\n".join(notes))


def write_json(path: Path, run: Run) -> None:
    document = {
        "machine": {
            "nproc": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "plan": asdict(run.plan),
        "portal_n_workers": run.workers,
        "results": [_result_json(r, run) for r in run.results],
        "ratios": ratios(run),
        "memory": {label: _memory_json(m) for label, m in run.memory.items()},
        "upload_memory": {"workload": memory.name(run.plan), "limit_kib": memory.LIMIT_KIB},
        "skipped": run.skipped,
        "postgresql_databases": run.postgresql_databases,
    }
    path.write_text(json.dumps(document, indent=2) + "\n")


def _result_json(result: Result, run: Run) -> dict:
    document = {
        "workload": result.workload,
        "title": run.titles[result.workload],
        "server": result.server,
        "database": result.database,
        "requests": result.requests,
        "unit": result.unit,
        "rps": round(result.rps, 2),
        "p50_ms": round(result.percentile_ms(50), 2),
        "p99_ms": round(result.percentile_ms(99), 2),
    }
    if result.mb_per_s is not None:
        document["mb_per_s"] = round(result.mb_per_s, 1)
    if result.cpu_ms_per_unit is not None:
        document["server_cpu_ms_per_unit"] = round(result.cpu_ms_per_unit, 3)
    return document


def _memory_json(m: memory.ServerMemory) -> dict:
    document = {"idle": asdict(m.idle), "peak_vmhwm": asdict(m.peak)}
    if m.uploads:
        document["uploads_at_once"] = {
            "before": asdict(m.uploads.before),
            "peak_rss": asdict(m.uploads.peak_rss),
            "vmhwm": asdict(m.uploads.hwm),
            "largest_process_under_limit": m.uploads.under_limit,
            "seconds": round(m.uploads.uploads.wall_seconds, 2),
            "mb_per_s": round(m.uploads.uploads.mb_per_s or 0, 1),
        }
    return document


def _by_key(results: list[Result]) -> dict[tuple[str, str, str | None], Result]:
    return {(r.workload, r.server, r.database): r for r in results}


def _databases(run: Run) -> list[str | None]:
    found = list(dict.fromkeys(r.database for r in run.results if r.database))
    return found or [None]


def _title(server: str, workers: int) -> str:
    return {"wsgidav": "WsgiDAV", "portal": "portal ×1", "portal-n": f"portal ×{workers}", "apache": "Apache"}.get(
        server, server
    )


def _table(run: Run, database: str | None, cell, ratio) -> tuple[list[str], list[list[str]]]:
    """Rows are workloads; columns the servers in the order they ran, each portal followed by its ratio."""
    by_key = _by_key(run.results)
    present = list(dict.fromkeys(r.server for r in run.results))
    headers, columns = ["Workload"], []
    for server in present:
        owner = database if server in PORTALS else None
        headers.append(_title(server, run.workers))
        columns.append((server, owner, None))
        if server in PORTALS and ratio and REFERENCE in present:
            headers.append("ratio")
            columns.append((server, owner, ratio))
    rows = []
    for workload, title in run.titles.items():
        row = [title]
        for server, owner, compare in columns:
            result = by_key.get((workload, server, owner))
            reference = by_key.get((workload, REFERENCE, None))
            if result is None or (compare and reference is None):
                row.append("–")
            else:
                row.append(compare(result, reference) if compare else cell(result))
        rows.append(row)
    return headers, rows


def _throughput(result: Result) -> str:
    return f"{result.mb_per_s:,.0f} MB/s" if result.mb_per_s is not None else f"{result.rps:,.1f}"


def _faster(result: Result, reference: Result) -> str:
    return f"{result.rps / reference.rps:.2f}"


def _cpu(result: Result) -> str:
    return "–" if result.cpu_ms_per_unit is None else f"{result.cpu_ms_per_unit:,.2f}"


def _cpu_ratio(result: Result, reference: Result) -> str:
    if not result.cpu_ms_per_unit or not reference.cpu_ms_per_unit:
        return "–"  # below the clock's tick of 10 ms over the whole workload
    return f"{result.cpu_ms_per_unit / reference.cpu_ms_per_unit:.2f}"


def _latency(result: Result) -> str:
    return f"{result.percentile_ms(50):,.1f} / {result.percentile_ms(99):,.1f}"


def _print_table(caption: str, headers: list[str], rows: list[list[str]]) -> None:
    if sys.stdout.isatty():
        table = Table(headers[0], *(Column(h, justify="right") for h in headers[1:]), title=caption)
        for row in rows:
            table.add_row(*row)
        Console().print(table)
        return
    widths = [max(len(cell) for cell in column) for column in zip(headers, *rows)]
    print(caption)
    for row in (headers, *rows):
        print("  ".join([row[0].ljust(widths[0]), *(cell.rjust(w) for cell, w in zip(row[1:], widths[1:]))]))
    print()


def _memory_lines(run: Run) -> list[str]:
    header = (
        "Memory, MiB, summed over each server's processes (largest process in brackets): "
        "idle after start and warm-up; peak (VmHWM) after the workloads"
    )
    if any(m.uploads for m in run.memory.values()):
        header += (
            f"; while {memory.name(run.plan)} (VmRSS polled every {memory.POLL_SECONDS * 1000:.0f} ms, "
            "VmHWM reset before)"
        )
    lines = [header + "."]
    for label, m in run.memory.items():
        line = f"  {label}: {m.idle.processes} process(es), idle {_mib(m.idle)}, peak {_mib(m.peak)}"
        if m.uploads:
            verdict = "under" if m.uploads.under_limit else "NOT under"
            line += (
                f"; uploads at once: peak {_mib(m.uploads.peak_rss)}, VmHWM {_mib(m.uploads.hwm)} "
                f"({m.uploads.uploads.mb_per_s or 0:,.0f} MB/s; largest process {verdict} "
                f"{memory.LIMIT_KIB // MIB_IN_KIB} MiB)"
            )
        lines.append(line)
    return lines


def _mib(m: processes.Memory) -> str:
    if m.processes > 1:
        return f"{m.total_kib / MIB_IN_KIB:,.0f} ({m.largest_kib / MIB_IN_KIB:,.0f})"
    return f"{m.total_kib / MIB_IN_KIB:,.0f}"
