"""What a PROPFIND needs from the database, read in one statement: the dead properties and the
WebDAV locks of a resource, or of a folder and every entry it lists.

The two tables are read together (UNION ALL), the URLs bound as one value (a JSON array on
SQLite, an array on PostgreSQL): a Depth 0 PROPFIND of a file is one statement, and so is a
listing, however many entries it has. The rows land in the request's
context, where the property manager and the lock storage answer from.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from sqlalchemy import (
    ARRAY,
    Float,
    LargeBinary,
    String,
    any_,
    bindparam,
    func,
    literal_column,
    null,
    select,
    union_all,
)

from davportal.core.models import DavLock, DeadProperty
from davportal.services.locks import HeldLock
from davportal.services.portal import Portal
from davportal.services.request import RequestContext
from policy.locks import normalized

_PROPERTY, _LOCK = "p", "l"


def prefetch(portal: Portal, urls: list[str], environ: dict, now: float, *, recent: bool = False) -> bool:
    """Read the dead properties and the live locks on `urls` (WsgiDAV's ref URLs) into the
    request's context, unless already there; True if any of them holds a lock.

    `recent`: for a request that writes nothing (a PROPFIND), one URL's may come from what this
    node read a moment ago (`core.recent`: forgotten at once when any process changes a dead
    property or a lock), so a Depth 0 PROPFIND that comes again runs no statement.
    """
    context = RequestContext.of(environ)
    properties, locks = context.dead_properties, context.locks
    missing, any_lock = [], False
    for url in urls:
        root = normalized(url)
        if url not in properties or root not in locks:
            missing.append((url, root))
            properties[url], locks[root] = {}, []
        elif locks[root]:
            any_lock = True
    if not missing:
        return any_lock
    if recent and len(missing) == 1:
        ((url, root),) = missing
        kept, held = portal.recent_locks.get(("properties and locks", url), lambda: _read_one(portal, url, root, now))
        properties[url].update(kept)
        locks[root].extend(lock for lock in held if lock.expire > now)  # expired since: gone
        return any_lock or bool(locks[root])
    return _read(portal, missing, properties, locks, now) or any_lock


def _read_one(portal: Portal, url: str, root: str, now: float) -> tuple[dict[str, str], tuple[HeldLock, ...]]:
    properties: dict[str, dict[str, str]] = {url: {}}
    locks: dict[str, list[HeldLock]] = {root: []}
    _read(portal, [(url, root)], properties, locks, now)
    return properties[url], tuple(locks[root])


def _read(portal: Portal, missing: list[tuple[str, str]], properties: dict[str, dict[str, str]],
          locks: dict[str, list[HeldLock]], now: float) -> bool:  # fmt: skip
    """The one statement, its rows filed by URL; True if any lock was found."""
    any_lock = False
    dialect = portal.engine.dialect.name
    with portal.engine.connect() as connection:  # Core: no ORM work for a read of plain rows
        for row in connection.execute(_properties_and_locks(dialect), _parameters(missing, now, dialect)):
            if row.kind == _PROPERTY:
                properties[row.url][row.name] = row.value
            else:
                locks[row.url].append(HeldLock(row.name, row.url, row.scope, row.depth, row.owner, row.principal,
                                               row.timeout, row.expire))  # fmt: skip
                any_lock = True
    if any_lock:
        for _, root in missing:
            locks[root].sort(key=lambda lock: lock.expire)  # as `services.locks.on` orders them
    return any_lock


def _one_of(column, parameter: str, dialect: str):
    """`column IN (the list in parameter)`, the list bound as one value: the statement's text
    does not grow with the folder, and nothing is bound per entry."""
    if dialect == "postgresql":
        return column == any_(bindparam(parameter, type_=ARRAY(String)))
    return column.in_(select(literal_column("value")).select_from(func.json_each(bindparam(parameter))))


@cache
def _properties_and_locks(dialect: str):
    """The statement, built once per database kind."""
    no_text, no_number = null().cast(String), null().cast(Float)
    properties = select(
        literal_column(f"'{_PROPERTY}'").label("kind"), DeadProperty.url.label("url"),
        DeadProperty.name.label("name"), DeadProperty.value.label("value"), no_text.label("scope"),
        no_text.label("depth"), null().cast(LargeBinary).label("owner"), no_text.label("principal"),
        no_number.label("timeout"), no_number.label("expire"),
    ).where(_one_of(DeadProperty.url, "urls", dialect))  # fmt: skip
    held: Any = select(
        literal_column(f"'{_LOCK}'"), DavLock.root, DavLock.token, no_text, DavLock.scope, DavLock.depth,
        DavLock.owner, DavLock.principal, DavLock.timeout, DavLock.expire,
    ).where(_one_of(DavLock.root, "roots", dialect), DavLock.expire > bindparam("now"))  # fmt: skip
    return union_all(properties, held)


def _parameters(missing: list[tuple[str, str]], now: float, dialect: str) -> dict[str, Any]:
    urls, roots = [url for url, _ in missing], sorted({root for _, root in missing})
    if dialect == "postgresql":
        return {"urls": urls, "roots": roots, "now": now}
    return {"urls": json.dumps(urls), "roots": json.dumps(roots), "now": now}
