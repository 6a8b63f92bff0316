"""Digests: every waiting notice of one recipient, once the window has passed, in one email."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import cast
from urllib.parse import quote

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from davportal.core.models import Account, Client, Document, Notice, OutboxMessage, utcnow
from davportal.core.settings import Settings
from davportal.core.storage import Storage
from davportal.notifications.asked import Asked, asked, headline
from davportal.notifications.compose import outbox_message
from policy import Role

LEFT_OUT = -1  # a notice whose document was removed (or request settled) before the email went out
_CLAIMED = -2  # a notice this sender is putting in an email: never committed
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
        notices = _claim(session, recipient)
        kept = [n for n in notices if n.request_id is None and _still_there(session, storage, n)]
        requests = asked(session, settings, [n for n in notices if n.request_id is not None], now)
        for notice in notices:
            notice.message_id = LEFT_OUT
        if not kept and not requests:
            continue
        # A document uploaded twice, or renamed onto another waiting one, is one line of the email.
        once: dict[tuple[str, str, bool], Notice] = {}
        for notice in kept:
            once.setdefault((notice.client_id, notice.path, notice.kind == "infected"), notice)
        message = _message(session, settings, recipient, list(once.values()), requests, now)
        session.add(message)
        session.flush()
        for notice in kept + [n for request in requests for n in request.notices]:
            notice.message_id = message.id
        composed += 1
    return composed


def _claim(session: Session, recipient: str) -> list[Notice]:
    """The recipient's waiting notices, taken for this sender: no other sender puts them in an email.

    PostgreSQL locks them (another sender skips them); SQLite lets one writer at a time, so the
    update below waits for another sender's email to be committed and then takes only what is
    still waiting.
    """
    waiting = session.scalars(
        select(Notice.id).where(Notice.recipient == recipient, Notice.message_id.is_(None))
        .with_for_update(skip_locked=True)
    ).all()  # fmt: skip
    if not waiting:
        return []
    session.execute(update(Notice).where(Notice.id.in_(waiting), Notice.message_id.is_(None))
                    .values(message_id=_CLAIMED).execution_options(synchronize_session=False))  # fmt: skip
    return list(session.scalars(
        select(Notice).where(Notice.recipient == recipient, Notice.message_id == _CLAIMED)
        .order_by(Notice.created_at, Notice.id).execution_options(populate_existing=True)
    ))  # fmt: skip


def _still_there(session: Session, storage: Storage, notice: Notice) -> bool:
    if notice.kind == "infected":
        return True  # about a file that was never stored
    if not storage.path_of((notice.client_id, *notice.path.split("/"))).is_file():
        return False
    if notice.kind == "shared":
        document = session.get(Document, (notice.client_id, notice.path))
        return bool(document and document.shared)
    return True


def _message(session: Session, settings: Settings, recipient: str, notices: list[Notice], requests: list[Asked],
             now: datetime) -> OutboxMessage:  # fmt: skip
    firm = settings.firm_name
    first = notices[0] if notices else requests[0].notices[0]
    to_staff = first.to_staff
    client_ids = sorted({n.client_id for n in notices})
    names = dict(session.execute(select(Client.id, Client.name).where(Client.id.in_(client_ids))).all())
    descriptions = _descriptions(session, notices) if notices else {}
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
    uploaded_by = ", ".join(names.get(c, c) for c in client_ids)
    if requests:
        subject = headline(firm, requests)
        if count and to_staff:
            subject += f"; {count} document{plural} uploaded by {uploaded_by}"
        elif count:
            subject += f" (and {count} new document{plural} for you)"
    elif to_staff:
        subject = f"{firm}: {count} document{plural} uploaded by {uploaded_by}"
    else:
        subject = f"{firm}: {count} new document{plural} for you"
    context = {"name": _greeting(session, first), "items": items, "to_staff": to_staff, "requests": requests,
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
