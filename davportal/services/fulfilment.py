"""Files fulfilling a document request's items: every file put in place, deleted or moved away
under an item's folder is counted there, from a drive and from a page alike (`placing` and
`records` call these for every file)."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from davportal.core.models import DocumentRequest, RequestItem, utcnow
from davportal.core.storage import Storage
from davportal.services.request import RequestContext
from policy.names import is_desktop_file, is_reserved
from policy.requests import ITEM_AREA, ItemStatus, RequestStatus, item_status

UPLOADED, REOPENED = "REQUEST-UPLOAD", "REQUEST-REOPEN"  # audit actions: an item uploaded, wanted again


def arrived(context: RequestContext, parts: tuple[str, ...]) -> None:
    """A file was put in place: if it is in a wanted item's folder, the item may now be uploaded."""
    _recount(context, parts, arrived=True)


def left(context: RequestContext, parts: tuple[str, ...]) -> None:
    """A file was deleted or moved away: an item it fulfilled may be wanted again."""
    _recount(context, parts, arrived=False)


def restored(session: Session, storage: Storage, client_id: str, path: str) -> None:
    """A file or folder came back from the trash: the item it is in (if any) counts it again."""
    parts = (client_id, *path.split("/"))
    item = _item_holding(session, (*parts, "")) if len(parts) >= 3 else None
    if item is None or item.folder is None or item.status == ItemStatus.ACCEPTED.value:
        return
    item.files = _count_files(storage.path_of((client_id, *item.folder.split("/"))))
    item.status = item_status(item.files, item.files_expected, accepted=False).value
    request = session.get(DocumentRequest, item.request_id)
    assert request is not None
    count_items(session, request)


def count_items(session: Session, request: DocumentRequest) -> None:
    """The request's items by status, kept on its row for the list of everything outstanding."""
    session.flush()
    # The request's row first, locked to the commit: two files arriving for two of its items at
    # once are counted one after the other, each seeing the other's (PostgreSQL; SQLite has one
    # writer at a time already).
    session.execute(select(DocumentRequest.id).where(DocumentRequest.id == request.id).with_for_update())
    statuses = list(session.scalars(select(RequestItem.status).where(RequestItem.request_id == request.id)))
    request.items_total = len(statuses)
    request.items_uploaded = statuses.count(ItemStatus.UPLOADED.value)
    request.items_accepted = statuses.count(ItemStatus.ACCEPTED.value)


def _recount(context: RequestContext, parts: tuple[str, ...], *, arrived: bool) -> None:
    if len(parts) < 3 or context.rules(parts[0]).rule_at(parts[1:-1]).area != ITEM_AREA:
        return  # the cost for every other file: one lookup in the rules the request holds already
    session = context.session
    item = _item_holding(session, parts)
    if item is None or item.folder is None or item.status == ItemStatus.ACCEPTED.value:
        return
    assert context.actor is not None
    before = item.status
    item.files = _count_files(context.portal.storage.path_of((parts[0], *item.folder.split("/"))))
    status = item_status(item.files, item.files_expected, accepted=False).value
    if arrived:
        item.uploaded_at, item.uploaded_by = utcnow(), context.actor.login
        if status == ItemStatus.UPLOADED.value:
            item.rejected_reason = None  # sent again: the last rejection is answered
    elif status == ItemStatus.UPLOADED.value:
        status = before  # a file leaving never fulfils an item (staff setting a rejected item's files aside)
    item.status = status
    if item.status != before:
        request = session.get(DocumentRequest, item.request_id)
        assert request is not None
        count_items(session, request)
        uploaded = item.status == ItemStatus.UPLOADED.value
        context.add_event(UPLOADED if uploaded else REOPENED, "/" + "/".join(parts),
                          f"request {request.id} item '{item.name}': {item.status}")  # fmt: skip


def _item_holding(session: Session, parts: tuple[str, ...]) -> RequestItem | None:
    """The open request's item whose folder holds the file at `parts` (the nearest such folder),
    locked to the commit and read afresh: two files arriving at once in one item are counted one
    after the other, the second seeing the first (PostgreSQL; SQLite has one writer at a time)."""
    candidates = ["/".join(parts[1:depth]) for depth in range(len(parts) - 1, 2, -1)]
    return session.scalars(
        select(RequestItem).join(DocumentRequest, DocumentRequest.id == RequestItem.request_id)
        .where(DocumentRequest.client_id == parts[0], DocumentRequest.status == RequestStatus.OPEN.value,
               RequestItem.folder.in_(candidates))
        .order_by(RequestItem.id.desc()).limit(1).with_for_update(of=RequestItem)
        .execution_options(populate_existing=True)
    ).first()  # fmt: skip


def _count_files(folder: Path) -> int:
    """The client's files in the item's folder and below: not a desktop's own, not an upload in
    flight, not an empty file (the one a LOCK makes before Office or Finder sends the bytes)."""
    count = 0
    for root, dirs, files in os.walk(folder):
        dirs[:] = [name for name in dirs if not is_reserved(name)]
        count += sum(1 for name in files if not is_reserved(name) and not is_desktop_file(name)
                     and _size(Path(root, name)) > 0)  # fmt: skip
    return count


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0  # deleted meanwhile
