"""The portal's tables: accounts (staff and contacts), clients, memberships, documents."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import Boolean, DateTime, ForeignKey, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    pass


class Account(Base):
    """A login: staff of the firm, or a contact of one or more clients. Logins are unique across both."""

    __tablename__ = "account"
    login: Mapped[str] = mapped_column(String(128), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))  # policy.Role value
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    password_hash: Mapped[str | None] = mapped_column(Text)  # argon2; None: cannot sign in yet
    email: Mapped[str | None] = mapped_column(String(320))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Client(Base):
    __tablename__ = "client"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # the URL segment: never renamed
    name: Mapped[str] = mapped_column(String(200))  # what people read: may change
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
    uploaded_by: Mapped[str] = mapped_column(String(128))
    uploaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Of the content, taken while it arrived: clients verify downloads against them.
    sha1: Mapped[str | None] = mapped_column(String(40))
    md5: Mapped[str | None] = mapped_column(String(32))


class DeadProperty(Base):
    """A WebDAV dead property (set by PROPPATCH), by the resource's URL."""

    __tablename__ = "dead_property"
    url: Mapped[str] = mapped_column(String(2048), primary_key=True)  # WsgiDAV's ref URL, quoted
    name: Mapped[str] = mapped_column(String(512), primary_key=True)  # Clark notation: {ns}local
    value: Mapped[str] = mapped_column(Text)  # the property element, serialized XML
