"""Windows Explorer's mini-redirector and Microsoft Office, reproduced request by request."""

from __future__ import annotations

import re
import uuid

import pytest

from tests.conftest import CLIENT, TEAM

EXPLORER = {"User-Agent": "Microsoft-WebDAV-MiniRedir/10.0.19045"}
WORD = {"User-Agent": "Microsoft Office Word 2014"}
LOCK_BODY = (
    "<?xml version='1.0' encoding='utf-8'?><D:lockinfo xmlns:D='DAV:'><D:lockscope><D:exclusive/>"
    "</D:lockscope><D:locktype><D:write/></D:locktype><D:owner><D:href>CONTOSO\\sam</D:href></D:owner>"
    "</D:lockinfo>"
)
WIN32_PROPS = (
    "<?xml version='1.0' encoding='utf-8'?><D:propertyupdate xmlns:D='DAV:' "
    "xmlns:Z='urn:schemas-microsoft-com:'><D:set><D:prop>"
    "<Z:Win32CreationTime>Tue, 14 Nov 2023 22:13:20 GMT</Z:Win32CreationTime>"
    "<Z:Win32LastAccessTime>Tue, 14 Nov 2023 22:13:20 GMT</Z:Win32LastAccessTime>"
    "<Z:Win32LastModifiedTime>Tue, 14 Nov 2023 22:13:20 GMT</Z:Win32LastModifiedTime>"
    "<Z:Win32FileAttributes>00000020</Z:Win32FileAttributes>"
    "</D:prop></D:set></D:propertyupdate>"
)


@pytest.fixture
def folder(firm):
    path = f"/acme/{TEAM}/office-{uuid.uuid4().hex[:6]}/"
    assert firm.as_user("sam").request("MKCOL", path).status_code == 201
    return path


def test_options_on_the_root_as_windows_expects(firm):
    response = firm.as_user("sam").request("OPTIONS", "/", headers=EXPLORER)
    assert response.status_code == 200
    assert response.headers["DAV"].replace(" ", "") == "1,2"
    assert response.headers["MS-Author-Via"] == "DAV"
    allow = {m.strip() for m in response.headers["Allow"].split(",")}
    assert {"OPTIONS", "GET", "HEAD", "PROPFIND", "PROPPATCH", "LOCK", "UNLOCK", "DELETE", "MOVE", "COPY"} <= allow


def test_explorer_copy_sets_win32_times(firm, folder):
    sam = firm.as_user("sam")
    assert sam.put(folder + "Scan.pdf", b"%PDF scan", headers=EXPLORER).status_code == 201
    response = sam.request("PROPPATCH", folder + "Scan.pdf", data=WIN32_PROPS, headers=EXPLORER)
    assert response.status_code == 207
    assert response.text.count("200 OK") >= 1 and "403" not in response.text and "409" not in response.text
    listing = sam.propfind(folder + "Scan.pdf", "0").text
    assert "14 Nov 2023 22:13:20 GMT" in listing  # the copied file keeps its time


def test_lock_refresh_and_unlock(firm, folder):
    sam = firm.as_user("sam")
    sam.put(folder + "Plan.docx", b"v1")
    lock = sam.request("LOCK", folder + "Plan.docx", data=LOCK_BODY, headers={**WORD, "Timeout": "Second-3600"})
    assert lock.status_code == 200
    token = lock.headers["Lock-Token"]
    refresh = sam.request("LOCK", folder + "Plan.docx", headers={**WORD, "If": f"({token})", "Timeout": "Second-3600"})
    assert refresh.status_code == 200
    assert sam.put(folder + "Plan.docx", b"no token").status_code == 423
    assert sam.put(folder + "Plan.docx", b"v2", headers={"If": f"({token})"}).status_code == 204
    assert sam.request("UNLOCK", folder + "Plan.docx", headers={"Lock-Token": token}).status_code == 204


def test_infinite_lock_timeouts_are_capped(firm, folder):
    sam = firm.as_user("sam")
    sam.put(folder + "Forever.docx", b"v1")
    lock = sam.request("LOCK", folder + "Forever.docx", data=LOCK_BODY, headers={"Timeout": "Infinite"})
    assert lock.status_code == 200
    granted = re.search(r"<D:timeout>Second-(\d+)</D:timeout>", lock.text)
    assert granted and int(granted.group(1)) <= 3600 and "Infinite" not in lock.text


def test_word_save_sequence_in_team_shared(firm, folder):
    """Word: lock, owner file, write a temp, rename it over the original, delete the owner file."""
    sam, alice = firm.as_user("sam"), firm.as_user("alice")
    doc, owner, temp = folder + "Report.docx", folder + "~$Report.docx", folder + "~WRL0001.tmp"
    assert sam.put(doc, b"version 1").status_code == 201

    def client_sees():
        assert alice.names(folder) == {"Report.docx"}
        assert alice.request("GET", owner).status_code == 404
        assert alice.request("GET", temp).status_code == 404

    token = sam.request("LOCK", doc, data=LOCK_BODY, headers={**WORD, "Timeout": "Second-180"}).headers["Lock-Token"]
    assert sam.put(owner, b"\x05sam" + b"\0" * 157, headers=WORD).status_code == 201
    client_sees()
    assert sam.put(temp, b"version 2", headers=WORD).status_code == 201
    client_sees()
    moved = sam.request("MOVE", temp, headers={**WORD, "Destination": sam.url(doc), "Overwrite": "T",
                                               "If": f"<{sam.url(doc)}> ({token})"})  # fmt: skip
    assert moved.status_code == 204, moved.text
    client_sees()
    assert sam.request("DELETE", owner, headers=WORD).status_code == 204
    client_sees()
    assert alice.request("GET", doc).content == b"version 2"
    assert sam.names(folder) == {"Report.docx"}


def test_contact_saves_in_clients_shared_with_office(firm):
    alice, sam = firm.as_user("alice"), firm.as_user("sam")
    folder = f"/acme/{CLIENT}/word-{uuid.uuid4().hex[:6]}/"
    assert alice.request("MKCOL", folder).status_code == 201
    assert alice.put(folder + "Letter.docx", b"v1").status_code == 201
    token = alice.request("LOCK", folder + "Letter.docx", data=LOCK_BODY).headers["Lock-Token"]
    assert alice.put(folder + "~$Letter.docx", b"owner").status_code == 201
    assert alice.put(folder + "~WRL0001.tmp", b"v2").status_code == 201
    assert sam.names(folder) == {"Letter.docx"}
    letter = alice.url(folder + "Letter.docx")
    moved = alice.request("MOVE", folder + "~WRL0001.tmp", headers={
        "Destination": letter, "Overwrite": "T", "If": f"<{letter}> ({token})"})  # fmt: skip
    assert moved.status_code == 204, moved.text
    assert alice.request("DELETE", folder + "~$Letter.docx").status_code == 204
    assert sam.request("GET", folder + "Letter.docx").content == b"v2"
