"""Document requests: staff ask a client for documents, the client's files fulfil the items, staff
accept or reject them (MODEL.md, "Document requests"; the folders' rules are `policy.requests`).

Every function takes the request's context (a page's, a drive's, or the CLI's) and writes in its
session; the caller commits. A request's folders are made when it is sent and are never removed
here: what a contact uploaded stays, at most moved aside for staff or into the trash.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple, cast

from sqlalchemy import Select, event, func, insert, or_, select, update
from sqlalchemy.orm import Session, SessionTransaction

from davportal.core.atomic import sync_folder
from davportal.core.errors import BadRequest, NotFound
from davportal.core.models import Client, DocumentRequest, Membership, RequestContact, RequestItem, utcnow
from davportal.core.paths import ref_url
from davportal.core.settings import Requests as RequestSettings
from davportal.notifications import asked, events
from davportal.services import audit, documents, placing, trash
from davportal.services.fulfilment import count_items
from davportal.services.portal import Portal
from davportal.services.request import RequestContext
from policy import Actor, Target
from policy.model import EVERY_TYPE
from policy.names import is_reserved
from policy.requests import (
    NOT_ACCEPTED_FOLDER,
    ItemFolder,
    ItemStatus,
    Reminders,
    RequestFolder,
    RequestStatus,
    as_data,
    asks,
    folder_name,
    next_reminder,
    reminders_from,
    request_status,
)
from provisioning.matter_types import RequestTemplateSpec

# Audit actions, one per step of a request's life.
CREATED, SENT = "REQUEST-CREATE", "REQUEST-SEND"
ACCEPTED, REJECTED, CHANGED = "REQUEST-ACCEPT", "REQUEST-REJECT", "REQUEST-CHANGE"
CANCELLED, COMPLETED, REMINDED = "REQUEST-CANCEL", "REQUEST-COMPLETE", "REQUEST-REMIND"


@dataclass(frozen=True)
class NewItem:
    name: str
    note: str | None = None
    files_expected: int | None = None


class RequestProblem(BadRequest):
    """A request that cannot be made or changed as asked: the reason is for the person asking."""


# What `create` writes, worked out before anything is written (for one client, or a batch of them)


@dataclass
class _Draft:
    row: dict[str, Any]  # the request's columns
    contacts: list[str]
    items: list[dict[str, Any]]  # each item's columns, but its request

    def created(self, request_id: int) -> str:
        """The detail of its audit row."""
        due = f", due {self.row['due_on'].isoformat()}" if self.row["due_on"] else ""
        whom = ", ".join(self.contacts) or "nobody yet"
        return f"request {request_id} '{self.row['title']}': {len(self.items)} item(s){due}, for {whom}"


def _draft(client: Client, members: dict[str, str], *, actor: Actor, now: datetime, title: str,
           items: Sequence[NewItem], message: str | None, due_on: date | None, contacts: Sequence[str] | None,
           participants: Iterable[str], reminders: Reminders | None, template: str | None) -> _Draft:  # fmt: skip
    title = _clean(title, "title", 200)
    if not title:
        raise RequestProblem("A request needs a title, e.g. '2025 tax return'.")
    message = _clean(message or "", "message", 5000)
    _check_items(items, [])
    wanted_types = frozenset(participants) or frozenset({EVERY_TYPE})
    if contacts is None:
        chosen = sorted(login for login, kind in members.items() if asks(wanted_types, kind))
        for_types = wanted_types
    else:
        strangers = sorted(set(contacts) - members.keys())
        if strangers:
            verb = "is not a contact" if len(strangers) == 1 else "are not contacts"
            raise RequestProblem(f"{', '.join(strangers)} {verb} of {client.name}.")
        chosen = sorted(set(contacts))
        if not chosen:
            raise RequestProblem("Choose at least one contact the request is for.")
        for_types = frozenset(members[login] for login in chosen)
    row = dict(
        client_id=client.id, title=title, message=message or None, due_on=due_on,
        status=RequestStatus.DRAFT.value, template=template, for_types=sorted(for_types),
        reminders=as_data(reminders) if reminders else None, created_by=actor.login, created_at=now,
        reminders_sent=0, items_total=len(items), items_uploaded=0, items_accepted=0, folder=None, sent_at=None,
        next_reminder_at=None)  # fmt: skip
    return _Draft(row, chosen, [_item_row(item, position) for position, item in enumerate(items)])


def _members(session: Session, client_ids: Sequence[str]) -> dict[str, dict[str, str]]:
    """Each client's contacts and their participant types."""
    found: dict[str, dict[str, str]] = {client_id: {} for client_id in client_ids}
    for client_id, login, kind in session.execute(select(Membership.client_id, Membership.login,
                                                         Membership.participant_type)
                                                  .where(Membership.client_id.in_(client_ids))):  # fmt: skip
        found[client_id][login] = kind
    return found


def _from_spec(settings: RequestSettings, spec: RequestTemplateSpec, template_id: str, due_on: date | None,
               now: datetime) -> dict[str, Any]:  # fmt: skip
    """`create`'s arguments from a request template (its due date: given, else the template's days from now)."""
    if due_on is None and spec.due_in_days is not None:
        due_on = (now.astimezone(settings.zone).date()) + timedelta(days=spec.due_in_days)
    items = [NewItem(item.name, item.note, item.files) for item in spec.items]
    return dict(title=spec.title, items=items, message=spec.message, due_on=due_on, participants=spec.participants,
                reminders=reminders_of(settings, spec), template=template_id)  # fmt: skip


