"""The audit trail outside requests (the CLI's changes), and reading it: filters and the formats
an admin hands on (table, CSV, JSON). Requests are audited by wsgidav_ext.audit."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from davportal.core.models import AuditEvent
from policy import Actor, Target

COLUMNS = ("at", "login", "role", "action", "client_id", "path", "destination", "status", "remote_addr", "detail")


def record(session: Session, actor: Actor, action: str, target: Target, detail: str) -> None:
    """A change made outside a request, in the change's own transaction."""
    session.add(AuditEvent(login=actor.login, role=actor.role.value, action=action, client_id=target.client_id,
                           path="/".join(target.below_client) or None, status=200, detail=detail))  # fmt: skip


def events(session: Session, *, client_id: str | None = None, login: str | None = None,
           since: datetime | None = None) -> list[dict]:  # fmt: skip
    query = select(AuditEvent).order_by(AuditEvent.at, AuditEvent.id)
    if client_id:
        query = query.where(AuditEvent.client_id == client_id)
    if login:
        query = query.where(AuditEvent.login == login)
    if since:
        query = query.where(AuditEvent.at >= since)
    return [
        {column: getattr(event, column) for column in COLUMNS} | {"at": event.at.isoformat(timespec="seconds")}
        for event in session.scalars(query)
    ]


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
