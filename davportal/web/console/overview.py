"""The console's first page: the state of the firm's portal at a glance, and where to act."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from davportal.core.errors import NotFound
from davportal.core.models import Account, Client, OutboxMessage, TrashItem
from davportal.notifications.outbox import FAILED, PENDING
from davportal.web.console.visit import Visit
from policy import Role


@dataclass(frozen=True)
class Glance:
    clients: int
    archived_clients: int
    contacts: int
    contacts_without_password: int  # invited (or imported) and not signed up yet
    staff: int
    admins: int
    disabled: int
    emails_waiting: int
    emails_failed: int
    in_trash: int


def glance(session) -> Glance:
    """Counts for the overview: one statement per table."""
    clients, archived = session.execute(
        select(func.count(), func.count(Client.archived_at))
    ).one()  # fmt: skip
    by_role = {
        (role, admin, disabled, has_password): n
        for role, admin, disabled, has_password, n in session.execute(
            select(Account.role, Account.is_admin, Account.disabled, Account.password_hash.is_not(None), func.count())
            .group_by(Account.role, Account.is_admin, Account.disabled, Account.password_hash.is_not(None))
        )
    }  # fmt: skip
    emails = dict(session.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)).all())

    def accounts(**match) -> int:
        keys = ("role", "admin", "disabled", "has_password")
        return sum(n for key, n in by_role.items() if all(dict(zip(keys, key))[k] == v for k, v in match.items()))

    return Glance(
        clients=clients - archived,
        archived_clients=archived,
        contacts=accounts(role=Role.CONTACT.value, disabled=False),
        contacts_without_password=accounts(role=Role.CONTACT.value, disabled=False, has_password=False),
        staff=accounts(role=Role.STAFF.value, disabled=False),
        admins=accounts(role=Role.STAFF.value, admin=True, disabled=False),
        disabled=accounts(disabled=True),
        emails_waiting=emails.get(PENDING, 0),
        emails_failed=emails.get(FAILED, 0),
        in_trash=session.scalar(select(func.count()).select_from(TrashItem)) or 0,
    )


def handle(visit: Visit):
    if visit.parts or visit.method not in ("GET", "HEAD"):
        raise NotFound("Not found.")
    with visit.portal.sessions() as session:
        counts = glance(session)
    return visit.page("console_overview.html", {"glance": counts})