def reminders_of(settings: RequestSettings, spec: RequestTemplateSpec) -> Reminders | None:
    """A template's reminder schedule, over the config's (None: the config's own)."""
    return spec.reminders.over(settings.default_reminders) if spec.reminders else None


def _taken_names(context: RequestContext, client_ids: Sequence[str]) -> dict[str, set[str]]:
    """Names a new request folder may not take, by client: one in Client's shared now, or one an
    earlier request had (its folder may have been moved)."""
    shared = context.portal.settings.folders.client_shared
    taken = {client_id: _names_in(context.portal.storage.path_of((client_id, shared))) for client_id in client_ids}
    for client_id, folder in context.session.execute(select(DocumentRequest.client_id, DocumentRequest.folder).where(
            DocumentRequest.client_id.in_(client_ids), DocumentRequest.folder.is_not(None))):  # fmt: skip
        if folder:
            taken[client_id].add(folder.rsplit("/", 1)[-1])
    return taken


def _folder_names(context: RequestContext, title: str, item_names: Sequence[str],
                  taken: set[str]) -> tuple[str, list[str]]:  # fmt: skip
    """The folder of a request being sent (below the client's), and its items' folders, in order.
    The request's name joins `taken`."""
    settings = context.portal.settings
    name = folder_name(settings.requests.folder_prefix + title, taken)
    taken.add(name)
    folder = f"{settings.folders.client_shared}/{name}"
    return folder, [f"{folder}/{item}" for item in _item_folders(tuple(item_names))]


@functools.lru_cache(maxsize=64)  # a template's items have the same folders for every client
def _item_folders(item_names: tuple[str, ...]) -> tuple[str, ...]:
    used = [NOT_ACCEPTED_FOLDER]  # kept for the files staff turn down
    for item_name in item_names:
        used.append(folder_name(item_name, used))
    return tuple(used[1:])


def _sent(request_id: int, client_id: str, title: str, folder: str) -> tuple[Target, str]:
    """The target and detail of a sent request's audit row."""
    return Target((client_id, *folder.split("/"))), f"request {request_id} '{title}' sent"


# Making and sending


def create(context: RequestContext, client_id: str, *, title: str, items: Sequence[NewItem],
           message: str | None = None, due_on: date | None = None, contacts: Sequence[str] | None = None,
           participants: Iterable[str] = (EVERY_TYPE,), reminders: Reminders | None = None,
           template: str | None = None, send: bool = True, now: datetime | None = None) -> DocumentRequest:  # fmt: skip
    """A request for one client. Without `contacts`, it is for every contact of the client of the
    `participants` types (and for those added later with such a type: they see its folders);
    with them, for those contacts (each must belong to the client) and their types."""
    session, actor, now = context.session, _actor(context), now or utcnow()
    client = _open_client(session, client_id)
    draft = _draft(client, _members(session, [client.id])[client.id], actor=actor, now=now, title=title,
                   items=items, message=message, due_on=due_on, contacts=contacts, participants=participants,
                   reminders=reminders, template=template)  # fmt: skip
    request = DocumentRequest(**draft.row)
    session.add(request)
    session.flush()
    session.add_all(RequestContact(request_id=request.id, login=login) for login in draft.contacts)
    session.add_all(RequestItem(request_id=request.id, **item) for item in draft.items)
    session.flush()
    audit.record(session, actor, CREATED, Target((client.id,)), draft.created(request.id))
    if send:
        send_request(context, request.id, now=now)
    return request


def from_template(context: RequestContext, client_id: str, template_id: str, *, due_on: date | None = None,
                  contacts: Sequence[str] | None = None, send: bool = True,
                  now: datetime | None = None) -> DocumentRequest:  # fmt: skip
    """A request made from a matter type's request template (its due date: given, else the
    template's days from now)."""
    now = now or utcnow()
    _, spec = context.portal.matter_types_file.current().request_template(template_id)
    return create(context, client_id, contacts=contacts, send=send, now=now,
                  **_from_spec(context.portal.settings.requests, spec, template_id, due_on, now))  # fmt: skip


def send_request(context: RequestContext, request_id: int, *, now: datetime | None = None) -> DocumentRequest:
    """A draft goes out: its folders are made in Client's shared and its contacts are told."""
    session, actor, now = context.session, _actor(context), now or utcnow()
    request = find(session, request_id)
    if request.status != RequestStatus.DRAFT.value:
        raise RequestProblem(f"'{request.title}' was sent already.")
    _open_client(session, request.client_id)
    items = items_of(session, request.id)
    taken = _taken_names(context, [request.client_id])[request.client_id]
    request.folder, folders = _folder_names(context, request.title, [item.name for item in items], taken)
    for item, folder in zip(items, folders):
        item.folder = folder
    _make_folders(context, [(request.client_id, request.folder), *((request.client_id, f) for f in folders)])
    request.status = RequestStatus.OPEN.value
    request.sent_at = now
    _schedule(context, request, after=now)
    session.flush()
    refresh_folders(session, request.client_id)
    _tell_contacts(context, request, asked.REQUESTED, request.folder)
    audit.record(session, actor, SENT, *_sent(request.id, request.client_id, request.title, request.folder))
    return request


