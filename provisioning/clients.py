"""Clients and their default folders."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from davportal.core.errors import BadRequest, Conflict, NotFound
from davportal.core.models import Account, Client, Membership
from davportal.core.storage import Storage
from policy import Role
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


def add_client(
    session: Session, storage: Storage, client_id: str, *, name: str, folders: tuple[str, ...],
    matter_type: MatterType | None = None,
) -> tuple[Client, list[str]]:  # fmt: skip
    """Create the client, its two area folders and its matter type's; returns the folders created.

    Adding a client that exists with the same name and type only creates its missing folders, so
    that the command can be re-run after an interruption.
    """
    check_client_id(client_id)
    if not name.strip():
        raise BadRequest("The client's display name must not be empty.")
    type_id = matter_type.id if matter_type else None
    client = session.get(Client, client_id)
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
    return client, created


def set_type(session: Session, storage: Storage, client_id: str, matter_type: MatterType) -> templates.ClientReport:
    """Change the client's matter type: its missing folders are added, nothing is deleted."""
    client = session.get(Client, client_id)
    if client is None:
        raise NotFound(f"There is no client '{client_id}'.")
    client.matter_type = matter_type.id
    return templates.give_folders(session, storage, client_id, matter_type)


def assign(session: Session, client_id: str, staff_login: str) -> None:
    client = session.get(Client, client_id)
    if client is None:
        raise NotFound(f"There is no client '{client_id}'.")
    staff = session.get(Account, staff_login)
    if staff is None or staff.role != Role.STAFF.value:
        raise NotFound(f"There is no staff login '{staff_login}'.")
    client.assigned_staff = staff_login


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


def list_clients(session: Session) -> list[ClientView]:
    counts = dict(session.execute(select(Membership.client_id, func.count()).group_by(Membership.client_id)).all())
    return [
        ClientView(c.id, c.name, c.matter_type, counts.get(c.id, 0))
        for c in session.scalars(select(Client).order_by(Client.id))
    ]
