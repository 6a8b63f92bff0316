"""Erasing a client's data when the law requires it (GDPR art. 17), and saying first what would go.

What goes: the client's files and folders on disk, the earlier versions of its files and what is
in its trash (bytes and rows), its document records (uploader, checksums, descriptions, shares),
dead properties and locks, notices and the emails only about it, its matter-type folder records,
its memberships, its document requests (their items and the contacts they were for), the
contacts who belong to no other client (their login, name, email, password,
app passwords, sessions, links, sign-in throttles), and the client itself.

What is kept: the audit trail, row for row, because a firm must be able to show what happened
and when. In it, and wherever else the portal keeps a login (who uploaded a document of another
client, who wrote a version, who deleted something), every erased contact's login is replaced by
a pseudonym: "erased-" and the first 12 hex digits of an HMAC-SHA256 of the login, keyed with 32
random bytes made for this erasure and never stored. So the same contact has the same pseudonym
in every row (their actions can still be followed), but nobody can tell from the data kept whose
it was: without the key, trying a list of likely logins finds nothing. A contact who also
belongs to another client is not erased (they still use the portal), only their membership of
this client. One audit row records the erasure, who asked for it and the counts.

The order makes an interruption harmless and a second run finish the job: the client is first
archived (its contacts lose access), then the bytes are removed (the rows that find them stay
until the end), then every row goes, the pseudonyms are set and the erasure is audited in one
transaction, then anything written on disk meanwhile is swept. A run stopped anywhere leaves a
client (or a folder) that `erase` takes up again.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import ColumnElement, delete, exists, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from davportal.core.errors import NotFound
from davportal.core.models import (
    Account,
    AccountLink,
    AppPassword,
    AuditEvent,
    Client,
    DavLock,
    DeadProperty,
    Document,
    DocumentRequest,
    LoginThrottle,
    Membership,
    Notice,
    OutboxMessage,
    ProvisionedFolder,
    RequestContact,
    RequestItem,
    TrashItem,
    Version,
    WebSession,
)
from davportal.core.storage import Storage
from davportal.services import audit
from davportal.services.trash import TRASH_FOLDER
from davportal.services.versions import VERSIONS_FOLDER
from policy import Actor, Role, Target
from policy.names import human_size
from provisioning import clients

PSEUDONYM_PREFIX = "erased-"
_LOGIN_CHARACTER = r"A-Za-z0-9._@+\-"  # provisioning.accounts.LOGIN_PATTERN's


@dataclass
class Erasure:
    """What an erasure removes (or, planned, would remove)."""

    client_id: str
    client_name: str | None
    files: int = 0
    folders: int = 0
    bytes: int = 0
    versions: int = 0
    version_bytes: int = 0
    trash_items: int = 0
    trash_bytes: int = 0
    documents: int = 0
    shares: int = 0
    properties: int = 0
    locks: int = 0
    notices: int = 0
    messages: int = 0  # emails only about this client, or to a contact erased
    provisioned_folders: int = 0
    memberships: int = 0
    requests: int = 0  # document requests, whatever their status
    request_items: int = 0
    contacts_erased: tuple[str, ...] = ()  # belong to no other client
    contacts_kept: tuple[str, ...] = ()  # belong to another client too: only their membership goes
    steps: int = 0  # the pieces of disk work, for progress
    # Erased login -> its pseudonym, once erased: for the caller's checks only, never to be shown
    # or kept (the pair is exactly what the erasure must not leave behind).
    pseudonyms: dict[str, str] = field(default_factory=dict, repr=False)

    def lines(self) -> list[str]:
        """What goes, in plain words, one thing a line."""
        return [
            f"client {self.client_id}" + (f" ({self.client_name})" if self.client_name else " (its folder only)"),
            f"{self.files} file(s) and {self.folders} folder(s), {human_size(self.bytes)}",
            f"{self.versions} earlier version(s), {human_size(self.version_bytes)}",
            f"{self.trash_items} item(s) in the trash, {human_size(self.trash_bytes)}",
            f"{self.documents} document record(s), {self.shares} of them shared, {self.properties} property(ies), "
            f"{self.locks} lock(s)",
            f"{self.notices} notice(s), {self.messages} email(s) only about this client or its erased contacts",
            f"{self.provisioned_folders} matter-type folder record(s), {self.memberships} membership(s)",
            f"{self.requests} document request(s) with {self.request_items} item(s)",
            "contacts erased (no other client): " + (", ".join(self.contacts_erased) or "none"),
            "contacts kept (another client too): " + (", ".join(self.contacts_kept) or "none"),
        ]

    def summary(self) -> str:
        return (f"{self.files} file(s), {self.versions} version(s), {self.trash_items} trash item(s), "
                f"{self.documents} record(s), {len(self.contacts_erased)} contact(s) erased")  # fmt: skip


def plan(session: Session, storage: Storage, client_id: str) -> Erasure:
    """What `erase` would remove; changes nothing."""
    clients.check_client_id(client_id)  # never a reserved folder of the storage root
    client = session.get(Client, client_id)
    folder = storage.path_of((client_id,))
    if client is None and not os.path.lexists(folder):
        raise NotFound(f"There is no client '{client_id}'.")
    found = Erasure(client_id, client.name if client else None)
    found.files, found.folders, found.bytes = _tally(folder)
    found.steps = len(_entries(folder))
    versions = session.execute(select(Version.stored_as, Version.size).where(Version.client_id == client_id)).all()
    found.versions, found.version_bytes = len(versions), sum(size for _, size in versions)
    found.steps += len(versions)
    for stored_as in session.scalars(select(TrashItem.stored_as).where(TrashItem.client_id == client_id)):
        found.trash_items += 1
        found.trash_bytes += _tally(storage.path_of((TRASH_FOLDER, stored_as)))[2]
    found.steps += found.trash_items
    found.documents = _count(session, Document, Document.client_id == client_id)
    found.shares = _count(session, Document, Document.client_id == client_id, Document.shared.is_(True))
    found.properties = _count(session, DeadProperty, DeadProperty.url.startswith(_url_of(client_id), autoescape=True))
    found.locks = _count(session, DavLock, _locks_of(client_id))
    found.notices = _count(session, Notice, Notice.client_id == client_id)
    found.provisioned_folders = _count(session, ProvisionedFolder, ProvisionedFolder.client_id == client_id)
    found.memberships = _count(session, Membership, Membership.client_id == client_id)
    found.requests = _count(session, DocumentRequest, DocumentRequest.client_id == client_id)
    found.request_items = _count(session, RequestItem, RequestItem.request_id.in_(_requests_of(client_id)))
    found.contacts_erased, found.contacts_kept = _contacts(session, client_id)
    found.messages = len(_messages(session, client_id, found.contacts_erased))
    return found


def erase(sessions: sessionmaker[Session], storage: Storage, client_id: str, *, actor: Actor,
          on_step: Callable[[str], None] | None = None) -> Erasure:  # fmt: skip
    """Remove everything `plan` lists; safe to run again after an interruption (it finishes the job).

    `on_step` is told of each piece of disk work as it is done (a folder, a version, a trash item).
    """
    step = on_step or (lambda _: None)
    with sessions.begin() as session:
        found = plan(session, storage, client_id)
        if found.client_name is not None:
            clients.archive(session, client_id, actor=actor)  # its contacts lose access before anything goes
        version_files = session.scalars(select(Version.stored_as).where(Version.client_id == client_id)).all()
        trash_holders = session.scalars(select(TrashItem.stored_as).where(TrashItem.client_id == client_id)).all()
    # The bytes first; the rows that find them stay until the last step, so a second run finds them again.
    folder = storage.path_of((client_id,))
    for entry in _entries(folder):
        _remove(entry)
        step(f"removed {client_id}/{entry.name}")
    for stored_as in version_files:
        storage.path_of((VERSIONS_FOLDER, stored_as)).unlink(missing_ok=True)
        step(f"removed an earlier version ({stored_as})")
    for stored_as in trash_holders:
        _remove(storage.path_of((TRASH_FOLDER, stored_as)))
        step(f"removed a trash item ({stored_as})")
    with sessions.begin() as session:
        _forget(session, client_id, found, actor)
    _remove(folder)  # anything written there meanwhile
    return found


def _forget(session: Session, client_id: str, found: Erasure, actor: Actor) -> None:
    """Every row of the client and of its erased contacts, the pseudonyms and the audit row: one transaction."""
    # Its contacts as they are now: one may have been added since the plan.
    found.contacts_erased, found.contacts_kept = _contacts(session, client_id)
    erased = found.contacts_erased
    for message_id in _messages(session, client_id, erased):
        session.execute(delete(OutboxMessage).where(OutboxMessage.id == message_id))
    session.execute(delete(Notice).where(Notice.client_id == client_id))
    if erased:
        session.execute(delete(Notice).where(Notice.recipient_name.in_(erased), Notice.to_staff.is_(False)))
    session.execute(delete(Document).where(Document.client_id == client_id))
    session.execute(delete(DeadProperty).where(DeadProperty.url.startswith(_url_of(client_id), autoescape=True)))
    session.execute(delete(DavLock).where(_locks_of(client_id)))
    session.execute(delete(Version).where(Version.client_id == client_id))
    session.execute(delete(TrashItem).where(TrashItem.client_id == client_id))
    session.execute(delete(ProvisionedFolder).where(ProvisionedFolder.client_id == client_id))
    # The database's cascades from the client would take these too; said here, they go on any database.
    session.execute(delete(RequestContact).where(RequestContact.request_id.in_(_requests_of(client_id))))
    session.execute(delete(RequestItem).where(RequestItem.request_id.in_(_requests_of(client_id))))
    session.execute(delete(DocumentRequest).where(DocumentRequest.client_id == client_id))
    session.execute(delete(Membership).where(Membership.client_id == client_id))
    key = secrets.token_bytes(32)  # never stored: the pseudonyms cannot be traced back to a login
    found.pseudonyms = {login: pseudonym(key, login) for login in erased}
    for login, alias in found.pseudonyms.items():
        _pseudonymise(session, login, alias)
    for table in (AccountLink, AppPassword, WebSession, LoginThrottle, Membership):
        session.execute(delete(table).where(table.login.in_(erased)))
    session.execute(delete(Account).where(Account.login.in_(erased)))
    session.execute(delete(Client).where(Client.id == client_id))
    audit.record(session, actor, "ERASE", Target((client_id,)),
                 f"client erased: {found.summary()}"[:500])  # fmt: skip


def _contacts(session: Session, client_id: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The client's contacts who belong to no other client (erased), and those who do (kept)."""
    members = session.scalars(select(Membership.login).where(Membership.client_id == client_id)).all()
    elsewhere = set(session.scalars(select(Membership.login).where(
        Membership.login.in_(members), Membership.client_id != client_id)))  # fmt: skip
    contacts = set(session.scalars(select(Account.login).where(Account.login.in_(members),
                                                              Account.role == Role.CONTACT.value)))  # fmt: skip
    return tuple(sorted(contacts - elsewhere)), tuple(sorted(contacts & elsewhere))


