"""The attack suite's wire: raw sockets that send bytes exactly as written and read every answer.

The suite uses the suite-wide `firm` (tests/conftest.py), served by the server `davportal serve`
builds (davportal.server.wsgi_server), so its limits (header sizes, framing) are the ones tested.
"""

from __future__ import annotations

import socket
import uuid
from dataclasses import dataclass, field
from urllib.parse import quote, unquote, urlsplit

import pytest
from lxml import etree

from tests.conftest import CLIENT, PASSWORD, TEAM, basic_auth, new_database, portal_config, seed_firm, start_portal

__all__ = ["CLIENT", "PASSWORD", "TEAM", "Reply", "exchange", "send", "q", "unique"]

TEAM_Q = quote(TEAM)
CLIENT_Q = quote(CLIENT)
LOCK_BODY = (
    "<?xml version='1.0' encoding='utf-8'?><D:lockinfo xmlns:D='DAV:'><D:lockscope><D:exclusive/></D:lockscope>"
    "<D:locktype><D:write/></D:locktype><D:owner>owner</D:owner></D:lockinfo>"
)


def q(path: str) -> str:
    """A URL path as a WebDAV client sends it (percent-encoded, '/' kept)."""
    return quote(path)


def unique(ext: str = ".pdf", prefix: str = "f") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}{ext}"


LENIENT_AUTH = {"slowdown_after": 100_000, "network_slowdown_after": 100_000}  # for failing logins on purpose


@pytest.fixture(scope="module")
def lenient_firm(backend, tmp_path_factory):
    """The same firm with the failed-login slow-down out of the way (its own database)."""
    folder = tmp_path_factory.mktemp("lenient")
    with new_database(backend, folder) as url:
        running = start_portal(portal_config(url, folder / "storage", auth=LENIENT_AUTH))
        try:
            yield seed_firm(running)
        finally:
            running.server.stop()
            running.portal.engine.dispose()


# --- the wire ---------------------------------------------------------------------------------


@dataclass
class Reply:
    status: int
    reason: str
    header_list: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    @property
    def headers(self) -> dict[str, str]:
        joined: dict[str, str] = {}
        for key, value in self.header_list:
            key = key.lower()
            joined[key] = f"{joined[key]}, {value}" if key in joined else value
        return joined

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def without_date(self) -> tuple:
        return self.status, self.reason, [(k.lower(), v) for k, v in self.header_list if k.lower() != "date"], self.body


class _Stream:
    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.buffer = b""
        self.closed = False

    def fill(self) -> bool:
        if self.closed:
            return False
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            return False
        except (ConnectionResetError, BrokenPipeError):
            chunk = b""
        if not chunk:
            self.closed = True
            return False
        self.buffer += chunk
        return True

    def take_until(self, marker: bytes) -> bytes | None:
        while marker not in self.buffer:
            if not self.fill():
                return None
        data, _, self.buffer = self.buffer.partition(marker)
        return data

    def take(self, n: int) -> bytes:
        while len(self.buffer) < n:
            if not self.fill():
                break
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data


def _read_reply(stream: _Stream, *, head_only: bool) -> Reply | None:
    while True:
        head = stream.take_until(b"\r\n\r\n")
        if head is None:
            return None
        lines = head.decode("latin-1").split("\r\n")
        version, _, rest = lines[0].partition(" ")
        code, _, reason = rest.partition(" ")
        headers = [(k.strip(), v.strip()) for k, _, v in (line.partition(":") for line in lines[1:])]
        reply = Reply(int(code), reason, headers)
        if reply.status >= 200:
            break  # 1xx: informational, the real answer follows
    names = {k.lower(): v for k, v in headers}
    if head_only or reply.status in (204, 304):
        return reply
    if "chunked" in names.get("transfer-encoding", "").lower():
        body = b""
        while True:
            size_line = stream.take_until(b"\r\n")
            if size_line is None:
                break
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                stream.take_until(b"\r\n")
                break
            body += stream.take(size)
            stream.take(2)
        reply.body = body
    elif "content-length" in names:
        reply.body = stream.take(int(names["content-length"]))
    else:
        while stream.fill():
            pass
        reply.body, stream.buffer = stream.buffer, b""
    return reply


ANSWER_SECONDS = 60  # the first answer may take this long on a busy machine (a first login hashes a password)


def exchange(base_url: str, data: bytes, *, quiet: float = 3.0, head: bool = False) -> tuple[list[Reply], bool]:
    """Send `data` as it is on one connection; return every answer and whether the server closed.

    The first answer (or the close) is awaited for up to ANSWER_SECONDS: a slow server only makes
    the test slower. After an answer, reading stops when the server closes or says nothing more
    for `quiet` seconds (a server that keeps the connection open after its answer costs that
    wait, nothing else).
    """
    url = urlsplit(base_url)
    replies: list[Reply] = []
    with socket.create_connection((url.hostname, url.port), timeout=ANSWER_SECONDS) as sock:
        try:
            sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server stopped reading: its answer (if any) is still there to read
        stream = _Stream(sock)
        while True:
            reply = _read_reply(stream, head_only=head)
            if reply is None:
                break
            replies.append(reply)
            if stream.closed and not stream.buffer:
                break
            sock.settimeout(quiet)
        return replies, stream.closed


def request_bytes(firm_url: str, method: str, target: str, *, login: str | None = "alice",
                  password: str = PASSWORD, headers: list[tuple[str, str]] | tuple = (), body: bytes = b"",
                  content_length: bool = True, close: bool = True) -> bytes:  # fmt: skip
    host = urlsplit(firm_url).netloc
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}"]
    if login is not None:
        lines.append(f"Authorization: {basic_auth(login, password)}")
    lines += [f"{k}: {v}" for k, v in headers]
    if content_length and body is not None:
        lines.append(f"Content-Length: {len(body)}")
    if close:
        lines.append("Connection: close")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")
    return head + (body or b"")


def send(
    firm,
    method: str,
    target: str,
    *,
    login: str | None = "alice",
    password: str = PASSWORD,
    headers: list[tuple[str, str]] | tuple = (),
    body: bytes | str = b"",
    quiet: float = 5.0,
) -> Reply:
    """One request, bytes as written (the target is sent as given: encode it yourself); one answer."""
    if isinstance(body, str):
        body = body.encode("utf-8")
    data = request_bytes(firm.url, method, target, login=login, password=password, headers=headers, body=body)
    replies, _ = exchange(firm.url, data, quiet=quiet, head=method == "HEAD")
    assert replies, f"no answer at all to {method} {target!r} (the connection was dropped)"
    return replies[0]


def exists(firm, path: str) -> bool:
    """Whether staff find the resource (PROPFIND Depth 0 as sam): the ground truth after an attack."""
    return firm.as_user("sam").propfind(path, "0").status_code == 207


def members(firm, folder: str) -> set[str] | None:
    """The names staff see in a folder (one PROPFIND Depth 1), or None when there is no such folder."""
    response = firm.as_user("sam").propfind(folder, "1")
    if response.status_code == 404:
        return None
    assert response.status_code == 207, response.text
    hrefs = [unquote(r.findtext("{DAV:}href")) for r in etree.fromstring(response.content).findall("{DAV:}response")]
    return {h[len(folder) :].rstrip("/") for h in hrefs if h.rstrip("/") != folder.rstrip("/")}
