"""What a document request's notices say, read when the digest is composed: the items still
wanted then, the due date in the firm's time zone, the reason an item was not accepted.

A notice that has nothing left to say by then (the request cancelled, complete or never sent, no
item wanted any more, a rejected item sent again or accepted, the contact no longer on the
request) is not kept: the digest leaves it out, as it does a notice about a removed document.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from davportal.core.models import Client, DocumentRequest, Notice, RequestContact, RequestItem
from davportal.core.settings import Settings
from policy.requests import ItemStatus, RequestStatus, is_overdue

# The kinds of notice `services.requests` writes about a request.
REQUESTED, REMINDER, REJECTED, COMPLETE = "requested", "reminder", "rejected", "complete"
_FIRST = (REQUESTED, REJECTED, REMINDER)  # what a contact's email says first of a request, when several apply
REQUEST_PATH = "/.davportal-web/requests"  # the web's route (davportal.web) of a request's page


@dataclass
class Wanted:
    """An item still to be sent."""

    name: str
    note: str | None
    files_expected: int | None
    files: int  # in its folder now (fewer than expected)
    reason: str | None  # why the last files were not accepted


@dataclass
class Asked:
    """One request in an email, as it stands when the email is composed."""

    kind: str  # requested, rejected, reminder (to a contact), complete (to staff)
    title: str
    client: str
    message: str | None  # the firm's, with a new request
    when: str | None  # "due by 31 January 2027", "due today (…)", "overdue: it was due on …"
    due: str | None  # "31 January 2027"
    overdue: bool
    folder: str  # below the client root, as a drive shows it
    link: str
    items: list[Wanted] = field(default_factory=list)
    not_accepted: list[str] = field(default_factory=list)  # items turned down since the last email
    accepted: int = 0
    notices: list[Notice] = field(default_factory=list)  # those it tells of: kept


def asked(session: Session, settings: Settings, notices: list[Notice], now: datetime) -> list[Asked]:
    """The requests one recipient's `notices` are about, each with the notices it keeps, in the
    order they were first told of."""
    by_request: dict[int, list[Notice]] = {}
    for notice in notices:
        assert notice.request_id is not None
        by_request.setdefault(notice.request_id, []).append(notice)
    if not by_request:
        return []
    ids = list(by_request)
    requests = {r.id: r for r in session.scalars(select(DocumentRequest).where(DocumentRequest.id.in_(ids)))}
    items: dict[int, list[RequestItem]] = {}
    for item in session.scalars(select(RequestItem).where(RequestItem.request_id.in_(ids))
                                .order_by(RequestItem.position, RequestItem.id)):  # fmt: skip
        items.setdefault(item.request_id, []).append(item)
    on_request = {(request_id, login) for request_id, login in session.execute(
        select(RequestContact.request_id, RequestContact.login).where(RequestContact.request_id.in_(ids)))}  # fmt: skip
    names = {client_id: name for client_id, name in session.execute(select(Client.id, Client.name).where(
        Client.id.in_({r.client_id for r in requests.values()})))}  # fmt: skip
    today = now.astimezone(settings.requests.zone).date()
    found = []
    for request_id, told in by_request.items():
        request = requests.get(request_id)
        if request is None or request.folder is None:
            continue  # gone, or never sent
        request_items = items.get(request_id, [])
        if told[0].to_staff:
            kept = [n for n in told if n.kind == COMPLETE and request.status == RequestStatus.COMPLETE.value]
            kind = COMPLETE
        else:
            kept = _kept_for_contact(request, request_items, told, on_request)
            kind = next((k for k in _FIRST if any(n.kind == k for n in kept)), REMINDER)
        if not kept:
            continue
        found.append(_asked(settings, request, request_items, kept, kind, names, today))
    return found


def _kept_for_contact(request: DocumentRequest, items: list[RequestItem], told: list[Notice],
                      on_request: set[tuple[int, str]]) -> list[Notice]:  # fmt: skip
    if request.status != RequestStatus.OPEN.value:
        return []
    wanted = [item for item in items if item.status == ItemStatus.REQUESTED.value]
    by_folder = {item.folder: item for item in items}
    kept = []
    for notice in told:
        if (request.id, notice.recipient_name) not in on_request:
            continue  # taken off the request since
        if notice.kind == REJECTED:
            item = by_folder.get(notice.path)
            if item is not None and item.status == ItemStatus.REQUESTED.value and item.rejected_reason:
                kept.append(notice)  # still wanted, the rejection not yet answered
        elif notice.kind in (REQUESTED, REMINDER) and wanted:
            kept.append(notice)
    return kept


def _asked(settings: Settings, request: DocumentRequest, items: list[RequestItem], kept: list[Notice], kind: str,
           names: dict[str, str], today: date) -> Asked:  # fmt: skip
    assert request.folder is not None
    due = long_date(request.due_on) if request.due_on else None
    overdue = is_overdue(request.due_on, today)
    if request.due_on is None:
        when = None
    elif overdue:
        when = f"overdue: it was due on {due}"
    elif request.due_on == today:
        when = f"due today ({due})"
    else:
        when = f"due by {due}"
    by_folder = {item.folder: item for item in items}
    not_accepted = [by_folder[n.path].name for n in kept if n.kind == REJECTED]
    return Asked(
        kind=kind, title=request.title, client=names.get(request.client_id, request.client_id),
        message=request.message if kind == REQUESTED else None, when=when, due=due, overdue=overdue,
        folder=request.folder, link=link(settings, request.id),
        items=[Wanted(item.name, item.note, item.files_expected, item.files, item.rejected_reason)
               for item in items if item.status == ItemStatus.REQUESTED.value],
        not_accepted=list(dict.fromkeys(not_accepted)),
        accepted=sum(item.status == ItemStatus.ACCEPTED.value for item in items), notices=kept,
    )  # fmt: skip


def link(settings: Settings, request_id: int) -> str:
    """The request on the web: a contact lands on it on their client's page (signing in first if
    need be), staff on its own page."""
    return f"{settings.notifications.public_url.rstrip('/')}{REQUEST_PATH}/{request_id}"


def long_date(day: date) -> str:
    """As people write it: 31 January 2027."""
    return f"{day.day} {day:%B %Y}"


def headline(firm: str, asked: list[Asked]) -> str:
    """The subject line of an email about these requests (the first kind to act on first)."""
    if asked[0].kind == COMPLETE:
        if len(asked) == 1:
            return f"{firm}: {asked[0].title} for {asked[0].client} is complete"
        return f"{firm}: {len(asked)} requests are complete"
    kind = next(k for k in _FIRST if any(a.kind == k for a in asked))
    these = [a for a in asked if a.kind == kind]
    if kind == REQUESTED:
        return f"{firm}: documents we need from you" + (f" for {these[0].title}" if len(these) == 1 else "")
    if kind == REJECTED:
        again = [name for a in these for name in a.not_accepted]
        if len(again) == 1:
            return f"{firm}: please send {again[0]} again"
        return f"{firm}: {len(again)} documents to send again"
    count = sum(len(a.items) for a in these)
    needed = f"{count} document{'s' if count != 1 else ''} still needed"
    if len(these) > 1:
        return f"Reminder: {needed} for {len(these)} requests"
    (one,) = these
    if one.due is None:
        return f"Reminder: {needed} for {one.title}"
    return f"Overdue: {needed}, due {one.due}" if one.overdue else f"Reminder: {needed} by {one.due}"
