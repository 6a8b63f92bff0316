"""Sending the outbox: claim what is due, send it over SMTP, mark it; retry with backoff.

A message is marked sent only after the server took it, in its own transaction. A sender that
dies in between leaves the message claimed; when the claim runs out it is sent again, with the
same Message-ID, so a rare duplicate is recognisable and nothing is ever lost.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import case, func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from davportal.core.errors import Conflict, NotFound
from davportal.core.models import Notice, OutboxMessage, utcnow
from davportal.core.outages import cause_of
from davportal.core.settings import Mail
from davportal.services import audit
from policy import Actor, Target

_logger = logging.getLogger("davportal.mail")
PENDING, SENT, FAILED = "pending", "sent", "failed"
BATCH = 50


@dataclass
class Delivery:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    unreachable: str = ""  # why the mail server could not be reached or logged in to, when it could not


def claim_due(sessions: sessionmaker[Session], mail: Mail, now: datetime) -> list[tuple[int, str, str]]:
    """(id, recipient, raw) of messages due now, claimed for this sender for `claim_seconds`."""
    unclaimed = (OutboxMessage.status == PENDING, OutboxMessage.next_attempt_at <= now,
                 or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now))  # fmt: skip
    with sessions.begin() as session:
        ids = session.scalars(
            select(OutboxMessage.id).where(*unclaimed).order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
            .limit(BATCH).with_for_update(skip_locked=True)  # another sender skips what this one takes
        ).all()  # fmt: skip
        if not ids:
            return []
        # Taken only where still unclaimed: SQLite locks no row when reading, so another sender may
        # have read the same ones; its claim, committed first, is seen here and they are left to it.
        rows = session.execute(
            update(OutboxMessage).where(OutboxMessage.id.in_(ids), *unclaimed)
            .values(claimed_until=now + timedelta(seconds=mail.claim_seconds))
            .returning(OutboxMessage.id, OutboxMessage.recipient, OutboxMessage.raw)
            .execution_options(synchronize_session=False)
        ).all()  # fmt: skip
    order = {message_id: n for n, message_id in enumerate(ids)}
    return sorted((cast("tuple[int, str, str]", tuple(row)) for row in rows), key=lambda row: order[row[0]])


async def deliver_due(sessions: sessionmaker[Session], mail: Mail, *, now: datetime | None = None) -> Delivery:
    now = now or utcnow()
    delivery = Delivery()
    due = claim_due(sessions, mail, now)
    if due:
        import aiosmtplib  # loaded once there is mail to send, not by every process
    for index, (message_id, recipient, raw) in enumerate(due):
        try:
            await aiosmtplib.send(
                raw.encode("utf-8"), sender=mail.from_address, recipients=[recipient], hostname=mail.host,
                port=mail.port, username=mail.username, password=mail.password, use_tls=mail.security == "tls",
                start_tls=mail.security == "starttls", timeout=mail.timeout_seconds,
            )  # fmt: skip
        except (aiosmtplib.SMTPException, OSError) as exc:
            # The server cannot be reached or refuses the login: not this message's fault, and the
            # others would fail the same way (each after the timeout). They wait for the next round;
            # the caller says so, in one line.
            unreachable = isinstance(exc, OSError | aiosmtplib.SMTPAuthenticationError)
            failed = _attempt_failed(sessions, mail, message_id, exc, now, quiet=unreachable)
            delivery.failed += failed
            delivery.retried += not failed
            if unreachable:
                delivery.unreachable = cause_of(exc)
                _release(sessions, [later[0] for later in due[index + 1 :]])
                break
            continue
        with sessions.begin() as session:
            session.execute(update(OutboxMessage).where(OutboxMessage.id == message_id)
                            .values(status=SENT, sent_at=utcnow(), claimed_until=None))  # fmt: skip
        delivery.sent += 1
    return delivery


def _release(sessions: sessionmaker[Session], message_ids: list[int]) -> None:
    if message_ids:
        with sessions.begin() as session:
            session.execute(update(OutboxMessage).where(OutboxMessage.id.in_(message_ids)).values(claimed_until=None))


def _attempt_failed(sessions, mail: Mail, message_id: int, exc: Exception, now: datetime, *, quiet=False) -> bool:
    """Back off exponentially; give up (status failed) after `max_attempts`. True when given up."""
    with sessions.begin() as session:
        message = session.get(OutboxMessage, message_id)
        message.attempts += 1
        message.last_error = f"{type(exc).__name__}: {exc}"[:500]
        message.claimed_until = None
        message.next_attempt_at = now + timedelta(seconds=mail.retry_seconds * 2 ** (message.attempts - 1))
        if message.attempts >= mail.max_attempts:
            message.status = FAILED
        gave_up = message.status == FAILED
    if gave_up or not quiet:
        log = _logger.error if gave_up else _logger.warning
        log("Email %d to %s not sent (attempt %d): %s", message_id, message.recipient, message.attempts, exc)
    return gave_up


def find(session: Session, message_id: int) -> OutboxMessage:
    message = session.get(OutboxMessage, message_id)
    if message is None:
        raise NotFound(f"There is no email {message_id} in the outbox.")
    return message


def retry(session: Session, message_id: int, *, actor: Actor) -> OutboxMessage:
    """Send an email again from its first attempt; one already sent is not sent twice."""
    message = find(session, message_id)
    if message.status == SENT:
        raise Conflict(f"Email {message_id} to {message.recipient} was sent already: it is not sent twice.")
    _queue_again(message)
    audit.record(session, actor, "EMAIL-RETRY", Target(()), f"email {message_id} to {message.recipient} queued again")
    return message


def retry_failed(session: Session, *, actor: Actor) -> int:
    """Every email given up on, queued again; how many."""
    failed = session.scalars(select(OutboxMessage).where(OutboxMessage.status == FAILED).with_for_update()).all()
    for message in failed:
        _queue_again(message)
    audit.record(session, actor, "EMAIL-RETRY", Target(()), f"{len(failed)} failed email(s) queued again")
    return len(failed)


def _queue_again(message: OutboxMessage) -> None:
    message.status, message.attempts, message.next_attempt_at, message.claimed_until = PENDING, 0, utcnow(), None


@dataclass
class Waiting:
    """A recipient's notices not yet composed: one email, once their digest window has passed."""

    recipient: str
    notices: int
    since: datetime


@dataclass
class Listing:
    counts: dict[str, int]  # emails by status; pending counts those still to be composed too
    messages: list[OutboxMessage]  # what an admin should look at: failed, then pending
    waiting: list[Waiting]  # by recipient, the oldest first


def listing(session: Session, *, limit: int = 50) -> Listing:
    counts = dict(session.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)).all())
    order = case((OutboxMessage.status == FAILED, 0), (OutboxMessage.status == PENDING, 1), else_=2)
    rows = session.scalars(select(OutboxMessage).order_by(order, OutboxMessage.id.desc()).limit(limit)).all()
    first = func.min(Notice.created_at)
    waiting = [Waiting(recipient, notices, since) for recipient, notices, since in session.execute(
        select(Notice.recipient, func.count(), first).where(Notice.message_id.is_(None))
        .group_by(Notice.recipient).order_by(first)
    )]  # fmt: skip
    # A recipient's waiting notices all go in one email (a digest): that email is pending too.
    counts[PENDING] = counts.get(PENDING, 0) + len(waiting)
    return Listing(counts, list(rows), waiting)
