"""`davportal client import`: many clients (and their first contact) from a CSV file.

Every row is checked before anything is written; with a bad row nothing is imported unless the
admin says to skip the bad ones. Importing the same file again changes nothing.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from davportal.core.errors import BadRequest
from davportal.core.models import Account, Client, Membership
from davportal.core.storage import Storage
from policy import Role
from provisioning import templates
from provisioning.accounts import EMAIL_PATTERN, LOGIN_PATTERN
from provisioning.clients import CLIENT_ID_PATTERN, ensure_folders
from provisioning.matter_types import MatterTypes

COLUMNS = ("id", "name", "matter_type", "contact_login", "contact_email")
REQUIRED = ("id", "name")
BATCH = 500


@dataclass(frozen=True)
class Row:
    line: int
    id: str
    name: str
    matter_type: str | None
    contact_login: str | None
    contact_email: str | None


@dataclass(frozen=True)
class BadRow:
    line: int
    reason: str


@dataclass
class Outcome:
    clients_created: int = 0
    clients_unchanged: int = 0
    contacts_created: int = 0
    folders_created: int = 0


def read(path: Path, session: Session, matter_types: MatterTypes) -> tuple[list[Row], list[BadRow]]:
    """Parse and check every row against the file itself and the database."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            header = [h.strip() for h in reader.fieldnames or []]
            missing = [c for c in REQUIRED if c not in header]
            unknown = [c for c in header if c not in COLUMNS]
            if missing or unknown:
                raise BadRequest(
                    f"{path}, line 1: the header must name the columns {', '.join(COLUMNS)} "
                    f"(missing: {', '.join(missing) or '-'}; unknown: {', '.join(unknown) or '-'})"
                )
            raw = [(reader.line_num, {k.strip(): (v or "").strip() for k, v in r.items() if k}) for r in reader]
    except OSError as exc:
        raise BadRequest(f"{path}: cannot read the file ({exc.strerror})") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise BadRequest(f"{path}: not a UTF-8 CSV file ({exc})") from None
    known_clients = {c.id: c for c in session.scalars(select(Client))}
    accounts = {a.login: a.role for a in session.scalars(select(Account))}
    rows, bad = [], []
    seen_ids: dict[str, int] = {}  # a client id: the line it is on
    for line, fields in raw:
        row = Row(line, fields.get("id", ""), fields.get("name", ""), fields.get("matter_type") or None,
                  fields.get("contact_login") or None, fields.get("contact_email") or None)  # fmt: skip
        reason = _problem(row, matter_types, known_clients, accounts, seen_ids)
        if reason:
            bad.append(BadRow(line, reason))
        else:
            seen_ids[row.id] = line
            rows.append(row)
    return rows, bad


def _problem(row: Row, matter_types, known_clients, accounts, seen_ids) -> str | None:
    if not CLIENT_ID_PATTERN.match(row.id):
        return f"'{row.id}' is not a valid client id (lower-case letters, digits, - and _)"
    if row.id in seen_ids:
        return f"the client '{row.id}' is already on line {seen_ids[row.id]}"
    if not row.name:
        return "the name is empty"
    if row.matter_type and row.matter_type not in matter_types:
        return f"there is no matter type '{row.matter_type}'"
    existing = known_clients.get(row.id)
    if existing and (existing.name, existing.matter_type) != (row.name, row.matter_type):
        return (f"the client '{row.id}' exists as '{existing.name}' ({existing.matter_type or 'no matter type'}); "
                "change it with the client commands, not by import")  # fmt: skip
    if row.contact_email and not row.contact_login:
        return "a contact_email needs a contact_login"
    if row.contact_login:
        if not LOGIN_PATTERN.match(row.contact_login):
            return f"'{row.contact_login}' is not a valid login"
        if accounts.get(row.contact_login) == Role.STAFF.value:
            return f"'{row.contact_login}' is a staff login"
    if row.contact_email and not EMAIL_PATTERN.match(row.contact_email):
        return f"'{row.contact_email}' is not a valid email address"
    return None


def import_rows(sessions: sessionmaker[Session], storage: Storage, rows: list[Row], matter_types: MatterTypes,
                folders: tuple[str, ...], *, on_row=lambda row: None) -> Outcome:  # fmt: skip
    """Write the checked rows, a batch per transaction (re-running after a stop is safe)."""
    outcome = Outcome()
    for start in range(0, len(rows), BATCH):
        batch = rows[start : start + BATCH]
        with sessions.begin() as session:
            existing = set(session.scalars(select(Client.id).where(Client.id.in_([r.id for r in batch]))))
            logins = {r.contact_login for r in batch if r.contact_login}
            accounts = set(session.scalars(select(Account.login).where(Account.login.in_(logins))))
            members = {tuple(row) for row in session.execute(
                select(Membership.login, Membership.client_id).where(Membership.login.in_(logins)))}  # fmt: skip
            new = [Client(id=r.id, name=r.name, matter_type=r.matter_type) for r in batch if r.id not in existing]
            session.add_all(new)
            session.flush()
            outcome.clients_created += len(new)
            outcome.clients_unchanged += len(batch) - len(new)
            provisioned = templates.provisioned_of(session, [r.id for r in batch if r.matter_type])
            for row in batch:
                outcome.folders_created += len(ensure_folders(storage, row.id, folders))
                if row.matter_type:
                    report = templates.apply_template(storage, row.id, matter_types[row.matter_type],
                                                      provisioned[row.id], dry_run=False)  # fmt: skip
                    templates.remember(session, report, provisioned[row.id])
                    outcome.folders_created += len(report.created)
                if row.contact_login:
                    if row.contact_login not in accounts:
                        # No password yet: the contact is sent an invitation or given one with `passwd`.
                        session.add(Account(login=row.contact_login, role=Role.CONTACT.value,
                                            email=row.contact_email))  # fmt: skip
                        accounts.add(row.contact_login)
                        outcome.contacts_created += 1
                    if (row.contact_login, row.id) not in members:
                        session.add(Membership(login=row.contact_login, client_id=row.id))
                        members.add((row.contact_login, row.id))
                on_row(row)
    return outcome
