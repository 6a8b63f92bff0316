"""WsgiDAV's lock storage in the portal's database, shared by every node and worker process.

WsgiDAV's LockManager checks for conflicting locks, then calls `create`, guarded by a lock of
its own process only: two processes (gunicorn workers, or nodes) could both pass the check. Here
`create` checks again and grants in one transaction that every process takes turns for
(`services.locks.grant`), so the same LOCK sent to three nodes at once is granted once; a refresh
and a release are single statements there too. The LockManager's own check stays: it is a quick
refusal, and the grant's check is the one that counts.

A listing reads the locks of a folder and its entries in one statement, with their dead
properties (`prefetch`), and
`lock_discovery` builds each entry's `{DAV:}lockdiscovery` from them, with a lock's token only for
its holder.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from wsgidav import xml_tools
from wsgidav.dav_error import (
    HTTP_LOCKED,
    HTTP_PRECONDITION_FAILED,
    DAVError,
    DAVErrorCondition,
    PRECONDITION_CODE_LockConflict,
    PRECONDITION_CODE_LockTokenMismatch,
)
from wsgidav.lock_man.lock_manager import generate_lock_token, normalize_lock_root, validate_lock

from davportal.services import locks
from davportal.services.locks import HeldLock, LockConflict
from davportal.services.portal import Portal
from davportal.services.request import RequestContext
from policy.locks import ancestors
from wsgidav_ext.prefetch import prefetch

etree = xml_tools.etree  # lxml, as WsgiDAV uses it


class _Walk(threading.local):
    """The locks on the folders above the URL read last by this thread, for WsgiDAV's walk up.

    WsgiDAV checks a URL by asking for the locks on it, then on each folder above it in turn, up
    to "/" (a PUT two folders below a client: four asks, twice). The first ask reads them all in
    one statement; the walk's next asks, from the same thread and in that order, are answered
    from that read, as one snapshot. Any other call of WsgiDAV's drops it: it never outlives the walk.
    """

    def __init__(self) -> None:
        self.ahead: list[tuple[str, list[HeldLock]]] = []


class PortalLockStorage:
    """LockStorageDict's interface (open, close, cleanup, clear, get, create, refresh, delete,
    get_lock_list) over `services.locks`; lock dictionaries in and out, as WsgiDAV expects."""

    def __init__(self, wsgidav_app, clock: Callable[[], float] = time.time):
        self.portal = Portal.of(wsgidav_app.config)
        self.clock = clock  # seconds since the epoch: the nodes' clocks are kept in step (NTP)
        self._walk = _Walk()

    def __repr__(self):
        return f"{self.__class__.__name__}()"

    def open(self) -> None:
        """Nothing to open: the portal's database engine serves the locks."""

    def close(self) -> None:
        """Nothing to close: the engine is the portal's."""

    def cleanup(self) -> None:
        self._walk.ahead = []
        with self.portal.sessions.begin() as session:
            locks.purge(session, self.clock())

    def clear(self) -> None:
        self._walk.ahead = []
        with self.portal.sessions.begin() as session:
            locks.clear(session)

    def get(self, token: str) -> dict[str, Any] | None:
        self._walk.ahead = []
        with self.portal.sessions() as session:
            held = locks.find(session, token, self.clock())
        return _as_dict(held) if held else None

    def create(self, path: str, lock: dict[str, Any]) -> dict[str, Any]:
        """Grant `lock` (WsgiDAV's dictionary, without token) unless a live lock is in its way (423).

        The dictionary is completed in place, as WsgiDAV expects: root, timeout, expire, token.
        """
        assert lock.get("token") is None and lock.get("expire") is None
        self._walk.ahead = []
        now = self.clock()
        timeout = self._capped(lock.get("timeout"))
        held = HeldLock(token=generate_lock_token(), root=normalize_lock_root(path), scope=lock["scope"],
                        depth=lock["depth"], owner=lock["owner"], principal=lock["principal"], timeout=timeout,
                        expire=now + timeout)  # fmt: skip
        lock.update(_as_dict(held))
        validate_lock(lock)
        try:
            with self.portal.sessions.begin() as session:
                locks.grant(session, held, now)
        except LockConflict as conflict:
            condition = DAVErrorCondition(PRECONDITION_CODE_LockConflict)
            for root in conflict.roots:
                condition.add_href(root)
            raise DAVError(HTTP_LOCKED, err_condition=condition) from None
        return lock

    def refresh(self, token: str, *, timeout: float | None) -> dict[str, Any]:
        self._walk.ahead = []
        now = self.clock()
        with self.portal.sessions.begin() as session:
            held = locks.refresh(session, token, self._capped(timeout), now)
        if held is None:  # expired (or released) since WsgiDAV looked it up
            raise DAVError(HTTP_PRECONDITION_FAILED, context_info="The lock has expired.",
                           err_condition=PRECONDITION_CODE_LockTokenMismatch)  # fmt: skip
        return _as_dict(held)

    def delete(self, token: str) -> bool:
        self._walk.ahead = []
        with self.portal.sessions.begin() as session:
            return locks.release(session, token)

    def get_lock_list(self, path: str, *, include_root: bool, include_children: bool,
                      token_only: bool) -> list[Any]:  # fmt: skip
        assert include_root or include_children
        url, ahead = normalize_lock_root(path), self._walk.ahead
        self._walk.ahead = []
        if include_children:
            with self.portal.sessions() as session:
                found = locks.at(session, url, self.clock(), on_url=include_root, below=True)
        elif ahead and ahead[0][0] == url:
            found, self._walk.ahead = ahead[0][1], ahead[1:]
        else:
            # This URL and every folder above it, for the asks about those folders that follow.
            walk = ancestors(url)
            with self.portal.sessions() as session:
                by_root = locks.on(session, walk, self.clock())
            found, self._walk.ahead = by_root[url], [(above, by_root[above]) for above in walk[1:]]
        return [lock.token for lock in found] if token_only else [_as_dict(lock) for lock in found]

    # --- the portal's own: listings --------------------------------------------------------
    def prefetch(self, urls: list[str], environ: dict, *, recent: bool = False) -> bool:
        """Read the locks on a folder and its entries at once, with their dead properties, for the
        PROPFIND that follows; True if any of them holds a lock (`recent`: see `prefetch`)."""
        return prefetch(self.portal, urls, environ, self.clock(), recent=recent)

    def locks_on(self, url: str, environ: dict) -> list[HeldLock]:
        """The locks on `url` itself: from the listing's read, or read now (a LOCK's answer shows
        the lock just granted)."""
        cached = RequestContext.of(environ).locks.get(normalize_lock_root(url))
        if cached is not None:
            return cached
        with self.portal.sessions() as session:
            return locks.at(session, url, self.clock())

    def _capped(self, timeout: float | None) -> float:
        # The gate caps the Timeout header already; this holds for any other caller. Infinite
        # (-1) is capped too: an abandoned lock would block the file for ever.
        cap = float(self.portal.settings.limits.lock_timeout_seconds)
        if timeout is None or timeout <= 0 or timeout > cap:
            return cap
        return float(timeout)


