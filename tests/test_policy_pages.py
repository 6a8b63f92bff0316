"""What the pages offer whom, and the size wording the pages and the refusals share."""

from __future__ import annotations

import pytest

from policy import Actor, Role
from policy.names import check_size, human_size, too_large_reason
from policy.pages import (
    Audience,
    SecondStep,
    Tool,
    audience_of,
    may_administer,
    may_turn_off_two_factor,
    may_use,
    second_step,
    sees_request,
    tools_of,
)

STAFF = Actor("sam", Role.STAFF)
ADMIN = Actor("ada", Role.STAFF, is_admin=True)
CONTACT = Actor("alice", Role.CONTACT, clients={"acme": "client"})
ADVISER = Actor("adam", Role.CONTACT, clients={"acme": "adviser", "beta": "client"})

# Every tool for every kind of actor: a new tool must be added here, or this test fails.
TABLE = {
    Tool.RECEIVED: {"staff": True, "admin": True, "contact": False, "adviser": False},
    Tool.FIND_CLIENT: {"staff": True, "admin": True, "contact": False, "adviser": False},
    Tool.MOVE: {"staff": True, "admin": True, "contact": False, "adviser": False},
    Tool.COPY_TO: {"staff": True, "admin": True, "contact": False, "adviser": False},
    Tool.DESCRIBE: {"staff": True, "admin": True, "contact": False, "adviser": False},
    Tool.SHARE: {"staff": True, "admin": True, "contact": False, "adviser": False},
    Tool.ACCOUNT: {"staff": True, "admin": True, "contact": True, "adviser": True},
    Tool.REQUESTS: {"staff": True, "admin": True, "contact": False, "adviser": False},
    Tool.CONSOLE: {"staff": False, "admin": True, "contact": False, "adviser": False},
}
ACTORS = {"staff": STAFF, "admin": ADMIN, "contact": CONTACT, "adviser": ADVISER}


def test_the_table_names_every_tool():
    assert set(TABLE) == set(Tool)


@pytest.mark.parametrize("tool, who", [(tool, who) for tool in TABLE for who in ACTORS])
def test_may_use(tool, who):
    assert may_use(ACTORS[who], tool) is TABLE[tool][who]


@pytest.mark.parametrize("who", ACTORS)
def test_tools_of_is_may_use_for_every_tool(who):
    actor = ACTORS[who]
    assert tools_of(actor) == {tool for tool in Tool if may_use(actor, tool)}


def test_only_admin_staff_may_administer():
    assert [who for who, actor in ACTORS.items() if may_administer(actor)] == ["admin"]
    assert not may_administer(None)
    # An admin flag on a contact's account (a bad row, an import gone wrong) opens nothing.
    assert not may_administer(Actor("eve", Role.CONTACT, is_admin=True, clients={"acme": "client"}))


def test_nobody_signed_in_has_no_tools():
    assert tools_of(None) == frozenset()


@pytest.mark.parametrize("actor, audience", [(STAFF, Audience.FIRM), (ADMIN, Audience.FIRM),
                                             (CONTACT, Audience.CLIENT), (ADVISER, Audience.CLIENT)])  # fmt: skip
def test_audience(actor, audience):
    assert audience_of(actor) is audience


@pytest.mark.parametrize("actor, has_two_factor, staff_must_enrol, step", [
    (STAFF, False, False, None),
    (STAFF, False, True, SecondStep.ENROL),
    (STAFF, True, False, SecondStep.CODE),
    (STAFF, True, True, SecondStep.CODE),
    (ADMIN, False, True, SecondStep.ENROL),
    (CONTACT, False, False, None),
    (CONTACT, False, True, None),  # the firm asks it of its staff, not of its clients
    (CONTACT, True, False, SecondStep.CODE),
    (CONTACT, True, True, SecondStep.CODE),
])  # fmt: skip
def test_second_step(actor, has_two_factor, staff_must_enrol, step):
    assert second_step(actor, has_two_factor=has_two_factor, staff_must_enrol=staff_must_enrol) is step


def test_second_steps_are_the_values_stored_with_a_session():
    assert [step.value for step in SecondStep] == ["code", "enrol"]


@pytest.mark.parametrize("n, text", [
    (0, "0 bytes"), (1, "1 byte"), (2, "2 bytes"), (1023, "1023 bytes"),
    (1024, "1 KiB"), (1536, "1.5 KiB"), (1048575, "1 MiB"), (1048576, "1 MiB"),
    (104857600, "100 MiB"), (110_000_000, "104.9 MiB"), (5 * 1024**3, "5 GiB"), (3 * 1024**4, "3 TiB"),
    (2048 * 1024**4, "2048 TiB"),
])  # fmt: skip
def test_human_size(n, text):
    assert human_size(n) == text


def test_a_refused_size_says_the_limit_as_the_page_does():
    assert too_large_reason(104857600) == "The file is larger than the limit of 100 MiB (104,857,600 bytes)."
    assert human_size(104857600) in check_size(104857601, 104857600).reason


@pytest.mark.parametrize("who, staff_must_enrol, may", [
    ("staff", False, True), ("staff", True, False), ("admin", True, False),
    ("contact", False, True), ("contact", True, True),
])  # fmt: skip
def test_who_may_turn_two_factor_off(who, staff_must_enrol, may):
    assert may_turn_off_two_factor(ACTORS[who], staff_must_enrol=staff_must_enrol) is may


@pytest.mark.parametrize(
    "actor, client_id, for_types, sent, expected",
    [
        (CONTACT, "acme", ["*"], True, True),  # every type
        (CONTACT, "acme", ["client"], True, True),
        (CONTACT, "acme", ["client"], False, False),  # not sent (a draft, or cancelled unsent): the firm's alone
        (CONTACT, "acme", ["bookkeeper"], True, False),  # not for their participant type
        (CONTACT, "beta", ["*"], True, False),  # another client's
        (ADVISER, "acme", ["client"], True, False),  # their type differs by client
        (ADVISER, "beta", ["client"], True, True),
        (ADVISER, "acme", ["adviser", "client"], True, True),
        (STAFF, "acme", ["*"], True, False),  # staff see requests on their own pages, never a contact's
        (ADMIN, "acme", ["*"], True, False),
    ],
)
def test_which_requests_a_contacts_home_page_shows(actor, client_id, for_types, sent, expected):
    assert sees_request(actor, client_id, for_types, sent=sent) is expected