# Every client of a matter type at once

BATCH = 500  # clients per transaction: an interruption loses at most this many, whole, to the next run
FOLDERS_AT_ONCE = 16  # folders made or flushed at once (see `_at_once`)


@dataclass(frozen=True)
class ClientOutcome:
    """What a request for every client of a matter type did (or, on a dry run, would do) for one client."""

    client_id: str
    request_id: int | None = None  # the request made (None on a dry run and when skipped)
    folder: str | None = None  # its folder in Client's shared, below the client's
    contacts: tuple[str, ...] = ()
    skipped: str | None = None  # why nothing was made for the client

    def line(self, *, dry_run: bool) -> str:
        if self.skipped:
            return f"{self.client_id}: skipped, {self.skipped}"
        whom = ", ".join(self.contacts) or "nobody yet (contacts added later with the template's types see it)"
        made = f"would get '{self.folder}'" if dry_run else f"request {self.request_id} in '{self.folder}'"
        return f"{self.client_id}: {made}, for {whom}"


@dataclass
class ForMatterType:
    template: str
    matter_type: str
    dry_run: bool
    outcomes: list[ClientOutcome] = field(default_factory=list)

    @property
    def made(self) -> list[ClientOutcome]:
        return [outcome for outcome in self.outcomes if not outcome.skipped]

    @property
    def skipped(self) -> list[ClientOutcome]:
        return [outcome for outcome in self.outcomes if outcome.skipped]

    def summary(self) -> str:
        verb = "would be made" if self.dry_run else "made"
        return (f"{len(self.outcomes)} client(s) of {self.matter_type}: {len(self.made)} request(s) from "
                f"{self.template} {verb}, {len(self.skipped)} client(s) skipped.")  # fmt: skip


def clients_of_type(session: Session, matter_type: str) -> list[str]:
    """The clients a request for every client of the type is for: all of them but the archived."""
    return list(session.scalars(select(Client.id).where(Client.matter_type == matter_type,
                                                        Client.archived_at.is_(None)).order_by(Client.id)))  # fmt: skip


def for_matter_type(portal: Portal, matter_type: str, template_id: str, *, actor: Actor,
                    due_on: date | None = None, send: bool = True, dry_run: bool = False,
                    now: datetime | None = None, batch: int = BATCH,
                    on_client: Callable[[ClientOutcome], None] = lambda outcome: None) -> ForMatterType:  # fmt: skip
    """A request from the template for every client of the matter type that is not archived, as
    `from_template` makes it for one (rows, folders, notices, audit rows), in transactions of
    `batch` clients. A client that has an open or draft request from the template already is
    skipped, so a run that was interrupted (it leaves whole requests only) is finished by running
    it again. `dry_run`: nothing is written, each client's outcome says what would be done.
    `on_client` hears of each client as it is dealt with."""
    now = now or utcnow()
    matter_types = portal.matter_types_file.current()
    wanted = matter_types.require(matter_type)
    owner, spec = matter_types.request_template(template_id)
    if owner.id != wanted.id:
        raise RequestProblem(f"The request template '{template_id}' belongs to the matter type '{owner.id}', "
                             f"not '{wanted.id}'.")  # fmt: skip
    recipe = _from_spec(portal.settings.requests, spec, template_id, due_on, now)
    with portal.sessions() as session:
        client_ids = clients_of_type(session, wanted.id)
    done = ForMatterType(template_id, wanted.id, dry_run)
    for start in range(0, len(client_ids), batch):
        context = RequestContext(portal, actor=actor)
        try:
            # A batch that does not commit takes its folders away again (`_removed_unless_committed`).
            outcomes = _for_clients(context, client_ids[start : start + batch], recipe, send=send, dry_run=dry_run,
                                    now=now, on_client=on_client)  # fmt: skip
            if not dry_run:
                context.session.commit()
        finally:
            context.session.close()
        done.outcomes += outcomes
    return done


