"""A document request's folders under policy.decide, as a table, and policy.requests' pure parts:
folder names, statuses and the reminder schedule. No server, no I/O."""

from __future__ import annotations

from datetime import date, datetime, time, timezone
from zoneinfo import ZoneInfo

import pytest

from policy import Action, Actor, Decision, Role, Target, decide, default_rules
from policy.access import NOT_YOUR_UPLOAD
from policy.model import RuleBook
from policy.names import check_new_name, is_desktop_file
from policy.requests import (
    CLOSED_READ_ONLY,
    NOT_ACCEPTED_FOLDER,
    PUT_IN_AN_ITEM,
    REQUEST_FIXED,
    STAFF_REQUEST_READ_ONLY,
    ItemFolder,
    ItemStatus,
    Reminders,
    RequestFolder,
    RequestStatus,
    as_data,
    folder_name,
    folder_rules,
    item_status,
    next_reminder,
    reminders_from,
    request_status,
)

SHARED = "Client's shared"
OPEN = f"{SHARED}/Requested - 2025 tax return"
DONE = f"{SHARED}/Requested - 2024 tax return"
DROPPED = f"{SHARED}/Requested - VAT"
REQUESTS = [
    RequestFolder(OPEN, RequestStatus.OPEN, frozenset({"client"}),
                  (ItemFolder(f"{OPEN}/P60", ItemStatus.REQUESTED), ItemFolder(f"{OPEN}/Passport", ItemStatus.UPLOADED),
                   ItemFolder(f"{OPEN}/Bank statements", ItemStatus.ACCEPTED))),
    RequestFolder(DONE, RequestStatus.COMPLETE, frozenset({"client"}),
                  (ItemFolder(f"{DONE}/P60", ItemStatus.ACCEPTED),)),
    RequestFolder(DROPPED, RequestStatus.CANCELLED, frozenset({"client"}),
                  (ItemFolder(f"{DROPPED}/Invoices", ItemStatus.REQUESTED),)),
    RequestFolder(f"{SHARED}/Requested - Draft", RequestStatus.DRAFT, frozenset({"client"}), ()),
]  # fmt: skip
RULES = default_rules("Team's shared", SHARED).with_folders(RuleBook.of(folder_rules(REQUESTS)))

STAFF = Actor("sam", Role.STAFF)
FOR = Actor("alice", Role.CONTACT, clients={"acme": "client"})  # her participant type is on the request
OTHER_TYPE = Actor("dora", Role.CONTACT, clients={"acme": "bookkeeper"})  # same client, another type
OTHER_CLIENT = Actor("bob", Role.CONTACT, clients={"beta": "client"})
WHO = {"staff": STAFF, "for": FOR, "other type": OTHER_TYPE, "other client": OTHER_CLIENT}

PLACES = {
    "request": OPEN,
    "wanted item": f"{OPEN}/P60",
    "uploaded item": f"{OPEN}/Passport",  # still the client's until staff accept it
    "accepted item": f"{OPEN}/Bank statements",
    "not accepted": f"{OPEN}/{NOT_ACCEPTED_FOLDER}",
    "complete": DONE,
    "complete's item": f"{DONE}/P60",
    "cancelled": DROPPED,
    "cancelled's item": f"{DROPPED}/Invoices",
}
CLOSED = ("not accepted", "complete", "complete's item", "cancelled", "cancelled's item", "accepted item")

OK, GONE = 200, 404
PUT = (403, PUT_IN_AN_ITEM)
FIXED = (403, REQUEST_FIXED)
STAFF_NO = (403, STAFF_REQUEST_READ_ONLY)
CLOSED_NO = (403, CLOSED_READ_ONLY)
NOT_MINE = (403, NOT_YOUR_UPLOAD)
NO_FOLDER_LOCK = (403, "You can lock documents, not folders.")

# (place, who, the folder itself or a file in it) -> READ, CREATE, CHANGE, REMOVE, LOCK.
# A file: CREATE is a new name in the folder, the others the actor's own upload there.
ALL_HIDDEN = (GONE,) * 5
TABLE = {
    ("request", "staff", "folder"): (OK, STAFF_NO, STAFF_NO, FIXED, STAFF_NO),
    ("request", "staff", "file"): (OK, STAFF_NO, STAFF_NO, STAFF_NO, STAFF_NO),
    ("request", "for", "folder"): (OK, PUT, PUT, FIXED, NO_FOLDER_LOCK),
    ("request", "for", "file"): (OK, PUT, PUT, PUT, PUT),
    ("wanted item", "staff", "folder"): (OK, STAFF_NO, STAFF_NO, FIXED, STAFF_NO),
    ("wanted item", "staff", "file"): (OK, STAFF_NO, STAFF_NO, STAFF_NO, STAFF_NO),
    ("wanted item", "for", "folder"): (OK, OK, NOT_MINE, FIXED, NO_FOLDER_LOCK),
    ("wanted item", "for", "file"): (OK, OK, OK, OK, OK),
    ("uploaded item", "for", "folder"): (OK, OK, NOT_MINE, FIXED, NO_FOLDER_LOCK),
    ("uploaded item", "for", "file"): (OK, OK, OK, OK, OK),
    ("uploaded item", "staff", "folder"): (OK, STAFF_NO, STAFF_NO, FIXED, STAFF_NO),
    ("uploaded item", "staff", "file"): (OK, STAFF_NO, STAFF_NO, STAFF_NO, STAFF_NO),
    **{(place, "staff", "folder"): (OK, CLOSED_NO, CLOSED_NO, FIXED, CLOSED_NO) for place in CLOSED},
    **{(place, "staff", "file"): (OK, CLOSED_NO, CLOSED_NO, CLOSED_NO, CLOSED_NO) for place in CLOSED},
    **{(place, "for", kind): ALL_HIDDEN for place in CLOSED for kind in ("folder", "file")},
    **{(place, who, kind): ALL_HIDDEN for place in PLACES for who in ("other type", "other client")
       for kind in ("folder", "file")},
}  # fmt: skip
ACTIONS = (Action.READ, Action.CREATE, Action.CHANGE, Action.REMOVE, Action.LOCK)


