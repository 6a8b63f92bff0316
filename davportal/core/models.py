"""The portal's tables: accounts (staff and contacts), clients, memberships, documents."""

from __future__ import annotations

from datetime import date, datetime, timezone

from sqlalchemy import JSON, Boolean, Date, DateTime, Float, ForeignKey, Index, Integer, LargeBinary, String, Text, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    pass


class Account(Base):
    """A login: staff of the firm, or a contact of one or more clients. Logins are unique across both."""

    __tablename__ = "account"
    login: Mapped[str] = mapped_column(String(128), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200))  # what people read ("Alice Martin"); the login identifies
    role: Mapped[str] = mapped_column(String(16))  # policy.Role value
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    password_hash: Mapped[str | None] = mapped_column(Text)  # argon2; None: cannot sign in yet
    email: Mapped[str | None] = mapped_column(String(320))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Two-factor sign-in: a TOTP secret once enrolment is confirmed, and one-time recovery codes (hashed).
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    recovery_codes: Mapped[list | None] = mapped_column(JSON)
    last_sign_in_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AccountLink(Base):
    """A one-time link by email: an invitation to choose a password, or a password reset.

    Only the token's hash is kept; the link works once, until it expires.
    """

    __tablename__ = "account_link"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the link's token
    login: Mapped[str] = mapped_column(ForeignKey("account.login", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(16))  # invite, reset
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AppPassword(Base):
    """A password for one drive or app, for a login with two-factor sign-in (WebDAV cannot ask for a code)."""

    __tablename__ = "app_password"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    login: Mapped[str] = mapped_column(ForeignKey("account.login", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    secret_hash: Mapped[str] = mapped_column(Text)  # argon2 of the secret part
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Client(Base):
    __tablename__ = "client"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # the URL segment: never renamed
    name: Mapped[str] = mapped_column(String(200))  # what people read: may change
    matter_type: Mapped[str | None] = mapped_column(String(64), index=True)
    assigned_staff: Mapped[str | None] = mapped_column(String(128))  # told of the client's uploads
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Set while the client is archived: its contacts have no access, staff still see its folders.
    archived_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    # The folders its sent document requests put in Client's shared, for the rules (policy.requests):
    # [{"folder", "status", "for", "items": [{"folder", "status"}]}]; written with every change to them.
    request_folders: Mapped[list | None] = mapped_column(JSON)


class ProvisionedFolder(Base):
    """A folder a matter type created: if it goes missing, staff renamed or removed it."""

    __tablename__ = "provisioned_folder"
    client_id: Mapped[str] = mapped_column(ForeignKey("client.id", ondelete="CASCADE"), primary_key=True)
    path: Mapped[str] = mapped_column(String(1024), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Membership(Base):
    """A contact belongs to a client as a participant type (default `client`)."""

    __tablename__ = "membership"
    login: Mapped[str] = mapped_column(ForeignKey("account.login", ondelete="CASCADE"), primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("client.id", ondelete="CASCADE"), primary_key=True)
    participant_type: Mapped[str] = mapped_column(String(64), default="client")


class Document(Base):
    """Who put each file or folder where it is: the basis of "own uploads only"."""

    __tablename__ = "document"
    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    path: Mapped[str] = mapped_column(String(1024), primary_key=True)  # below the client root, NFC
    is_folder: Mapped[bool] = mapped_column(Boolean, default=False)
    uploaded_by: Mapped[str | None] = mapped_column(String(128))  # None: put there outside the portal
    uploaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Of the content, taken while it arrived: clients verify downloads against them.
    sha1: Mapped[str | None] = mapped_column(String(40))
    md5: Mapped[str | None] = mapped_column(String(32))
    description: Mapped[str | None] = mapped_column(String(500))  # staff's words for the client
    # A private file the client may see, read-only, in Team's shared (the share toggle).
    shared: Mapped[bool] = mapped_column(Boolean, default=False, index=True)


class DeadProperty(Base):
    """A WebDAV dead property (set by PROPPATCH), by the resource's URL."""

    __tablename__ = "dead_property"
    url: Mapped[str] = mapped_column(String(2048), primary_key=True)  # WsgiDAV's ref URL, quoted
    name: Mapped[str] = mapped_column(String(512), primary_key=True)  # Clark notation: {ns}local
    value: Mapped[str] = mapped_column(Text)  # the property element, serialized XML


class DavLock(Base):
    """A WebDAV lock (LOCK), where every node and worker sees it; granted under a lock of its own.

    Expired rows are ignored by every read and removed by the next grant.
    """

    __tablename__ = "dav_lock"
    token: Mapped[str] = mapped_column(String(128), primary_key=True)  # "opaquelocktoken:…": shown to its holder only
    root: Mapped[str] = mapped_column(String(2048), index=True)  # WsgiDAV's ref URL, quoted, no trailing "/"
    scope: Mapped[str] = mapped_column(String(16))  # exclusive, shared
    depth: Mapped[str] = mapped_column(String(16))  # 0, infinity
    owner: Mapped[bytes] = mapped_column(LargeBinary)  # the client's <owner> element, as it sent it
    principal: Mapped[str] = mapped_column(String(128))  # the login that took it
    timeout: Mapped[float] = mapped_column(Float)  # seconds granted (capped by limits.lock_timeout_seconds)
    expire: Mapped[float] = mapped_column(Float, index=True)  # seconds since the epoch


class AuditEvent(Base):
    """Who read or changed what, when, from where, and the outcome."""

    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_client_path", "client_id", "path"), Index("ix_audit_at", "at"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    login: Mapped[str] = mapped_column(String(128))
    role: Mapped[str | None] = mapped_column(String(16))  # None: the login is unknown
    action: Mapped[str] = mapped_column(String(32))  # the WebDAV method, or e.g. "LOGIN-FAILED", "SHARE"
    client_id: Mapped[str | None] = mapped_column(String(64))
    path: Mapped[str | None] = mapped_column(String(1024))  # below the client root
    destination: Mapped[str | None] = mapped_column(String(1100))  # COPY/MOVE: client id / path
    status: Mapped[int] = mapped_column(Integer)
    remote_addr: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[str | None] = mapped_column(String(500))


class TrashItem(Base):
    """A deleted file or folder, kept for the retention period: its bytes and its records."""

    __tablename__ = "trash_item"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    client_id: Mapped[str] = mapped_column(String(64), index=True)
    path: Mapped[str] = mapped_column(String(1024))  # where it was, below the client root
    is_folder: Mapped[bool] = mapped_column(Boolean, default=False)
    deleted_by: Mapped[str] = mapped_column(String(128))
    deleted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    stored_as: Mapped[str] = mapped_column(String(64))  # its folder in the storage's trash
    records: Mapped[dict] = mapped_column(JSON)  # its documents and dead properties, to restore


class Version(Base):
    """An earlier version of a file: the bytes an overwrite replaced, kept aside with who wrote them.

    It follows its document through moves and into the trash; the purge removes it, nothing else.
    """

    __tablename__ = "version"
    __table_args__ = (Index("ix_version_document", "client_id", "path"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    client_id: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(String(1024))  # the document's path now, below the client root
    # Where the document was when these bytes were replaced: a contact never sees a version
    # written where they could not look.
    written_in: Mapped[str] = mapped_column(String(1024))
    stored_as: Mapped[str] = mapped_column(String(64))  # its file in the storage's versions folder
    size: Mapped[int] = mapped_column(Integer)
    sha1: Mapped[str | None] = mapped_column(String(40))
    md5: Mapped[str | None] = mapped_column(String(32))
    written_by: Mapped[str | None] = mapped_column(String(128))  # None: put there outside the portal
    written_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    replaced_by: Mapped[str | None] = mapped_column(String(128))
    replaced_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    # Set while the document is in the trash: not listed, restored or purged with it.
    trash_item_id: Mapped[int | None] = mapped_column(Integer, index=True)


class DocumentRequest(Base):
    """Staff ask one client for documents: a title, a message, a due date, the contacts it is for, items."""

    __tablename__ = "document_request"
    # The outstanding list's order (undated last), read from the index a page at a time, never sorted.
    __table_args__ = (Index("ix_request_outstanding", "status", text("(due_on IS NULL)"), "due_on", "id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("client.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    message: Mapped[str | None] = mapped_column(Text)
    due_on: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16))  # policy.requests.RequestStatus
    template: Mapped[str | None] = mapped_column(String(64))  # the request template it was made from
    for_types: Mapped[list] = mapped_column(JSON)  # participant types of its contacts: they see its folders
    reminders: Mapped[dict | None] = mapped_column(JSON)  # policy.requests.Reminders as data; None: the default
    folder: Mapped[str | None] = mapped_column(String(1024))  # below the client root, once sent
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cancelled_by: Mapped[str | None] = mapped_column(String(128))
    next_reminder_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    reminders_sent: Mapped[int] = mapped_column(Integer, default=0)
    last_reminded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Its items by status, kept with every change: the list of everything outstanding reads no items.
    items_total: Mapped[int] = mapped_column(Integer, default=0)
    items_uploaded: Mapped[int] = mapped_column(Integer, default=0)
    items_accepted: Mapped[int] = mapped_column(Integer, default=0)


class RequestItem(Base):
    """One document a request asks for: its folder inside the request's, its status and review."""

    __tablename__ = "request_item"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("document_request.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    name: Mapped[str] = mapped_column(String(200))  # "P60 from your employer"
    note: Mapped[str | None] = mapped_column(String(500))
    files_expected: Mapped[int | None] = mapped_column(Integer)  # None: one will do
    folder: Mapped[str | None] = mapped_column(String(1024))  # below the client root, once sent
    status: Mapped[str] = mapped_column(String(16))  # policy.requests.ItemStatus
    files: Mapped[int] = mapped_column(Integer, default=0)  # files in its folder now
    uploaded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # the last file's arrival
    uploaded_by: Mapped[str | None] = mapped_column(String(128))
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reviewed_by: Mapped[str | None] = mapped_column(String(128))
    rejected_reason: Mapped[str | None] = mapped_column(String(500))  # the last rejection, while wanted again


class RequestContact(Base):
    """A contact a request is for: they see it first, are emailed and reminded."""

    __tablename__ = "request_contact"
    request_id: Mapped[int] = mapped_column(ForeignKey("document_request.id", ondelete="CASCADE"),
                                            primary_key=True)  # fmt: skip
    login: Mapped[str] = mapped_column(ForeignKey("account.login", ondelete="CASCADE"), primary_key=True,
                                       index=True)  # fmt: skip


class Notice(Base):
    """A document someone should hear about, waiting to go out in the recipient's next digest.

    Written in the same transaction as the change it is about, so it cannot be lost.
    """

    __tablename__ = "notice"
    __table_args__ = (Index("ix_notice_waiting", "message_id", "recipient"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    recipient: Mapped[str] = mapped_column(String(320))  # an email address
    recipient_name: Mapped[str] = mapped_column(String(128))  # the login, or "staff" for the firm's address
    to_staff: Mapped[bool] = mapped_column(Boolean, default=False)
    kind: Mapped[str] = mapped_column(String(16))  # new, updated, moved, copied, shared, uploaded
    client_id: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(String(1024))  # below the client root
    actor: Mapped[str] = mapped_column(String(128))
    request_id: Mapped[int | None] = mapped_column(Integer)  # a document request's notice: sent, reminder...
    # The digest it went out in (or None while waiting); -1: left out (removed before sending).
    message_id: Mapped[int | None] = mapped_column(Integer)


class OutboxMessage(Base):
    """An email ready to send: composed once, so a retry or a restart sends the very same message."""

    __tablename__ = "outbox_message"
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    recipient: Mapped[str] = mapped_column(String(320))
    message_id: Mapped[str] = mapped_column(String(255), unique=True)  # the Message-ID header: stable
    raw: Mapped[str] = mapped_column(Text)  # the whole MIME message
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending, sent, failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # a sender is on it
    last_error: Mapped[str | None] = mapped_column(String(500))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class LoginThrottle(Base):
    """Failed logins from one network, for one login (or "*" for all logins from that network)."""

    __tablename__ = "login_throttle"
    login: Mapped[str] = mapped_column(String(128), primary_key=True)
    network: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    not_before: Mapped[datetime] = mapped_column(DateTime(timezone=True))  # no new try before this
    last_failure_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class WebSession(Base):
    """A signed-in browser. Ends at sign-out, at expiry, or when the login's password changes."""

    __tablename__ = "web_session"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the cookie's token
    login: Mapped[str] = mapped_column(ForeignKey("account.login", ondelete="CASCADE"), index=True)
    csrf: Mapped[str] = mapped_column(String(64))  # every form and upload must carry it
    # "code": the password was right, the two-factor code is still to come; "enrol": staff must set it up first.
    pending: Mapped[str | None] = mapped_column(String(16))
    password_fingerprint: Mapped[str] = mapped_column(String(64))  # of the hash at sign-in
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