def _for_clients(context: RequestContext, client_ids: list[str], recipe: dict, *, send: bool, dry_run: bool,
                 now: datetime,
                 on_client: Callable[[ClientOutcome], None]) -> list[ClientOutcome]:  # fmt: skip
    """One batch of `for_matter_type`, in the context's transaction: each client's request worked
    out as `create` and `send_request` do, then written with a statement per table."""
    session, actor = context.session, _actor(context)
    clients = {client.id: client for client in session.scalars(select(Client).where(Client.id.in_(client_ids)))}
    members = _members(session, client_ids)
    existing = dict(session.execute(
        select(DocumentRequest.client_id, func.min(DocumentRequest.id)).where(
            DocumentRequest.client_id.in_(client_ids), DocumentRequest.template == recipe["template"],
            DocumentRequest.status.in_([RequestStatus.OPEN.value, RequestStatus.DRAFT.value]))
        .group_by(DocumentRequest.client_id)).all())  # fmt: skip
    taken = _taken_names(context, client_ids) if send else {}
    shared = context.portal.settings.folders.client_shared
    outcomes: list[ClientOutcome] = []
    drafts: list[tuple[_Draft, list[str]]] = []  # with the item folders, once sent
    for client_id in client_ids:
        client = clients.get(client_id)
        skipped = None
        if client is None or client.archived_at is not None:
            skipped = "archived since the run began" if client else "removed since the run began"
        elif client_id in existing:
            skipped = f"it has request {existing[client_id]} from {recipe['template']} already, open or draft"
        elif send and not context.portal.storage.path_of((client_id, shared)).is_dir():
            skipped = f"its folder '{shared}' is missing"
        if skipped:
            outcomes.append(ClientOutcome(client_id, skipped=skipped))
            continue
        assert client is not None
        draft = _draft(client, members[client_id], actor=actor, now=now, contacts=None, **recipe)
        folders: list[str] = []
        if send:
            names = [item["name"] for item in draft.items]
            draft.row["folder"], folders = _folder_names(context, draft.row["title"], names, taken[client_id])
            draft.row.update(status=RequestStatus.OPEN.value, sent_at=now, next_reminder_at=_next_reminder(
                context, draft.row["reminders"], draft.row["due_on"], after=now))  # fmt: skip
        drafts.append((draft, folders))
        outcomes.append(ClientOutcome(client_id, folder=draft.row["folder"], contacts=tuple(draft.contacts)))
    if not dry_run and drafts:
        if send:
            _make_folders(context, [(draft.row["client_id"], folder) for draft, folders in drafts
                                    for folder in (draft.row["folder"], *folders)])  # fmt: skip
        outcomes = _write(context, drafts, outcomes, send=send)
    for outcome in outcomes:
        on_client(outcome)  # before the batch commits: an interruption here leaves none of it
    return outcomes


def _write(context: RequestContext, drafts: list[tuple[_Draft, list[str]]], outcomes: list[ClientOutcome], *,
           send: bool) -> list[ClientOutcome]:  # fmt: skip
    """The batch's requests, items, contacts, audit rows, notices and the rules of their folders."""
    session, actor = context.session, _actor(context)
    ids = list(session.scalars(insert(DocumentRequest).returning(DocumentRequest.id, sort_by_parameter_order=True),
                               [draft.row for draft, _ in drafts]))  # fmt: skip
    connection = session.connection()
    connection.execute(insert(RequestItem), [
        {**item, "request_id": request_id, "folder": folders[n] if folders else None}
        for request_id, (draft, folders) in zip(ids, drafts) for n, item in enumerate(draft.items)])  # fmt: skip
    contacts = [{"request_id": request_id, "login": login}
                for request_id, (draft, _) in zip(ids, drafts) for login in draft.contacts]  # fmt: skip
    if contacts:
        connection.execute(insert(RequestContact), contacts)
    entries, told = [], []
    for request_id, (draft, _) in zip(ids, drafts):
        client_id, title, folder = draft.row["client_id"], draft.row["title"], draft.row["folder"]
        entries.append((CREATED, Target((client_id,)), draft.created(request_id)))
        if send:
            entries.append((SENT, *_sent(request_id, client_id, title, folder)))
            told.append((request_id, client_id, folder))
    audit.record_all(session, actor, entries)
    if send:
        _refresh_folders(session, [draft.row["client_id"] for draft, _ in drafts])
        events.tell_contacts_of_requests(session, context.portal.settings.notifications, told, kind=asked.REQUESTED,
                                         actor=actor.login)  # fmt: skip
    by_client = {draft.row["client_id"]: request_id for request_id, (draft, _) in zip(ids, drafts)}
    return [replace(outcome, request_id=by_client.get(outcome.client_id)) for outcome in outcomes]


# Reviewing


def accept(context: RequestContext, request_id: int, item_id: int, *, now: datetime | None = None) -> RequestItem:
    """Staff accept an item: its folder becomes the firm's alone; the last accepted completes the request."""
    session, actor, now = context.session, _actor(context), now or utcnow()
    request, item = _open_item(session, request_id, item_id)
    if item.status == ItemStatus.ACCEPTED.value:
        raise RequestProblem(f"'{item.name}' was accepted already.")
    item.status, item.reviewed_at, item.reviewed_by, item.rejected_reason = (
        ItemStatus.ACCEPTED.value, now, actor.login, None)  # fmt: skip
    count_items(session, request)
    audit.record(session, actor, ACCEPTED, _where(request, item), f"request {request.id} item '{item.name}' accepted")
    _settle(context, request, now)
    return item


def reject(context: RequestContext, request_id: int, item_id: int, reason: str, *, keep: bool = True,
           now: datetime | None = None) -> RequestItem:  # fmt: skip
    """Staff turn an item's files down with a reason: the item is wanted again, its contacts are
    told why, and its files go aside (`keep`: to the request's "Not accepted" folder, which only
    staff see; else into the trash)."""
    session, actor, now = context.session, _actor(context), now or utcnow()
    request, item = _open_item(session, request_id, item_id)
    reason = _clean(reason, "reason", 500)
    if not reason:
        raise RequestProblem("Say why the document is not accepted: the client reads it, e.g. "
                             "'the scan is cut off on the right'.")  # fmt: skip
    assert item.folder is not None and request.folder is not None
    # Wanted again before its files go: moving them out is then no news to the item.
    item.status, item.files, item.reviewed_at, item.reviewed_by, item.rejected_reason = (
        ItemStatus.REQUESTED.value, 0, now, actor.login, reason)  # fmt: skip
    count_items(session, request)
    refresh_folders(session, request.client_id)
    _tell_contacts(context, request, asked.REJECTED, item.folder)
    folder = context.portal.storage.path_of((request.client_id, *item.folder.split("/")))
    names = sorted(name for name in _names_in(folder) if not is_reserved(name))
    where = "kept for staff in 'Not accepted'" if keep else "moved to the trash"
    audit.record(session, actor, REJECTED, _where(request, item), f"request {request.id} item '{item.name}' "
                 f"rejected: {reason} ({len(names)} file(s) {where})")  # fmt: skip
    # The files go last: a move commits what is above under the name's lock, so one that fails
    # leaves the rejection recorded and told, and the files not yet moved where they were.
    _set_aside(context, request, item, names, keep=keep)
    return item