def _target(who: str, place: str, kind: str, action: Action) -> Target:
    parts = ("acme", *PLACES[place].split("/"))  # bob, of beta, tries acme's URLs
    if kind == "folder":
        return Target(parts, exists=True, is_collection=True, uploaded_by=WHO[who].login)
    new = action is Action.CREATE
    return Target((*parts, "new.pdf" if new else "p60.pdf"), exists=not new, uploaded_by=WHO[who].login)


CASES = [(place, who, kind, action, expected) for (place, who, kind), row in TABLE.items()
         for action, expected in zip(ACTIONS, row)]  # fmt: skip


@pytest.mark.parametrize("place, who, kind, action, expected", CASES)
def test_request_folders_for_every_role_and_action(place, who, kind, action, expected):
    decision = decide(WHO[who], action, _target(who, place, kind, action), RULES)
    status, reason = expected if isinstance(expected, tuple) else (expected, None)
    assert decision.status == status, decision
    if reason is not None:
        assert decision.reason == reason


def test_the_table_covers_every_place_role_and_kind():
    assert {(p, w, k) for p in PLACES for w in WHO for k in ("folder", "file")} == TABLE.keys()


@pytest.mark.parametrize("action", [Action.CHANGE, Action.REMOVE, Action.LOCK])
def test_another_contacts_upload_in_an_item_is_theirs(action):
    target = Target(("acme", *OPEN.split("/"), "P60", "p60.pdf"), exists=True, uploaded_by="carol")
    assert decide(FOR, action, target, RULES) == Decision(False, 403, NOT_YOUR_UPLOAD)


def test_a_subfolder_a_contact_made_in_an_item_is_the_items():
    target = Target(("acme", *OPEN.split("/"), "P60", "scans", "page 1.pdf"), exists=False)
    assert decide(FOR, Action.CREATE, target, RULES).allowed
    assert decide(OTHER_TYPE, Action.READ, target, RULES).status == 404


def test_names_are_matched_without_case_as_windows_and_macos_do():
    target = Target(("acme", "CLIENT'S SHARED", "requested - 2025 TAX RETURN", "bank STATEMENTS"), exists=True,
                    is_collection=True)  # fmt: skip
    assert decide(FOR, Action.READ, target, RULES).status == 404


def test_a_draft_has_no_folder_and_no_rule():
    assert folder_rules([REQUESTS[-1]]) == {}
    draft = Target(("acme", SHARED, "Requested - Draft", "x.pdf"))
    assert decide(FOR, Action.CREATE, draft, RULES).allowed  # plain Client's shared: nothing of a request


def test_request_folders_round_trip_through_the_clients_row():
    for request in REQUESTS:
        assert RequestFolder.from_data(request.as_data()) == request


# Folder names


@pytest.mark.parametrize("wanted, name", [
    ("2025 tax return", "2025 tax return"),
    ('Bank: "current" account?', 'Bank- -current- account-'),
    ("a/b\\c|d*e<f>", "a-b-c-d-e-f-"),
    ("  lots   of\tspace  ", "lots of space"),
    ("ends with dots...", "ends with dots"),
    ("", "Documents"),
    ("...", "Documents"),
    ("tab\x01bell\x07", "tab-bell-"),
    ("invoice\u202efdp.exe", "invoice-fdp.exe"),
    ("CON", "- CON"),
    ("nul.txt", "- nul.txt"),
    ("com1", "- com1"),
    (".davportal-trash", "- .davportal-trash"),
    ("desktop.ini", "- desktop.ini"),  # a desktop client's own name: never shown to the other party
    ("~$ letters", "- ~$ letters"),
    ("._scans", "- ._scans"),
])  # fmt: skip
def test_folder_name_is_one_every_drive_stores(wanted, name):
    assert folder_name(wanted) == name
    assert check_new_name(folder_name(wanted)).allowed
    assert not is_desktop_file(folder_name(wanted))


def test_folder_name_avoids_names_taken_whatever_their_case():
    assert folder_name("P60", ["p60"]) == "P60 (2)"
    assert folder_name("P60", ["P60", "p60 (2)"]) == "P60 (3)"
    assert folder_name("Bank", ["P60"]) == "Bank"


