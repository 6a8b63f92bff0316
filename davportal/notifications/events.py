"""Who should hear about a change, decided with the same policy as every request.

Notices are added to the session of the change itself, so they commit (or not) with it.
"""

from __future__ import annotations

from typing import cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from davportal.core.models import Account, Client, Membership, Notice
from davportal.core.settings import Notifications, Settings
from davportal.services.request import RequestContext
from policy import Action, Actor, Role, RuleBook, Target, decide
from policy.documents import Audience, newsworthy, told_of_arrival, told_of_write

# kinds of notice
NEW, UPDATED, MOVED, COPIED, SHARED, UPLOADED = "new", "updated", "moved", "copied", "shared", "uploaded"
INFECTED = "infected"  # an upload refused for a virus: staff hear of it


def worth_telling(path: str) -> bool:
    return newsworthy(path.rsplit("/", 1)[-1])


def tell_contacts(session: Session, settings: Notifications, rules: RuleBook, *, client_id: str, path: str,
                  kind: str, actor: str, seen_at: str | None = None, could_read_before=None) -> int:  # fmt: skip
    """A notice for every contact with an email who may read the document (at `seen_at`, where the
    contact sees it, e.g. in Team's shared) — and, for a move, could not before."""
    if not settings.enabled or not worth_telling(path):
        return 0
    where = Target((client_id, *(seen_at or path).split("/")), exists=True)
    count = 0
    for login, email, participant_type in _contacts(session, client_id):
        contact = Actor(login, Role.CONTACT, clients={client_id: participant_type})
        if login == actor or not decide(contact, Action.READ, where, rules).allowed:
            continue
        if could_read_before is not None and could_read_before(contact):
            continue
        session.add(Notice(recipient=email, recipient_name=login, kind=kind, client_id=client_id, path=path,
                           actor=actor))  # fmt: skip
        count += 1
    return count


def tell_staff(session: Session, settings: Notifications, *, client_id: str, path: str, actor: str,
               kind: str = UPLOADED) -> int:  # fmt: skip
    """A client uploaded (or tried to upload a virus): the firm's address and assigned staff hear of it."""
    if not settings.enabled or not worth_telling(path):
        return 0
    if kind == UPLOADED and not settings.staff_on_client_upload:
        return 0
    recipients = {settings.staff_address} if settings.staff_address else set()
    assigned = session.scalar(select(Account.email).join(Client, Client.assigned_staff == Account.login)
                              .where(Client.id == client_id, Account.disabled.is_(False)))  # fmt: skip
    if assigned:
        recipients.add(assigned)
    for email in sorted(recipients):
        session.add(Notice(recipient=email, recipient_name="staff", to_staff=True, kind=kind,
                           client_id=client_id, path=path, actor=actor))  # fmt: skip
    return len(recipients)


def _contacts(session: Session, client_id: str) -> list[tuple[str, str, str]]:
    # The query leaves out accounts without an email.
    return cast("list[tuple[str, str, str]]", list(session.execute(
        select(Account.login, Account.email, Membership.participant_type)
        .join(Membership, Membership.login == Account.login)
        .where(Membership.client_id == client_id, Account.email.is_not(None), Account.disabled.is_(False))
    ).all()))  # fmt: skip


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
    """Documents moved or copied to `dest` (`files`: each file's parts below it): contacts who can
    read them there, and (within one client) could not before, hear of it."""
    actor = context.actor
    same_client = src[:1] == dest[:1]
    if (
        actor is None
        or len(dest) < 3
        or told_of_arrival(actor, same_client=same_client, moved=moved) is Audience.NOBODY
    ):
        return
    session, settings = context.session, context.portal.settings.notifications
    src_rules, dest_rules = context.rules(src[0]), context.rules(dest[0])
    for relative in files:
        before = Target((*src, *relative), exists=True)

        def could_read_before(contact: Actor, before: Target = before) -> bool:
            return same_client and decide(contact, Action.READ, before, src_rules).allowed

        tell_contacts(session, settings, dest_rules, client_id=dest[0], kind=MOVED if moved else COPIED,
                      path="/".join((*dest[1:], *relative)), actor=actor.login,
                      could_read_before=could_read_before)  # fmt: skip


def tell_shared(session: Session, settings: Settings, rules: RuleBook, client_id: str, path: str, *,
                actor: str) -> int:  # fmt: skip
    """The share toggle went on: the contacts see the file in Team's shared now."""
    name = path.rsplit("/", 1)[-1]
    return tell_contacts(session, settings.notifications, rules, client_id=client_id, path=path, kind=SHARED,
                         actor=actor, seen_at=f"{settings.folders.team_shared}/{name}")  # fmt: skip
