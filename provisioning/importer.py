"""`davportal client import`: many clients (and their first contact) from a CSV file.

Every row is checked before anything is written; with a bad row nothing is imported unless the
admin says to skip the bad ones. Importing the same file again changes nothing. A contact login
that already exists (in the database, or on an earlier row) joins the row's client only when the
row says so (existing_contact: yes) and gives that contact's email: a mistyped or reused login
must not open one client's folders to another client's contact.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from davportal.core.errors import BadRequest, Conflict
from davportal.core.models import Account, Client, Membership
from davportal.core.storage import Storage
from policy import Role
from provisioning import templates
from provisioning.accounts import EMAIL_PATTERN, LOGIN_PATTERN, NAME_LENGTH, checked_name
from provisioning.clients import CLIENT_ID_PATTERN, ensure_folders
from provisioning.matter_types import MatterTypes

COLUMNS = ("id", "name", "matter_type", "contact_login", "contact_email", "existing_contact", "contact_name")
REQUIRED = ("id", "name")
YES_NO = ("", "yes", "no")
BATCH = 500


@dataclass(frozen=True)
class Row:
    line: int
    id: str
    name: str
    matter_type: str | None
    contact_login: str | None
    contact_email: str | None
    existing_contact: bool  # the file says the contact login is someone already there
    contact_name: str | None = None  # a new contact's display name


@dataclass(frozen=True)
class BadRow:
    line: int
    reason: str


@dataclass
class Outcome:
    clients_created: int = 0
    clients_unchanged: int = 0
    contacts_created: int = 0
    contacts_joined: int = 0  # existing contacts made a contact of one more client
    contacts_invited: int = 0
    folders_created: int = 0


def read(path: Path, session: Session, matter_types: MatterTypes, *,
         invite: bool = False) -> tuple[list[Row], list[BadRow]]:  # fmt: skip
    """Parse and check every row against the file itself and the database (`invite`: every new
    contact is to be invited, so needs an email)."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            return check(fh, session, matter_types, source=str(path), invite=invite)
    except OSError as exc:
        raise BadRequest(f"{path}: cannot read the file ({exc.strerror})") from None
    except UnicodeDecodeError as exc:
        raise BadRequest(f"{path}: not a UTF-8 CSV file ({exc})") from None


def check(lines: Iterable[str], session: Session, matter_types: MatterTypes, *, source: str,
          invite: bool = False) -> tuple[list[Row], list[BadRow]]:  # fmt: skip
    """`read` for a file's text (an upload, say); `source` names it in the reasons."""
    try:
        reader = csv.DictReader(lines)
        header = [h.strip() for h in reader.fieldnames or []]
        missing = [c for c in REQUIRED if c not in header]
        unknown = [c for c in header if c not in COLUMNS]
        if missing or unknown:
            raise BadRequest(
                f"{source}, line 1: the header must name the columns {', '.join(COLUMNS)} "
                f"(missing: {', '.join(missing) or '-'}; unknown: {', '.join(unknown) or '-'})"
            )
        raw = [(reader.line_num, {k.strip(): (v or "").strip() for k, v in r.items() if k}) for r in reader]
    except csv.Error as exc:
        raise BadRequest(f"{source}: not a UTF-8 CSV file ({exc})") from None
    checker = _Checker(session, matter_types)
    rows, bad = [], []
    for line, fields in raw:
        flag = fields.get("existing_contact", "").lower()
        row = Row(line, fields.get("id", ""), fields.get("name", ""), fields.get("matter_type") or None,
                  fields.get("contact_login") or None, fields.get("contact_email") or None,
                  existing_contact=flag == "yes", contact_name=fields.get("contact_name") or None)  # fmt: skip
        reason = "existing_contact must be yes, no or empty" if flag not in YES_NO else checker.problem(row)
        if not reason and invite and row.contact_login and not row.contact_email and not row.existing_contact:
            reason = f"'{row.contact_login}' cannot be invited without a contact_email"
        if reason:
            bad.append(BadRow(line, reason))
        else:
            checker.accept(row)
            rows.append(row)
    return rows, bad