def pseudonym(key: bytes, login: str) -> str:
    return PSEUDONYM_PREFIX + hmac.new(key, login.encode(), hashlib.sha256).hexdigest()[:12]


def _pseudonymise(session: Session, login: str, alias: str) -> None:
    """The login replaced wherever a row that stays names it."""
    for column in (AuditEvent.login, Document.uploaded_by, Version.written_by, Version.replaced_by,
                   TrashItem.deleted_by, Notice.actor, DavLock.principal):  # fmt: skip
        session.execute(update(column.class_).where(column == login).values({column.key: alias})
                        .execution_options(synchronize_session=False))  # fmt: skip
    # Audit details name the login a change was about ("alice removed from acme").
    word = re.compile(rf"(?<![{_LOGIN_CHARACTER}]){re.escape(login)}(?![{_LOGIN_CHARACTER}])")
    rows = session.execute(select(AuditEvent.id, AuditEvent.detail).where(
        AuditEvent.detail.contains(login, autoescape=True))).all()  # fmt: skip
    for event_id, detail in rows:
        if detail and word.search(detail):
            session.execute(update(AuditEvent).where(AuditEvent.id == event_id)
                            .values(detail=word.sub(alias, detail)))  # fmt: skip


def _messages(session: Session, client_id: str, erased: Iterable[str]) -> list[int]:
    """Emails only about this client (every notice in them is its), and those to an erased contact's
    address that are about no other client; an email about several clients stays."""
    other = exists().where(Notice.message_id == OutboxMessage.id, Notice.client_id != client_id)
    about = exists().where(Notice.message_id == OutboxMessage.id, Notice.client_id == client_id)
    addresses = set(session.scalars(select(Account.email).where(Account.login.in_(list(erased)),
                                                               Account.email.is_not(None))))  # fmt: skip
    # An address another login still uses is theirs too.
    addresses -= set(session.scalars(select(Account.email).where(Account.email.in_(addresses),
                                                                Account.login.not_in(list(erased)))))  # fmt: skip
    query = select(OutboxMessage.id).where(~other, about | OutboxMessage.recipient.in_(addresses))
    return list(session.scalars(query.order_by(OutboxMessage.id)))


