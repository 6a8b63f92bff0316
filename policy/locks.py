"""Which WebDAV locks stand in the way of a new one: RFC 4918's lock model, as WsgiDAV reads it.

A lock is on a URL (its root); a depth-infinity lock covers everything below its root too. The
rule is the one WsgiDAV's LockManager checks before a grant, so the portal's atomic check (the
check and the grant in one step, on every node) never grants what WsgiDAV would refuse.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

EXCLUSIVE, SHARED = "exclusive", "shared"
DEPTH_0, INFINITY = "0", "infinity"


@dataclass(frozen=True)
class LockScope:
    """Where a lock is and what it keeps out: its root (a normalized URL path), scope and depth."""

    root: str
    scope: str  # EXCLUSIVE or SHARED
    depth: str  # DEPTH_0 or INFINITY


def normalized(url: str) -> str:
    """A lock's root as WsgiDAV keeps it: one leading slash, no trailing one ("/" for the top)."""
    return "/" + url.strip("/")


def ancestors(url: str) -> list[str]:
    """The URL and every folder above it, up to "/": where a lock that covers the URL may be."""
    url = normalized(url)
    found = [url]
    while url != "/":
        url = url.rsplit("/", 1)[0] or "/"
        found.append(url)
    return found


def is_below(url: str, folder: str) -> bool:
    """Whether `url` is inside `folder` (at any depth), not the folder itself."""
    url, folder = normalized(url), normalized(folder)
    return url != folder and url.startswith(folder.rstrip("/") + "/")


def conflicts(wanted: LockScope, held: Iterable[LockScope]) -> list[str]:
    """The roots of the held locks that refuse `wanted` (none: it may be granted).

    - A lock on the same URL, or a depth-infinity lock on a folder above it, refuses it unless
      both are shared.
    - A depth-infinity lock refuses any lock below its root, shared or not (WsgiDAV's reading:
      a folder locked as a whole must not have parts held by someone else).
    A holder's own locks count too: the same person in two programs must not both write.
    """
    refused: list[str] = []
    for lock in held:
        covers = lock.root == wanted.root or (lock.depth == INFINITY and is_below(wanted.root, lock.root))
        if covers and not (lock.scope == SHARED and wanted.scope == SHARED):
            refused.append(lock.root)
        elif wanted.depth == INFINITY and is_below(lock.root, wanted.root):
            refused.append(lock.root)
    return refused
