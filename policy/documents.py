"""What happens around a document: a delete's fate, whose a copy is, who hears of a change.

MODEL.md, "Uploads" and "What happens around a file". Pure functions over plain data.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum

from policy.model import ALLOWED, Actor, Decision, Role
from policy.names import is_desktop_file, is_reserved


class Disposal(str, Enum):
    TRASH = "trash"  # out of every listing, restorable for the retention period
    FOR_GOOD = "for-good"  # gone: nobody restores a ~$ owner file or a .DS_Store


def disposal_of(name: str) -> Disposal:
    """Finder's and Office's own files go for good; everything else goes to the trash."""
    return Disposal.FOR_GOOD if is_desktop_file(name) else Disposal.TRASH


def owner_after(*, moved: bool, actor: Actor, uploader: str | None) -> str | None:
    """A copy is the copier's document; a moved document stays its uploader's."""
    return uploader if moved else actor.login


class Audience(str, Enum):
    NOBODY = "nobody"
    STAFF = "staff"  # who hears of the client's uploads: see staff_told
    CONTACTS = "contacts"  # the client's contacts who may read it (and, for an arrival, could not before)


def newsworthy(name: str) -> bool:
    """Desktop clients' own files (owner files, temp saves, .DS_Store) are nobody's news."""
    return not (is_desktop_file(name) or is_reserved(name))


def told_of_write(actor: Actor, name: str) -> Audience:
    """An upload finished: a contact's tells the firm; staff's tells the client's contacts."""
    if not newsworthy(name):
        return Audience.NOBODY
    return Audience.STAFF if actor.role is Role.CONTACT else Audience.CONTACTS


def told_of_arrival(actor: Actor, *, same_client: bool, moved: bool, from_name: str) -> Audience:
    """Documents moved or copied in (`from_name`: the name of what was moved or copied).

    Staff moving them where contacts can now read them, or copying them in from another client
    ("copy to matter"), tells contacts; a copy within one client tells nobody.

    A contact's copy is an upload, and so is a move in from another client, or from a desktop
    app's save file onto a document's name (how Word saves): the firm is told. A contact renaming
    or moving their own upload within the client tells nobody again: it was reported once, and a
    notice not yet sent follows it to its new name.
    """
    if actor.role is Role.CONTACT:
        renamed = moved and same_client and newsworthy(from_name)
        return Audience.NOBODY if renamed else Audience.STAFF
    if same_client and not moved:
        return Audience.NOBODY
    return Audience.CONTACTS


def staff_told(staff_address: str | None, assigned: str | None, admins: Iterable[str]) -> list[str]:
    """Who hears of a client's uploads: the firm's address and the client's assigned staff; with
    neither, the firm's admins, so that an upload is never left unheard without anyone choosing it."""
    told = {address for address in (staff_address, assigned) if address}
    return sorted(told or set(admins))


def case_clash(name: str, clash: str | None, *, renaming_from: str | None = None) -> Decision:
    """Windows and macOS users cannot tell "Report.pdf" from "report.pdf": one of them only.

    `clash` is a name already in the folder that differs from `name` only in case; renaming a
    document to another case of its own name is allowed.
    """
    if clash is None or clash == renaming_from:
        return ALLOWED
    return Decision(False, 409, f"'{clash}' is already here: names that differ only in upper and lower case "
                                "cannot be told apart on Windows and macOS.")  # fmt: skip
