"""Document requests as rules: the folders a request puts in Client's shared, who sees them, and
when its reminders are due (MODEL.md, "Document requests").

A request is a folder in Client's shared with one folder per item. Its contacts' participant
types read the request and upload into the items still wanted; an accepted item's folder, and the
whole request once complete or cancelled, are the firm's alone (404 for every contact): nothing in
them is removed, they are only no longer the client's to see.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from policy.model import EVERY_TYPE, Rule
from policy.names import BIDI_CONTROLS, WINDOWS_FORBIDDEN, check_new_name, is_desktop_file, is_reserved, normalize

REQUEST_AREA = "request"  # the request's folder: contacts read, nobody writes files straight into it
ITEM_AREA = "request-item"  # an item still wanted: its contacts upload (and remove their own uploads)
CLOSED_AREA = "request-closed"  # accepted items, finished or cancelled requests, files kept aside: staff only
NOT_ACCEPTED_FOLDER = "Not accepted"  # inside a request's folder: files staff turned down and kept

REQUEST_FIXED = "This folder belongs to a document request: the firm changes or cancels the request on its page."
PUT_IN_AN_ITEM = "Please put each document in the folder of the item it is for, inside this request's folder."
STAFF_REQUEST_READ_ONLY = (
    "This folder holds what the client sends for a document request: staff can read, download and copy "
    "it out, and accept or reject it on the request's page, but not add or change files here."
)
CLOSED_READ_ONLY = "This request's documents are kept as they arrived: nothing can be added or changed here."


class RequestStatus(StrEnum):
    DRAFT = "draft"  # written, not yet sent: no folder, nobody told
    OPEN = "open"  # sent: its contacts see it and are reminded
    COMPLETE = "complete"  # every item accepted
    CANCELLED = "cancelled"


class ItemStatus(StrEnum):
    REQUESTED = "requested"  # nothing (or not enough) yet, or rejected and wanted again
    UPLOADED = "uploaded"  # the files expected are there: for staff to review
    ACCEPTED = "accepted"


@dataclass(frozen=True)
class ItemFolder:
    folder: str  # below the client root: "Client's shared/Requested - 2025 tax return/P60"
    status: ItemStatus


@dataclass(frozen=True)
class RequestFolder:
    """What the rules need of one sent request: where its folders are and who it is for."""

    folder: str  # below the client root: "Client's shared/Requested - 2025 tax return"
    status: RequestStatus
    for_types: frozenset[str]  # the participant types of the contacts it is for
    items: tuple[ItemFolder, ...] = ()

    def as_data(self) -> dict[str, Any]:
        """As the client's row keeps it (`Client.request_folders`)."""
        return {"folder": self.folder, "status": self.status.value, "for": sorted(self.for_types),
                "items": [{"folder": item.folder, "status": item.status.value} for item in self.items]}  # fmt: skip

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> RequestFolder:
        items = tuple(ItemFolder(item["folder"], ItemStatus(item["status"])) for item in data["items"])
        return cls(data["folder"], RequestStatus(data["status"]), frozenset(data["for"]), items)


def folder_rules(requests: Iterable[RequestFolder]) -> dict[str, Rule]:
    """The rule of every folder the client's requests put in Client's shared."""
    rules: dict[str, Rule] = {}
    for request in requests:
        if request.status is RequestStatus.DRAFT:
            continue  # not sent: it has no folder yet
        is_open = request.status is RequestStatus.OPEN
        rules[request.folder] = _request_rule(request.for_types) if is_open else _CLOSED
        for item in request.items:
            wanted = is_open and item.status is not ItemStatus.ACCEPTED
            rules[item.folder] = _item_rule(request.for_types) if wanted else _CLOSED
        rules[f"{request.folder}/{NOT_ACCEPTED_FOLDER}"] = _CLOSED
    return rules


def _request_rule(types: frozenset[str]) -> Rule:
    return Rule(REQUEST_AREA, readers=types, staff_writes=False, shareable=False, fixed_reason=REQUEST_FIXED,
                contact_read_only=PUT_IN_AN_ITEM, staff_read_only=STAFF_REQUEST_READ_ONLY)  # fmt: skip


def _item_rule(types: frozenset[str]) -> Rule:
    return Rule(ITEM_AREA, readers=types, uploaders=types, deleters=types, staff_writes=False, shareable=False,
                fixed_reason=REQUEST_FIXED, staff_read_only=STAFF_REQUEST_READ_ONLY)  # fmt: skip


_CLOSED = Rule(CLOSED_AREA, staff_writes=False, shareable=False, fixed_reason=REQUEST_FIXED,
               staff_read_only=CLOSED_READ_ONLY)  # fmt: skip


def asks(participants: Iterable[str], participant_type: str) -> bool:
    """Whether a request for these participant types is for a contact of this type."""
    types = set(participants)
    return EVERY_TYPE in types or participant_type in types