def _requests_of(client_id: str):
    return select(DocumentRequest.id).where(DocumentRequest.client_id == client_id).scalar_subquery()


def _url_of(client_id: str) -> str:
    return quote(f"/{client_id}/")  # the start of WsgiDAV's keys for everything in the client


def _locks_of(client_id: str) -> ColumnElement[bool]:
    return (DavLock.root == quote(f"/{client_id}")) | DavLock.root.startswith(_url_of(client_id), autoescape=True)


def _count(session: Session, table: type, *where: ColumnElement[bool]) -> int:
    return session.scalar(select(func.count()).select_from(table).where(*where)) or 0


def _entries(folder: Path) -> list[Path]:
    if folder.is_symlink() or not folder.is_dir():
        return [folder] if os.path.lexists(folder) else []
    return sorted(folder.iterdir())


def _tally(path: Path) -> tuple[int, int, int]:
    """Files, folders (itself not counted) and bytes under a path, never following a link."""
    files = folders = size = 0
    if not os.path.lexists(path):
        return 0, 0, 0
    if path.is_symlink() or not path.is_dir():
        return 1, 0, os.lstat(path).st_size
    for here, dirs, names in os.walk(path):
        folders += len(dirs)
        files += len(names)
        size += sum(os.lstat(os.path.join(here, name)).st_size for name in names)
    return files, folders, size


def _remove(path: Path) -> None:
    """A file, a link (never what it points to) or a folder with everything in it."""
    if path.is_symlink() or path.is_file():
        path.unlink(missing_ok=True)
    elif path.is_dir():
        shutil.rmtree(path)