def add_item(context: RequestContext, request_id: int, item: NewItem) -> RequestItem:
    session, actor = context.session, _actor(context)
    request = _changeable(session, request_id)
    items = items_of(session, request.id)
    _check_items([item], items)
    added = _new_item(request, item, max((i.position for i in items), default=-1) + 1)
    session.add(added)
    if request.folder is not None:
        # Not an item's name, nor "Not accepted", nor a folder still there of an item removed.
        on_disk = _names_in(context.portal.storage.path_of((request.client_id, *request.folder.split("/"))))
        taken = {NOT_ACCEPTED_FOLDER, *on_disk, *(i.folder.rsplit("/", 1)[-1] for i in items if i.folder)}
        added.folder = f"{request.folder}/{folder_name(item.name, taken)}"
        _make_folder(context, request.client_id, added.folder)
    session.flush()
    count_items(session, request)
    _settle(context, request, utcnow())  # a complete request is open again
    audit.record(session, actor, CHANGED, _where(request, added), f"request {request.id}: item '{added.name}' added")
    return added


def remove_item(context: RequestContext, request_id: int, item_id: int) -> None:
    """The item is no longer asked for; its folder and whatever is in it stay, for staff."""
    session, actor = context.session, _actor(context)
    request = _changeable(session, request_id)
    item = _item_of(session, request, item_id)
    if request.items_total <= 1:
        raise RequestProblem("A request needs at least one item: cancel the request instead.")
    if item.status == ItemStatus.ACCEPTED.value:
        # Its folder is the firm's now: taken off the request it would show to the client again.
        raise RequestProblem(f"'{item.name}' is accepted: nothing more is asked for it.")
    where = _where(request, item)
    session.delete(item)
    session.flush()
    count_items(session, request)
    # Its folder stays with what is in it, under the request folder's rule: read-only for its contacts.
    _settle(context, request, utcnow())
    audit.record(session, actor, CHANGED, where, f"request {request.id}: item '{item.name}' removed")


def set_due(context: RequestContext, request_id: int, due_on: date | None, *, now: datetime | None = None) -> None:
    session, actor, now = context.session, _actor(context), now or utcnow()
    request = _changeable(session, request_id)
    request.due_on = due_on
    if request.status == RequestStatus.OPEN.value:
        _schedule(context, request, after=max(now, request.last_reminded_at or now))
    audit.record(session, actor, CHANGED, _where(request),
                 f"request {request.id}: due {due_on.isoformat() if due_on else 'no date'}")  # fmt: skip


def cancel(context: RequestContext, request_id: int, *, now: datetime | None = None) -> DocumentRequest:
    """No more reminders; its folders become the firm's alone, every file in them kept."""
    session, actor, now = context.session, _actor(context), now or utcnow()
    request = find(session, request_id)
    if request.status in (RequestStatus.COMPLETE.value, RequestStatus.CANCELLED.value):
        raise RequestProblem(f"'{request.title}' is {request.status} already.")
    request.status, request.cancelled_at, request.cancelled_by = RequestStatus.CANCELLED.value, now, actor.login
    request.next_reminder_at = None
    refresh_folders(session, request.client_id)
    audit.record(session, actor, CANCELLED, _where(request), f"request {request.id} '{request.title}' cancelled")
    return request


# Reading


def find(session: Session, request_id: int) -> DocumentRequest:
    request = session.get(DocumentRequest, request_id)
    if request is None:
        raise NotFound(f"There is no request {request_id}.")
    return request


def items_of(session: Session, request_id: int) -> list[RequestItem]:
    return list(session.scalars(select(RequestItem).where(RequestItem.request_id == request_id)
                                .order_by(RequestItem.position, RequestItem.id)))  # fmt: skip


def contacts_of(session: Session, request_id: int) -> list[str]:
    return list(session.scalars(select(RequestContact.login).where(RequestContact.request_id == request_id)
                                .order_by(RequestContact.login)))  # fmt: skip


def of_client(session: Session, client_id: str) -> list[DocumentRequest]:
    """The client's requests, open ones first, then newest."""
    order = (DocumentRequest.status != RequestStatus.OPEN.value, DocumentRequest.created_at.desc(),
             DocumentRequest.id.desc())  # fmt: skip
    return list(session.scalars(select(DocumentRequest).where(DocumentRequest.client_id == client_id).order_by(*order)))


class Outstanding(NamedTuple):
    """One open request in the list of everything outstanding."""

    id: int
    client_id: str
    client_name: str
    title: str
    due_on: date | None
    items_total: int
    items_uploaded: int  # for staff to review
    items_accepted: int
    sent_at: datetime | None
    assigned_staff: str | None
    matter_type: str | None

    @property
    def items_requested(self) -> int:
        return self.items_total - self.items_uploaded - self.items_accepted


