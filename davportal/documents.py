"""The record of who put each file or folder where it is, kept in step with the storage."""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from davportal.models import Account, Document, utcnow


class Digests(NamedTuple):
    sha1: str
    md5: str


def _under(client_id: str, path: str):
    """The document itself and everything below it."""
    return (Document.client_id == client_id) & or_(
        Document.path == path, Document.path.startswith(path + "/", autoescape=True)
    )


def record(
    session: Session, client_id: str, path: str, login: str, *, is_folder: bool, digests: Digests | None = None
) -> None:
    sha1, md5 = digests or (None, None)
    document = session.get(Document, (client_id, path))
    if document is None:
        session.add(Document(client_id=client_id, path=path, uploaded_by=login, is_folder=is_folder,
                             sha1=sha1, md5=md5))  # fmt: skip
    else:
        # A new version belongs to whoever wrote it.
        document.uploaded_by, document.uploaded_at = login, utcnow()
        document.is_folder, document.sha1, document.md5 = is_folder, sha1, md5


def forget(session: Session, client_id: str, path: str) -> None:
    session.execute(delete(Document).where(_under(client_id, path)))


def move(session: Session, src: tuple[str, str], dest: tuple[str, str]) -> None:
    (src_client, src_path), (dest_client, dest_path) = src, dest
    forget(session, dest_client, dest_path)
    documents = session.scalars(select(Document).where(_under(src_client, src_path))).all()
    moved = [
        {**_columns(document), "client_id": dest_client, "path": dest_path + document.path[len(src_path):]}
        for document in documents
    ]
    for document in documents:
        session.delete(document)
    session.flush()
    session.add_all(Document(**columns) for columns in moved)


def _columns(document: Document) -> dict:
    return {column.key: getattr(document, column.key) for column in Document.__table__.columns}


def sole_uploader(session: Session, client_id: str, path: str) -> str | None:
    """Who uploaded this file, or for a folder the one uploader of all in it (None if several)."""
    uploaders = session.scalars(
        select(Document.uploaded_by).where(_under(client_id, path)).distinct().limit(2)
    ).all()
    return uploaders[0] if len(uploaders) == 1 else None


def writer_roles(session: Session, client_id: str, paths: list[str]) -> dict[str, str]:
    """Whether staff or a contact wrote each of these documents (one query)."""
    rows = session.execute(
        select(Document.path, Account.role)
        .join(Account, Account.login == Document.uploaded_by)
        .where(Document.client_id == client_id, Document.path.in_(paths))
    )
    return dict(rows.all())


def checksums(session: Session, client_id: str, folder: str) -> dict[str, Digests]:
    """The digests of every file directly in a folder, by name (one query)."""
    prefix = f"{folder}/" if folder else ""
    rows = session.execute(
        select(Document.path, Document.sha1, Document.md5).where(
            Document.client_id == client_id,
            Document.path.startswith(prefix, autoescape=True),
            Document.sha1.is_not(None),
        )
    )
    return {path[len(prefix):]: Digests(sha1, md5) for path, sha1, md5 in rows if "/" not in path[len(prefix):]}
