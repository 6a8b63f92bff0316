"""What an upload costs, counted: statements, folder listings, folder flushes; and the large
upload's pipeline. Counts, never times: each holds whatever the machine's load."""

from __future__ import annotations

import hashlib
import os
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import event, select

from davportal.core import atomic
from davportal.core.atomic import BLOCKS_IN_FLIGHT, AtomicUpload
from davportal.core.errors import TooLarge
from davportal.core.models import AuditEvent, Document
from davportal.core.name_lock import STRIPES
from provisioning import accounts
from tests.conftest import PASSWORD, TEAM
from tests.test_query_counts import StatementCounter

MIB = 1024 * 1024
CONTACTS_QUERY = "JOIN membership ON membership.login = account.login"


def _is_login_read(statement: str) -> bool:
    # The login's own row: a per-node login cache takes it off warm requests.
    return statement.lstrip().startswith("SELECT account.login, ")


class Transactions(StatementCounter):
    """Statements, with COMMIT where a transaction ended."""

    def __enter__(self):
        event.listen(self.engine, "commit", self._commit)
        return super().__enter__()

    def __exit__(self, *exc):
        event.remove(self.engine, "commit", self._commit)
        return super().__exit__(*exc)

    def _commit(self, conn):
        self.statements.append("COMMIT")

    def writes(self) -> list[str]:
        """INSERTs, UPDATEs, DELETEs and COMMITs, as the table they write (or COMMIT)."""
        kept = []
        for statement in self.statements:
            words = statement.split()
            if words[0] in ("INSERT", "UPDATE", "DELETE"):
                kept.append(words[2] if words[0] != "UPDATE" else words[1])
            elif words[0] == "COMMIT":
                kept.append("COMMIT")
        return kept


def _folder_of(firm, size: int) -> str:
    """A private folder of `size` files (put there directly: only their number matters)."""
    folder = f"Counted {size} {uuid.uuid4().hex[:6]}"
    assert firm.as_user("sam").request("MKCOL", f"/acme/{folder}/").status_code == 201
    disk = firm.portal.storage.root / "acme" / folder
    for i in range(size):
        (disk / f"file{i:04}.txt").write_bytes(b"x")
    return folder


def _put_statements(firm, folder: str) -> list[str]:
    sam = firm.as_user("sam")
    assert sam.put(f"/acme/{folder}/warm.txt", b"warm").status_code == 201  # the password verified once
    with StatementCounter(firm.portal.engine) as counter:
        assert sam.put(f"/acme/{folder}/new.txt", b"x" * 10240).status_code == 201
    return [s for s in counter.statements if not _is_login_read(s)]


def test_a_put_runs_the_same_statements_whatever_the_folder_holds(firm):
    small, large = _put_statements(firm, _folder_of(firm, 3)), _put_statements(firm, _folder_of(firm, 300))
    assert len(small) == len(large), (small, large)
    # The WebDAV locks WsgiDAV looks up (twice), the name's lock on PostgreSQL, the record (one
    # upsert) and the audit event: nothing per entry of the folder, no contact in a private folder.
    assert len(large) <= 5, large
    assert not [s for s in large if CONTACTS_QUERY in s]


def test_record_audit_event_and_notices_commit_together(firm):
    with firm.portal.sessions.begin() as session:
        accounts.add_contact(session, f"erin-{uuid.uuid4().hex[:6]}", client_id="acme", password=PASSWORD,
                             email="erin@clients.example")  # fmt: skip
    sam = firm.as_user("sam")
    path = f"/acme/{TEAM}/together-{uuid.uuid4().hex[:6]}.pdf"
    assert sam.put(f"/acme/{TEAM}/warm-{uuid.uuid4().hex[:6]}.pdf", b"warm").status_code == 201
    with Transactions(firm.portal.engine) as counter:
        assert sam.put(path, b"%PDF for the client").status_code == 201
    assert [s for s in counter.statements if CONTACTS_QUERY in s]  # where contacts read, they are looked up
    writes = counter.writes()
    first = writes.index("document")
    # One transaction from the record to its commit, with the audit event and the notice in it;
    # nothing written after it.
    assert writes[first:] == ["document", "notice", "audit_event", "COMMIT"], writes
    with firm.portal.sessions() as session:
        events = session.scalars(select(AuditEvent).where(AuditEvent.path == path.split("/", 2)[2])).all()
        assert [(e.action, e.status) for e in events] == [("PUT", 201)]  # written once, with its outcome


def test_an_upload_refused_late_is_audited_with_its_refusal(firm):
    """The event goes with the change only when the change commits; else the trail writes it."""
    sam, name = firm.as_user("sam"), f"late-{uuid.uuid4().hex[:6]}.txt"
    folder = firm.portal.storage.root / "acme" / TEAM
    (folder / name.upper()).write_bytes(b"put there meanwhile")  # a case twin, from outside the portal
    assert sam.put(f"/acme/{TEAM}/{name}", b"mine").status_code == 409
    with firm.portal.sessions() as session:
        statuses = session.scalars(select(AuditEvent.status).where(AuditEvent.path == f"{TEAM}/{name}")).all()
        assert statuses == [409]
        assert session.get(Document, ("acme", f"{TEAM}/{name}")) is None


@pytest.fixture
def listings(monkeypatch):
    """Folders listed (os.listdir or os.scandir) while the test runs."""
    listed: list[Path] = []
    listdir, scandir = os.listdir, os.scandir

    def counting_listdir(path="."):
        listed.append(Path(path))
        return listdir(path)

    def counting_scandir(path="."):
        listed.append(Path(path))
        return scandir(path)

    monkeypatch.setattr(os, "listdir", counting_listdir)
    monkeypatch.setattr(os, "scandir", counting_scandir)
    return listed


