"""A health check for load balancers: the database and the storage answer.

Answers without authentication and says nothing but "ok" or which part is down. `davportal
serve` answers it on a thread of its own (davportal.connections), so a node whose workers are all
busy still says whether it is up. It answers within `HEALTH_SECONDS` whatever hangs: each part is
asked on a thread of its own, and a part that has not answered by then is down (a frozen
database or network file system). A part still not answering is not asked again until it does.
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from collections.abc import Callable

from sqlalchemy import text

from davportal.services.portal import Portal
from davportal.web.render import WEB

PATH = f"{WEB}/health"  # GET or HEAD; davportal serve knows it by this path before a worker is taken
HEALTH_SECONDS = 2.0  # how long a part may take to answer before it counts as down


def check(portal: Portal) -> list[str]:
    """The parts that are down (empty when all is well)."""
    with _lock:
        probes = _probes.get(portal)
        if probes is None:
            probes = _probes[portal] = _Probes(portal)
    return probes.run()


def _database(portal: Portal) -> None:
    with portal.engine.connect() as conn:
        conn.execute(text("SELECT 1"))


def _storage(portal: Portal) -> None:
    if not os.access(portal.storage.root, os.R_OK | os.W_OK | os.X_OK):
        raise OSError("the storage folder cannot be read and written")


class _Probe:
    """One part asked once, on a daemon thread: one that never answers never holds up the exit."""

    def __init__(self, name: str, ask: Callable[[Portal], None], portal: Portal):
        self.answered = threading.Event()
        self.up = False
        threading.Thread(target=self._run, args=(ask, portal), name=f"davportal health: {name}", daemon=True).start()

    def _run(self, ask: Callable[[Portal], None], portal: Portal) -> None:
        try:
            ask(portal)
            self.up = True
        except Exception:  # any failure means down; what failed is for the request's own log
            self.up = False
        finally:
            self.answered.set()


class _Probes:
    def __init__(self, portal: Portal):
        self.portal = portal
        self._asking: dict[str, _Probe] = {}
        self._lock = threading.Lock()

    def run(self) -> list[str]:
        parts: dict[str, Callable[[Portal], None]] = {"database": _database, "storage": _storage}
        with self._lock:
            for name, ask in parts.items():
                probe = self._asking.get(name)
                if probe is None or probe.answered.is_set():  # a part still being asked is not asked twice
                    self._asking[name] = _Probe(name, ask, self.portal)
            probes = {name: self._asking[name] for name in parts}
        deadline = time.monotonic() + HEALTH_SECONDS
        for probe in probes.values():
            probe.answered.wait(max(0.0, deadline - time.monotonic()))
        return [name for name, probe in probes.items() if not (probe.answered.is_set() and probe.up)]


_probes: weakref.WeakKeyDictionary[Portal, _Probes] = weakref.WeakKeyDictionary()
_lock = threading.Lock()
