"""The portal through a WebDAV client library (webdavclient3), as a contact and as staff."""

from __future__ import annotations

import pytest
from webdav3.client import Client
from webdav3.exceptions import ResponseErrorCode

from tests.conftest import CLIENT, PASSWORD, TEAM


def _client(firm, login: str) -> Client:
    return Client({"webdav_hostname": firm.url, "webdav_login": login, "webdav_password": PASSWORD,
                   "disable_check": True})  # fmt: skip


def test_contact_round_trip(firm, tmp_path):
    alice = _client(firm, "alice")
    assert [p.rstrip("/") for p in alice.list("/")] == ["acme"]
    assert sorted(p.rstrip("/") for p in alice.list("/acme/")) == [CLIENT, TEAM]
    source = tmp_path / "Tax return 2025.pdf"
    source.write_bytes(b"%PDF-1.4 tax return\n" * 1000)
    alice.upload_sync(remote_path=f"/acme/{CLIENT}/{source.name}", local_path=str(source))
    back = tmp_path / "back.pdf"
    alice.download_sync(remote_path=f"/acme/{CLIENT}/{source.name}", local_path=str(back))
    assert back.read_bytes() == source.read_bytes()
    info = alice.info(f"/acme/{CLIENT}/{source.name}")
    assert int(info["size"]) == source.stat().st_size


def test_contact_cannot_upload_into_team_shared(firm, tmp_path):
    source = tmp_path / "note.txt"
    source.write_bytes(b"hello")
    with pytest.raises(ResponseErrorCode) as refused:
        _client(firm, "alice").upload_sync(remote_path=f"/acme/{TEAM}/note.txt", local_path=str(source))
    assert refused.value.code == 403


def test_staff_works_in_a_private_folder(firm, tmp_path):
    sam = _client(firm, "sam")
    sam.mkdir("/acme/Correspondence/")
    source = tmp_path / "Letter.docx"
    source.write_bytes(b"PK\x03\x04 letter")
    sam.upload_sync(remote_path="/acme/Correspondence/Letter.docx", local_path=str(source))
    sam.copy("/acme/Correspondence/Letter.docx", f"/acme/{TEAM}/Letter.docx")
    assert "Letter.docx" in [p.rstrip("/") for p in _client(firm, "alice").list(f"/acme/{TEAM}/")]
    assert "Correspondence/" in sam.list("/acme/")
    checker = Client({"webdav_hostname": firm.url, "webdav_login": "alice", "webdav_password": PASSWORD})
    assert not checker.check("/acme/Correspondence/")
