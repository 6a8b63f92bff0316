"""What one process of each node runs besides requests: the email sender and the janitor.

Every serving process starts a Housekeeping thread: the one process of `davportal serve`, each
worker of `davportal serve --workers N`, each gunicorn worker of `davportal.wsgi:app`. The first
to hold the node's housekeeping lock runs the sender and the janitor (the trash, old versions and
unfinished uploads); the others wait on the lock, and one of them takes over the moment the
holder ends, however it ends: the kernel lets go of a dead process's lock.

The lock is an `flock` on a file named after the machine, in the storage's lock folder. It is
held per node because the duties are safe on several nodes at once (the sender and the purge
claim their rows with SKIP LOCKED), so no node waits for another. It is a lock file rather than
a PostgreSQL advisory lock so that it works the same on SQLite, and because a machine that loses
power would keep an advisory lock's session open on the database until TCP notices (two hours
by default), leaving the node without emails when it comes back; a lock file's holder is gone
with its process, or with its machine's boot.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import socket
import threading
import weakref
from pathlib import Path

from davportal.core.name_lock import LOCK_FOLDER
from davportal.notifications.worker import Sender
from davportal.services.janitor import Janitor

_logger = logging.getLogger("davportal.housekeeping")
_STOP_SECONDS = 10.0  # how long a stopping leader waits for a round in progress before letting go


def node_name() -> str:
    """This machine's name, as a file name."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", socket.gethostname())[:100] or "node"


class NodeLock:
    """An exclusive lock held by one process of this node at a time (blocking until it is free)."""

    def __init__(self, storage_root: Path, duty: str):
        self.path = storage_root / LOCK_FOLDER / f"{duty}-{node_name()}"
        self._fd: int | None = None
        _open_locks.add(self)

    def acquire(self) -> None:
        self.path.parent.mkdir(exist_ok=True)
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            # For the admin who looks: which process holds it.
            os.ftruncate(self._fd, 0)
            os.pwrite(self._fd, f"{os.getpid()}\n".encode(), 0)
        except BaseException:
            self.release()
            raise

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # closing lets go of the lock

    def _forget(self) -> None:
        """In a child forked from the holder: its copy of the file must not keep the lock held
        after the holder ends (closing a copy lets go of nothing while the holder's stays open)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


_open_locks: weakref.WeakSet[NodeLock] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for lock in list(_open_locks):
        lock._forget()


os.register_at_fork(after_in_child=_after_fork_in_child)


class Housekeeping(threading.Thread):
    """Waits to lead this node's housekeeping, then runs the janitor and (unless the config sends
    the emails elsewhere) the sender until stopped."""

    def __init__(self, portal):
        super().__init__(name="davportal-housekeeping", daemon=True)
        self.portal = portal
        self.lock = NodeLock(portal.storage.root, "housekeeping")
        self.leading = threading.Event()
        self._stopped = threading.Event()

    def run(self) -> None:
        try:
            self.lock.acquire()
        except OSError as exc:
            _logger.error("This process (pid %d) cannot take the housekeeping lock %s (%s): it leaves the "
                          "emails and the purge to the node's other processes.", os.getpid(), self.lock.path,
                          exc.strerror)  # fmt: skip
            return
        try:
            if self._stopped.is_set():
                return
            duties: list[Janitor | Sender] = [Janitor(self.portal)]
            sending = self.portal.settings.notifications.send_in_serve
            if sending:
                duties.append(Sender(self.portal))
            _logger.info("This process (pid %d) runs the node's housekeeping: %spurging the trash, old versions "
                         "and unfinished uploads.", os.getpid(), "sending the emails, " if sending else "")  # fmt: skip
            for duty in duties:
                duty.start()
            self.leading.set()
            self._stopped.wait()
            for duty in duties:
                duty.stop()
            for duty in duties:
                duty.join(_STOP_SECONDS)
        finally:
            self.leading.clear()
            self.lock.release()

    def stop(self) -> None:
        self._stopped.set()
