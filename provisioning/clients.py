"""Clients: their default folders, listing and search, the staff they are assigned to, archiving."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, func, or_, select, true
from sqlalchemy.orm import Session

from davportal.core.errors import BadRequest, Conflict, NotFound
from davportal.core.models import Account, Client, Membership, utcnow
from davportal.core.storage import Storage
from davportal.notifications import events
from davportal.services import audit
from policy import Actor, Role, Target
from policy.names import RESERVED_PREFIX
from provisioning import templates
from provisioning.matter_types import MatterType

# The client id is the first URL segment: short, lower case, safe in every client's path syntax.
CLIENT_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


@dataclass(frozen=True)
class ClientView:
    id: str
    name: str
    matter_type: str | None
    contacts: int
    assigned_staff: str | None = None
    archived: bool = False


def add_client(
    session: Session, storage: Storage, client_id: str, *, name: str, folders: tuple[str, ...],
    matter_type: MatterType | None = None, actor: Actor,
) -> tuple[Client, list[str]]:  # fmt: skip
    """Create the client, its two area folders and its matter type's; returns the folders created.

    Adding a client that exists with the same name and type only creates its missing folders, so
    that the command can be re-run after an interruption (audited only if it created any).
    """
    check_client_id(client_id)
    if not name.strip():
        raise BadRequest("The client's display name must not be empty.")
    type_id = matter_type.id if matter_type else None
    client = session.get(Client, client_id)
    new = client is None
    if client is None:
        client = Client(id=client_id, name=name.strip(), matter_type=type_id)
        session.add(client)
        session.flush()
    elif client.name != name.strip():
        raise Conflict(f"The client '{client_id}' already exists, named '{client.name}'.")
    elif client.matter_type != type_id:
        raise Conflict(f"The client '{client_id}' already exists as {client.matter_type or 'no matter type'}: "
                       "use `davportal client set-type` to change it.")  # fmt: skip
    created = ensure_folders(storage, client_id, folders)
    if matter_type:
        created += templates.give_folders(session, storage, client_id, matter_type).created
    if new or created:
        detail = (f"client '{client.name}' added as {type_id or 'no matter type'}" if new
                  else f"missing folders of '{client.name}' added")  # fmt: skip
        audit.record(session, actor, "ADD-CLIENT", Target((client_id,)),
                     detail + (f", with folders: {', '.join(created)}" if created else ""))  # fmt: skip
    return client, created


def set_type(session: Session, storage: Storage, client_id: str, matter_type: MatterType, *,
             actor: Actor) -> templates.ClientReport:  # fmt: skip
    """Change the client's matter type: its missing folders are added, nothing is deleted."""
    client = _get(session, client_id)
    was = client.matter_type
    client.matter_type = matter_type.id
    report = templates.give_folders(session, storage, client_id, matter_type)
    if was != matter_type.id or report.created:
        said = (
            f"matter type {was or 'none'} changed to {matter_type.id}"
            if was != matter_type.id
            else f"matter type {was} kept"
        )
        added = f", folders added: {', '.join(report.created)}" if report.created else ""
        audit.record(session, actor, "SET-TYPE", Target((client_id,)), said + added)
    return report


def assign(session: Session, client_id: str, staff_login: str | None, *, actor: Actor) -> None:
    """Make a member of staff the client's contact at the firm (None: nobody)."""
    client = _get(session, client_id)
    if staff_login is not None:
        staff = session.get(Account, staff_login)
        if staff is None or staff.role != Role.STAFF.value:
            raise NotFound(f"There is no staff login '{staff_login}'.")
    if client.assigned_staff == staff_login:
        return
    client.assigned_staff = staff_login
    detail = f"assigned to {staff_login}" if staff_login else "assigned to nobody"
    audit.record(session, actor, "ASSIGN", Target((client_id,)), detail)


def archive(session: Session, client_id: str, *, actor: Actor) -> bool:
    """A client who left: their contacts lose access to it at once (their other clients stay),
    staff keep its folders, the default lists leave it out. False when it already was archived."""
    client = _get(session, client_id)
    if client.archived_at is not None:
        return False
    client.archived_at = utcnow()
    events.leave_out(session, client_id)
    audit.record(session, actor, "ARCHIVE", Target((client_id,)), "client archived")
    return True


def unarchive(session: Session, client_id: str, *, actor: Actor) -> bool:
    """Undo `archive`: its contacts have access again. False when it was not archived."""
    client = _get(session, client_id)
    if client.archived_at is None:
        return False
    client.archived_at = None
    audit.record(session, actor, "UNARCHIVE", Target((client_id,)), "client no longer archived")
    return True


def _get(session: Session, client_id: str) -> Client:
    client = session.get(Client, client_id)
    if client is None:
        raise NotFound(f"There is no client '{client_id}'.")
    return client


def check_client_id(client_id: str) -> None:
    if not CLIENT_ID_PATTERN.match(client_id) or client_id.startswith(RESERVED_PREFIX):
        raise BadRequest(
            f"'{client_id}' is not a valid client id: use lower-case letters, digits, '-' and '_' "
            "(at most 64, starting with a letter or digit)."
        )


def ensure_folders(storage: Storage, client_id: str, folders: tuple[str, ...]) -> list[str]:
    storage.ensure_root()
    created = []
    for folder in ("", *folders):
        path = storage.path_of((client_id, *[p for p in folder.split("/") if p]))
        if not path.is_dir():
            path.mkdir(parents=True, exist_ok=True)
            if folder:
                created.append(folder)
    return created


def list_clients(session: Session, *, search: str | None = None, include_archived: bool = False, offset: int = 0,
                 limit: int | None = None, only_archived: bool = False) -> list[ClientView]:  # fmt: skip
    """Clients by id, with their number of contacts, in one statement: a page of them (`offset`,
    `limit`), those whose id or name contains `search` (in any case), archived ones if asked."""
    contacts = select(func.count()).where(Membership.client_id == Client.id).correlate(Client).scalar_subquery()
    query = _matching(select(Client, contacts.label("contacts")), search, include_archived, only_archived)
    query = query.order_by(Client.id).offset(offset).limit(limit)
    return [
        ClientView(c.id, c.name, c.matter_type, count, c.assigned_staff, c.archived_at is not None)
        for c, count in session.execute(query)
    ]


def count_clients(session: Session, *, search: str | None = None, include_archived: bool = False,
                  only_archived: bool = False) -> int:  # fmt: skip
    """How many clients `list_clients` pages through: one statement."""
    query = _matching(select(func.count()).select_from(Client), search, include_archived, only_archived)
    return session.scalar(query) or 0


def _matching(query: Select, search: str | None, include_archived: bool, only_archived: bool) -> Select:
    where: list[ColumnElement[bool]] = [true()]
    if only_archived:
        where.append(Client.archived_at.is_not(None))
    elif not include_archived:
        where.append(Client.archived_at.is_(None))
    if search and search.strip():
        text = search.strip().lower()
        where.append(or_(func.lower(Client.id).contains(text, autoescape=True),
                         func.lower(Client.name).contains(text, autoescape=True)))  # fmt: skip
    return query.where(*where)
