"""Earlier versions of files: kept when an overwrite replaces the bytes, listed, restored, purged.

The bytes sit in the storage's versions folder under a name of their own (a hard link of the
replaced file: nothing is copied); the rows say whose they were and where. A version follows
its document through moves and into the trash, and only the purge removes it.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import ColumnElement, delete, func, or_, select, update
from sqlalchemy.orm import Session

from davportal.core.atomic import keep_aside
from davportal.core.models import Document, Version, utcnow
from davportal.core.storage import Storage
from policy.names import RESERVED_PREFIX

VERSIONS_FOLDER = RESERVED_PREFIX + "versions"  # in the storage root: reserved, never listed


def file_of(storage: Storage, version: Version) -> Path:
    return storage.root / VERSIONS_FOLDER / version.stored_as


def keep(session: Session, storage: Storage, document: Document | None, disk: Path, *, client_id: str, path: str,
         replaced_by: str | None) -> Version:  # fmt: skip
    """Keep the bytes at `disk`, about to be replaced, as a version of the document at `path`.

    `document` is its record as read under the name's lock: who wrote these bytes, and their checksums.
    """
    st = os.lstat(disk)
    stored_as = uuid.uuid4().hex
    keep_aside(disk, storage.root / VERSIONS_FOLDER / stored_as)
    version = Version(
        client_id=client_id, path=path, written_in=path, stored_as=stored_as, size=st.st_size,
        sha1=document.sha1 if document else None, md5=document.md5 if document else None,
        written_by=document.uploaded_by if document else None,
        written_at=document.uploaded_at if document else datetime.fromtimestamp(st.st_mtime, timezone.utc),
        replaced_by=replaced_by,
    )  # fmt: skip
    session.add(version)
    return version


def of_document(session: Session, client_id: str, path: str) -> list[Version]:
    """A document's earlier versions, newest first (none of a document in the trash)."""
    return list(session.scalars(
        select(Version).where(Version.client_id == client_id, Version.path == path, Version.trash_item_id.is_(None))
        .order_by(Version.replaced_at.desc(), Version.id.desc())
    ))  # fmt: skip


def in_folder(session: Session, client_id: str, folder: str) -> dict[str, list[Version]]:
    """The versions of every document directly in a folder, by name (one query), newest first."""
    prefix = f"{folder}/" if folder else ""
    rows = session.scalars(
        select(Version).where(Version.client_id == client_id, Version.path.startswith(prefix, autoescape=True),
                              Version.trash_item_id.is_(None))
        .order_by(Version.replaced_at.desc(), Version.id.desc())
    )  # fmt: skip
    found: dict[str, list[Version]] = {}
    for version in rows:
        name = version.path[len(prefix) :]
        if "/" not in name:
            found.setdefault(name, []).append(version)
    return found


def _under(client_id: str, path: str):
    return (Version.client_id == client_id) & or_(
        Version.path == path, Version.path.startswith(path + "/", autoescape=True)
    )


def move(session: Session, src: tuple[str, str], dest: tuple[str, str]) -> None:
    """Versions follow their document (and everything in a folder) to its new place."""
    (src_client, src_path), (dest_client, dest_path) = src, dest
    session.execute(
        update(Version)
        .where(_under(src_client, src_path), Version.trash_item_id.is_(None))
        .values(client_id=dest_client, path=dest_path + func.substr(Version.path, len(src_path) + 1))
        .execution_options(synchronize_session=False)
    )


def to_trash(session: Session, client_id: str, path: str, item_id: int) -> None:
    session.execute(
        update(Version).where(_under(client_id, path), Version.trash_item_id.is_(None))
        .values(trash_item_id=item_id).execution_options(synchronize_session=False)
    )  # fmt: skip


def from_trash(session: Session, item_id: int, *, was: str, now: str) -> None:
    """Back with their document, which may have come back beside its old place under a new name."""
    session.execute(
        update(Version).where(Version.trash_item_id == item_id)
        .values(trash_item_id=None, path=now + func.substr(Version.path, len(was) + 1))
        .execution_options(synchronize_session=False)
    )  # fmt: skip


def purge_trashed(session: Session, storage: Storage, item_ids: list[int]) -> None:
    """The versions of trash items purged for good go with them."""
    if item_ids:
        _remove(session, storage, list(session.scalars(select(Version).where(Version.trash_item_id.in_(item_ids)))))


@dataclass(frozen=True)
class Retention:
    keep: int  # per document, the newest first
    keep_days: float  # 0: however old


def purge(session: Session, storage: Storage, retention: Retention, *, now: datetime | None = None,
          dry_run: bool = False) -> int:  # fmt: skip
    """Remove the versions beyond the newest `keep` of each document, and those older than `keep_days`."""
    rank = func.row_number().over(partition_by=(Version.client_id, Version.path),
                                  order_by=(Version.replaced_at.desc(), Version.id.desc()))  # fmt: skip
    ranked = select(Version.id, rank.label("rank")).where(Version.trash_item_id.is_(None)).subquery()
    beyond = select(ranked.c.id).where(ranked.c.rank > retention.keep)
    doomed: list[ColumnElement[bool]] = [Version.id.in_(beyond)]
    if retention.keep_days:
        doomed.append(Version.replaced_at <= (now or utcnow()) - timedelta(days=retention.keep_days))
    # Every node may purge at once: each takes the rows no other has locked.
    query = select(Version).where(or_(*doomed), Version.trash_item_id.is_(None))
    versions = list(session.scalars(query.with_for_update(skip_locked=True)))
    if not dry_run:
        _remove(session, storage, versions)
    return len(versions)


def _remove(session: Session, storage: Storage, versions: list[Version]) -> None:
    for version in versions:
        file_of(storage, version).unlink(missing_ok=True)
    if versions:
        session.execute(delete(Version).where(Version.id.in_([v.id for v in versions])))
