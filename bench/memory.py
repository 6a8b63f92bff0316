"""Memory: each server's resident memory idle, at its peak under the workloads, and while several
clients each upload the huge file at once. Summed over the server's processes, largest one apart."""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass

import requests

from bench import dataset, processes
from bench.load import Result, StreamedBody, concurrently, send
from bench.plan import Plan
from bench.servers import Server

LIMIT_KIB = 150 * 1024  # the portal's target for one process
POLL_SECONDS = 0.05
UPLOADS = f"/{dataset.CLIENT}/Upload-4/"


@dataclass(frozen=True)
class UploadMemory:
    uploads: Result
    before: processes.Memory  # VmRSS just before the uploads began
    peak_rss: processes.Memory  # the highest VmRSS polled while they ran (total and largest process)
    # VmHWM, reset just before: the kernel's high-water mark. It catches some peaks between two polls,
    # but the kernel updates it lazily, so it can also read a little below a polled peak.
    hwm: processes.Memory

    @property
    def under_limit(self) -> bool:
        return max(self.peak_rss.largest_kib, self.hwm.largest_kib) < LIMIT_KIB


@dataclass(frozen=True)
class ServerMemory:
    idle: processes.Memory  # VmRSS once started and warmed up, before the workloads
    peak: processes.Memory  # VmHWM after the workloads: each process's own peak since it started
    uploads: UploadMemory | None = None


def name(plan: Plan) -> str:
    return f"{plan.writers} clients upload {plan.huge_label} each at once"


def uploads_at_once(server: Server, plan: Plan) -> UploadMemory:
    """Every client streams its own new file; the server's memory is polled all along."""
    label = name(plan)
    with server.session() as session:
        send(server, label, session, "MKCOL", UPLOADS, {201})
    indexes = itertools.count()

    def one(session: requests.Session) -> None:
        path = UPLOADS + f"upload-{next(indexes)}.pdf"
        send(server, label, session, "PUT", path, {201}, data=StreamedBody(plan.huge_size))

    before = server.memory("VmRSS")
    # The peak then is this test's, not the start-up's or a workload's.
    processes.reset_peak(server.process.pid)
    with _RssPoller(server) as poller:
        uploads = concurrently(server, label, plan.writers, plan.writers, one, bytes_each=plan.huge_size)
    return UploadMemory(uploads, before, poller.peak, server.memory("VmHWM"))


class _RssPoller:
    """Polls VmRSS every POLL_SECONDS in a thread, from entering the block until leaving it."""

    def __init__(self, server: Server):
        self.server = server
        self.peak = processes.Memory(0, 0, 0)
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self) -> _RssPoller:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._done.set()
        self._thread.join()

    def _poll(self) -> None:
        while True:
            now = self.server.memory("VmRSS")
            self.peak = processes.Memory(max(self.peak.total_kib, now.total_kib),
                                         max(self.peak.largest_kib, now.largest_kib), now.processes)  # fmt: skip
            if self._done.wait(POLL_SECONDS):
                return
