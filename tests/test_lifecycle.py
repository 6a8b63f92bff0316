"""Who sees what as clients are archived and contacts are taken off a client, disabled and enabled.

Each change is made by another process of the portal (its own Portal, as the CLI and the console
are), with the serving node's clock of rows read a moment ago held still: what the serving node
answers right after is what the change's mark told it, not an age limit running out.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import func, select

from davportal.core.errors import Conflict, NotFound
from davportal.core.models import Account, AuditEvent, Notice
from davportal.services.portal import Portal
from provisioning import accounts, clients
from tests.conftest import ADMIN, TEAM
from tests.test_request_counts_web import signed_in

# The firm: sam (staff); alice belongs to acme and beta; bob to beta only.
WHERE = {"alice@acme": ("alice", "/acme/"), "alice@beta": ("alice", "/beta/"), "bob@beta": ("bob", "/beta/"),
         "sam@acme": ("sam", "/acme/"), "sam@beta": ("sam", "/beta/")}  # fmt: skip


def archive(s):
    clients.archive(s, "acme", actor=ADMIN)


def unarchive(s):
    clients.unarchive(s, "acme", actor=ADMIN)


def remove_alice_from_beta(s):
    accounts.remove_from_client(s, "alice", "beta", actor=ADMIN)


def disable_bob(s):
    accounts.disable(s, "bob", actor=ADMIN)


def enable_bob(s):
    accounts.enable(s, "bob", actor=ADMIN)


# Applied in turn: after each change, the status of a listing for each login in each client.
STEPS: list[tuple[str, Callable | None, dict[str, int], set[str]]] = [
    ("at first", None,
     {"alice@acme": 207, "alice@beta": 207, "bob@beta": 207, "sam@acme": 207, "sam@beta": 207}, {"acme", "beta"}),
    ("acme archived", archive,
     {"alice@acme": 404, "alice@beta": 207, "bob@beta": 207, "sam@acme": 207, "sam@beta": 207}, {"beta"}),
    ("acme back", unarchive,
     {"alice@acme": 207, "alice@beta": 207, "bob@beta": 207, "sam@acme": 207, "sam@beta": 207}, {"acme", "beta"}),
    ("alice off beta", remove_alice_from_beta,
     {"alice@acme": 207, "alice@beta": 404, "bob@beta": 207, "sam@acme": 207, "sam@beta": 207}, {"acme"}),
    ("bob disabled", disable_bob,
     {"alice@acme": 207, "alice@beta": 404, "bob@beta": 401, "sam@acme": 207, "sam@beta": 207}, {"acme"}),
    ("bob enabled", enable_bob,
     {"alice@acme": 207, "alice@beta": 404, "bob@beta": 207, "sam@acme": 207, "sam@beta": 207}, {"acme"}),
]  # fmt: skip


@pytest.fixture
def lifecycle_firm(fresh_portal, still):
    running = fresh_portal()
    running.add_staff("sam", admin=True)
    for client_id in ("acme", "beta"):
        running.add_client(client_id)
    running.add_contact("alice", "acme")
    running.add_contact("alice", "beta")
    running.add_contact("bob", "beta")
    still(running)
    other = Portal(running.portal.settings)  # the CLI's or the console's process
    yield running, other
    other.engine.dispose()


def test_who_sees_what_after_each_change(lifecycle_firm):
    running, other = lifecycle_firm
    for label, change, expected, alice_root in STEPS:
        if change is not None:
            with other.sessions.begin() as session:
                change(session)
        seen = {key: running.as_user(login).propfind(path).status_code for key, (login, path) in WHERE.items()}
        assert seen == expected, label
        assert running.as_user("alice").names("/") == alice_root, label
        # Staff keep every client's folders, archived or not.
        assert running.as_user("sam").names("/") == {"acme", "beta"}, label


def test_every_change_is_audited_once_by_its_actor(lifecycle_firm):
    running, other = lifecycle_firm
    for _, change, _, _ in STEPS[1:]:
        with other.sessions.begin() as session:
            change(session)
    # Done again, nothing changes and nothing more is recorded (removing again is refused).
    for change in (unarchive, enable_bob):
        with other.sessions.begin() as session:
            change(session)
    with other.sessions() as session:
        rows = session.execute(select(AuditEvent.action, AuditEvent.login, AuditEvent.client_id, AuditEvent.detail)
                               .order_by(AuditEvent.id)).all()  # fmt: skip
    assert [tuple(row) for row in rows] == [
        ("ARCHIVE", ADMIN.login, "acme", "client archived"),
        ("UNARCHIVE", ADMIN.login, "acme", "client no longer archived"),
        ("REMOVE-CONTACT", ADMIN.login, "beta", "alice removed from beta"),
        ("DISABLE", ADMIN.login, None, "bob disabled"),
        ("ENABLE", ADMIN.login, None, "bob enabled"),
    ]


def test_removing_a_contact_who_is_not_a_member_says_so_and_changes_nothing(lifecycle_firm):
    _, other = lifecycle_firm
    with other.sessions() as session:
        with pytest.raises(NotFound, match="'bob' does not belong to client 'acme'"):
            accounts.remove_from_client(session, "bob", "acme", actor=ADMIN)
        with pytest.raises(NotFound, match="no login 'ghost'"):
            accounts.remove_from_client(session, "ghost", "acme", actor=ADMIN)
        with pytest.raises(NotFound, match="no client 'nope'"):
            clients.archive(session, "nope", actor=ADMIN)
        assert session.scalar(select(func.count()).select_from(AuditEvent)) == 0


def test_an_archived_client_s_contacts_hear_of_nothing(lifecycle_firm):
    running, other = lifecycle_firm
    with other.sessions.begin() as session:
        session.get(Account, "alice").email = "alice@example.com"
    sam = running.as_user("sam")
    assert sam.put(f"/acme/{TEAM}/Before.pdf", b"%PDF").status_code == 201
    with other.sessions.begin() as session:
        clients.archive(session, "acme", actor=ADMIN)
    assert sam.put(f"/acme/{TEAM}/After.pdf", b"%PDF").status_code == 201  # staff still work in it
    assert sam.put(f"/beta/{TEAM}/Other.pdf", b"%PDF").status_code == 201
    with other.sessions() as session:
        waiting = session.execute(select(Notice.client_id, Notice.path).where(
            Notice.recipient_name == "alice", Notice.message_id.is_(None))).all()  # fmt: skip
    # The notice of Before.pdf was left out when acme was archived; beta's still goes.
    assert [tuple(row) for row in waiting] == [("beta", f"{TEAM}/Other.pdf")]


def test_admin_is_for_staff_and_never_taken_from_the_last_admin(lifecycle_firm):
    _, other = lifecycle_firm
    with other.sessions.begin() as session:
        with pytest.raises(Conflict, match="'alice' is a contact"):
            accounts.set_admin(session, "alice", True, actor=ADMIN)
        with pytest.raises(Conflict, match="last enabled admin"):
            accounts.set_admin(session, "sam", False, actor=ADMIN)
        accounts.add_staff(session, "tess", password=None)
        assert accounts.set_admin(session, "tess", True, actor=ADMIN) is True
        assert accounts.set_admin(session, "tess", True, actor=ADMIN) is False
        accounts.disable(session, "tess", actor=ADMIN)
    with other.sessions.begin() as session:
        # A disabled admin runs nothing: sam is still the last one.
        with pytest.raises(Conflict, match="last enabled admin"):
            accounts.set_admin(session, "sam", False, actor=ADMIN)
        accounts.enable(session, "tess", actor=ADMIN)
        assert accounts.set_admin(session, "sam", False, actor=ADMIN) is True
    with other.sessions.begin() as session:
        assert not session.get(Account, "sam").is_admin
        with pytest.raises(Conflict, match="'tess' is the last enabled admin"):
            accounts.disable(session, "tess", actor=ADMIN)
        accounts.disable(session, "sam", actor=ADMIN)  # no longer admin


def test_the_staff_home_page_leaves_archived_clients_out_unless_asked(lifecycle_firm):
    running, other = lifecycle_firm
    with other.sessions.begin() as session:
        clients.archive(session, "acme", actor=ADMIN)
    browser = signed_in(running.url, "sam")

    def listed(query: str) -> set[str]:
        page = browser.get(running.url + "/" + query)
        assert page.status_code == 200
        return {client_id for client_id in ("acme", "beta") if f'href="/{client_id}/"' in page.text}

    assert listed("") == {"beta"}
    assert listed("?q=ac") == set()
    assert listed("?q=ac&archived=1") == {"acme"}
    assert listed("?archived=1") == {"acme", "beta"}
    assert browser.get(running.url + f"/acme/{TEAM}/").status_code == 200  # its folders stay open to staff
