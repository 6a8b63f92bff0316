"""Matter type rules are live: an edit of the file takes effect on every node at its next request.

Two portals share one database, one storage folder and one matter types file: two nodes.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from provisioning import accounts, clients, matter_types
from provisioning.matter_types import CLOSED
from tests.conftest import ADMIN, CLIENT, PASSWORD, TEAM, portal_config, start_portal

TYPES = """\
matter_types:
  annual-tax-return:
    name: Annual tax return
    folders:
      - path: Working papers
        rule: {area: working-papers, read: [client], upload: [client]}
"""
PAPERS = "/acme/Working papers/"
SUMS = PAPERS + "sums.pdf"


def rewrite(path: Path, text: str) -> None:
    """Replace the file whole, as an editor or a deployment does, with a later modification time."""
    before = path.stat()
    temporary = path.with_name(path.name + ".new")
    temporary.write_text(text)
    # A time of its own even where the filesystem's timestamps are coarse.
    os.utime(temporary, ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000_000))
    os.replace(temporary, path)


@pytest.fixture
def nodes(fresh_database_url, tmp_path):
    """Two running portals on the same database, storage and matter types file; acme has alice."""
    types = tmp_path / "matter-types.yaml"
    types.write_text(TYPES)
    running = [start_portal(portal_config(fresh_database_url, tmp_path / "storage", matter_types_file=str(types)))
               for _ in range(2)]  # fmt: skip
    try:
        first = running[0]
        first.add_staff("sam")
        with first.portal.sessions.begin() as session:
            clients.add_client(session, first.portal.storage, "acme", name="Acme", folders=(TEAM, CLIENT),
                               matter_type=first.portal.matter_types["annual-tax-return"], actor=ADMIN)  # fmt: skip
            accounts.add_contact(session, "alice", client_id="acme", password=PASSWORD, actor=ADMIN)
        assert first.as_user("sam").put(SUMS, b"the sums").status_code == 201
        yield types, running
    finally:
        for node in running:
            node.server.stop()
            node.portal.engine.dispose()


def test_a_tightened_rule_holds_at_the_next_request_on_every_node(nodes):
    types, running = nodes
    for node in running:
        alice = node.as_user("alice")
        assert alice.propfind(PAPERS).status_code == 207
        assert alice.request("GET", SUMS).status_code == 200
        assert "Working papers" in alice.names("/acme/")

    rewrite(types, TYPES.replace("read: [client], upload: [client]", "read: [], upload: []"))
    for node in running:
        alice = node.as_user("alice")
        assert alice.propfind(PAPERS).status_code == 404  # MODEL.md: a folder closed to a contact is invisible
        assert alice.request("GET", SUMS).status_code == 404
        assert "Working papers" not in alice.names("/acme/")
        assert node.as_user("sam").request("GET", SUMS).status_code == 200

    rewrite(types, TYPES)  # and opened again, just as live
    for node in running:
        assert node.as_user("alice").request("GET", SUMS).status_code == 200


@pytest.mark.parametrize("mistake, logged", [
    ("invalid", "line 6: matter_types.annual-tax-return.folders.0.rule.reed: Extra inputs are not permitted"),
    ("missing", "cannot read the matter types (No such file or directory)"),
], ids=["invalid", "missing"])  # fmt: skip
def test_a_broken_file_closes_client_folders_on_every_node_until_it_is_fixed(nodes, caplog, mistake, logged):
    types, running = nodes
    caplog.set_level(logging.INFO, logger="davportal.matter_types")
    aside = types.with_name("aside.yaml")
    if mistake == "invalid":
        rewrite(types, TYPES.replace("read: [client]", "reed: [client]"))
    else:
        types.rename(aside)  # the shared storage lost it
    for node in running:
        for who, path in (("alice", SUMS), ("sam", SUMS), ("sam", "/acme/"), ("alice", "/nobody/x.pdf")):
            response = node.as_user(who).request("GET", path)
            # Never the last valid rules (the edit may have closed a folder); and the same answer
            # for a client that does not exist, so it tells nobody which clients do.
            assert (response.status_code, response.text) == (503, CLOSED + "\n"), (who, path)
        assert node.as_user("sam").propfind("/").status_code == 207  # the root lists clients still
    errors = [record.getMessage() for record in caplog.records if record.levelno == logging.ERROR]
    assert len(errors) == 2 and all(logged in error for error in errors), errors  # once per node, not per request

    if mistake == "invalid":
        rewrite(types, TYPES)
    else:
        os.replace(aside, types)  # back as it was, the same inode and times
    for node in running:
        assert node.as_user("alice").request("GET", SUMS).status_code == 200
    assert caplog.text.count("(client folders are open again)") == 2


def test_the_file_is_reread_only_when_it_changed(nodes, monkeypatch):
    types, running = nodes
    reads = []
    parse = matter_types._parse

    def counting_parse(*args, **kwargs):
        reads.append(1)
        return parse(*args, **kwargs)

    monkeypatch.setattr(matter_types, "_parse", counting_parse)
    for node in running:
        alice = node.as_user("alice")
        for _ in range(3):
            assert alice.propfind(PAPERS).status_code == 207
            assert alice.request("GET", SUMS).status_code == 200
    assert reads == []  # one fstat per request, no reread

    rewrite(types, TYPES.replace("upload: [client]", "upload: []"))
    for node in running:
        for _ in range(3):
            assert node.as_user("alice").request("GET", SUMS).status_code == 200
    assert len(reads) == 2  # once per node