def outstanding(session: Session, *, client: str | None = None, matter_type: str | None = None,
                staff: str | None = None, due_before: date | None = None, overdue_on: date | None = None,
                offset: int = 0, limit: int | None = 50) -> list[Outstanding]:  # fmt: skip
    """Open requests across every client, overdue (soonest due) first, those without a due date
    last: one query a page. `client` matches the client's id or name (case ignored), `staff` the
    assigned staff's login, `due_before` is exclusive, `overdue_on` keeps those due before that day."""
    query = _outstanding(select(*_OUTSTANDING_COLUMNS), client, matter_type, staff, due_before, overdue_on)
    query = query.order_by(*OUTSTANDING_ORDER)
    return [Outstanding(*row) for row in session.execute(query.offset(offset).limit(limit))]


def count_outstanding(session: Session, *, client: str | None = None, matter_type: str | None = None,
                      staff: str | None = None, due_before: date | None = None,
                      overdue_on: date | None = None) -> int:  # fmt: skip
    query = _outstanding(select(func.count()), client, matter_type, staff, due_before, overdue_on)
    return session.scalar(query) or 0


# Overdue (soonest due) first, undated last: the order of the index ix_request_outstanding.
OUTSTANDING_ORDER = (DocumentRequest.due_on.is_(None), DocumentRequest.due_on, DocumentRequest.id)
_OUTSTANDING_COLUMNS = (
    DocumentRequest.id, DocumentRequest.client_id, Client.name, DocumentRequest.title, DocumentRequest.due_on,
    DocumentRequest.items_total, DocumentRequest.items_uploaded, DocumentRequest.items_accepted,
    DocumentRequest.sent_at, Client.assigned_staff, Client.matter_type,
)  # fmt: skip


def _outstanding(query: Select, client: str | None, matter_type: str | None, staff: str | None,
                 due_before: date | None, overdue_on: date | None) -> Select:  # fmt: skip
    query = query.select_from(DocumentRequest).join(Client, Client.id == DocumentRequest.client_id).where(
        DocumentRequest.status == RequestStatus.OPEN.value, Client.archived_at.is_(None))  # fmt: skip
    if client:
        query = query.where(or_(Client.id == client, func.lower(Client.name).contains(client.lower(), autoescape=True)))
    if matter_type:
        query = query.where(Client.matter_type == matter_type)
    if staff:
        query = query.where(Client.assigned_staff == staff)
    if due_before:
        query = query.where(DocumentRequest.due_on < due_before)
    if overdue_on:
        query = query.where(DocumentRequest.due_on < overdue_on)
    return query


def history(session: Session, request: DocumentRequest, *, limit: int = 500) -> list[dict]:
    """The request's rows of the audit trail, oldest first: those at the client's root (made, and
    changed while a draft), then its own in its folder once sent (sent, items uploaded, reviewed,
    reminded...)."""
    mine = (f"request {request.id} ", f"request {request.id}:")
    before_sent = [event for action in (CREATED, CHANGED)
                   for event in audit.events(session, client_id=request.client_id, action=action, limit=limit)
                   if event["path"] is None and (event["detail"] or "").startswith(mine)]  # fmt: skip
    inside = audit.events(session, client_id=request.client_id, path=request.folder,
                          limit=limit) if request.folder else []  # fmt: skip
    steps = before_sent + [
        event for event in inside if event["action"].startswith("REQUEST-") and (event["detail"] or "").startswith(mine)
    ]
    return sorted(steps, key=lambda event: event["at"])


def refresh_folders(session: Session, client_id: str) -> None:
    """Write the client's request folders for the rules (`Client.request_folders`): every node
    reads them at its next request (the client's row is watched for changes)."""
    _refresh_folders(session, [client_id])


def _refresh_folders(session: Session, client_ids: Sequence[str]) -> None:
    """`refresh_folders` for several clients: two reads and one update, whatever their number."""
    requests = session.execute(select(*_SENT_COLUMNS).where(
        DocumentRequest.client_id.in_(client_ids), DocumentRequest.folder.is_not(None))
        .order_by(DocumentRequest.id)).all()  # fmt: skip
    items: dict[int, list[Any]] = {}
    if requests:
        for item in session.execute(select(RequestItem.request_id, RequestItem.folder, RequestItem.status).where(
                RequestItem.request_id.in_([r.id for r in requests]), RequestItem.folder.is_not(None))
                .order_by(RequestItem.position, RequestItem.id)):  # fmt: skip
            items.setdefault(item.request_id, []).append(item)
    folders: dict[str, list[dict]] = {client_id: [] for client_id in client_ids}
    for request in requests:
        # Rows with the columns `folders_of` reads: the bookkeeping of whole objects is not needed here.
        folders[request.client_id].append(folders_of(cast(DocumentRequest, request),
                                                     items.get(request.id, [])).as_data())  # fmt: skip
    # Through the session (not its connection): a change to a client's row is a change every node must see.
    session.execute(update(Client), [{"id": client_id, "request_folders": found or None}
                                     for client_id, found in folders.items()])  # fmt: skip


