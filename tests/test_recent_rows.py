"""A login's row is read once a second per node, and a change made through the portal, by any
process, is seen at once; a change made straight in the database within the second."""

from __future__ import annotations

import subprocess
import sys

import pytest
from sqlalchemy import text

from davportal.core.recent import LOGIN_TABLES, Recent
from davportal.services.passwords import hash_secret
from provisioning import accounts, clients
from tests.conftest import ADMIN, PASSWORD, TEAM, seed_firm
from tests.test_query_counts import StatementCounter


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock()


def test_a_row_is_kept_for_at_most_its_seconds(tmp_path, clock):
    recent = Recent(tmp_path / "mark", 1.0, LOGIN_TABLES, clock=clock)
    reads = []
    load = lambda: reads.append(1) or len(reads)  # noqa: E731
    assert recent.get("k", load) == 1
    clock.now += 0.999
    assert recent.get("k", load) == 1
    clock.now += 0.001
    assert recent.get("k", load) == 2
    assert recent.get("k", load, fresh=True) == 3


def test_a_change_in_another_process_is_seen_at_the_next_read(tmp_path, clock):
    here = Recent(tmp_path / "mark", 1.0, LOGIN_TABLES, clock=clock)
    # Another process of this node (or a node on the same storage) with its own memory.
    script = "import sys; from pathlib import Path; from davportal.core.recent import Recent; "
    script += "Recent(Path(sys.argv[1]), 1.0, frozenset()).changed()"
    reads = []
    load = lambda: reads.append(1) or len(reads)  # noqa: E731
    assert here.get("k", load) == 1
    subprocess.run([sys.executable, "-c", script, str(tmp_path / "mark")], check=True)
    assert here.get("k", load) == 2  # same clock: only the mark can have told


def test_no_cache_reads_every_time(tmp_path, clock):
    recent = Recent(tmp_path / "mark", 0, LOGIN_TABLES, clock=clock)
    reads = []
    for _ in range(3):
        recent.get("k", lambda: reads.append(1))
    assert len(reads) == 3


@pytest.fixture
def firm_on_a_clock(fresh_portal, clock):
    running = seed_firm(fresh_portal())
    running.portal.recent.clock = clock
    return running


def _propfind_status(running, login: str, password: str = PASSWORD) -> int:
    return running.as_user(login, password).propfind("/acme/", "0").status_code


def test_a_warm_login_costs_no_statement(firm_on_a_clock):
    assert _propfind_status(firm_on_a_clock, "alice") == 207
    alice = firm_on_a_clock.as_user("alice")
    with StatementCounter(firm_on_a_clock.portal.engine) as counter:
        assert alice.request("OPTIONS", f"/acme/{TEAM}/").status_code == 200
    assert counter.statements == []


CHANGES = {
    "password changed": lambda s: accounts.set_password(s, "alice", "a brand new password"),
    "login disabled": lambda s: accounts.disable(s, "alice", actor=ADMIN),
    "taken off the client": lambda s: accounts.remove_from_client(s, "alice", "acme", actor=ADMIN),
    "client archived": lambda s: clients.archive(s, "acme", actor=ADMIN),
}


@pytest.mark.parametrize("change", CHANGES.values(), ids=CHANGES.keys())
def test_a_change_through_the_portal_applies_at_once(firm_on_a_clock, change):
    assert _propfind_status(firm_on_a_clock, "alice") == 207
    with firm_on_a_clock.portal.sessions.begin() as session:
        change(session)
    assert _propfind_status(firm_on_a_clock, "alice") in (401, 404)  # the clock has not moved


def test_a_change_straight_in_the_database_applies_within_a_second(firm_on_a_clock, clock):
    portal = firm_on_a_clock.portal
    assert _propfind_status(firm_on_a_clock, "alice") == 207
    with portal.engine.begin() as connection:  # not through the portal: no process is told
        connection.execute(text("UPDATE account SET disabled = :yes WHERE login = 'alice'"), {"yes": True})
    assert _propfind_status(firm_on_a_clock, "alice") == 207  # the row read a moment ago
    clock.now += portal.settings.database_cache_seconds
    assert _propfind_status(firm_on_a_clock, "alice") == 401


def test_a_password_changed_on_another_node_a_moment_ago_is_no_failure(firm_on_a_clock):
    portal = firm_on_a_clock.portal
    assert _propfind_status(firm_on_a_clock, "alice") == 207
    with portal.engine.begin() as connection:  # as another node does, on storage that has not told yet
        connection.execute(text("UPDATE account SET password_hash = :h WHERE login = 'alice'"),
                           {"h": hash_secret("a brand new password")})  # fmt: skip
    assert _propfind_status(firm_on_a_clock, "alice", "a brand new password") == 207


def test_a_lock_taken_does_not_make_logins_read_again(firm_on_a_clock):
    sam, alice = firm_on_a_clock.as_user("sam"), firm_on_a_clock.as_user("alice")
    assert _propfind_status(firm_on_a_clock, "alice") == 207 and _propfind_status(firm_on_a_clock, "sam") == 207
    lock = ("<D:lockinfo xmlns:D='DAV:'><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/>"
            "</D:locktype></D:lockinfo>")  # fmt: skip
    assert sam.request("LOCK", f"/acme/{TEAM}/locked.txt", data=lock).status_code == 201
    with StatementCounter(firm_on_a_clock.portal.engine) as counter:
        assert alice.request("OPTIONS", f"/acme/{TEAM}/").status_code == 200
    assert counter.statements == []  # locks have a mark of their own