def lock_discovery(held: list[HeldLock], *, lockroot_href: str, login: str | None, now: float):
    """`{DAV:}lockdiscovery` of a resource from its locks, as WsgiDAV writes it, except that a
    lock's token is shown to its holder only (a token is half a credential)."""
    discovery = etree.Element("{DAV:}lockdiscovery", nsmap={"D": "DAV:"})
    for lock in held:
        active = etree.SubElement(discovery, "{DAV:}activelock")
        etree.SubElement(etree.SubElement(active, "{DAV:}locktype"), "{DAV:}write")
        etree.SubElement(etree.SubElement(active, "{DAV:}lockscope"), "{DAV:}" + lock.scope)
        etree.SubElement(active, "{DAV:}depth").text = lock.depth
        if lock.owner:
            active.append(xml_tools.string_to_xml(lock.owner))
        etree.SubElement(active, "{DAV:}timeout").text = f"Second-{max(0, int(lock.expire - now))}"
        if login is not None and lock.principal == login:
            etree.SubElement(etree.SubElement(active, "{DAV:}locktoken"), "{DAV:}href").text = lock.token
        etree.SubElement(etree.SubElement(active, "{DAV:}lockroot"), "{DAV:}href").text = lockroot_href
    return discovery


def _as_dict(lock: HeldLock) -> dict[str, Any]:
    """WsgiDAV's lock dictionary."""
    return {"root": lock.root, "type": "write", "scope": lock.scope, "depth": lock.depth, "owner": lock.owner,
            "principal": lock.principal, "timeout": lock.timeout, "expire": lock.expire,
            "token": lock.token}  # fmt: skip
