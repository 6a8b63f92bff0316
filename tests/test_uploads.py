"""Uploads that lose nothing: size and type limits, atomic replacement, crash leftovers."""

from __future__ import annotations

import os
import time
from urllib.parse import quote

import pytest

from davportal.services.portal import CHANGES_MARK
from tests.conftest import CLIENT, TEAM, basic_auth, raw_http

LIMIT = 4096


@pytest.fixture
def portal(fresh_portal):
    running = fresh_portal(uploads={"max_bytes": LIMIT})
    running.add_staff("sam")
    running.add_client("acme")
    running.add_contact("alice", "acme")
    return running


def _leftovers(running) -> list[str]:
    """The portal's own files left in the storage, but for the marks of changes, which stay."""
    return [name for _, _, files in os.walk(running.portal.storage.root) for name in files
            if name.startswith(".davportal-") and not name.startswith(CHANGES_MARK)]  # fmt: skip


def _put_head(path: str, login: str, extra: str) -> bytes:
    return (f"PUT {quote(path)} HTTP/1.1\r\nHost: test\r\nAuthorization: {basic_auth(login)}\r\n{extra}\r\n").encode()


def test_exactly_the_limit_is_accepted_and_one_byte_more_refused(portal):
    alice = portal.as_user("alice")
    assert alice.put(f"/acme/{CLIENT}/exact.pdf", b"x" * LIMIT).status_code == 201
    response = alice.put(f"/acme/{CLIENT}/over.pdf", b"x" * (LIMIT + 1))
    assert response.status_code == 413
    assert f"{LIMIT:,} bytes" in response.text
    assert alice.request("HEAD", f"/acme/{CLIENT}/over.pdf").status_code == 404


def test_too_large_is_refused_before_the_body_is_read(portal):
    # Announce 10 GB and send none of it: the answer comes at once, and the connection closes.
    status, headers, body = raw_http(
        portal.url, _put_head(f"/acme/{CLIENT}/huge.pdf", "alice", "Content-Length: 10000000000\r\n")
    )
    assert status == 413
    assert headers.get("connection", "").lower() == "close"
    assert b"larger than the limit" in body


def test_chunked_upload_over_the_limit_stops_and_leaves_nothing(portal):
    alice = portal.as_user("alice")
    path = f"/acme/{CLIENT}/report.pdf"
    assert alice.put(path, b"version 1").status_code == 201
    chunk = b"y" * 1000
    body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(6)) + b"0\r\n\r\n"
    status, _, text = raw_http(portal.url, _put_head(path, "alice", "Transfer-Encoding: chunked\r\n"),
                               body_after=body)  # fmt: skip
    assert status == 413, text
    assert alice.request("GET", path).content == b"version 1"
    assert _leftovers(portal) == []


def test_finder_style_chunked_upload_with_expected_length_is_checked_first(portal):
    status, _, _ = raw_http(
        portal.url,
        _put_head(
            f"/acme/{CLIENT}/movie.mov",
            "alice",
            f"Transfer-Encoding: chunked\r\nX-Expected-Entity-Length: {LIMIT + 1}\r\n",
        ),  # fmt: skip
    )
    assert status == 413


def test_chunked_upload_within_the_limit_is_stored(portal):
    body = b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
    status, _, _ = raw_http(portal.url, _put_head(f"/acme/{CLIENT}/hello.txt", "alice",
                                                  "Transfer-Encoding: chunked\r\n"), body_after=body)  # fmt: skip
    assert status == 201
    assert portal.as_user("sam").request("GET", f"/acme/{CLIENT}/hello.txt").content == b"hello world"


def test_interrupted_upload_keeps_the_previous_version(portal):
    sam = portal.as_user("sam")
    path = f"/acme/{TEAM}/contract.pdf"
    assert sam.put(path, b"signed version").status_code == 201
    raw_http(portal.url, _put_head(path, "sam", "Content-Length: 3000\r\n"), body_after=b"z" * 1000,
             close_early=True)  # fmt: skip
    assert sam.request("GET", path).content == b"signed version"
    assert _leftovers(portal) == []
    assert portal.as_user("sam").names(f"/acme/{TEAM}/") == {"contract.pdf"}