_SENT_COLUMNS = (DocumentRequest.id, DocumentRequest.client_id, DocumentRequest.folder, DocumentRequest.status,
                 DocumentRequest.for_types)  # fmt: skip


def folders_of(request: DocumentRequest, items: Iterable[RequestItem]) -> RequestFolder:
    """What the rules need of a sent request."""
    assert request.folder is not None
    folders = tuple(ItemFolder(item.folder, ItemStatus(item.status)) for item in items if item.folder)
    return RequestFolder(request.folder, RequestStatus(request.status), frozenset(request.for_types), folders)


# Inside


def _settle(context: RequestContext, request: DocumentRequest, now: datetime) -> None:
    """After a review or a change of items: complete (staff told), or open again; rules rewritten."""
    session = context.session
    statuses = [ItemStatus(item.status) for item in items_of(session, request.id)]
    status = request_status(statuses)
    if request.status == RequestStatus.OPEN.value and status is RequestStatus.COMPLETE:
        request.status, request.completed_at, request.next_reminder_at = status.value, now, None
        events.tell_staff_of_request(session, context.portal.settings.notifications, request=request,
                                     kind=asked.COMPLETE, actor=_actor(context).login)  # fmt: skip
        audit.record(
            session, _actor(context), COMPLETED, _where(request), f"request {request.id} '{request.title}' complete"
        )
    elif request.status == RequestStatus.COMPLETE.value and status is RequestStatus.OPEN:
        request.status, request.completed_at = status.value, None
        _schedule(context, request, after=now)
    if request.folder is not None:
        refresh_folders(session, request.client_id)


def _schedule(context: RequestContext, request: DocumentRequest, *, after: datetime) -> None:
    request.next_reminder_at = _next_reminder(context, request.reminders, request.due_on, after=after)


def _next_reminder(context: RequestContext, reminders: dict | None, due_on: date | None, *,
                   after: datetime) -> datetime | None:  # fmt: skip
    settings = context.portal.settings.requests
    return next_reminder(reminders_from(reminders, settings.default_reminders), due_on, after=after,
                         at=settings.reminder_time, zone=settings.zone)  # fmt: skip


def _tell_contacts(context: RequestContext, request: DocumentRequest, kind: str, path: str) -> None:
    events.tell_contacts_of_request(context.session, context.portal.settings.notifications, request=request,
                                    kind=kind, path=path, actor=_actor(context).login)  # fmt: skip


def _set_aside(context: RequestContext, request: DocumentRequest, item: RequestItem, names: list[str], *,
               keep: bool) -> None:  # fmt: skip
    """Move these (the item's files and folders) out of its folder."""
    portal, client_id = context.portal, request.client_id
    assert item.folder is not None and request.folder is not None
    folder = portal.storage.path_of((client_id, *item.folder.split("/")))
    if not names:
        return
    if keep:
        aside = f"{request.folder}/{NOT_ACCEPTED_FOLDER}"
        _make_folder(context, client_id, aside, exist_ok=True)
        held = f"{aside}/{item.folder.rsplit('/', 1)[-1]}"
        _make_folder(context, client_id, held, exist_ok=True)
        for name in names:
            kept_as = _free_name(name, _names_in(portal.storage.path_of((client_id, *held.split("/")))))
            placing.move(context, folder / name, (client_id, *item.folder.split("/"), name),
                         (client_id, *held.split("/"), kept_as), overwrite=False)  # fmt: skip
    else:
        for name in names:
            path, is_folder = f"{item.folder}/{name}", (folder / name).is_dir()
            trash.put_in_trash(context.session, portal.storage, client_id=client_id, path=path, is_folder=is_folder,
                               deleted_by=_actor(context).login,
                               property_url=ref_url(client_id, path, is_folder=is_folder))  # fmt: skip
        sync_folder(folder)


def _free_name(name: str, taken: Iterable[str]) -> str:
    """The file's own name, or with a number before its extension where that is taken (a second
    rejection of "p60.pdf" keeps "p60 (2).pdf": still a PDF that opens)."""
    seen = {other.casefold() for other in taken}
    stem, dot, extension = name.rpartition(".") if "." in name.lstrip(".") else (name, "", "")
    candidate, n = name, 1
    while candidate.casefold() in seen:
        n += 1
        candidate = f"{stem} ({n}){dot}{extension}"
    return candidate


def _make_folder(context: RequestContext, client_id: str, path: str, *, exist_ok: bool = False) -> None:
    _make_folders(context, [(client_id, path)], exist_ok=exist_ok)


def _make_folders(context: RequestContext, folders: Sequence[tuple[str, str]], *, exist_ok: bool = False) -> None:
    """Make folders (client id, path below it; parents before their folders) and record them as
    the actor's: folders of one depth are made at once, each folder they are in is flushed once,
    the records are one statement. Should the transaction not commit, they go again."""
    storage, login = context.portal.storage, _actor(context).login
    made: list[Path] = []

    def make(folder: tuple[str, str]) -> tuple[str, str] | None:
        client_id, path = folder
        disk = storage.path_of((client_id, *path.split("/")))
        try:
            os.mkdir(disk)
        except FileExistsError:
            if not exist_ok:
                raise RequestProblem(f"'{path.rsplit('/', 1)[-1]}' is already there; try again.") from None
            return None
        made.append(disk)
        return folder

    depths: dict[int, list[tuple[str, str]]] = {}
    for folder in folders:
        depths.setdefault(folder[1].count("/"), []).append(folder)
    try:
        new = [folder for depth in sorted(depths) for folder in _at_once(make, depths[depth]) if folder]
    finally:
        for disk in sorted(made, key=lambda disk: len(disk.parts)):  # parents first: they go last
            _removed_unless_committed(context.session, disk)
    parents = list(dict.fromkeys(storage.path_of((c, *p.split("/"))).parent for c, p in new))
    _at_once(sync_folder, parents)
    documents.record_folders(context.session, new, login)