def test_folder_name_of_a_long_title_fits_a_name_on_every_drive():
    for letter in ("a", "é", "税", "😀"):
        name = folder_name(letter * 300, [letter * 300])
        assert check_new_name(name).allowed, name
        assert len(name.encode("utf-8")) <= 255


def test_folder_name_is_in_nfc_as_every_path_is():
    assert folder_name("Re\u0301sume\u0301") == "R\u00e9sum\u00e9"


# Statuses


@pytest.mark.parametrize("files, expected, accepted, status", [
    (0, None, False, ItemStatus.REQUESTED),
    (1, None, False, ItemStatus.UPLOADED),
    (1, 2, False, ItemStatus.REQUESTED),
    (2, 2, False, ItemStatus.UPLOADED),
    (5, 2, False, ItemStatus.UPLOADED),
    (0, 0, False, ItemStatus.REQUESTED),  # at least one file, whatever it says
    (0, None, True, ItemStatus.ACCEPTED),  # staff may accept what came another way
])  # fmt: skip
def test_item_status(files, expected, accepted, status):
    assert item_status(files, expected, accepted=accepted) is status


def test_request_status():
    accepted, uploaded = ItemStatus.ACCEPTED, ItemStatus.UPLOADED
    assert request_status([accepted, accepted]) is RequestStatus.COMPLETE
    assert request_status([accepted, uploaded]) is RequestStatus.OPEN
    assert request_status([]) is RequestStatus.OPEN  # nothing asked: never complete by itself


# Reminders

LONDON = ZoneInfo("Europe/London")
NINE = time(9, 0)


def _utc(*args) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def test_moments_across_a_change_to_summer_time_keep_the_local_hour():
    # Clocks go forward in London on 29 March 2026: 9:00 is 9:00 UTC before, 8:00 UTC after.
    reminders = Reminders(before_due_days=(7, 2), on_due_date=True, every_days_after=3, at_most_after=2)
    assert reminders.moments(date(2026, 4, 2), NINE, LONDON) == [
        _utc(2026, 3, 26, 9),
        _utc(2026, 3, 31, 8),
        _utc(2026, 4, 2, 8),
        _utc(2026, 4, 5, 8),
        _utc(2026, 4, 8, 8),
    ]
    autumn = Reminders(before_due_days=(1,), on_due_date=False, every_days_after=0)
    assert autumn.moments(date(2026, 10, 26), NINE, LONDON) == [_utc(2026, 10, 25, 9)]  # back to GMT that night


def test_moments_leave_out_what_the_schedule_leaves_out():
    assert Reminders(before_due_days=(0, -3, 7, 7), on_due_date=False, every_days_after=0).moments(
        date(2026, 1, 31), NINE, ZoneInfo("UTC")) == [_utc(2026, 1, 24, 9)]  # fmt: skip
    assert Reminders(before_due_days=(), on_due_date=False, every_days_after=5, at_most_after=0).moments(
        date(2026, 1, 31), NINE, ZoneInfo("UTC")) == []  # fmt: skip


def test_next_reminder_is_the_first_moment_ahead_and_missed_ones_are_not_made_up():
    reminders = Reminders(before_due_days=(7,), on_due_date=True, every_days_after=3, at_most_after=3)
    due, zone = date(2026, 1, 31), ZoneInfo("UTC")
    assert next_reminder(reminders, due, after=_utc(2026, 1, 1), at=NINE, zone=zone) == _utc(2026, 1, 24, 9)
    assert next_reminder(reminders, due, after=_utc(2026, 1, 24, 9), at=NINE, zone=zone) == _utc(2026, 1, 31, 9)
    # Nothing ran from the 20th to the 5th: the 24th, 31st and 3rd are gone, the 6th is next.
    assert next_reminder(reminders, due, after=_utc(2026, 2, 5, 12), at=NINE, zone=zone) == _utc(2026, 2, 6, 9)
    assert next_reminder(reminders, due, after=_utc(2026, 2, 9, 9), at=NINE, zone=zone) is None  # the last was sent
    assert next_reminder(reminders, None, after=_utc(2026, 1, 1), at=NINE, zone=zone) is None  # no due date


def test_next_reminder_in_a_zone_ahead_of_utc():
    tokyo = ZoneInfo("Asia/Tokyo")  # 9:00 in Tokyo is midnight UTC
    reminders = Reminders(before_due_days=(), on_due_date=True, every_days_after=0)
    assert next_reminder(reminders, date(2026, 1, 31), after=_utc(2026, 1, 30, 23, 59), at=NINE,
                         zone=tokyo) == _utc(2026, 1, 31, 0)  # fmt: skip


def test_a_stored_schedule_round_trips_and_falls_back_to_the_default():
    default = Reminders()
    schedule = Reminders(before_due_days=(14, 2), on_due_date=False, every_days_after=7, at_most_after=1)
    assert reminders_from(as_data(schedule), default) == schedule
    assert reminders_from(None, default) is default
    assert reminders_from({}, default) is default
    assert reminders_from({"every_days_after": 0}, default) == Reminders(every_days_after=0)
