"""macOS Finder, reproduced: chunked uploads, AppleDouble files, NFD names, LOCK to mount read-write."""

from __future__ import annotations

import unicodedata
import uuid
from urllib.parse import quote

from tests.conftest import CLIENT, TEAM, basic_auth, raw_http

FINDER = "WebDAVFS/3.0.0 (03008000) Darwin/22.6.0 (x86_64)"
LOCK_BODY = (
    "<?xml version='1.0' encoding='utf-8'?><D:lockinfo xmlns:D='DAV:'><D:lockscope><D:exclusive/>"
    "</D:lockscope><D:locktype><D:write/></D:locktype><D:owner><D:href>http://www.apple.com/webdav_fs/"
    "</D:href></D:owner></D:lockinfo>"
)


def _finder_put(firm, login: str, path: str, content: bytes, lock_token: str) -> int:
    """Finder streams the file chunked, with its size in X-Expected-Entity-Length only."""
    chunks = [content[i : i + 1000] for i in range(0, len(content), 1000)]
    body = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"
    head = (
        f"PUT {quote(path)} HTTP/1.1\r\nHost: t\r\nUser-Agent: {FINDER}\r\n"
        f"Authorization: {basic_auth(login)}\r\nTransfer-Encoding: chunked\r\n"
        f"X-Expected-Entity-Length: {len(content)}\r\nIf: ({lock_token})\r\n\r\n"
    ).encode()
    status, _, _ = raw_http(firm.url, head, body_after=body)
    return status


def test_finder_copies_a_file_into_clients_shared(firm):
    alice, sam = firm.as_user("alice"), firm.as_user("sam")
    folder = f"/acme/{CLIENT}/finder-{uuid.uuid4().hex[:6]}/"
    name = unicodedata.normalize("NFD", "Bilan émis.pdf")  # as macOS sends it
    assert alice.request("MKCOL", folder, headers={"User-Agent": FINDER}).status_code == 201
    # 1. the AppleDouble companion, 2. LOCK creates the file, 3. the bytes, chunked, 4. UNLOCK
    apple_double = alice.put(folder + "._" + name, b"\x00\x05\x16\x07appledouble", headers={"User-Agent": FINDER})
    assert apple_double.status_code == 201
    lock = alice.request("LOCK", folder + name, data=LOCK_BODY, headers={"User-Agent": FINDER, "Timeout": "Second-600"})
    assert lock.status_code == 201
    token = lock.headers["Lock-Token"]
    content = b"%PDF-1.4\n" + b"x" * 5000
    assert _finder_put(firm, "alice", folder + name, content, token) == 204
    assert alice.request("UNLOCK", folder + name, headers={"Lock-Token": token}).status_code == 204
    assert alice.put(folder + ".DS_Store", b"\0\0\0\1Bud1", headers={"User-Agent": FINDER}).status_code == 201

    nfc = unicodedata.normalize("NFC", name)
    assert sam.names(folder) == {nfc}  # Finder's own files stay on the client's side
    assert sam.request("GET", folder + nfc).content == content
    assert alice.names(folder) == {nfc, "._" + nfc, ".DS_Store"}


def test_finder_mounts_read_write_where_the_user_may_write(firm):
    """Finder mounts read-only unless LOCK works: it must where the user may write, and only there."""
    alice = firm.as_user("alice")
    probe = f"probe-{uuid.uuid4().hex[:6]}.txt"
    assert alice.request("LOCK", f"/acme/{CLIENT}/{probe}", data=LOCK_BODY).status_code == 201
    assert alice.request("LOCK", f"/acme/{TEAM}/{probe}", data=LOCK_BODY).status_code == 403


def test_finder_chunked_upload_over_the_limit_is_refused(fresh_portal):
    running = fresh_portal(uploads={"max_bytes": 2000})
    running.add_client("acme")
    running.add_contact("alice", "acme")
    alice = running.as_user("alice")
    token = alice.request("LOCK", f"/acme/{CLIENT}/big.pdf", data=LOCK_BODY).headers["Lock-Token"]
    assert _finder_put(running, "alice", f"/acme/{CLIENT}/big.pdf", b"y" * 5000, token) == 413
    assert alice.request("GET", f"/acme/{CLIENT}/big.pdf").content == b""  # the empty file LOCK made
