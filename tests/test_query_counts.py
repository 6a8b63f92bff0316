"""Listing costs a constant number of SQL statements, whatever the folder holds."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import event

from davportal.core.paths import ref_url
from davportal.services import locks
from davportal.services.locks import HeldLock
from davportal.services.portal import Portal
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


NAMED = (b'<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:resourcetype/><D:getcontentlength/>'
         b"<D:getlastmodified/><D:getetag/><D:lockdiscovery/></D:prop></D:propfind>")  # fmt: skip
FINDER = (b'<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:getlastmodified/><D:getcontentlength/>'
          b"<D:creationdate/><D:resourcetype/></D:prop></D:propfind>")  # fmt: skip


def _statements(firm, login: str, path: str, depth: str = "1", body: bytes = b"") -> list[str]:
    """The statements of a PROPFIND after a first one: its password verified and its login's row
    read, which the clock held still (`_still`) keeps."""
    dav = firm.as_user(login)
    assert dav.propfind(path, depth, data=body).status_code == 207
    with StatementCounter(firm.portal.engine) as counter:
        assert dav.propfind(path, depth, data=body).status_code == 207
    return counter.statements


@pytest.mark.parametrize("body", [b"", NAMED], ids=["allprop", "named"])
@pytest.mark.parametrize("login, area", [("sam", TEAM), ("sam", "Counted"), ("sam", CLIENT),
                                         ("alice", TEAM), ("alice", CLIENT)])  # fmt: skip
def test_propfind_depth_1_runs_one_statement_whatever_the_folder_holds(folders, login, area, body):
    small = _statements(folders, login, f"/acme/{area}/n3/", body=body)
    large = _statements(folders, login, f"/acme/{area}/n60/", body=body)
    # The entries' dead properties and their WebDAV locks (kept in the database, for every
    # node), together.
    assert len(small) == len(large) == 1
    assert "dead_property" in large[0] and "dav_lock" in large[0]


@pytest.mark.parametrize("body", [b"", NAMED], ids=["allprop", "named"])
@pytest.mark.parametrize("login, area", [("sam", TEAM), ("alice", TEAM), ("alice", CLIENT)])
def test_propfind_depth_0_of_a_file_runs_one_statement_then_none_until_a_change(folders, login, area, body):
    dav, path = folders.as_user(login), f"/acme/{area}/n3/file001.txt"
    folders.portal.recent_locks.changed()  # as any change of a lock does: what this node read is forgotten
    assert dav.propfind(f"/acme/{area}/n3/file000.txt", "0", data=body).status_code == 207  # the login's row
    counts = []
    for _ in range(2):
        with StatementCounter(folders.portal.engine) as counter:
            assert dav.propfind(path, "0", data=body).status_code == 207
        counts.append(counter.statements)
    (statement,), again = counts
    assert "dead_property" in statement and "dav_lock" in statement
    assert again == []  # the file's dead properties and locks, as this node read them a moment ago


def test_a_file_locked_or_described_elsewhere_shows_at_once_at_depth_0(folders):
    alice, sam = folders.as_user("alice"), folders.as_user("sam")
    path = f"/acme/{TEAM}/n3/file002.txt"
    assert "locktoken" not in sam.propfind(path, "0").text and "activelock" not in alice.propfind(path, "0").text
    # Another process of the portal takes a lock (its own portal, sessions and memory).
    other = Portal(folders.portal.settings)
    root = ref_url("acme", f"{TEAM}/n3/file002.txt", is_folder=False)
    lock = HeldLock(token="opaquelocktoken:elsewhere", root=root, scope="exclusive", depth="0",
                    owner=b"<D:owner xmlns:D='DAV:'>sam</D:owner>", principal="sam", timeout=60,
                    expire=time.time() + 60)  # fmt: skip
    try:
        with other.sessions.begin() as session:
            locks.grant(session, lock, time.time())
    finally:
        other.engine.dispose()
    assert "activelock" in alice.propfind(path, "0").text  # at once, the clock held still
    assert "locktoken" in sam.propfind(path, "0").text


@pytest.mark.parametrize("path", [f"/acme/{TEAM}/n60/", f"/acme/{TEAM}/n3/file001.txt"])
def test_propfind_of_what_the_disk_holds_runs_no_statement(folders, path):
    """Finder's four properties: nothing in them is kept in the database."""
    assert _statements(folders, "alice", path, "1" if path.endswith("/") else "0", FINDER) == []


def test_get_writes_its_audit_row_only(folders):
    alice = folders.as_user("alice")
    path = f"/acme/{TEAM}/n3/file000.txt"
    assert alice.request("GET", path).status_code == 200  # the login's row, read once a second per node
    with StatementCounter(folders.portal.engine) as counter:
        assert alice.request("GET", path).status_code == 200
    assert len(counter.statements) == 1
    assert counter.statements[0].lstrip().startswith("INSERT INTO audit_event")
