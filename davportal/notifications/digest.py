"""Digests: every waiting notice of one recipient, once the window has passed, in one email."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import cast
from urllib.parse import quote

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from davportal.core.models import Account, Client, Document, Notice, utcnow
from davportal.core.settings import Settings
from davportal.core.storage import Storage
from davportal.notifications.compose import outbox_message
from policy import Role

LEFT_OUT = -1  # a notice whose document was removed before the email went out
WHAT = {"new": "new", "updated": "new version", "moved": "moved", "copied": "copied", "shared": "shared with you",
        "uploaded": "uploaded", "infected": "REFUSED: it contains a virus; not stored"}  # fmt: skip


def compose_due(session: Session, settings: Settings, storage: Storage, *, now: datetime | None = None) -> int:
    """Turn due notices into outbox messages, in the caller's transaction; returns how many."""
    now = now or utcnow()
    cutoff = now - timedelta(seconds=settings.notifications.digest_seconds)
    due = session.scalars(
        select(Notice.recipient).where(Notice.message_id.is_(None)).group_by(Notice.recipient)
        .having(func.min(Notice.created_at) <= cutoff)
    ).all()  # fmt: skip
    composed = 0
    for recipient in due:
        # Locked while composing, so that two senders never put a notice in two emails.
        notices = session.scalars(
            select(Notice).where(Notice.recipient == recipient, Notice.message_id.is_(None))
            .order_by(Notice.created_at, Notice.id).with_for_update(skip_locked=True)
        ).all()  # fmt: skip
        kept = [n for n in notices if _still_there(session, storage, n)]
        for notice in notices:
            notice.message_id = LEFT_OUT
        if not kept:
            continue
        # A document uploaded twice, or renamed onto another waiting one, is one line of the email.
        once: dict[tuple[str, str, bool], Notice] = {}
        for notice in kept:
            once.setdefault((notice.client_id, notice.path, notice.kind == "infected"), notice)
        message = _message(session, settings, recipient, list(once.values()), now)
        session.add(message)
        session.flush()
        for notice in kept:
            notice.message_id = message.id
        composed += 1
    return composed


def _still_there(session: Session, storage: Storage, notice: Notice) -> bool:
    if notice.kind == "infected":
        return True  # about a file that was never stored
    if not storage.path_of((notice.client_id, *notice.path.split("/"))).is_file():
        return False
    if notice.kind == "shared":
        document = session.get(Document, (notice.client_id, notice.path))
        return bool(document and document.shared)
    return True


def _message(session: Session, settings: Settings, recipient: str, notices: list[Notice], now: datetime):
    firm = settings.firm_name
    to_staff = notices[0].to_staff
    client_ids = sorted({n.client_id for n in notices})
    names = dict(session.execute(select(Client.id, Client.name).where(Client.id.in_(client_ids))).all())
    descriptions = _descriptions(session, notices)
    base = settings.notifications.public_url.rstrip("/")
    team = settings.folders.team_shared
    items = []
    for notice in notices:
        folder, _, name = notice.path.rpartition("/")
        # A shared file is opened where the client sees it: in Team's shared.
        shown_folder = team if notice.kind == "shared" else folder or names.get(notice.client_id, notice.client_id)
        link_path = f"/{notice.client_id}/{team}/" if notice.kind == "shared" else f"/{notice.client_id}/{notice.path}"
        items.append({"name": name, "folder": shown_folder, "what": WHAT.get(notice.kind, notice.kind),
                      "client": names.get(notice.client_id, notice.client_id),
                      "description": _one_line(descriptions.get((notice.client_id, notice.path))),
                      "link": base + quote(link_path)})  # fmt: skip
    count = len(items)
    plural = "s" if count != 1 else ""
    if to_staff:
        subject = f"{firm}: {count} document{plural} uploaded by {', '.join(names.get(c, c) for c in client_ids)}"
    else:
        subject = f"{firm}: {count} new document{plural} for you"
    context = {"name": _greeting(session, notices[0]), "items": items, "to_staff": to_staff,
               "client_names": [names.get(c, c) for c in client_ids]}  # fmt: skip
    return outbox_message(settings, recipient, subject, "digest", context, now)


def _greeting(session: Session, notice: Notice) -> str:
    """Whom the email greets: the contact's display name, else their login; staff by the name of
    the one staff login with that address, else as the firm's staff."""
    if notice.to_staff:
        found = session.execute(select(Account.name, Account.login).where(
            Account.email == notice.recipient, Account.role == Role.STAFF.value).limit(2)).all()  # fmt: skip
        return (found[0].name or found[0].login) if len(found) == 1 else notice.recipient_name
    return session.scalar(select(Account.name).where(Account.login == notice.recipient_name)) or notice.recipient_name


def _one_line(text: str | None) -> str | None:
    """The plain-text email gives each document one line, whatever the description holds."""
    return " ".join(text.split()) if text else None


def _descriptions(session: Session, notices: list[Notice]) -> dict[tuple[str, str], str]:
    rows = session.execute(
        select(Document.client_id, Document.path, Document.description).where(
            Document.client_id.in_({n.client_id for n in notices}), Document.path.in_({n.path for n in notices}),
            Document.description.is_not(None))
    )  # fmt: skip
    # The query leaves out documents without a description.
    return cast("dict[tuple[str, str], str]", {(client_id, path): description for client_id, path, description in rows})
