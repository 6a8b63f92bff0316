"""The console's Contacts: find a client's portal user, see their clients and last sign-in, give
them one more client or take one away, turn their login off and on."""

from __future__ import annotations

from math import ceil

from sqlalchemy import func, or_, select

from davportal.core.errors import NotFound
from davportal.core.models import Account, Client, Membership
from davportal.web.console import logins
from davportal.web.console.acting import PAGE_SIZE, account_or_404, attempt, client_or_404, page_of, when
from davportal.web.console.visit import Visit
from policy import Role
from policy.model import DEFAULT_PARTICIPANT_TYPE
from provisioning import accounts

READ = ("GET", "HEAD")


def handle(visit: Visit):
    match visit.method, visit.parts:
        case method, [] if method in READ:
            return _list(visit)
        case method, [login] if method in READ:
            return _contact(visit, login)
        case "POST", [login, action] if action in ACTIONS:
            return ACTIONS[action](visit, login)
        case "POST", [login, action] if action in logins.ACTIONS:
            return logins.act(visit, login, Role.CONTACT, action, visit.url("contacts", login))
    raise NotFound("Not found.")


def _list(visit: Visit):
    search = visit.query.get("q", "").strip()
    page = page_of(visit.query)
    where = [Account.role == Role.CONTACT.value]
    if search:
        text = search.lower()
        where.append(or_(*(func.lower(column).contains(text, autoescape=True)
                           for column in (Account.login, Account.name, Account.email))))  # fmt: skip
    with visit.portal.sessions() as session:
        total = session.scalar(select(func.count()).select_from(Account).where(*where)) or 0
        people = session.scalars(select(Account).where(*where).order_by(Account.login)
                                 .offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)).all()  # fmt: skip
        clients_of: dict[str, list[str]] = {}
        for login, client_id in session.execute(select(Membership.login, Membership.client_id)
                                                .where(Membership.login.in_([p.login for p in people]))
                                                .order_by(Membership.client_id)):  # fmt: skip
            clients_of.setdefault(login, []).append(client_id)
    return visit.page("console_contacts.html", {
        "people": people, "clients_of": clients_of, "total": total, "search": search, "page": page,
        "pages": max(1, ceil(total / PAGE_SIZE)), "when": when, "url": visit.url,
    })  # fmt: skip


def _contact(visit: Visit, login: str):
    with visit.portal.sessions() as session:
        account = account_or_404(session, login, Role.CONTACT)
        memberships = session.execute(
            select(Client, Membership.participant_type).join(Membership, Membership.client_id == Client.id)
            .where(Membership.login == login).order_by(Client.id)
        ).all()  # fmt: skip
    return visit.page("console_contact.html", {
        "account": account, "memberships": memberships, "when": when, "url": visit.url,
        "default_participant": DEFAULT_PARTICIPANT_TYPE,
    })  # fmt: skip


def _join(visit: Visit, login: str):
    client_id = visit.form.get("client", "").strip()
    participant = visit.form.get("participant_type", "").strip() or DEFAULT_PARTICIPANT_TYPE

    def join(session, actor) -> str:
        account_or_404(session, login, Role.CONTACT)
        accounts.add_contact(session, login, client_id=client_id, password=None, participant_type=participant)
        return f"{login} now belongs to {client_id} as {participant}."

    return attempt(visit, visit.url("contacts", login), join)


def _remove(visit: Visit, login: str):
    client_id = visit.form.get("client", "")

    def remove(session, actor) -> str:
        account_or_404(session, login, Role.CONTACT)
        client_or_404(session, client_id)
        accounts.remove_from_client(session, login, client_id, actor=actor)
        return f"{login} no longer has access to {client_id}."

    return attempt(visit, visit.url("contacts", login), remove)


def _name(visit: Visit, login: str):
    name = visit.form.get("name", "")

    def rename(session, actor) -> str:
        account_or_404(session, login, Role.CONTACT)
        accounts.set_name(session, login, name)
        return f"{login} is now called {name.strip()}." if name.strip() else f"{login} has no name now."

    return attempt(visit, visit.url("contacts", login), rename)


ACTIONS = {"join": _join, "remove": _remove, "name": _name}
