"""The console's Clients: find one among thousands, add one, import many, and run one client's
matter type, staff, contacts and life (archive, erase)."""

from __future__ import annotations

from math import ceil

from sqlalchemy import select

from davportal.core.errors import Conflict, NotFound
from davportal.core.models import Account, Client, Membership
from davportal.services import account_links
from davportal.web.console import importing, job
from davportal.web.console.acting import PAGE_SIZE, account_or_404, attempt, client_or_404, page_of, when
from davportal.web.console.visit import Visit
from policy import Role
from policy.model import DEFAULT_PARTICIPANT_TYPE
from policy.names import human_size
from provisioning import accounts, clients, erasure

READ = ("GET", "HEAD")


def handle(visit: Visit):
    match visit.method, visit.parts:
        case method, [] if method in READ:
            return _list(visit)
        case "POST", []:
            return _add(visit)
        case _, [importing.SLUG]:
            return importing.handle(visit)
        case method, [client_id] if method in READ:
            return _client(visit, client_id)
        case method, [client_id, "erase"] if method in READ:
            return _erase_page(visit, client_id)
        case "POST", [client_id, action] if action in ACTIONS:
            return ACTIONS[action](visit, client_id)
    raise NotFound("Not found.")


def _list(visit: Visit):
    search = visit.query.get("q", "").strip()
    archived = visit.query.get("archived") == "1"
    page = page_of(visit.query)
    with visit.portal.sessions() as session:
        total = clients.count_clients(session, search=search, include_archived=archived)
        rows = clients.list_clients(session, search=search, include_archived=archived,
                                    offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE)  # fmt: skip
    pages = max(1, ceil(total / PAGE_SIZE))
    return visit.page("console_clients.html", {
        "rows": rows, "total": total, "search": search, "archived": archived, "page": page, "pages": pages,
        "matter_types": visit.portal.matter_types, "clients_url": visit.url("clients"),
    })  # fmt: skip


def _add(visit: Visit):
    form = visit.form
    client_id, name = form.get("id", "").strip(), form.get("name", "").strip()
    matter_type = _matter_type(visit, form.get("matter_type", ""))
    folders = visit.portal.settings.folders

    def add(session, actor) -> str:
        if session.get(Client, client_id) is not None:
            raise Conflict(f"There is already a client '{client_id}'.")
        clients.add_client(session, visit.portal.storage, client_id, name=name, matter_type=matter_type,
                           folders=(folders.team_shared, folders.client_shared), actor=actor)  # fmt: skip
        return f"Client {name} added, with its folders."

    return attempt(visit, visit.url("clients"), add, then=visit.url("clients", client_id))


def _client(visit: Visit, client_id: str):
    with visit.portal.sessions() as session:
        client = client_or_404(session, client_id)
        contacts = session.execute(
            select(Account, Membership.participant_type).join(Membership, Membership.login == Account.login)
            .where(Membership.client_id == client_id).order_by(Account.login)
        ).all()  # fmt: skip
        staff = session.scalars(select(Account).where(Account.role == Role.STAFF.value).order_by(Account.login)).all()
    return visit.page("console_client.html", {
        "client": client, "contacts": contacts, "staff": staff, "matter_types": visit.portal.matter_types,
        "when": when, "default_participant": DEFAULT_PARTICIPANT_TYPE, "url": visit.url,
    })  # fmt: skip


def _set_type(visit: Visit, client_id: str):
    matter_type = _matter_type(visit, visit.form.get("matter_type", ""))
    if matter_type is None:
        return visit.done("Choose a matter type.", visit.url("clients", client_id), ok=False)

    def set_type(session, actor) -> str:
        client_or_404(session, client_id)
        report = clients.set_type(session, visit.portal.storage, client_id, matter_type, actor=actor)
        said = [f"{client_id} is now {matter_type.name}."]
        said.append(f"Folders added: {', '.join(report.created)}." if report.created else "No folder was missing.")
        said += [f"'{folder}' was left alone: {why}." for folder, why in report.conflicts]
        return " ".join(said)

    return attempt(visit, visit.url("clients", client_id), set_type)


