"""The audit trail outside requests (the CLI's changes), and reading it: filters and the formats
an admin hands on (table, CSV, JSON). Requests are audited by wsgidav_ext.audit."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import ColumnElement, Select, func, insert, or_, select
from sqlalchemy.orm import Session

from davportal.core.models import Account, AuditEvent
from policy import Actor, Target

COLUMNS = ("at", "login", "name", "role", "action", "client_id", "path", "destination", "status", "remote_addr",
           "detail")  # fmt: skip


def record(session: Session, actor: Actor, action: str, target: Target, detail: str) -> None:
    """A change made outside a request, in the change's own transaction."""
    session.add(AuditEvent(**_row(actor, action, target, detail)))


def record_all(session: Session, actor: Actor, entries: Iterable[tuple[str, Target, str]]) -> None:
    """Many changes of one actor, (action, target, detail) each, in order: one statement."""
    rows = [_row(actor, action, target, detail) for action, target, detail in entries]
    if rows:
        session.connection().execute(insert(AuditEvent), rows)


def _row(actor: Actor, action: str, target: Target, detail: str) -> dict:
    return dict(login=actor.login, role=actor.role.value, action=action, client_id=target.client_id,
                path="/".join(target.below_client) or None, status=200, detail=detail)  # fmt: skip


def by_whom(actor: Actor, login: str) -> str:
    """Who changed a login's own setting, for a detail: the login itself or an admin."""
    return "its owner" if actor.login == login else "an admin"


def events(session: Session, *, client_id: str | None = None, login: str | None = None, path: str | None = None,
           action: str | None = None, since: datetime | None = None, until: datetime | None = None, offset: int = 0,
           limit: int | None = None) -> list[dict]:  # fmt: skip
    """The events that match every filter given, oldest first, with the login's display name:
    `path` is a folder or file below the client root (everything in a folder matches), `since`
    is inclusive and `until` exclusive; a page of them with `offset` and `limit`."""
    query = _matching(select(AuditEvent, Account.name).outerjoin(Account, Account.login == AuditEvent.login),
                      client_id, login, path, action, since, until)  # fmt: skip
    query = query.order_by(AuditEvent.at, AuditEvent.id).offset(offset).limit(limit)
    return [
        {column: getattr(event, column, None) for column in COLUMNS}
        | {"at": event.at.isoformat(timespec="seconds"), "name": name}
        for event, name in session.execute(query)
    ]


def count(session: Session, *, client_id: str | None = None, login: str | None = None, path: str | None = None,
          action: str | None = None, since: datetime | None = None, until: datetime | None = None) -> int:  # fmt: skip
    """How many events `events` pages through with the same filters."""
    query = _matching(select(func.count()).select_from(AuditEvent), client_id, login, path, action, since, until)
    return session.scalar(query) or 0


def _matching(query: Select, client_id: str | None, login: str | None, path: str | None, action: str | None,
              since: datetime | None, until: datetime | None) -> Select:  # fmt: skip
    where: list[ColumnElement[bool]] = []
    if client_id:
        where.append(AuditEvent.client_id == client_id)
    if login:
        where.append(AuditEvent.login == login)
    below = (path or "").strip("/")
    if below:
        where.append(or_(AuditEvent.path == below, AuditEvent.path.startswith(below + "/", autoescape=True)))
    if action:
        where.append(AuditEvent.action == action.upper())
    if since:
        where.append(AuditEvent.at >= since)
    if until:
        where.append(AuditEvent.at < until)
    return query.where(*where)


def as_csv(rows: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS)
    writer.writeheader()
    writer.writerows({column: _as_text(value) for column, value in row.items()} for row in rows)
    return out.getvalue()


def _as_text(value):
    # A file name such as "=HYPERLINK(...)" would run as a formula in a spreadsheet: a leading
    # quote makes the cell plain text (the OWASP advice for CSV exports).
    if isinstance(value, str) and value.startswith(("=", "+", "-", "@", "\t", "\r")):
        return "'" + value
    return value


def as_json(rows: list[dict]) -> str:
    return json.dumps(rows, indent=2, ensure_ascii=False)


def as_table(rows: list[dict]) -> str:
    shown = [[str(row[column] if row[column] is not None else "") for column in COLUMNS] for row in rows]
    widths = [max([len(column), *(len(r[i]) for r in shown)]) for i, column in enumerate(COLUMNS)]
    lines = ["  ".join(column.ljust(w) for column, w in zip(COLUMNS, widths))]
    lines += ["  ".join(value.ljust(w) for value, w in zip(r, widths)).rstrip() for r in shown]
    return "\n".join(lines)
