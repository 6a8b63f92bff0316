"""Who may be made admin, and when admin or a login may be taken away: the rules as a table."""

from __future__ import annotations

import pytest

from policy import Role
from policy.accounts import admin_change, disabling

ADMIN_CHANGES = [
    # role, make admin?, an enabled admin now?, other enabled admins, allowed
    (Role.STAFF, True, False, 0, True),
    (Role.STAFF, True, True, 0, True),  # already admin: nothing taken
    (Role.STAFF, False, True, 1, True),
    (Role.STAFF, False, True, 0, False),  # the last enabled admin
    (Role.STAFF, False, False, 0, True),  # a disabled admin runs nothing already
    (Role.CONTACT, True, False, 3, False),  # contacts are never admin
    (Role.CONTACT, False, False, 3, False),
]


@pytest.mark.parametrize("role, admin, is_admin, others, allowed", ADMIN_CHANGES)
def test_admin_change(role, admin, is_admin, others, allowed):
    decision = admin_change("x", role, admin=admin, is_admin=is_admin, other_enabled_admins=others)
    assert decision.allowed is allowed
    assert decision.allowed or (decision.status == 409 and decision.reason)


@pytest.mark.parametrize("is_enabled_admin, others, allowed", [(False, 0, True), (True, 1, True), (True, 0, False)])
def test_disabling(is_enabled_admin, others, allowed):
    assert disabling("x", is_enabled_admin=is_enabled_admin, other_enabled_admins=others).allowed is allowed