def test_a_new_name_is_checked_for_case_twins_once_and_an_overwrite_not_at_all(firm, listings):
    sam, folder = firm.as_user("sam"), _folder_of(firm, 30)
    disk = firm.portal.storage.root / "acme" / folder
    assert sam.put(f"/acme/{folder}/Minutes.txt", b"m").status_code == 201
    assert listings.count(disk) == 1  # under the name's lock, where it counts; not at the gate too
    assert sam.put(f"/acme/{folder}/Minutes.txt", b"m2").status_code == 204
    assert listings.count(disk) == 1  # the name is taken: there is no twin to look for
    assert sam.put(f"/acme/{folder}/FILE0001.txt", b"twin").status_code == 409
    assert listings.count(disk) == 2


def _apart(firm, folder: str, count: int) -> list[str]:
    """Names whose name locks are distinct (on SQLite, distinct lock files): none waits for another."""
    names, stripes = [], set()
    while len(names) < count:
        name = f"flush-{uuid.uuid4().hex[:8]}.txt"
        key = hashlib.blake2b(f"acme/{folder}/{name}".casefold().encode(), digest_size=8).digest()
        if (stripe := int.from_bytes(key, "big") % STRIPES) not in stripes:
            stripes.add(stripe)
            names.append(name)
    return names


def test_concurrent_uploads_into_one_folder_share_its_flush(firm, monkeypatch):
    uploads = 4
    folder = _folder_of(firm, 0)
    disk = firm.portal.storage.root / "acme" / folder
    flushed: list[Path] = []
    flush_folder, wait = atomic.flush_folder, atomic.FOLDER_FLUSHES.wait
    renamed = threading.Barrier(uploads, timeout=60)

    def counting_flush(path):
        flushed.append(Path(path))
        flush_folder(path)

    def wait_for_all(path, ticket):
        if Path(path) == disk:
            renamed.wait()  # every upload has renamed its file into place: then the first flush starts
        wait(path, ticket)

    monkeypatch.setattr(atomic, "flush_folder", counting_flush)
    monkeypatch.setattr(atomic.FOLDER_FLUSHES, "wait", wait_for_all)
    names = _apart(firm, folder, uploads)
    with ThreadPoolExecutor(uploads) as pool:
        statuses = list(pool.map(lambda name: firm.as_user("sam").put(f"/acme/{folder}/{name}", b"x").status_code,
                                 names))  # fmt: skip
    assert statuses == [201] * uploads
    assert flushed.count(disk) == 1  # one flush, begun after every rename, covers them all
    assert sorted(p.name for p in disk.iterdir()) == sorted(names)


def test_a_flush_that_began_before_a_change_does_not_cover_it(tmp_path, monkeypatch):
    flushes = atomic.FolderFlushes()
    started, release = threading.Event(), threading.Event()
    flushed: list[int] = []
    flush_folder = atomic.flush_folder

    def slow_flush(path):
        flushed.append(len(flushed))
        if len(flushed) == 1:
            started.set()
            assert release.wait(60)
        flush_folder(path)

    monkeypatch.setattr(atomic, "flush_folder", slow_flush)
    first = threading.Thread(target=lambda: flushes.wait(tmp_path, flushes.changed(tmp_path)))
    first.start()
    assert started.wait(60)
    second = flushes.changed(tmp_path)  # made while the first flush runs: it needs one of its own
    release.set()
    flushes.wait(tmp_path, second)
    first.join()
    assert len(flushed) == 2


def _blocks(count: int) -> list[bytes]:
    return [os.urandom(MIB) for _ in range(count)]


def test_a_large_upload_is_hashed_and_written_whole_beside_its_target(tmp_path):
    blocks = _blocks(BLOCKS_IN_FLIGHT * 5)
    upload = AtomicUpload(tmp_path / "big.pdf", max_bytes=len(blocks) * MIB)
    upload.writelines(blocks)
    upload.commit(exclusive=True)
    whole = b"".join(blocks)
    assert (tmp_path / "big.pdf").read_bytes() == whole
    assert upload.digests == (hashlib.sha1(whole).hexdigest(), hashlib.md5(whole).hexdigest())
    assert [p.name for p in tmp_path.iterdir()] == ["big.pdf"]


def test_a_large_upload_past_the_limit_leaves_nothing(tmp_path):
    upload = AtomicUpload(tmp_path / "big.pdf", max_bytes=3 * MIB - 1)
    with pytest.raises(TooLarge):
        upload.writelines(_blocks(3))
    upload.discard()
    assert list(tmp_path.iterdir()) == []


def test_a_write_failing_in_the_background_fails_the_upload(tmp_path, monkeypatch):
    monkeypatch.setattr(atomic, "PIPELINES", threading.BoundedSemaphore(1))  # a free slot: the thread runs
    upload = AtomicUpload(tmp_path / "big.pdf", max_bytes=100 * MIB)
    upload.write(b"x" * MIB)  # the first block is stored at once; the rest by the upload's thread

    def full(data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(upload, "_store", full)
    with pytest.raises(OSError, match="No space"):
        for index, block in enumerate(_blocks(BLOCKS_IN_FLIGHT + 3)):
            upload.write(block)
            if index == 0:
                assert upload._writer is not None  # stored by the upload's own thread, not this one
        upload.close()
    upload.discard()
    assert list(tmp_path.iterdir()) == []
