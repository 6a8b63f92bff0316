"""WebDAV locks in the portal's database: granted, refreshed and released atomically, on every node.

The database is the one store every node and every worker process already shares, so a lock
taken through one of them holds for all. A grant is one transaction that first takes the lock
store's own lock (a transaction-level advisory lock on PostgreSQL; on SQLite the database's write
lock, with BEGIN IMMEDIATE), then reads the live locks in the way (on the URL, depth-infinity
locks on the folders above it and, for a depth-infinity lock, any lock below it), asks
`policy.locks.conflicts`, and inserts: two grants anywhere take turns, and the second sees the
first. A refresh takes the same lock, so it cannot revive a lock that a grant has just found
expired and replaced. A release is one statement.

Times are seconds since the epoch from the caller's clock; a lock whose `expire` has passed is
ignored by every read and deleted by the next grant.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, and_, bindparam, delete, func, or_, select, text, update
from sqlalchemy.orm import Session

from davportal.core.models import DavLock
from policy.locks import INFINITY, LockScope, ancestors, conflicts, normalized

_GRANTS_KEY = 7_160_522  # an advisory lock number, the same on every node: one grant at a time
_IN_BATCH = 500  # bound parameters per statement, well inside every database's limit


@dataclass(frozen=True)
class HeldLock:
    token: str  # secret: it lets its holder write; shown to the holder only
    root: str  # WsgiDAV's ref URL (quoted), normalized: "/acme/Team%27s%20shared/x.docx"
    scope: str  # policy.locks.EXCLUSIVE or SHARED
    depth: str  # policy.locks.DEPTH_0 or INFINITY
    owner: bytes  # the client's <owner> element, as it sent it
    principal: str  # the login that took it
    timeout: float  # seconds granted
    expire: float  # seconds since the epoch

    @property
    def scope_of(self) -> LockScope:
        return LockScope(self.root, self.scope, self.depth)


class LockConflict(Exception):
    """Live locks stand in the way of a grant: their roots, for WebDAV's no-conflicting-lock answer."""

    def __init__(self, roots: list[str]):
        super().__init__(", ".join(roots))
        self.roots = roots


_COLUMNS = (DavLock.token, DavLock.root, DavLock.scope, DavLock.depth, DavLock.owner, DavLock.principal,
            DavLock.timeout, DavLock.expire)  # fmt: skip


def grant(session: Session, wanted: HeldLock, now: float) -> None:
    """Add `wanted` unless a live lock is in its way (LockConflict).

    Must be the first work of its transaction, which the caller then commits: the check and the
    grant are one step, held apart from every other grant until the commit.
    """
    _one_at_a_time(session)
    _purge(session, now)
    in_the_way: ColumnElement[bool] = DavLock.root.in_(ancestors(wanted.root))
    if wanted.depth == INFINITY:
        in_the_way = or_(in_the_way, _below(wanted.root))
    held = session.execute(select(*_COLUMNS).where(in_the_way, DavLock.expire > now)).all()
    refused = conflicts(wanted.scope_of, (_held(row).scope_of for row in held))
    if refused:
        raise LockConflict(refused)
    session.add(DavLock(**asdict(wanted)))


def refresh(session: Session, token: str, timeout: float, now: float) -> HeldLock | None:
    """The live lock `token` with `timeout` seconds from now; None if it is gone or expired.

    Must be the first work of its transaction, like `grant`.
    """
    _one_at_a_time(session)
    row = session.execute(
        update(DavLock).where(DavLock.token == token, DavLock.expire > now)
        .values(timeout=timeout, expire=now + timeout).returning(*_COLUMNS)
        .execution_options(synchronize_session=False)
    ).first()  # fmt: skip
    return _held(row) if row else None


def release(session: Session, token: str) -> bool:
    """Remove the lock `token`; False if there was none."""
    result = cast("CursorResult[Any]", session.execute(
        delete(DavLock).where(DavLock.token == token).execution_options(synchronize_session=False)))  # fmt: skip
    return bool(result.rowcount)


def remove_at(session: Session, url: str, *, below: bool) -> None:
    """Remove the locks on `url` (and, with `below`, inside it): it was deleted, in this transaction."""
    url = normalized(url)
    where = DavLock.root == url if not below else or_(DavLock.root == url, _below(url))
    session.execute(delete(DavLock).where(where).execution_options(synchronize_session=False))


def find(session: Session, token: str, now: float) -> HeldLock | None:
    row = session.execute(_FIND, {"token": token, "now": now}).first()
    return _held(row) if row else None


# Built once: a statement built per call costs more than the database's work on its few rows.
_FIND = select(*_COLUMNS).where(DavLock.token == bindparam("token"), DavLock.expire > bindparam("now"))
_ON_URL = (
    select(*_COLUMNS)
    .where(DavLock.root == bindparam("url"), DavLock.expire > bindparam("now"))
    .order_by(DavLock.expire)
)


def at(session: Session, url: str, now: float, *, on_url: bool = True, below: bool = False) -> list[HeldLock]:
    """The live locks whose root is `url` (`on_url`) and/or inside it (`below`)."""
    url = normalized(url)
    if on_url and not below:
        return [_held(row) for row in session.execute(_ON_URL, {"url": url, "now": now})]
    where: list[ColumnElement[bool]] = []
    if on_url:
        where.append(DavLock.root == url)
    if below:
        where.append(_below(url))
    if not where:
        return []
    rows = session.execute(select(*_COLUMNS).where(or_(*where), DavLock.expire > now).order_by(DavLock.expire))
    return [_held(row) for row in rows]


def on(session: Session, urls: Iterable[str], now: float) -> dict[str, list[HeldLock]]:
    """The live locks on each of `urls` (a folder and its entries), in one statement per 500 URLs."""
    found: dict[str, list[HeldLock]] = {normalized(url): [] for url in urls}
    wanted = list(found)
    for start in range(0, len(wanted), _IN_BATCH):
        batch = wanted[start : start + _IN_BATCH]
        query = select(*_COLUMNS).where(DavLock.root.in_(batch), DavLock.expire > now).order_by(DavLock.expire)
        for row in session.execute(query):
            lock = _held(row)
            found[lock.root].append(lock)
    return found


def clear(session: Session) -> None:
    session.execute(delete(DavLock))


def purge(session: Session, now: float) -> None:
    """Delete the expired locks (every read ignores them already)."""
    _purge(session, now)


def _held(row: Any) -> HeldLock:
    """A row of `_COLUMNS` as a HeldLock."""
    return HeldLock(*row)


def _one_at_a_time(session: Session) -> None:
    # Released by the end of the transaction. On PostgreSQL the reads that follow see every grant
    # committed before this one got its turn (READ COMMITTED reads afresh at each statement).
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _GRANTS_KEY})
    else:
        # SQLite: the write lock now, not at the first write, so nobody writes between the
        # check and the grant (another grant waits here, busy_timeout long).
        session.execute(text("BEGIN IMMEDIATE"))


def _purge(session: Session, now: float) -> None:
    # Rows another transaction is deleting are left to it (SKIP LOCKED; SQLite has no row locks).
    expired = select(DavLock.token).where(DavLock.expire <= now).with_for_update(skip_locked=True)
    session.execute(delete(DavLock).where(DavLock.token.in_(expired)).execution_options(synchronize_session=False))


def _below(url: str) -> ColumnElement[bool]:
    """Roots inside `url`: compared exactly (LIKE ignores case on SQLite, and quoted URLs hold "%")."""
    url = normalized(url)
    prefix = url.rstrip("/") + "/"
    return and_(func.substr(DavLock.root, 1, len(prefix)) == prefix, DavLock.root != url)
