"""One writer per name at a time, on every node: whoever puts a document in place holds its name.

A name is locked case-folded, so "Report.pdf" and "report.pdf" wait for each other and the case
rule holds for simultaneous creates too. The lock lasts until the writer's transaction commits,
so the record of a name is always the last writer's and describes the bytes on disk.

On PostgreSQL it is a transaction-level advisory lock (every node shares the database). On
SQLite, which serves one machine, it is an exclusive `flock` on one of a fixed set of lock files
in the storage: it holds across threads and processes alike, and the set never grows.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from policy.names import RESERVED_PREFIX

LOCK_FOLDER = RESERVED_PREFIX + "locks"  # in the storage root: reserved, never listed
STRIPES = 256  # two names may share a lock file: they only wait for each other a little longer


class NameLocks:
    def __init__(self, engine: Engine, storage_root: Path):
        self._advisory = engine.dialect.name == "postgresql"
        self._folder = storage_root / LOCK_FOLDER
        self._files = [str(self._folder / f"{stripe:03d}") for stripe in range(STRIPES)]

    @contextmanager
    def held(self, session: Session, client_id: str, path: str) -> Iterator[None]:
        """Hold the name while the body runs, then commit the session (or roll it back).

        The session commits first: a writer never waits for a name while holding database
        locks that the name's holder may need, so two writers cannot deadlock.
        """
        session.commit()
        key = hashlib.blake2b(f"{client_id}/{path.casefold()}".encode(), digest_size=8).digest()
        try:
            with self._hold(session, key):
                yield
                session.commit()  # inside the lock: the next holder sees this record
        except BaseException:
            session.rollback()
            raise

    @contextmanager
    def _hold(self, session: Session, key: bytes) -> Iterator[None]:
        if self._advisory:
            # Released by the transaction's end, which the caller brings about inside this block.
            number = int.from_bytes(key, "big", signed=True)
            session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": number})
            yield
            return
        with self._flock(int.from_bytes(key, "big") % STRIPES):
            yield

    @contextmanager
    def _flock(self, stripe: int) -> Iterator[None]:
        try:
            fd = os.open(self._files[stripe], os.O_RDWR | os.O_CREAT, 0o600)
        except FileNotFoundError:  # the first lock taken in this storage
            self._folder.mkdir(exist_ok=True)
            fd = os.open(self._files[stripe], os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock
