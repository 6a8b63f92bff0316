"""Document requests: staff ask a client for documents, the client's files fulfil the items, staff
accept or reject them (MODEL.md, "Document requests"; the folders' rules are `policy.requests`).

Every function takes the request's context (a page's, a drive's, or the CLI's) and writes in its
session; the caller commits. A request's folders are made when it is sent and are never removed
here: what a contact uploaded stays, at most moved aside for staff or into the trash.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import NamedTuple

from sqlalchemy import Select, event, func, or_, select, update
from sqlalchemy.orm import Session, SessionTransaction

from davportal.core.atomic import sync_folder
from davportal.core.errors import BadRequest, NotFound
from davportal.core.models import Client, DocumentRequest, Membership, RequestContact, RequestItem, utcnow
from davportal.core.paths import ref_url
from davportal.notifications import asked, events
from davportal.services import audit, documents, placing, trash
from davportal.services.fulfilment import count_items
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
    folder_name,
    next_reminder,
    reminders_from,
    request_status,
)

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
    title = _clean(title, "title", 200)
    if not title:
        raise RequestProblem("A request needs a title, e.g. '2025 tax return'.")
    _check_items(items, [])
    members = dict(session.execute(select(Membership.login, Membership.participant_type)
                                   .where(Membership.client_id == client.id)).all())  # fmt: skip
    wanted_types = frozenset(participants) or frozenset({EVERY_TYPE})
    if contacts is None:
        chosen = sorted(login for login, kind in members.items() if EVERY_TYPE in wanted_types or kind in wanted_types)
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
    request = DocumentRequest(
        client_id=client.id, title=title, message=(message or "").strip() or None, due_on=due_on,
        status=RequestStatus.DRAFT.value, template=template, for_types=sorted(for_types),
        reminders=as_data(reminders) if reminders else None, created_by=actor.login, created_at=now,
        reminders_sent=0, items_total=0, items_uploaded=0, items_accepted=0)  # fmt: skip
    session.add(request)
    session.flush()
    session.add_all(RequestContact(request_id=request.id, login=login) for login in chosen)
    for position, item in enumerate(items):
        session.add(_new_item(request, item, position))
    request.items_total = len(items)
    session.flush()
    due = f", due {due_on.isoformat()}" if due_on else ""
    whom = ", ".join(chosen) or "nobody yet"
    audit.record(session, actor, CREATED, Target((client.id,)), f"request {request.id} '{title}': "
                 f"{len(items)} item(s){due}, for {whom}")  # fmt: skip
    if send:
        send_request(context, request.id, now=now)
    return request


def from_template(context: RequestContext, client_id: str, template_id: str, *, due_on: date | None = None,
                  contacts: Sequence[str] | None = None, send: bool = True,
                  now: datetime | None = None) -> DocumentRequest:  # fmt: skip
    """A request made from a matter type's request template (its due date: given, else the
    template's days from now)."""
    now = now or utcnow()
    settings = context.portal.settings.requests
    _, spec = context.portal.matter_types_file.current().request_template(template_id)
    if due_on is None and spec.due_in_days is not None:
        due_on = (now.astimezone(settings.zone).date()) + timedelta(days=spec.due_in_days)
    reminders = spec.reminders.over(settings.default_reminders) if spec.reminders else None
    items = [NewItem(item.name, item.note, item.files) for item in spec.items]
    return create(context, client_id, title=spec.title, items=items, message=spec.message, due_on=due_on,
                  contacts=contacts, participants=spec.participants, reminders=reminders, template=template_id,
                  send=send, now=now)  # fmt: skip


def send_request(context: RequestContext, request_id: int, *, now: datetime | None = None) -> DocumentRequest:
    """A draft goes out: its folders are made in Client's shared and its contacts are told."""
    session, portal, actor, now = context.session, context.portal, _actor(context), now or utcnow()
    request = find(session, request_id)
    if request.status != RequestStatus.DRAFT.value:
        raise RequestProblem(f"'{request.title}' was sent already.")
    _open_client(session, request.client_id)
    shared = portal.settings.folders.client_shared
    base = portal.storage.path_of((request.client_id, shared))
    # Not a name in the folder now, nor one an earlier request had (its folder may have been moved).
    earlier = session.scalars(select(DocumentRequest.folder).where(
        DocumentRequest.client_id == request.client_id, DocumentRequest.folder.is_not(None)))  # fmt: skip
    taken = _names_in(base) | {folder.rsplit("/", 1)[-1] for folder in earlier if folder}
    name = folder_name(portal.settings.requests.folder_prefix + request.title, taken)
    request.folder = f"{shared}/{name}"
    _make_folder(context, request.client_id, request.folder)
    used = [NOT_ACCEPTED_FOLDER]  # kept for the files staff turn down
    for item in items_of(session, request.id):
        item.folder = f"{request.folder}/{folder_name(item.name, used)}"
        used.append(item.folder.rsplit("/", 1)[-1])
        _make_folder(context, request.client_id, item.folder)
    request.status = RequestStatus.OPEN.value
    request.sent_at = now
    _schedule(context, request, after=now)
    session.flush()
    refresh_folders(session, request.client_id)
    _tell_contacts(context, request, asked.REQUESTED, request.folder)
    audit.record(session, actor, SENT, Target((request.client_id, *request.folder.split("/"))),
                 f"request {request.id} '{request.title}' sent")  # fmt: skip
    return request


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
    query = query.order_by(DocumentRequest.due_on.is_(None), DocumentRequest.due_on, DocumentRequest.id)
    return [Outstanding(*row) for row in session.execute(query.offset(offset).limit(limit))]


def count_outstanding(session: Session, *, client: str | None = None, matter_type: str | None = None,
                      staff: str | None = None, due_before: date | None = None,
                      overdue_on: date | None = None) -> int:  # fmt: skip
    query = _outstanding(select(func.count()), client, matter_type, staff, due_before, overdue_on)
    return session.scalar(query) or 0


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


def refresh_folders(session: Session, client_id: str) -> None:
    """Write the client's request folders for the rules (`Client.request_folders`): every node
    reads them at its next request (the client's row is watched for changes)."""
    requests = session.scalars(select(DocumentRequest).where(
        DocumentRequest.client_id == client_id, DocumentRequest.folder.is_not(None))
        .order_by(DocumentRequest.id)).all()  # fmt: skip
    items: dict[int, list[RequestItem]] = {}
    if requests:
        for item in session.scalars(select(RequestItem).where(
                RequestItem.request_id.in_([r.id for r in requests]), RequestItem.folder.is_not(None))
                .order_by(RequestItem.position, RequestItem.id)):  # fmt: skip
            items.setdefault(item.request_id, []).append(item)
    session.execute(update(Client).where(Client.id == client_id).values(request_folders=[
        folders_of(request, items.get(request.id, [])).as_data() for request in requests] or None))  # fmt: skip


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
    settings = context.portal.settings.requests
    reminders = reminders_from(request.reminders, settings.default_reminders)
    request.next_reminder_at = next_reminder(reminders, request.due_on, after=after, at=settings.reminder_time,
                                             zone=settings.zone)  # fmt: skip


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
    disk = context.portal.storage.path_of((client_id, *path.split("/")))
    try:
        os.mkdir(disk)
    except FileExistsError:
        if not exist_ok:
            raise RequestProblem(f"'{path.rsplit('/', 1)[-1]}' is already there; try again.") from None
        return
    sync_folder(disk.parent)
    _removed_unless_committed(context.session, disk)
    documents.record(context.session, client_id, path, _actor(context).login, is_folder=True)


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
    return RequestItem(request_id=request.id, position=position, name=_clean(item.name, "item", 200),
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
