"""Deleted documents kept for the retention period: put in the trash, listed, restored, purged."""

from __future__ import annotations

import os
import shutil
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from davportal.core.errors import NotFound
from davportal.core.models import DeadProperty, Document, TrashItem, utcnow
from davportal.core.paths import ref_url
from davportal.core.storage import Storage
from davportal.services import audit, fulfilment, versions
from davportal.services.documents import under
from policy import Actor, Target
from policy.names import RESERVED_PREFIX

TRASH_FOLDER = RESERVED_PREFIX + "trash"  # in the storage root: reserved, never listed


@dataclass(frozen=True)
class Restored:
    client_id: str
    path: str


def put_in_trash(session: Session, storage: Storage, *, client_id: str, path: str, is_folder: bool,
                 deleted_by: str, property_url: str) -> TrashItem:  # fmt: skip
    """Move a document (and everything in it) out of every listing, keeping bytes and records."""
    stored_as = uuid.uuid4().hex
    holder = storage.root / TRASH_FOLDER / stored_as
    holder.mkdir(parents=True)
    source = storage.path_of((client_id, *path.split("/")))
    os.rename(source, holder / source.name)  # same filesystem: nothing is copied
    documents = session.scalars(select(Document).where(under(client_id, path))).all()
    properties = session.scalars(select(DeadProperty).where(_properties_under(property_url))).all()
    records = {
        "documents": [_row(d, relative_to=path) for d in documents],
        "properties": [{"url": p.url[len(property_url) :], "name": p.name, "value": p.value} for p in properties],
    }
    for row in (*documents, *properties):
        session.delete(row)
    item = TrashItem(client_id=client_id, path=path, is_folder=is_folder, deleted_by=deleted_by,
                     stored_as=stored_as, records=records)  # fmt: skip
    session.add(item)
    session.flush()  # its id, which its versions keep while it is in the trash
    versions.to_trash(session, client_id, path, item.id)
    return item


def restore(session: Session, storage: Storage, item_id: int, *, actor: Actor) -> Restored:
    """Put it back where it was, or beside it with a suffix when that place is taken."""
    item = find(session, item_id)
    parts = item.path.split("/")
    holder = storage.root / TRASH_FOLDER / item.stored_as
    target = storage.path_of((item.client_id, *parts))
    target.parent.mkdir(parents=True, exist_ok=True)
    name = parts[-1]
    for n in range(1, 1000):
        if not os.path.lexists(target):
            break
        name = _restored_name(parts[-1], n)
        target = target.with_name(name)
    path = "/".join([*parts[:-1], name])
    os.rename(holder / parts[-1], target)
    shutil.rmtree(holder, ignore_errors=True)
    for row in item.records["documents"]:
        session.add(Document(**{**row, "client_id": item.client_id, "path": path + row["path"],
                                "uploaded_at": datetime.fromisoformat(row["uploaded_at"])}))  # fmt: skip
    versions.from_trash(session, item.id, was=item.path, now=path)
    base_url = ref_url(item.client_id, path, is_folder=item.is_folder)
    for row in item.records["properties"]:
        session.merge(DeadProperty(url=base_url + row["url"], name=row["name"], value=row["value"]))
    session.delete(item)
    fulfilment.restored(session, storage, item.client_id, path)
    detail = f"restored from the trash (item {item_id}, deleted by {item.deleted_by} from {item.path})"
    audit.record(session, actor, "TRASH-RESTORE", Target((item.client_id, *path.split("/"))), detail)
    return Restored(item.client_id, path)


def purge(session: Session, storage: Storage, *, older_than: timedelta, actor: Actor | None,
          now: datetime | None = None) -> int:  # fmt: skip
    """Delete for good what has been in the trash longer than `older_than`.

    `actor` is the admin who asked, audited; None for the portal's own purge after the retention period.
    """
    cutoff = (now or utcnow()) - older_than
    # Every node may purge at once: each takes the rows no other has locked.
    items = session.scalars(
        select(TrashItem).where(TrashItem.deleted_at <= cutoff).with_for_update(skip_locked=True)).all()  # fmt: skip
    _delete(session, storage, list(items))
    if actor is not None:
        days = older_than / timedelta(days=1)
        audit.record(session, actor, "TRASH-PURGE", Target(()),
                     f"{len(items)} item(s) deleted more than {days:g} day(s) ago purged")  # fmt: skip
    return len(items)


def purge_item(session: Session, storage: Storage, item_id: int, *, actor: Actor) -> TrashItem:
    """Delete one item for good, whatever its age."""
    item = find(session, item_id)
    _delete(session, storage, [item])
    audit.record(session, actor, "TRASH-PURGE", Target((item.client_id, *item.path.split("/"))),
                 f"purged from the trash (item {item_id}, deleted by {item.deleted_by})")  # fmt: skip
    return item


def _delete(session: Session, storage: Storage, items: list[TrashItem]) -> None:
    for item in items:
        shutil.rmtree(storage.root / TRASH_FOLDER / item.stored_as, ignore_errors=True)
        session.delete(item)
    versions.purge_trashed(session, storage, [item.id for item in items])


def count_older(session: Session, *, older_than: timedelta, now: datetime | None = None) -> int:
    """How many items `purge` would delete now: what a dry run or a confirmation says."""
    cutoff = (now or utcnow()) - older_than
    return session.scalar(select(func.count()).where(TrashItem.deleted_at <= cutoff)) or 0


def find(session: Session, item_id: int) -> TrashItem:
    item = session.get(TrashItem, item_id)
    if item is None:
        raise NotFound(f"There is no item {item_id} in the trash.")
    return item


def list_items(session: Session, client_id: str | None = None, *, offset: int = 0,
               limit: int | None = None) -> list[TrashItem]:  # fmt: skip
    """Newest first; a page of them with `offset` and `limit`."""
    query = select(TrashItem).order_by(TrashItem.deleted_at.desc(), TrashItem.id.desc())
    if client_id:
        query = query.where(TrashItem.client_id == client_id)
    return list(session.scalars(query.offset(offset).limit(limit)))


def count_items(session: Session, client_id: str | None = None) -> int:
    query = select(func.count()).select_from(TrashItem)
    if client_id:
        query = query.where(TrashItem.client_id == client_id)
    return session.scalar(query) or 0


def _restored_name(name: str, n: int) -> str:
    stem, dot, ext = name.rpartition(".")
    suffix = " (restored)" if n == 1 else f" (restored {n})"
    return f"{stem}{suffix}.{ext}" if dot and stem else f"{name}{suffix}"


def _row(document: Document, *, relative_to: str) -> dict:
    row = {column.key: getattr(document, column.key) for column in Document.__table__.columns}
    row["path"] = document.path[len(relative_to) :]
    row["uploaded_at"] = row["uploaded_at"].isoformat()
    del row["client_id"]
    return row


def _properties_under(url: str):
    if url.endswith("/"):
        return DeadProperty.url.startswith(url, autoescape=True)
    return DeadProperty.url == url
