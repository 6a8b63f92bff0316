"""What the console's people pages share: looking up what a URL or a form names, and acting.

A client or login named in a URL or a form that does not exist (or is not what the page is
about: a staff login on a contact's page) is the 404 of a page that does not exist, with a
sentence. A service's refusal (a login taken, the last admin) comes back to the page as a
message; the change is then not made at all.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session

from davportal.core.errors import NotFound, PortalError
from davportal.core.models import Account, Client
from davportal.web.console.visit import Visit
from policy import Actor, Role

PAGE_SIZE = 50


def client_or_404(session: Session, client_id: str) -> Client:
    client = session.get(Client, client_id)
    if client is None:
        raise NotFound(f"There is no client '{client_id}'.")
    return client


def account_or_404(session: Session, login: str, role: Role) -> Account:
    account = session.get(Account, login)
    if account is None or account.role != role.value:
        raise NotFound(f"There is no {'contact' if role is Role.CONTACT else 'member of staff'} '{login}'.")
    return account


def attempt(visit: Visit, back: str, change: Callable[[Session, Actor], str], *, then: str | None = None):
    """Run `change` in one transaction as the signed-in admin; on to `then` (or back to `back`)
    with what it said, or back with the service's reason when it refused (then nothing of it was
    written)."""
    try:
        with visit.portal.sessions.begin() as session:
            message = change(session, visit.actor)
    except NotFound:
        raise
    except PortalError as refused:
        return visit.done(refused.reason, back, ok=False)
    return visit.done(message, then or back)


def when(moment: datetime | None, never: str = "never") -> str:
    """A moment as people read it, in UTC (the server's clock): "2 Dec 2026, 05:39"."""
    return f"{moment.day} {moment:%b %Y, %H:%M} UTC" if moment else never


def page_of(query: dict[str, str]) -> int:
    """The page number asked for: 1 for anything that is not a positive number."""
    value = query.get("page", "")
    return int(value) if value.isdigit() and 0 < int(value) < 1_000_000 else 1
