"""Who may be made admin, and when admin or a login may be taken away: plain data in, a decision out."""

from __future__ import annotations

from policy.model import ALLOWED, Decision, Role


def admin_change(login: str, role: Role, *, admin: bool, is_admin: bool, other_enabled_admins: int) -> Decision:
    """Giving or taking admin: staff only, and never from the last enabled admin (nobody could
    then run the console, nor give admin back from it)."""
    if role is not Role.STAFF:
        return Decision(False, 409, f"'{login}' is a contact: only staff can be made admin.")
    if not admin and is_admin and other_enabled_admins == 0:
        return Decision(False, 409, f"'{login}' is the last enabled admin: make another member of staff admin "
                                    "first, or nobody could run the portal from the console.")  # fmt: skip
    return ALLOWED


def disabling(login: str, *, is_enabled_admin: bool, other_enabled_admins: int) -> Decision:
    """Disabling a login: never the last enabled admin, for the same reason."""
    if is_enabled_admin and other_enabled_admins == 0:
        return Decision(False, 409, f"'{login}' is the last enabled admin: make another member of staff admin "
                                    "first, or nobody could run the portal from the console.")  # fmt: skip
    return ALLOWED
