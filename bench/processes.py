"""A server's processes, read from /proc: the one the bench started and every descendant (its workers).

Server CPU time and memory are summed over all of them, so a server of several processes (the
portal with --workers, Apache) is charged for everything it does, as a single process is.
"""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# /proc/PID/stat after the ")" that ends the command name: field 3 of proc(5) is index 0.
PPID, UTIME, STIME, CUTIME, CSTIME = 1, 11, 12, 13, 14


def tree(pid: int) -> list[int]:
    """The process and all its live descendants."""
    children = defaultdict(list)
    for entry in os.scandir("/proc"):
        if entry.name.isdigit() and (fields := _stat(int(entry.name))):
            children[int(fields[PPID])].append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        found.append(todo.pop())
        todo.extend(children[found[-1]])
    return found


def cpu_seconds(pid: int) -> float:
    """User and system CPU of the tree, including children that exited and were waited for."""
    ticks = 0
    for member in tree(pid):
        if fields := _stat(member):
            ticks += sum(int(fields[i]) for i in (UTIME, STIME, CUTIME, CSTIME))
    return ticks / CLOCK_TICKS


@dataclass(frozen=True)
class Memory:
    total_kib: int  # summed over the processes
    largest_kib: int  # the largest single process
    processes: int


def memory(pid: int, field: str) -> Memory:
    """A /proc/PID/status field in KiB (VmRSS, VmHWM) over the tree."""
    values = [v for member in tree(pid) if (v := _status_kib(member, field)) is not None]
    return Memory(sum(values), max(values, default=0), len(values))


def reset_peak(pid: int) -> None:
    """Reset VmHWM to the current RSS in every process of the tree ("5" in clear_refs, see proc(5))."""
    for member in tree(pid):
        try:
            Path(f"/proc/{member}/clear_refs").write_text("5")
        except OSError:
            pass  # it exited meanwhile


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None  # gone between the listing and the read
    return text.rsplit(")", 1)[1].split()


def _status_kib(pid: int, field: str) -> int | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    return None  # a zombie has no memory fields
