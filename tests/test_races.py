"""Two requests at once never lose a document, answer 500, or leave a record that lies.

Each race is run through a real server with real HTTP: an upload held halfway (its body stops
until the test lets it go, once the server has begun writing it) while another request runs,
or several requests released together by a barrier.
"""

from __future__ import annotations

import hashlib
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote, urlsplit

from lxml import etree
from sqlalchemy import select

from davportal.core.models import Document, Version
from tests.conftest import CLIENT, TEAM, basic_auth, portal_config, seed_firm, start_portal

OC = "{http://owncloud.org/ns}"


def wait_until(condition, what: str, seconds: float = 60) -> None:
    """Poll for a state (never a fixed sleep): generous, so a busy machine only makes it slower."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


class HeldUpload:
    """A PUT whose body stops halfway until `finish()`: a real upload with a pause in the middle."""

    def __init__(self, firm, login: str, path: str, body: bytes, folder: Path):
        url = urlsplit(firm.url)
        self.body, self.half = body, len(body) // 2
        self.sock = socket.create_connection((url.hostname, url.port), timeout=60)
        head = (f"PUT {quote(path)} HTTP/1.1\r\nHost: {url.netloc}\r\nAuthorization: {basic_auth(login)}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n")  # fmt: skip
        before = _partials(folder)
        self.sock.sendall(head.encode() + body[: self.half])
        # The server has passed the gate and is writing: its temporary file is there.
        wait_until(lambda: _partials(folder) - before, "the upload to begin")

    def finish(self) -> tuple[int, str]:
        self.sock.sendall(self.body[self.half :])
        data = b""
        while chunk := self.sock.recv(65536):
            data += chunk
        self.sock.close()
        head, _, rest = data.partition(b"\r\n\r\n")
        return int(head.split()[1]), rest.decode("utf-8", "replace")


def _partials(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir() if p.name.startswith(".davportal-") and p.name.endswith(".part")}


def _record(firm, client_id: str, path: str) -> Document | None:
    with firm.portal.sessions() as session:
        return session.scalars(select(Document).where(Document.client_id == client_id, Document.path == path)).first()


def _versions(firm, client_id: str, path: str) -> list[Version]:
    with firm.portal.sessions() as session:
        return list(session.scalars(select(Version).where(Version.client_id == client_id, Version.path == path)))


def _sha1(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


def test_two_contacts_uploading_one_new_name_neither_loses_their_file(firm):
    """Contact A's slow upload and contact B's quick one of the same new name: B's file stays."""
    folder = firm.portal.storage.root / "acme" / CLIENT
    path = f"/acme/{CLIENT}/Passport.pdf"
    held = HeldUpload(firm, "alice", path, b"A" * 200_000, folder)
    carol = firm.as_user("carol")
    assert carol.put(path, b"carol's passport").status_code == 201
    assert carol.request("GET", path).content == b"carol's passport"

    status, reason = held.finish()

    assert status == 412, reason
    assert "Passport.pdf" in reason and "was saved by someone else while yours was arriving" in reason
    assert (folder / "Passport.pdf").read_bytes() == b"carol's passport"
    record = _record(firm, "acme", f"{CLIENT}/Passport.pdf")
    assert record is not None and record.uploaded_by == "carol" and record.sha1 == _sha1(b"carol's passport")
    assert not _partials(folder)
    assert carol.request("DELETE", path).status_code == 204  # still hers to delete


def test_two_staff_uploading_one_new_name_the_record_describes_the_bytes(firm):
    folder = firm.portal.storage.root / "acme" / TEAM
    path = f"/acme/{TEAM}/Engagement letter.pdf"
    firm.add_staff("tess")
    held = HeldUpload(firm, "sam", path, b"S" * 100_000, folder)
    assert firm.as_user("tess").put(path, b"tess's letter").status_code == 201

    status, _ = held.finish()

    assert status == 412
    record = _record(firm, "acme", f"{TEAM}/Engagement letter.pdf")
    assert record is not None and record.uploaded_by == "tess"
    assert record.sha1 == _sha1((folder / "Engagement letter.pdf").read_bytes())


def test_an_overwrite_held_halfway_keeps_the_other_save_as_a_version(firm):
    """Staff overwrite a file while another overwrite is arriving: both saves are kept."""
    folder = firm.portal.storage.root / "acme" / TEAM
    path = f"/acme/{TEAM}/Budget.xlsx"
    sam = firm.as_user("sam")
    assert sam.put(path, b"first").status_code == 201
    held = HeldUpload(firm, "sam", path, b"slow save " * 10_000, folder)
    assert sam.put(path, b"quick save").status_code == 204

    status, _ = held.finish()

    assert status == 204
    assert (folder / "Budget.xlsx").read_bytes() == b"slow save " * 10_000
    kept = {v.sha1 for v in _versions(firm, "acme", f"{TEAM}/Budget.xlsx")}
    assert kept == {_sha1(b"first"), _sha1(b"quick save")}