def item_status(files: int, expected: int | None, *, accepted: bool) -> ItemStatus:
    """An item is uploaded once the files it asks for are there (one, unless it says how many)."""
    if accepted:
        return ItemStatus.ACCEPTED
    return ItemStatus.UPLOADED if files >= max(expected or 1, 1) else ItemStatus.REQUESTED


def request_status(items: Iterable[ItemStatus]) -> RequestStatus:
    """Complete once every item is accepted (a request without items stays open)."""
    statuses = list(items)
    done = statuses and all(status is ItemStatus.ACCEPTED for status in statuses)
    return RequestStatus.COMPLETE if done else RequestStatus.OPEN


def is_overdue(due_on: date | None, today: date) -> bool:
    return due_on is not None and today > due_on


# Folder names: what the title and the item's name become on the drive.

REPLACEMENT = "-"


# A request's or an item's folder name: short enough for Explorer's paths, and in bytes (what
# drives count) with room left for " (2)" and a prefix within 255.
NAME_CHARACTERS, NAME_BYTES = 120, 200


def folder_name(wanted: str, taken: Iterable[str] = ()) -> str:
    """A folder name every drive can store, from a title or an item's name, not one of `taken`
    (compared as Windows and macOS compare: without case): "Bank statements (2)". In NFC, as
    every path the portal is asked for is."""
    cleaned = "".join(REPLACEMENT if _unstorable(ch) else ch for ch in " ".join(normalize(wanted).split()))
    cleaned = _shortened(cleaned.rstrip(" .")[:NAME_CHARACTERS], NAME_BYTES).rstrip(" .") or "Documents"
    if is_reserved(cleaned) or is_desktop_file(cleaned) or not check_new_name(cleaned).allowed:
        # A Windows device name ("CON"), the portal's own prefix, or a name desktop clients write
        # on their own ("desktop.ini", "~$..."), which the other party is never shown.
        cleaned = f"- {cleaned}"
    seen = {name.casefold() for name in taken}
    name, n = cleaned, 1
    while name.casefold() in seen:
        n += 1
        name = f"{cleaned} ({n})"
    return name


def _shortened(name: str, limit: int) -> str:
    """At most `limit` bytes in UTF-8 (what drives count), cut between characters."""
    return name.encode("utf-8")[:limit].decode("utf-8", "ignore")


def _unstorable(ch: str) -> bool:
    return ch in WINDOWS_FORBIDDEN or ch in "/\\" or ch in BIDI_CONTROLS or ord(ch) < 32


# Reminders


@dataclass(frozen=True)
class Reminders:
    """When the contacts of a request with items still open are reminded, counted from its due date."""

    before_due_days: tuple[int, ...] = (7,)  # e.g. a week before
    on_due_date: bool = True
    every_days_after: int = 3  # then every so many days once it is overdue (0: never)
    at_most_after: int = 3  # ...at most this many times

    def moments(self, due_on: date, at: time, zone: ZoneInfo) -> list[datetime]:
        """Every moment a reminder is due, in order, as aware times (UTC)."""
        days = [due_on - timedelta(days=n) for n in sorted(set(self.before_due_days), reverse=True) if n > 0]
        if self.on_due_date:
            days.append(due_on)
        if self.every_days_after > 0:
            days += [due_on + timedelta(days=self.every_days_after * k) for k in range(1, self.at_most_after + 1)]
        return [datetime.combine(day, at, tzinfo=zone).astimezone(ZoneInfo("UTC")) for day in days]


def next_reminder(reminders: Reminders, due_on: date | None, *, after: datetime, at: time,
                  zone: ZoneInfo) -> datetime | None:  # fmt: skip
    """The first reminder moment later than `after` (the request was sent, or last reminded, then);
    None when no reminder is left (or the request has no due date). Moments missed while nothing
    ran are not made up for: one reminder, then the next moment still ahead."""
    if due_on is None:
        return None
    return next((moment for moment in reminders.moments(due_on, at, zone) if moment > after), None)


def reminders_from(spec: Mapping[str, Any] | None, default: Reminders) -> Reminders:
    """A request's stored schedule (a mapping of the fields above, as `as_data` wrote it), or the default."""
    if not spec:
        return default
    return Reminders(
        before_due_days=tuple(int(n) for n in spec.get("before_due_days", default.before_due_days)),
        on_due_date=bool(spec.get("on_due_date", default.on_due_date)),
        every_days_after=int(spec.get("every_days_after", default.every_days_after)),
        at_most_after=int(spec.get("at_most_after", default.at_most_after)),
    )


def as_data(reminders: Reminders) -> dict[str, Any]:
    return {"before_due_days": list(reminders.before_due_days), "on_due_date": reminders.on_due_date,
            "every_days_after": reminders.every_days_after, "at_most_after": reminders.at_most_after}  # fmt: skip
