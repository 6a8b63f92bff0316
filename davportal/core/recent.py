"""Rows read a moment ago: a login's account, a client's matter type, a file's dead properties
and locks, read once a second per node.

Every request needs the login's account (is it disabled? its password?) and its client's matter
type, and a Depth 0 PROPFIND the file's dead properties and locks; reading them costs a statement
a request. Here they are kept for at most `seconds`, and
forgotten as soon as any process commits a change to their tables (each kind with a mark of its
own, so a lock taken does not make every login be read again): such a commit moves a mark (the
times of a file in the storage root, which every process of a node, and every node sharing the
storage, reads with one `stat`). The age limit bounds what a mark can miss: a change made straight
in the database, or another node's on storage that caches file times. So a changed password, a
disabled login or a contact taken off a client is refused at once on the node that made the
change and within `seconds` on every other.
"""

from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

T = TypeVar("T")
LOGIN_TABLES = frozenset({"account", "membership", "app_password", "client"})
LOCK_TABLES = frozenset({"dead_property", "dav_lock"})
SIZE = 10_000


class Recent:
    def __init__(self, mark: Path, seconds: float, tables: frozenset[str], *,
                 clock: Callable[[], float] = time.monotonic):  # fmt: skip
        self.mark = mark
        self.tables = tables  # a commit that writes one of them is a change
        self._changed_key = f"davportal.recent.{mark.name}"  # in a session's info: it wrote one
        self.seconds = seconds
        self.clock = clock  # tests advance it
        self._rows: OrderedDict[Hashable, tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self._changes = 0  # this process's own commits, seen even where the file's times are coarse
        self._seen: tuple[int, ...] | None = None
        self.mark.touch(exist_ok=True)

    def get(self, key: Hashable, load: Callable[[], T], *, fresh: bool = False) -> T:
        """The row under `key`, as read at most `seconds` ago and since the last change anywhere
        (`fresh`: read now, whatever is kept)."""
        if self.seconds <= 0:
            return load()
        seen, now = self._look(), self.clock()
        with self._lock:
            if seen != self._seen:
                self._rows.clear()
                self._seen = seen
            kept = self._rows.get(key)
            if kept is not None and now - kept[0] < self.seconds and not fresh:
                return kept[1]
        row = load()
        with self._lock:
            # A change seen meanwhile by another thread may have made this row old already.
            if self._seen == seen:
                self._rows[key] = (now, row)
                self._rows.move_to_end(key)
                while len(self._rows) > SIZE:
                    self._rows.popitem(last=False)
        return row

    def changed(self) -> None:
        """A watched table changed: forget everything here, and tell every other process."""
        with self._lock:
            self._changes += 1
        try:
            before = os.stat(self.mark).st_mtime_ns
            moment = max(time.time_ns(), before + 1)  # always a new mark, even within the clock's tick
            os.utime(self.mark, ns=(moment, moment))
        except OSError:
            self.mark.touch(exist_ok=True)  # removed by hand: back, with a new time

    def _look(self) -> tuple[int, ...]:
        try:
            st = os.stat(self.mark)
        except OSError:
            return (self._changes,)
        return (self._changes, st.st_mtime_ns, st.st_ino)

    def watch(self, sessions: sessionmaker[Session]) -> None:
        """Call `changed` after every commit of these sessions that wrote a watched table."""

        @event.listens_for(sessions, "after_flush")
        def _flushed(session: Session, _context) -> None:
            if any(_table_of(obj) in self.tables for obj in (*session.new, *session.dirty, *session.deleted)):
                session.info[self._changed_key] = True

        @event.listens_for(sessions, "do_orm_execute")
        def _executed(state) -> None:
            if (state.is_insert or state.is_update or state.is_delete) and _table_of(state.statement) in self.tables:
                state.session.info[self._changed_key] = True

        @event.listens_for(sessions, "after_commit")
        def _committed(session: Session) -> None:
            if session.info.pop(self._changed_key, False):
                self.changed()

        @event.listens_for(sessions, "after_rollback")
        def _rolled_back(session: Session) -> None:
            session.info.pop(self._changed_key, None)


def _table_of(thing: Any) -> str | None:
    """The table an ORM object or a statement (INSERT, UPDATE, DELETE) writes."""
    table = getattr(thing, "__table__", None)
    if table is None:
        table = getattr(thing, "table", None)
    return getattr(table, "name", None)
