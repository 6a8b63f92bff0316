"""Reminders: the contacts of an open request with items still wanted are told again, on the
request's schedule (`policy.requests.Reminders`), in the sender's round on whichever node runs it.

A reminder is a notice like any other: the digest writes it, with the items still wanted when the
email is composed, in the contact's one email of the window, and the outbox delivers it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.orm import Session

from davportal.core.models import Client, DocumentRequest, RequestItem, utcnow
from davportal.core.settings import Settings
from davportal.notifications import events
from davportal.notifications.asked import REMINDER
from davportal.services import audit
from davportal.services.requests import REMINDED
from policy import Actor, Role, Target
from policy.requests import ItemStatus, RequestStatus, next_reminder, reminders_from

# Who the audit trail says reminded: the portal itself (a colon is in no login).
PORTAL = Actor("portal:reminders", Role.STAFF)


def remind_due(session: Session, settings: Settings, *, now: datetime | None = None) -> int:
    """Every open request of a client not archived whose reminder is due is reminded once: a notice
    for each of its contacts when items are still wanted (not yet sent in full, or turned down),
    and its next reminder set after `now` either way. Returns how many were reminded.

    Each request is claimed by moving its next reminder on only where it is still the one read
    here: of two senders at once (two nodes, two processes), one moves it and reminds, the other
    finds it moved and leaves it. The caller commits.
    """
    now = now or utcnow()
    requests = settings.requests
    due = session.execute(
        select(DocumentRequest.id, DocumentRequest.next_reminder_at)
        .join(Client, Client.id == DocumentRequest.client_id)
        .where(DocumentRequest.status == RequestStatus.OPEN.value, DocumentRequest.next_reminder_at <= now,
               Client.archived_at.is_(None))
        .order_by(DocumentRequest.next_reminder_at, DocumentRequest.id)
    ).all()  # fmt: skip
    reminded = 0
    for request_id, seen in due:
        request = session.get(DocumentRequest, request_id, populate_existing=True)
        if request is None:
            continue  # removed with its client since
        schedule = reminders_from(request.reminders, requests.default_reminders)
        later = next_reminder(schedule, request.due_on, after=now, at=requests.reminder_time, zone=requests.zone)
        claimed = cast("CursorResult[Any]", session.execute(
            update(DocumentRequest)
            .where(DocumentRequest.id == request_id, DocumentRequest.next_reminder_at == seen,
                   DocumentRequest.status == RequestStatus.OPEN.value)
            .values(next_reminder_at=later).execution_options(synchronize_session=False)
        ))  # fmt: skip
        if claimed.rowcount != 1:
            continue  # another sender reminded it, or it was changed (a new due date) since it was read
        session.refresh(request)  # as claimed
        wanted = session.scalar(select(func.count()).select_from(RequestItem).where(
            RequestItem.request_id == request_id, RequestItem.status == ItemStatus.REQUESTED.value)) or 0  # fmt: skip
        if not wanted:
            continue  # everything is in: nothing to remind of, the schedule moves on
        request.reminders_sent, request.last_reminded_at = request.reminders_sent + 1, now
        assert request.folder is not None  # an open request was sent: it has its folder
        told = events.tell_contacts_of_request(session, settings.notifications, request=request,
                                               kind=REMINDER, path=request.folder, actor=PORTAL.login,
                                               now=now)  # fmt: skip
        audit.record(session, PORTAL, REMINDED, Target((request.client_id, *request.folder.split("/"))),
                     f"request {request.id} '{request.title}': reminder {request.reminders_sent}, "
                     f"{wanted} item(s) still wanted, {told} contact(s) told")  # fmt: skip
        reminded += 1
    return reminded
