"""Memory under load: a server's resident memory while several clients each upload the huge file at once."""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass
from pathlib import Path

import requests

from bench import dataset
from bench.load import Result, StreamedBody, concurrently, send
from bench.plan import Plan
from bench.servers import Server

LIMIT_KIB = 150 * 1024
POLL_SECONDS = 0.05
UPLOADS = f"/{dataset.CLIENT}/Upload-4/"


@dataclass(frozen=True)
class UploadMemory:
    uploads: Result
    before_kib: int  # VmRSS just before the uploads began
    peak_rss_kib: int  # the highest VmRSS polled while they ran
    # VmHWM, reset just before: the kernel's high-water mark. It catches some peaks between two polls,
    # but the kernel updates it lazily, so it can also read a little below a polled peak.
    hwm_kib: int

    @property
    def under_limit(self) -> bool:
        return max(self.peak_rss_kib, self.hwm_kib) < LIMIT_KIB


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

    before = server.memory_kib("VmRSS")
    # "5" resets VmHWM to the current RSS: the peak then is this test's, not the start-up's or a workload's.
    Path(f"/proc/{server.process.pid}/clear_refs").write_text("5")
    with _RssPoller(server) as poller:
        uploads = concurrently(server, label, plan.writers, plan.writers, one, bytes_each=plan.huge_size)
    return UploadMemory(uploads, before, poller.peak_kib, server.peak_rss_kib())


class _RssPoller:
    """Polls VmRSS every POLL_SECONDS in a thread, from entering the block until leaving it."""

    def __init__(self, server: Server):
        self.server = server
        self.peak_kib = 0
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
            self.peak_kib = max(self.peak_kib, self.server.memory_kib("VmRSS"))
            if self._done.wait(POLL_SECONDS):
                return
