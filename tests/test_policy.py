"""policy.decide as a table: MODEL.md's matrix, row by row, with no server and no I/O."""

from __future__ import annotations

import pytest

from policy import TEAM_SHARED, Action, Actor, Role, Rule, RuleBook, Target, decide, decide_tree, default_rules
from policy.model import EVERY_TYPE
from policy.names import check_file_type, check_new_name, check_size, is_desktop_file

RULES = default_rules("Team's shared", "Client's shared")
STAFF = Actor("sam", Role.STAFF)
ALICE = Actor("alice", Role.CONTACT, clients={"acme": "client"})
WHERE = {
    "private": ("acme", "Matter", "x.pdf"),
    "team": ("acme", "Team's shared", "x.pdf"),
    "client": ("acme", "Client's shared", "x.pdf"),
}
MATRIX = [
    # action,        who,   private, team, client   (MODEL.md, "The access matrix")
    (Action.READ,   STAFF,  200, 200, 200),
    (Action.READ,   ALICE,  404, 200, 200),
    (Action.CREATE, STAFF,  200, 200, 403),
    (Action.CREATE, ALICE,  404, 403, 200),
    (Action.CHANGE, STAFF,  200, 200, 403),
    (Action.CHANGE, ALICE,  404, 403, 200),  # own upload (see below for another's)
    (Action.REMOVE, STAFF,  200, 200, 403),
    (Action.REMOVE, ALICE,  404, 403, 200),
    (Action.LOCK,   STAFF,  200, 200, 403),
    (Action.LOCK,   ALICE,  404, 403, 200),
]  # fmt: skip


@pytest.mark.parametrize("action, actor, private, team, client", MATRIX)
def test_access_matrix(action, actor, private, team, client):
    for area, expected in (("private", private), ("team", team), ("client", client)):
        target = Target(WHERE[area], exists=True, uploaded_by=actor.login)
        assert decide(actor, action, target, RULES).status == expected, area


@pytest.mark.parametrize("action", [Action.CHANGE, Action.REMOVE, Action.LOCK])
def test_a_contact_changes_only_their_own_uploads(action):
    target = Target(WHERE["client"], exists=True, uploaded_by="carol")
    decision = decide(ALICE, action, target, RULES)
    assert decision.status == 403 and "uploaded yourself" in decision.reason


@pytest.mark.parametrize("action", list(Action))
def test_another_client_is_invisible_to_a_contact(action):
    for parts in (("beta", "Team's shared", "x.pdf"), ("beta", "Client's shared"), ("beta", "Matter")):
        assert decide(ALICE, action, Target(parts, exists=True), RULES).status == 404


@pytest.mark.parametrize("actor", [STAFF, ALICE])
@pytest.mark.parametrize("action", [Action.CREATE, Action.CHANGE, Action.REMOVE, Action.LOCK])
def test_nothing_changes_at_the_top_level(actor, action):
    assert decide(actor, action, Target(()), RULES).status == 403
    assert decide(actor, Action.CREATE, Target(("newclient",)), RULES).status == 403


@pytest.mark.parametrize("actor", [STAFF, ALICE])
@pytest.mark.parametrize("folder", ["Team's shared", "Client's shared", "team's SHARED"])
def test_area_folders_cannot_be_removed(actor, folder):
    decision = decide(actor, Action.REMOVE, Target(("acme", folder), exists=True, is_collection=True), RULES)
    assert decision.status == 403


@pytest.mark.parametrize("exists", [True, False])
def test_a_contacts_answer_at_the_client_root_does_not_depend_on_existence(exists):
    target = Target(("acme", "Matter"), exists=exists, is_collection=exists)
    assert decide(ALICE, Action.CREATE, target, RULES).status == 403
    assert decide(ALICE, Action.CHANGE, target, RULES).status == 403
    assert decide(ALICE, Action.READ, target, RULES).status == 404
    assert decide(ALICE, Action.REMOVE, target, RULES).status == 404


def test_lock_on_an_unmapped_url_is_a_create():
    target = Target(("acme", "Client's shared", "new.pdf"), exists=False)
    assert decide(ALICE, Action.LOCK, target, RULES).allowed


def test_a_nested_rule_decides_for_its_folder_and_travels_with_a_tree():
    accountants_only = Rule("tax", readers=frozenset({"accountant"}), uploaders=frozenset())
    rules = RuleBook.of({"Team's shared": TEAM_SHARED, "Team's shared/Tax": accountants_only})
    accountant = Actor("acct", Role.CONTACT, clients={"acme": "accountant"})
    inside = Target(("acme", "Team's shared", "Tax", "2025.pdf"), exists=True)
    assert decide(ALICE, Action.READ, inside, rules).status == 404
    assert decide(accountant, Action.READ, inside, rules).allowed
    folder = Target(("acme", "Team's shared"), exists=True, is_collection=True)
    assert decide_tree(STAFF, Action.READ, folder, rules).allowed
    assert EVERY_TYPE in rules.rule_at(("Team's shared",)).readers


@pytest.mark.parametrize("name, status", [
    ("a.pdf", 200), ("A.PDF", 200), ("x.exe", 415), ("noext", 415), (".DS_Store", 200), ("~$a.docx", 200),
])  # fmt: skip
def test_file_types(name, status):
    allowed = ("pdf", "docx")
    assert check_file_type(name, allowed).status == status
    assert check_file_type(name, ("*",)).allowed


def test_sizes():
    assert check_size(100, 100).allowed
    assert check_size(101, 100).status == 413
    assert check_size(None, 100).allowed


@pytest.mark.parametrize("name, ok", [
    ("Report.pdf", True), ("Rapport d'été.pdf", True), ("a:b", False), ("a?b", False), ("a*b", False),
    ("end.", False), ("end ", False), (".davportal-x", False), ("x" * 256, False), ("tab\there", False),
])  # fmt: skip
def test_new_names(name, ok):
    assert check_new_name(name).allowed is ok


def test_desktop_files():
    assert all(map(is_desktop_file, [".DS_Store", "._x.pdf", "Thumbs.db", "desktop.ini", "~$x.docx", "~WRL0001.tmp"]))
    assert not is_desktop_file("report.tmp")
