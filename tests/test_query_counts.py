"""Listing costs a constant number of SQL statements, whatever the folder holds."""

from __future__ import annotations

import pytest
from sqlalchemy import event

from tests.conftest import CLIENT, TEAM


class StatementCounter:
    def __init__(self, engine):
        self.engine = engine
        self.statements: list[str] = []

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._count)
        return self

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self._count)

    def _count(self, conn, cursor, statement, *args):
        self.statements.append(statement)

    @property
    def count(self) -> int:
        return len(self.statements)


@pytest.fixture(autouse=True)
def _still(firm, still):
    still(firm)


@pytest.fixture(scope="module")
def folders(firm):
    """Two folders in each area, one with 3 entries, one with 60."""
    sam = firm.as_user("sam")
    sam.request("MKCOL", "/acme/Counted/")
    for area in (TEAM, "Counted"):
        for size in (3, 60):
            sam.request("MKCOL", f"/acme/{area}/n{size}/")
            for i in range(size):
                assert sam.put(f"/acme/{area}/n{size}/file{i:03}.txt", b"x").status_code == 201
    alice = firm.as_user("alice")
    for size in (3, 60):
        alice.request("MKCOL", f"/acme/{CLIENT}/n{size}/")
        for i in range(size):
            assert alice.put(f"/acme/{CLIENT}/n{size}/file{i:03}.txt", b"x").status_code == 201
    return firm


def _statements(firm, login: str, path: str, depth: str = "1") -> int:
    dav = firm.as_user(login)
    assert dav.propfind(path, depth).status_code == 207  # warm: the password is verified once
    with StatementCounter(firm.portal.engine) as counter:
        assert dav.propfind(path, depth).status_code == 207
    return counter.count


@pytest.mark.parametrize("login, area", [("sam", TEAM), ("sam", "Counted"), ("sam", CLIENT),
                                         ("alice", TEAM), ("alice", CLIENT)])  # fmt: skip
def test_propfind_depth_1_runs_a_constant_number_of_statements(folders, login, area):
    small = _statements(folders, login, f"/acme/{area}/n3/")
    large = _statements(folders, login, f"/acme/{area}/n60/")
    assert small == large
    # The login's account and memberships in one statement, the entries' dead properties in one,
    # and their WebDAV locks (kept in the database, for every node) in one.
    assert large <= 3


def test_get_writes_its_audit_row_only(folders):
    alice = folders.as_user("alice")
    path = f"/acme/{TEAM}/n3/file000.txt"
    assert alice.request("GET", path).status_code == 200  # the login's row, read once a second per node
    with StatementCounter(folders.portal.engine) as counter:
        assert alice.request("GET", path).status_code == 200
    assert len(counter.statements) == 1
    assert counter.statements[0].lstrip().startswith("INSERT INTO audit_event")