def _at_once(work: Callable[[Any], Any], things: Sequence[Any]) -> list[Any]:
    """`work` on each thing, several at once (the results in no particular order): the file system
    makes and flushes folders far faster so than one after the other (flushes share its journal commits)."""
    if len(things) <= 1:
        return [work(thing) for thing in things]
    workers = min(FOLDERS_AT_ONCE, len(things))
    with ThreadPoolExecutor(workers) as pool:  # a slice each: a task per thing would cost more than its work
        done = list(pool.map(lambda n: [work(thing) for thing in things[n::workers]], range(workers)))
    return [result for part in done for result in part]


_MADE = "davportal.requests.folders-made"  # in a session's info: folders made on disk in its transaction


def _removed_unless_committed(session: Session, disk: Path) -> None:
    """The folder goes again if the transaction that made it does not commit (a later step
    failed, or the commit did): a request that was not sent leaves no empty folder behind in
    Client's shared, where its contacts would find it. Only while still empty: what anyone put
    in it meanwhile stays. (A file `placing.move` moves needs no such care: it commits as it moves.)"""
    made = session.info.get(_MADE)
    if made is None:
        made = session.info[_MADE] = []
        event.listen(session, "after_commit", _committed)
        event.listen(session, "after_transaction_end", _ended)
    made.append(disk)


def _committed(session: Session) -> None:
    session.info.get(_MADE, []).clear()


def _ended(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is not None:
        return  # a savepoint: the transaction goes on
    made = session.info.get(_MADE, [])
    for disk in reversed(made):
        try:
            os.rmdir(disk)
        except OSError:
            continue  # something is in it, or it is gone
        sync_folder(disk.parent)
    made.clear()


def _names_in(folder) -> set[str]:
    try:
        return set(os.listdir(folder))
    except FileNotFoundError:
        return set()


def _open_client(session: Session, client_id: str) -> Client:
    client = session.get(Client, client_id)
    if client is None:
        raise NotFound(f"There is no client '{client_id}'.")
    if client.archived_at is not None:
        raise RequestProblem(f"{client.name} is archived: unarchive it before asking for documents.")
    return client


def _open_item(session: Session, request_id: int, item_id: int) -> tuple[DocumentRequest, RequestItem]:
    request = find(session, request_id)
    if request.status != RequestStatus.OPEN.value:
        raise RequestProblem(f"'{request.title}' is {request.status}: its items can no longer be reviewed.")
    return request, _item_of(session, request, item_id)


def _changeable(session: Session, request_id: int) -> DocumentRequest:
    request = find(session, request_id)
    if request.status == RequestStatus.CANCELLED.value:
        raise RequestProblem(f"'{request.title}' was cancelled: it can no longer be changed.")
    return request


def _item_of(session: Session, request: DocumentRequest, item_id: int) -> RequestItem:
    item = session.get(RequestItem, item_id)
    if item is None or item.request_id != request.id:
        raise NotFound(f"Request {request.id} has no item {item_id}.")
    return item


def _new_item(request: DocumentRequest, item: NewItem, position: int) -> RequestItem:
    return RequestItem(request_id=request.id, **_item_row(item, position))


def _item_row(item: NewItem, position: int) -> dict:
    return dict(position=position, name=_clean(item.name, "item", 200),
                note=_clean(item.note or "", "note", 500) or None, files_expected=item.files_expected,
                status=ItemStatus.REQUESTED.value, files=0)  # fmt: skip


def _check_items(new: Sequence[NewItem], existing: Sequence[RequestItem]) -> None:
    if not new and not existing:
        raise RequestProblem("A request needs at least one item: what is needed, e.g. 'P60 from your employer'.")
    seen = {item.name.casefold() for item in existing}
    for item in new:
        name = " ".join(item.name.split())
        if not name:
            raise RequestProblem("Every item needs a name: what is needed, e.g. 'Bank statements'.")
        if name.casefold() in seen:
            raise RequestProblem(f"'{name}' is asked for twice.")
        if item.files_expected is not None and item.files_expected < 1:
            raise RequestProblem(f"'{name}': the number of files expected is at least 1.")
        seen.add(name.casefold())


def _clean(text: str, what: str, limit: int) -> str:
    text = " ".join(text.split()) if what != "message" else text.strip()
    if len(text) > limit:
        raise RequestProblem(f"The {what} is too long (at most {limit} characters).")
    return text


def _where(request: DocumentRequest, item: RequestItem | None = None) -> Target:
    path = (item.folder if item is not None else None) or request.folder
    return Target((request.client_id, *path.split("/")) if path else (request.client_id,))


def _actor(context: RequestContext) -> Actor:
    assert context.actor is not None  # staff on a page, a drive's login, or the CLI's actor
    return context.actor