def _served_sha1(dav, path: str) -> str:
    body = (f"<?xml version='1.0'?><d:propfind xmlns:d='DAV:' xmlns:oc='{OC[1:-1]}'><d:prop><oc:checksums/>"
            "</d:prop></d:propfind>")  # fmt: skip
    response = dav.request("PROPFIND", path, data=body, headers={"Depth": "0"})
    assert response.status_code == 207, response.text
    text = etree.fromstring(response.content).findtext(f".//{OC}checksum")
    return text.split()[0].removeprefix("SHA1:")


def _together(*calls):
    """Run the calls at the same moment (released by a barrier); their results, in order."""
    barrier = threading.Barrier(len(calls))

    def run(call):
        barrier.wait()
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def test_simultaneous_overwrites_serve_checksums_of_the_bytes_on_disk(firm):
    sam, folder = firm.as_user("sam"), firm.portal.storage.root / "acme" / TEAM
    for n in range(15):
        path = f"/acme/{TEAM}/Put{n}.txt"
        assert sam.put(path, b"original").status_code == 201
        statuses = _together(*(lambda i=i, path=path: firm.as_user("sam").put(path, f"writer {i}\n".encode() * 5000)
                               .status_code for i in range(2)))  # fmt: skip
        assert statuses == [204, 204]
        on_disk = (folder / f"Put{n}.txt").read_bytes()
        assert _served_sha1(sam, path) == _sha1(on_disk)
        assert len(_versions(firm, "acme", f"{TEAM}/Put{n}.txt")) == 2  # the original and the first save


def test_names_differing_only_in_case_cannot_both_be_created_at_once(firm):
    folder = firm.portal.storage.root / "acme" / TEAM
    for n in range(15):
        names = [f"Twin{n}.txt", f"twin{n}.txt"]
        statuses = _together(*(lambda name=name: firm.as_user("sam").put(f"/acme/{TEAM}/{name}", b"x").status_code
                               for name in names))  # fmt: skip
        assert sorted(statuses) == [201, 409], statuses
        assert len([p for p in folder.iterdir() if p.name.casefold() == f"twin{n}.txt"]) == 1


def test_simultaneous_folder_creations_make_one_folder_and_no_error(firm):
    for n in range(10):
        path = f"/acme/{TEAM}/Scans {n}/"
        statuses = _together(*(lambda path=path: firm.as_user("sam").request("MKCOL", path).status_code
                               for _ in range(8)))  # fmt: skip
        assert sorted(statuses) == [201] + [405] * 7, statuses


def test_listing_a_folder_while_files_are_deleted_from_it_never_fails(firm):
    sam = firm.as_user("sam")
    sam.request("MKCOL", f"/acme/{TEAM}/Churn/")
    names = [f"file {i}.txt" for i in range(150)]
    for name in names:
        assert sam.put(f"/acme/{TEAM}/Churn/{name}", b"x").status_code == 201
    done = threading.Event()
    failures = []

    def delete_all():
        deleter = firm.as_user("sam")
        for name in names:
            deleter.request("DELETE", f"/acme/{TEAM}/Churn/{name}")
        done.set()

    thread = threading.Thread(target=delete_all)
    thread.start()
    lister = firm.as_user("alice")
    listings = 0
    while not done.is_set() or listings == 0:
        response = lister.propfind(f"/acme/{TEAM}/Churn/")
        listings += 1
        if response.status_code != 207:
            failures.append(response.status_code)
    thread.join()
    assert not failures


def test_two_nodes_sharing_database_and_storage_hold_the_name_between_them(fresh_database_url, tmp_path):
    """The same race, the held upload on one node and the quick one on another."""
    config = portal_config(fresh_database_url, tmp_path / "storage")
    first = seed_firm(start_portal(config))
    second = start_portal(config)
    try:
        folder = first.portal.storage.root / "acme" / CLIENT
        path = f"/acme/{CLIENT}/Tax papers.pdf"
        held = HeldUpload(first, "alice", path, b"A" * 100_000, folder)
        assert second.as_user("carol").put(path, b"carol's papers").status_code == 201
        status, _ = held.finish()
        assert status == 412
        assert (folder / "Tax papers.pdf").read_bytes() == b"carol's papers"
        record = _record(first, "acme", f"{CLIENT}/Tax papers.pdf")
        assert record is not None and record.uploaded_by == "carol"
    finally:
        for node in (first, second):
            node.server.stop()
            node.portal.engine.dispose()


def test_a_burst_of_new_connections_is_queued_not_reset(firm):
    """Thirty clients connecting at the same moment, five uploads each: every connection is
    accepted (the listen queue holds them), none is reset."""
    sam = firm.as_user("sam")
    assert sam.request("MKCOL", f"/acme/{TEAM}/Burst/").status_code == 201

    def client(i):
        dav = firm.as_user("sam")  # a connection of its own, opened at the barrier
        return [dav.put(f"/acme/{TEAM}/Burst/{i}-{n}.txt", b"x").status_code for n in range(5)]

    results = _together(*(lambda i=i: client(i) for i in range(30)))
    assert [status for statuses in results for status in statuses] == [201] * 150
