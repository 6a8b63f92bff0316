"""The record of who put each file or folder where it is, kept in step with the storage."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import NamedTuple, cast

from sqlalchemy import delete, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from davportal.core.atomic import Digests
from davportal.core.models import Account, AuditEvent, Document, utcnow


def under(client_id: str, path: str):
    """The document itself and everything below it."""
    return (Document.client_id == client_id) & or_(
        Document.path == path, Document.path.startswith(path + "/", autoescape=True)
    )


def record(
    session: Session, client_id: str, path: str, login: str | None, *, is_folder: bool,
    digests: Digests | None = None, description: str | None = None,
) -> None:  # fmt: skip
    """A new document, or a new version (it belongs to whoever wrote it; a description stays).

    One statement, the row never read: an insert that becomes an update where the row exists
    (Core, on the session's connection: no unit of work).
    """
    sha1, md5 = digests or (None, None)
    connection = session.connection()
    connection.execute(_RECORD[connection.dialect.name], {
        "client_id": client_id, "path": path, "uploaded_by": login, "uploaded_at": utcnow(), "is_folder": is_folder,
        "sha1": sha1, "md5": md5, "description": description, "shared": False,
    })  # fmt: skip


def record_folders(session: Session, folders: Iterable[tuple[str, str]], login: str | None) -> None:
    """New folders (client id, path below it), as `record` records each, in one statement."""
    rows = [{"client_id": client_id, "path": path, "uploaded_by": login, "uploaded_at": utcnow(),
             "is_folder": True, "sha1": None, "md5": None, "description": None, "shared": False}
            for client_id, path in folders]  # fmt: skip
    if rows:
        connection = session.connection()
        connection.execute(_RECORD[connection.dialect.name], rows)


def _upsert(insert):
    """The record's statement, built once: every upload runs it."""
    statement = insert(Document)
    written = ("uploaded_by", "uploaded_at", "is_folder", "sha1", "md5")
    return statement.on_conflict_do_update(index_elements=["client_id", "path"],
                                           set_={column: statement.excluded[column] for column in written})  # fmt: skip


_RECORD = {"postgresql": _upsert(postgresql.insert), "sqlite": _upsert(sqlite.insert)}


def forget(session: Session, client_id: str, path: str) -> None:
    session.execute(delete(Document).where(under(client_id, path)))


def move(session: Session, src: tuple[str, str], dest: tuple[str, str]) -> None:
    """The records follow a move; a file moved over another is that document's new version, so
    it keeps the description and share toggle of the one it replaces (a save from Office does this)."""
    (src_client, src_path), (dest_client, dest_path) = src, dest
    replaced = current(session, dest_client, dest_path)
    kept = {"description": replaced.description, "shared": replaced.shared} if replaced else {}
    forget(session, dest_client, dest_path)
    documents = session.scalars(select(Document).where(under(src_client, src_path))).all()
    moved = [
        {**_columns(document), "client_id": dest_client, "path": dest_path + document.path[len(src_path) :]}
        for document in documents
    ]
    if kept and len(moved) == 1 and not moved[0]["is_folder"] and not moved[0]["description"]:
        moved[0].update(kept)
    for document in documents:
        session.delete(document)
    session.flush()
    session.add_all(Document(**columns) for columns in moved)


def _columns(document: Document) -> dict:
    return {column.key: getattr(document, column.key) for column in Document.__table__.columns}


def current(session: Session, client_id: str, path: str) -> Document | None:
    """The record as it is now in the database, not as this session last saw it."""
    query = select(Document).where(Document.client_id == client_id, Document.path == path)
    return session.scalars(query.execution_options(populate_existing=True)).first()


def sole_uploader(session: Session, client_id: str, path: str) -> str | None:
    """Who uploaded this file, or for a folder the one uploader of all in it (None if several)."""
    uploaders = session.scalars(select(Document.uploaded_by).where(under(client_id, path)).distinct().limit(2)).all()
    return uploaders[0] if len(uploaders) == 1 else None


def writer_roles(session: Session, client_id: str, paths: list[str]) -> dict[str, str]:
    """Whether staff or a contact wrote each of these documents (one query)."""
    rows = session.execute(
        select(Document.path, Account.role)
        .join(Account, Account.login == Document.uploaded_by)
        .where(Document.client_id == client_id, Document.path.in_(paths))
    )
    return dict(rows.all())


class Facts(NamedTuple):
    """What the portal knows of a document beyond its bytes."""

    uploaded_by: str | None
    description: str | None
    shared: bool
    digests: Digests | None


def facts_in(session: Session, client_id: str, folder: str) -> dict[str, Facts]:
    """The facts of every document directly in a folder, by name (one query)."""
    prefix = f"{folder}/" if folder else ""
    rows = session.scalars(
        select(Document).where(Document.client_id == client_id, Document.path.startswith(prefix, autoescape=True))
    )
    return {
        d.path[len(prefix) :]: Facts(
            d.uploaded_by, d.description, d.shared, Digests(d.sha1, cast(str, d.md5)) if d.sha1 else None
        )  # fmt: skip
        for d in rows
        if "/" not in d.path[len(prefix) :]
    }


def _document(session: Session, client_id: str, path: str, *, is_folder: bool) -> Document:
    """The document's record, made for a file that arrived outside the portal (uploader unknown)."""
    document = session.get(Document, (client_id, path))
    if document is None:
        document = Document(client_id=client_id, path=path, uploaded_by=None, is_folder=is_folder)
        session.add(document)
    return document


def describe(session: Session, client_id: str, path: str, text: str | None, *, is_folder: bool) -> None:
    _document(session, client_id, path, is_folder=is_folder).description = text or None


def share(session: Session, client_id: str, path: str, on: bool) -> bool:
    """Turn the share toggle; returns whether it changed."""
    document = _document(session, client_id, path, is_folder=False)
    changed = bool(document.shared) != on
    document.shared = on
    return changed


def shared_files(session: Session, client_id: str) -> list[str]:
    return list(session.scalars(
        select(Document.path).where(Document.client_id == client_id, Document.shared.is_(True)).order_by(Document.path)
    ))  # fmt: skip


def seen_in(session: Session, client_id: str, folder: str) -> dict[str, list[tuple[str, datetime]]]:
    """Which contacts downloaded each document directly in a folder, and when first, by name
    (one query over the audit trail)."""
    prefix = f"{folder}/" if folder else ""
    rows = session.execute(
        select(AuditEvent.path, AuditEvent.login, func.min(AuditEvent.at))
        .where(
            AuditEvent.client_id == client_id,
            AuditEvent.path.startswith(prefix, autoescape=True),
            AuditEvent.action == "GET",
            AuditEvent.role == "contact",
            AuditEvent.status.in_((200, 206)),
        )  # fmt: skip
        .group_by(AuditEvent.path, AuditEvent.login)
        .order_by(func.min(AuditEvent.at))
    )
    seen: dict[str, list[tuple[str, datetime]]] = {}
    for path, login, first in rows:
        assert path is not None  # it starts with the prefix
        name = path[len(prefix) :]
        if "/" not in name:
            seen.setdefault(name, []).append((login, first))
    return seen