def test_a_new_file_cut_short_never_appears(portal):
    path = f"/acme/{TEAM}/new.pdf"
    raw_http(portal.url, _put_head(path, "sam", "Content-Length: 3000\r\n"), body_after=b"z" * 10,
             close_early=True)  # fmt: skip
    assert portal.as_user("sam").request("HEAD", path).status_code == 404
    assert _leftovers(portal) == []


@pytest.mark.parametrize("name, expected", [
    ("scan.PDF", 201), ("photo.JpG", 201), ("notes.txt", 201),
    ("setup.exe", 415), ("archive.tar.gz", 415), ("README", 415),
    (".DS_Store", 201), ("._report.pdf", 201), ("~$letter.docx", 201), ("~WRL0001.tmp", 201),
    ("Thumbs.db", 201), ("desktop.ini", 201),
])  # fmt: skip
def test_file_types(portal, name, expected):
    response = portal.as_user("alice").put(f"/acme/{CLIENT}/{name}", b"data")
    assert response.status_code == expected, response.text
    if expected == 415:
        assert "Allowed types: jpg, jpeg" in response.text
        assert ("'.exe'" in response.text) == name.endswith(".exe")


def test_star_accepts_any_type(fresh_portal):
    running = fresh_portal(uploads={"allowed_extensions": ["*"]})
    running.add_staff("sam")
    running.add_client("acme")
    assert running.as_user("sam").put("/acme/Matter/", b"").status_code in (201, 204, 405, 409)
    assert running.as_user("sam").put("/acme/setup.exe", b"MZ").status_code == 201


@pytest.mark.parametrize("method", ["COPY", "MOVE"])
def test_renaming_to_a_refused_type_is_refused(portal, method):
    alice = portal.as_user("alice")
    assert alice.put(f"/acme/{CLIENT}/invoice.pdf", b"pdf").status_code == 201
    response = alice.request(method, f"/acme/{CLIENT}/invoice.pdf",
                             headers={"Destination": alice.url(f"/acme/{CLIENT}/invoice.exe")})  # fmt: skip
    assert response.status_code == 415


@pytest.mark.parametrize("name", ["a:b.pdf", "what?.pdf", "x|y.pdf", "trailing.pdf.", ".davportal-x.pdf"])
def test_names_no_client_could_store_are_refused(portal, name):
    response = portal.as_user("alice").put(f"/acme/{CLIENT}/{name}", b"data")
    assert response.status_code == 400
    assert response.text.strip()


def test_stale_partial_uploads_are_removed_at_start(fresh_portal, tmp_path):
    folder = tmp_path / "storage" / "acme" / TEAM
    folder.mkdir(parents=True)
    stale = folder / ".davportal-0123456789abcdef.part"
    stale.write_bytes(b"half an upload")
    os.utime(stale, (time.time() - 3600, time.time() - 3600))
    in_flight = folder / ".davportal-fedcba9876543210.part"
    in_flight.write_bytes(b"still arriving on another node")
    fresh_portal()
    assert not stale.exists()
    assert in_flight.exists()


def test_partial_uploads_are_never_listed_or_served(portal):
    folder = portal.portal.storage.path_of(("acme", TEAM))
    (folder / ".davportal-0000000000000000.part").write_bytes(b"partial")
    sam = portal.as_user("sam")
    assert ".davportal-0000000000000000.part" not in sam.propfind(f"/acme/{TEAM}/").text
    assert sam.request("GET", f"/acme/{TEAM}/.davportal-0000000000000000.part").status_code == 404


def test_a_declared_checksum_that_does_not_match_keeps_the_previous_version(portal):
    import hashlib

    alice = portal.as_user("alice")
    path = f"/acme/{CLIENT}/checked.pdf"
    assert alice.put(path, b"version 1").status_code == 201
    good = hashlib.sha1(b"version 2").hexdigest()
    assert alice.put(path, b"version 2", headers={"OC-Checksum": f"SHA1:{good}"}).status_code == 204
    response = alice.put(path, b"version 3", headers={"OC-Checksum": f"SHA1:{good}"})
    assert response.status_code == 400 and "checksum does not match" in response.text
    assert alice.request("GET", path).content == b"version 2"
    assert _leftovers(portal) == []
