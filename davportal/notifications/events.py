"""Who should hear about a change, decided with the same policy as every request.

Notices are added to the session of the change itself, so they commit (or not) with it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple, cast

from sqlalchemy import and_, insert, or_, select, true, update
from sqlalchemy.orm import Session

from davportal.core.models import Account, Client, DocumentRequest, Membership, Notice, RequestContact, utcnow
from davportal.core.settings import Notifications, Settings
from davportal.notifications.digest import LEFT_OUT
from davportal.services.request import RequestContext
from policy import Action, Actor, Role, RuleBook, Target, decide, readable_by_contacts
from policy.documents import Audience, newsworthy, staff_told, told_of_arrival, told_of_write

_logger = logging.getLogger("davportal.mail")

# kinds of notice
NEW, UPDATED, MOVED, COPIED, SHARED, UPLOADED = "new", "updated", "moved", "copied", "shared", "uploaded"
INFECTED = "infected"  # an upload refused for a virus: staff hear of it


def leave_out(session: Session, client_id: str, *, contact: str | None = None) -> None:
    """Waiting notices to a client's contacts (or to one of them) that must not go out: they would
    tell of documents the contacts can no longer open (the client archived, the contact removed)."""
    session.execute(
        update(Notice).where(Notice.client_id == client_id, Notice.to_staff.is_(False), Notice.message_id.is_(None),
                             Notice.recipient_name == contact if contact is not None else true())
        .values(message_id=LEFT_OUT).execution_options(synchronize_session=False)
    )  # fmt: skip


def worth_telling(path: str) -> bool:
    return newsworthy(path.rsplit("/", 1)[-1])


def tell_contacts(session: Session, settings: Notifications, rules: RuleBook, *, client_id: str, path: str,
                  kind: str, actor: str, seen_at: str | None = None, could_read_before=None) -> int:  # fmt: skip
    """A notice for every contact with an email who may read the document (at `seen_at`, where the
    contact sees it, e.g. in Team's shared) — and, for a move, could not before."""
    if not settings.enabled or not worth_telling(path):
        return 0
    where = Target((client_id, *(seen_at or path).split("/")), exists=True)
    if not readable_by_contacts(where, rules):
        return 0  # a private folder: no contact to look up
    told = []
    for login, email, participant_type in _contacts(session, client_id):
        contact = Actor(login, Role.CONTACT, clients={client_id: participant_type})
        if login == actor or not decide(contact, Action.READ, where, rules).allowed:
            continue
        if could_read_before is not None and could_read_before(contact):
            continue
        told.append({"recipient": email, "recipient_name": login, "kind": kind, "client_id": client_id,
                     "path": path, "actor": actor, "to_staff": False, "message_id": None})  # fmt: skip
    _add_notices(session, told)
    return len(told)


_NEW_NOTICE = insert(Notice)


def _add_notices(session: Session, notices: list[dict]) -> None:
    # One Core statement in the change's transaction: uploads add notices on their hot path.
    if notices:
        session.connection().execute(_NEW_NOTICE, notices)


def tell_staff(session: Session, settings: Notifications, *, client_id: str, path: str, actor: str,
               kind: str = UPLOADED) -> int:  # fmt: skip
    """A client uploaded (or tried to upload a virus): those who hear of the client's uploads are told."""
    if not settings.enabled or not worth_telling(path):
        return 0
    if kind == UPLOADED and not settings.staff_on_client_upload:
        return 0
    heard = who_hears_of_uploads(session, settings, client_ids=[client_id])
    recipients = heard[0].recipients if heard else []
    if not recipients:
        _logger.warning("Nobody was told of %s in %s: %s.", path, client_id, NOBODY_HEARS)
    _add_notices(session, [{"recipient": email, "recipient_name": "staff", "to_staff": True, "kind": kind,
                            "client_id": client_id, "path": path, "actor": actor, "message_id": None}
                           for email in recipients])  # fmt: skip
    return len(recipients)


class Heard(NamedTuple):
    client_id: str
    client_name: str
    recipients: list[str]  # email addresses; empty: nobody hears of the client's uploads


NOBODY_HEARS = ("set notifications.staff_address, assign staff with an email address (davportal client assign), "
                "or give an admin an email address")  # fmt: skip


def who_hears_of_uploads(session: Session, settings: Notifications, *,
                         client_ids: list[str] | None = None) -> list[Heard]:  # fmt: skip
    """For each client (all of them without `client_ids`), the addresses told of its uploads."""
    assigned = (
        select(Client.id, Client.name, Account.email)
        .outerjoin(Account, and_(Account.login == Client.assigned_staff, Account.disabled.is_(False)))
        .order_by(Client.id)
    )  # fmt: skip
    if client_ids is not None:
        assigned = assigned.where(Client.id.in_(client_ids))
    rows = session.execute(assigned).all()
    admins: list[str] = []
    if not settings.staff_address and not all(email for _, _, email in rows):
        enabled_admins = select(Account.email).where(Account.is_admin.is_(True), Account.disabled.is_(False))
        admins = [email for email in session.scalars(enabled_admins) if email]
    return [
        Heard(client_id, name, staff_told(settings.staff_address, assigned_email, admins))
        for client_id, name, assigned_email in rows
    ]


def _contacts(session: Session, client_id: str) -> list[tuple[str, str, str]]:
    # The query leaves out accounts without an email.
    return cast("list[tuple[str, str, str]]", list(session.execute(
        select(Account.login, Account.email, Membership.participant_type)
        .select_from(Account)
        .join(Membership, Membership.login == Account.login)
        .join(Client, Client.id == Membership.client_id)
        # An archived client's contacts have no access to it: nothing to tell them.
        .where(Membership.client_id == client_id, Account.email.is_not(None), Account.disabled.is_(False),
               Client.archived_at.is_(None))
    ).all()))  # fmt: skip


def tell_contacts_of_request(session: Session, settings: Notifications, *, request: DocumentRequest, kind: str,
                             path: str, actor: str, now: datetime | None = None) -> int:  # fmt: skip
    """A request sent, an item rejected, a reminder: a notice for each of its contacts with an email
    (dated `now`: the digest window counts from it).

    What the email says is read when it is composed (the items still open then), so a notice about
    a request that is done or cancelled by then says nothing and is left out.
    """
    return tell_contacts_of_requests(session, settings, [(request.id, request.client_id, path)], kind=kind,
                                     actor=actor, now=now)  # fmt: skip


def tell_contacts_of_requests(session: Session, settings: Notifications, requests: Sequence[tuple[int, str, str]],
                              *, kind: str, actor: str, now: datetime | None = None) -> int:  # fmt: skip
    """`tell_contacts_of_request` for several requests at once, each (id, client id, path): one
    read and one insert, however many (a request for every client of a matter type)."""
    if not settings.enabled or not requests:
        return 0
    where = {request_id: (client_id, path) for request_id, client_id, path in requests}
    rows = session.execute(
        select(RequestContact.request_id, Account.login, Account.email)
        .join(RequestContact, RequestContact.login == Account.login)
        .join(DocumentRequest, DocumentRequest.id == RequestContact.request_id)
        .join(Membership, (Membership.login == Account.login) & (Membership.client_id == DocumentRequest.client_id))
        .join(Client, Client.id == DocumentRequest.client_id)
        .where(RequestContact.request_id.in_(list(where)), Account.email.is_not(None), Account.disabled.is_(False),
               Client.archived_at.is_(None))
    ).all()  # fmt: skip
    at = now or utcnow()
    told = [{"recipient": email, "recipient_name": login, "kind": kind, "client_id": where[request_id][0],
             "path": where[request_id][1], "actor": actor, "to_staff": False, "message_id": None,
             "request_id": request_id, "created_at": at}
            for request_id, login, email in rows if login != actor]  # fmt: skip
    _add_notices(session, told)
    return len(told)


def tell_staff_of_request(session: Session, settings: Notifications, *, request: DocumentRequest, kind: str,
                          actor: str) -> int:  # fmt: skip
    """A request is complete: those who hear of the client's uploads, and whoever made the request."""
    if not settings.enabled:
        return 0
    heard = who_hears_of_uploads(session, settings, client_ids=[request.client_id])
    recipients = list(heard[0].recipients if heard else [])
    maker = session.scalar(
        select(Account.email).where(Account.login == request.created_by, Account.disabled.is_(False))
    )
    if maker and maker not in recipients:
        recipients.append(maker)
    _add_notices(session, [{"recipient": email, "recipient_name": "staff", "to_staff": True, "kind": kind,
                            "client_id": request.client_id, "path": request.folder or "", "actor": actor,
                            "message_id": None, "request_id": request.id} for email in recipients])  # fmt: skip
    return len(recipients)


def tell_written(context: RequestContext, parts: tuple[str, ...], *, new: bool) -> None:
    """An upload finished: the policy says who hears of it."""
    actor = context.actor
    if actor is None or len(parts) < 3:
        return
    session, settings, below = context.session, context.portal.settings.notifications, "/".join(parts[1:])
    audience = told_of_write(actor, parts[-1])
    if audience is Audience.STAFF:
        tell_staff(session, settings, client_id=parts[0], path=below, actor=actor.login)
    elif audience is Audience.CONTACTS:
        tell_contacts(session, settings, context.rules(parts[0]), client_id=parts[0], path=below,
                      kind=NEW if new else UPDATED, actor=actor.login)  # fmt: skip


def tell_arrived(context: RequestContext, src: tuple[str, ...], dest: tuple[str, ...],
                 files: list[tuple[str, ...]], *, moved: bool) -> None:  # fmt: skip
    """Documents moved or copied to `dest` (`files`: each file's parts below it). A move first takes
    the notices still waiting about them along; then the policy says who hears of the arrival:
    contacts who can read them there and (within one client) could not before, or the firm."""
    actor = context.actor
    if actor is None:
        return
    if moved:
        _follow(context, src, dest)
    same_client = src[:1] == dest[:1]
    audience = told_of_arrival(actor, same_client=same_client, moved=moved, from_name=src[-1])
    if len(dest) < 3 or audience is Audience.NOBODY:
        return
    session, settings = context.session, context.portal.settings.notifications
    src_rules, dest_rules = context.rules(src[0]), context.rules(dest[0])
    for relative in files:
        path = "/".join((*dest[1:], *relative))
        if audience is Audience.STAFF:
            tell_staff(session, settings, client_id=dest[0], path=path, actor=actor.login)
            continue
        before = Target((*src, *relative), exists=True)

        def could_read_before(contact: Actor, before: Target = before) -> bool:
            return same_client and decide(contact, Action.READ, before, src_rules).allowed

        tell_contacts(session, settings, dest_rules, client_id=dest[0], kind=MOVED if moved else COPIED, path=path,
                      actor=actor.login, could_read_before=could_read_before)  # fmt: skip


def _follow(context: RequestContext, src: tuple[str, ...], dest: tuple[str, ...]) -> None:
    """Notices not yet sent about what moved (a folder: everything below it) take its new place, so
    the email names each document as it is when it goes out. A contact's notice is left out where
    the move takes the document out of that contact's sight.

    A move onto a desktop app's own name (Word renames the document it saves over to ~WRL0001.tmp)
    takes nothing along: the notice waits at the old name, where the saved document arrives.
    """
    if len(src) < 2 or len(dest) < 2 or not newsworthy(dest[-1]):
        return
    session, old, new = context.session, "/".join(src[1:]), "/".join(dest[1:])
    # A notice a sender is putting in an email right now (locked) goes out under the old name.
    notices = session.scalars(
        select(Notice).where(Notice.message_id.is_(None), Notice.client_id == src[0], Notice.kind != INFECTED,
                             or_(Notice.path == old, Notice.path.startswith(old + "/", autoescape=True)))
        .with_for_update(skip_locked=True)
    ).all()  # fmt: skip
    if not notices:
        return
    rules = context.rules(dest[0])
    types = dict(session.execute(select(Membership.login, Membership.participant_type)
                                 .where(Membership.client_id == dest[0])).all())  # fmt: skip
    for notice in notices:
        notice.client_id, notice.path = dest[0], new + notice.path[len(old) :]
        # Staff read everywhere; a shared file is seen in Team's shared, and the digest checks it is still shared.
        if notice.to_staff or notice.kind == SHARED:
            continue
        participant_type = types.get(notice.recipient_name)
        contact = Actor(notice.recipient_name, Role.CONTACT,
                        clients={dest[0]: participant_type} if participant_type else {})  # fmt: skip
        where = Target((dest[0], *notice.path.split("/")), exists=True)
        if participant_type is None or not decide(contact, Action.READ, where, rules).allowed:
            notice.message_id = LEFT_OUT


def tell_shared(session: Session, settings: Settings, rules: RuleBook, client_id: str, path: str, *,
                actor: str) -> int:  # fmt: skip
    """The share toggle went on: the contacts see the file in Team's shared now."""
    name = path.rsplit("/", 1)[-1]
    return tell_contacts(session, settings.notifications, rules, client_id=client_id, path=path, kind=SHARED,
                         actor=actor, seen_at=f"{settings.folders.team_shared}/{name}")  # fmt: skip