class _Checker:
    """A row against the database and against the good rows above it in the file."""

    def __init__(self, session: Session, matter_types: MatterTypes):
        self.matter_types = matter_types
        self.clients = {c.id: c for c in session.scalars(select(Client))}
        self.accounts = {a.login: (a.role, a.email) for a in session.scalars(select(Account))}
        self.clients_of: dict[str, set[str]] = {}
        for login, client_id in session.execute(select(Membership.login, Membership.client_id)):
            self.clients_of.setdefault(login, set()).add(client_id)
        self.client_lines: dict[str, int] = {}  # a client id: the line it is on
        self.new_contacts: dict[str, Row] = {}  # a login not in the database: the row that adds it

    def accept(self, row: Row) -> None:
        self.client_lines[row.id] = row.line
        if row.contact_login and row.contact_login not in self.accounts:
            self.new_contacts.setdefault(row.contact_login, row)

    def problem(self, row: Row) -> str | None:
        if not CLIENT_ID_PATTERN.match(row.id):
            return f"'{row.id}' is not a valid client id (lower-case letters, digits, - and _)"
        if row.id in self.client_lines:
            return f"the client '{row.id}' is already on line {self.client_lines[row.id]}"
        if not row.name:
            return "the name is empty"
        if row.matter_type and row.matter_type not in self.matter_types:
            return f"there is no matter type '{row.matter_type}'"
        existing = self.clients.get(row.id)
        if existing and (existing.name, existing.matter_type) != (row.name, row.matter_type):
            return (f"the client '{row.id}' exists as '{existing.name}' ({existing.matter_type or 'no matter type'}); "
                    "change it with the client commands, not by import")  # fmt: skip
        if row.contact_email and not row.contact_login:
            return "a contact_email needs a contact_login"
        if row.existing_contact and not row.contact_login:
            return "existing_contact needs a contact_login"
        if row.contact_login and not LOGIN_PATTERN.match(row.contact_login):
            return f"'{row.contact_login}' is not a valid login"
        if row.contact_email and not EMAIL_PATTERN.match(row.contact_email):
            return f"'{row.contact_email}' is not a valid email address"
        if row.contact_name and len(row.contact_name) > NAME_LENGTH:
            return f"the contact_name is longer than {NAME_LENGTH} characters"
        return self._contact_problem(row) if row.contact_login else None

    def _contact_problem(self, row: Row) -> str | None:
        login, email = row.contact_login, row.contact_email
        assert login is not None  # problem() asks only for rows that name a contact
        if login in self.accounts:
            role, on_record = self.accounts[login]
            if role == Role.STAFF.value:
                return f"'{login}' is a staff login"
            clients = self.clients_of.get(login, set())
            if row.id in clients:  # imported before: nothing to do, as long as the file agrees
                if email and not _same(email, on_record):
                    return (f"'{login}' is a contact of '{row.id}' with another email; "
                            "the import does not change emails")  # fmt: skip
                return None
            known_as = f"a contact of {', '.join(sorted(clients))}" if clients else "a contact"
            return self._join_problem(row, f"'{login}' already exists ({known_as})", on_record)
        first = self.new_contacts.get(login)
        if first is not None:
            return self._join_problem(row, f"'{login}' is already the contact on line {first.line}",
                                      first.contact_email)  # fmt: skip
        if row.existing_contact:
            return f"existing_contact is yes, but there is no contact '{login}'"
        return None

    @staticmethod
    def _join_problem(row: Row, who: str, email_on_record: str | None) -> str | None:
        """An existing contact joins the row's client only when the row says so and knows their email."""
        if not row.existing_contact:
            return (f"{who}: to make them a contact of '{row.id}' too, set existing_contact to yes "
                    "and give their email")  # fmt: skip
        if not email_on_record:
            return (f"{who}, with no email on record to confirm it is them: add them with "
                    f"`davportal contact add {row.contact_login} --client {row.id}`")  # fmt: skip
        if not row.contact_email:
            return f"{who}: give their email, as on record, to confirm it is them"
        if not _same(row.contact_email, email_on_record):
            return f"{who}, with an email other than {row.contact_email}: check the login and the email"
        return None


def _same(email: str, other: str | None) -> bool:
    return other is not None and email.casefold() == other.casefold()


def import_rows(sessions: sessionmaker[Session], storage: Storage, rows: list[Row], matter_types: MatterTypes,
                folders: tuple[str, ...], *, on_row=lambda row: None,
                invite: Callable[[Session, str], None] | None = None) -> Outcome:  # fmt: skip
    """Write the checked rows, a batch per transaction (re-running after a stop is safe);
    `invite(session, login)` each new contact, in its row's transaction."""
    outcome = Outcome()
    for start in range(0, len(rows), BATCH):
        batch = rows[start : start + BATCH]
        with sessions.begin() as session:
            existing = set(session.scalars(select(Client.id).where(Client.id.in_([r.id for r in batch]))))
            logins = {r.contact_login for r in batch if r.contact_login}
            accounts = set(session.scalars(select(Account.login).where(Account.login.in_(logins))))
            members = {tuple(row) for row in session.execute(
                select(Membership.login, Membership.client_id).where(Membership.login.in_(logins)))}  # fmt: skip
            # Read as new, there now: someone added the login since. Checked before the batch writes
            # anything, so that no client or folder is made without its contact.
            late = [r for r in batch if r.contact_login in accounts and not r.existing_contact
                    and (r.contact_login, r.id) not in members]  # fmt: skip
            if late:
                raise Conflict(f"line {late[0].line}: the contact '{late[0].contact_login}' was added while the "
                               "file was being imported; run the import again to check it")  # fmt: skip
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
                    login = row.contact_login
                    joining = (login, row.id) not in members
                    if login not in accounts:
                        # No password yet: the contact is sent an invitation or given one with `passwd`.
                        session.add(Account(login=login, role=Role.CONTACT.value, email=row.contact_email,
                                            name=checked_name(row.contact_name)))  # fmt: skip
                        accounts.add(login)
                        outcome.contacts_created += 1
                        if invite is not None:
                            session.flush()
                            invite(session, login)
                            outcome.contacts_invited += 1
                    elif joining:
                        outcome.contacts_joined += 1
                    if joining:
                        session.add(Membership(login=login, client_id=row.id))
                        members.add((login, row.id))
                on_row(row)
    return outcome