def _assign(visit: Visit, client_id: str):
    login = visit.form.get("staff", "").strip() or None

    def assign(session, actor) -> str:
        clients.assign(session, client_id, login, actor=actor)
        return f"{login} is assigned to {client_id}." if login else f"Nobody is assigned to {client_id} now."

    return attempt(visit, visit.url("clients", client_id), assign)


def _add_contact(visit: Visit, client_id: str):
    form = visit.form
    login = form.get("login", "").strip()
    name = form.get("name", "").strip() or None
    email = form.get("email", "").strip() or None
    participant = form.get("participant_type", "").strip() or DEFAULT_PARTICIPANT_TYPE
    invite = form.get("invite") == "1"
    back = visit.url("clients", client_id)

    def add(session, actor) -> str:
        client_or_404(session, client_id)
        if session.get(Account, login) is not None:
            # Joining someone who exists is done from their own page, where their clients show:
            # a mistyped login here must not open this client to another client's contact.
            raise Conflict(f"'{login}' already exists: open their page under Contacts to add them to {client_id} too.")
        accounts.add_contact(session, login, client_id=client_id, password=None, email=email,
                             participant_type=participant, name=name, actor=actor)  # fmt: skip
        added = f"Contact {login} added to {client_id} as {participant}"
        if not invite:
            return added + "."
        # In the same transaction: a contact who cannot be invited (no email) is not added either.
        account_links.invite(session, visit.portal.settings, login, actor=actor)
        return f"{added}; an invitation is on its way to {email}."

    return attempt(visit, back, add)


def _remove_contact(visit: Visit, client_id: str):
    login = visit.form.get("login", "")

    def remove(session, actor) -> str:
        client_or_404(session, client_id)
        account_or_404(session, login, Role.CONTACT)
        accounts.remove_from_client(session, login, client_id, actor=actor)
        return f"{login} no longer has access to {client_id}."

    return attempt(visit, visit.url("clients", client_id), remove)


def _archive(visit: Visit, client_id: str):
    visit.form  # noqa: B018 - the CSRF token is checked before anything is looked up

    def archive(session, actor) -> str:
        client_or_404(session, client_id)
        if clients.archive(session, client_id, actor=actor):
            return f"{client_id} is archived: its contacts can no longer open its folders."
        return f"{client_id} already was archived."

    return attempt(visit, visit.url("clients", client_id), archive)


def _unarchive(visit: Visit, client_id: str):
    visit.form  # noqa: B018

    def unarchive(session, actor) -> str:
        client_or_404(session, client_id)
        if clients.unarchive(session, client_id, actor=actor):
            return f"{client_id} is back from the archive: its contacts can open its folders again."
        return f"{client_id} was not archived."

    return attempt(visit, visit.url("clients", client_id), unarchive)


def _erase_page(visit: Visit, client_id: str):
    with visit.portal.sessions() as session:
        client = client_or_404(session, client_id)
        plan = erasure.plan(session, visit.portal.storage, client_id)
    return visit.page("console_erase.html", {"client": client, "plan": plan, "url": visit.url, "size": human_size})


def _erase(visit: Visit, client_id: str):
    typed = visit.form.get("confirm", "").strip()
    with visit.portal.sessions() as session:
        client_or_404(session, client_id)
    if typed != client_id:
        return visit.done(f"Nothing was erased: type the client's id, {client_id}, exactly, to confirm.",
                          visit.url("clients", client_id, "erase"), ok=False)  # fmt: skip
    portal, actor = visit.portal, visit.actor
    erasing = job.start(f"erasure of client {client_id}", 0,
                        lambda on_step: erasure.erase(portal.sessions, portal.storage, client_id, actor=actor,
                                                      on_step=on_step))  # fmt: skip
    return visit.page_as_it_goes("console_erasing.html", {"client_id": client_id, "erasing": erasing,
                                                          "url": visit.url})  # fmt: skip


def _matter_type(visit: Visit, type_id: str):
    """The matter type a form chose ("" for none); one the portal does not have is a 404."""
    if not type_id:
        return None
    matter_type = visit.portal.matter_types.get(type_id)
    if matter_type is None:
        raise NotFound(f"There is no matter type '{type_id}'.")
    return matter_type


ACTIONS = {
    "type": _set_type,
    "assign": _assign,
    "contacts": _add_contact,
    "remove": _remove_contact,
    "archive": _archive,
    "unarchive": _unarchive,
    "erase": _erase,
}
