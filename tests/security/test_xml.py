"""XML request bodies: no entity, DTD or network access; no DOCTYPE at all; bounded size; chunked
bodies read like any other.

tests/test_bad_input.py covers, for PROPFIND only: malformed XML, a file:// external entity,
billion laughs, the 1 MiB cap with Content-Length, and one chunked PROPFIND. Here: every XML
method (PROPFIND, PROPPATCH, LOCK), network and parameter entities, external DTD subsets, DOCTYPEs
hidden behind comments or in UTF-16, XInclude, deep nesting, the cap on chunked bodies, and
chunked PROPPATCH and LOCK bodies that must take effect.
"""

from __future__ import annotations

import socket

import pytest

from tests.security.conftest import CLIENT, LOCK_BODY, exchange, q, request_bytes, send, unique

LIMIT = 1024 * 1024  # limits.xml_body_bytes


class Listener:
    """A TCP port on this machine that counts who connects: the parser must never call out."""

    def __init__(self):
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(16)
        self.server.setblocking(False)
        self.port = self.server.getsockname()[1]

    def calls(self) -> int:
        count = 0
        while True:
            try:
                conn, _ = self.server.accept()
            except BlockingIOError:
                return count
            conn.close()
            count += 1


@pytest.fixture
def listener():
    listening = Listener()
    yield listening
    listening.server.close()


@pytest.fixture(scope="module")
def target(firm):
    path = f"/acme/{CLIENT}/{unique()}"
    assert firm.as_user("alice").put(path, b"alice's").status_code == 201
    return firm, path


def _wrap(method: str, payload: str) -> str:
    """A body of the method with `payload` (an entity reference, say) where text is allowed."""
    if method == "PROPFIND":
        return f"<D:propfind xmlns:D='DAV:'><D:prop><x:p xmlns:x='urn:x'>{payload}</x:p></D:prop></D:propfind>"
    if method == "PROPPATCH":
        return (f"<D:propertyupdate xmlns:D='DAV:'><D:set><D:prop><x:note xmlns:x='urn:x'>{payload}</x:note>"
                "</D:prop></D:set></D:propertyupdate>")  # fmt: skip
    return (f"<D:lockinfo xmlns:D='DAV:'><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/>"
            f"</D:locktype><D:owner>{payload}</D:owner></D:lockinfo>")  # fmt: skip


PAYLOADS = {
    # CWE-611 (XXE), the class of the Tomcat WebDAV servlet fix that Peergos/Peergos#1267 ports.
    "external entity (file)": ("<!DOCTYPE d [<!ENTITY x SYSTEM 'file:///etc/passwd'>]>", "&x;"),
    # CWE-918 via XXE (SSRF): the parser fetching a URL of the attacker's choosing.
    "external entity (network)": ("<!DOCTYPE d [<!ENTITY x SYSTEM 'http://127.0.0.1:{port}/x'>]>", "&x;"),
    "parameter entity (network)": ("<!DOCTYPE d [<!ENTITY % p SYSTEM 'http://127.0.0.1:{port}/p'> %p;]>", "x"),
    "external DTD subset": ("<!DOCTYPE d SYSTEM 'http://127.0.0.1:{port}/d.dtd'>", "x"),
    "public DTD": ("<!DOCTYPE d PUBLIC '-//X//Y' 'http://127.0.0.1:{port}/d.dtd'>", "x"),
    # CVE-2003-1564 / CVE-2013-0340 (billion laughs), CWE-776; and quadratic blow-up.
    "billion laughs": ("<!DOCTYPE d [<!ENTITY a 'lol'><!ENTITY b '&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;'>"
                       "<!ENTITY c '&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;'><!ENTITY e '&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;'>]>",
                       "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;"),
    "quadratic blow-up": ("<!DOCTYPE d [<!ENTITY a '" + "A" * 20000 + "'>]>", "&a;" * 2000),
    # MODEL/README: any DOCTYPE is refused, however it is dressed.
    "bare DOCTYPE": ("<!DOCTYPE d>", "x"),
    "DOCTYPE after a comment and a PI": ("<!-- hello --><?pi x?><!DOCTYPE d>", "x"),
}  # fmt: skip


@pytest.mark.parametrize("method", ["PROPFIND", "PROPPATCH", "LOCK"])
@pytest.mark.parametrize("name", PAYLOADS)
def test_xml_with_a_doctype_is_refused_without_resolving_anything(target, listener, name, method):
    """CWE-611 (XXE), CWE-918 (SSRF through the parser), CWE-776 / CVE-2003-1564 / CVE-2013-0340
    (entity expansion): a PROPFIND, PROPPATCH or LOCK body with a DOCTYPE (entities, parameter
    entities, external or public DTDs, or none at all) is refused with 400, nothing outside is
    read or called, and nothing is set or locked."""
    firm, path = target
    doctype, payload = PAYLOADS[name]
    body = "<?xml version='1.0'?>" + doctype.replace("{port}", str(listener.port)) + _wrap(method, payload)
    headers = [("Depth", "0")] if method == "PROPFIND" else [("Timeout", "Second-60")] if method == "LOCK" else []
    reply = send(firm, method, q(path), headers=headers, body=body)
    assert reply.status == 400, (reply.status, reply.text[:300])
    assert b"root:" not in reply.body and b"lol" not in reply.body
    assert listener.calls() == 0, "the XML parser called out"
    check = send(firm, "PROPFIND", q(path), headers=[("Depth", "0")])
    assert b"urn:x" not in check.body and b"locktoken" not in check.body


@pytest.mark.parametrize("method", ["PROPFIND", "PROPPATCH", "LOCK"])
def test_a_utf16_doctype_is_refused_too(target, method):
    """CWE-611 / CWE-176 (a filter that looks for '<!DOCTYPE' in the bytes misses it in UTF-16):
    the same refusal for a DOCTYPE in a UTF-16 body."""
    firm, path = target
    text = "<?xml version='1.0' encoding='UTF-16'?><!DOCTYPE d [<!ENTITY x SYSTEM 'file:///etc/passwd'>]>"
    body = (text + _wrap(method, "&x;")).encode("utf-16")
    headers = [("Depth", "0")] if method == "PROPFIND" else []
    reply = send(firm, method, q(path), headers=headers, body=body)
    assert reply.status == 400, (reply.status, reply.text[:300])
    assert b"root:" not in reply.body


def test_xinclude_is_not_processed(target, listener):
    """CWE-611 variant (XInclude, which needs no DOCTYPE): an xi:include in a dead property is stored
    as it was written (or refused), never replaced by a file or a URL's content."""
    firm, path = target
    payload = (
        f"<xi:include xmlns:xi='http://www.w3.org/2001/XInclude' href='file:///etc/passwd' parse='text'/>"
        f"<xi:include xmlns:xi='http://www.w3.org/2001/XInclude' href='http://127.0.0.1:{listener.port}/i'/>"
    )
    reply = send(firm, "PROPPATCH", q(path), body=_wrap("PROPPATCH", payload))
    assert reply.status in (207, 400), reply.text
    check = send(firm, "PROPFIND", q(path), headers=[("Depth", "0")],
                 body="<D:propfind xmlns:D='DAV:'><D:prop><x:note xmlns:x='urn:x'/></D:prop></D:propfind>")  # fmt: skip
    assert b"root:" not in check.body
    assert listener.calls() == 0


@pytest.mark.parametrize("method", ["PROPFIND", "PROPPATCH", "LOCK"])
def test_deeply_nested_xml_is_refused_cleanly(target, method):
    """CWE-674 (uncontrolled recursion) / CWE-400: 100,000 nested elements (well under the size cap)
    are refused with 400, not a 500 or a stuck thread."""
    firm, path = target
    depth = 100_000
    body = _wrap(method, "<a>" * depth + "</a>" * depth)
    assert len(body) < LIMIT
    headers = [("Depth", "0")] if method == "PROPFIND" else []
    reply = send(firm, method, q(path), headers=headers, body=body)
    assert reply.status == 400, (reply.status, reply.text[:300])


@pytest.mark.parametrize("method", ["PROPPATCH", "LOCK"])
def test_xml_bodies_over_the_cap_are_refused_before_reading(target, method):
    """CVE-2026-41284 (Tomcat's WebdavServlet read PROPFIND/LOCK bodies with no cap) / CWE-770
    (WsgiDAV reads XML bodies whole): a declared Content-Length over 1 MiB gets 413 without waiting for
    (or reading) the body - only the headers are sent (the PROPFIND case is in test_bad_input)."""
    firm, path = target
    data = request_bytes(firm.url, method, q(path), headers=[("Content-Length", str(2 * LIMIT))],
                         content_length=False)  # fmt: skip
    replies, _ = exchange(firm.url, data, quiet=5)
    assert replies, "no answer without the body: the server is waiting to read 2 MiB"
    assert replies[0].status == 413


@pytest.mark.parametrize("method", ["PROPFIND", "PROPPATCH", "LOCK"])
def test_chunked_xml_bodies_over_the_cap_are_refused(target, method):
    """CWE-400 / CWE-770: the cap holds for chunked bodies, which declare no length: 1 MiB and a bit
    in chunks is refused with 413."""
    firm, path = target
    chunk = b"<!--" + b"x" * (64 * 1024) + b"-->"
    body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(17)) + b"0\r\n\r\n"
    data = request_bytes(firm.url, method, q(path), headers=[("Transfer-Encoding", "chunked"), ("Depth", "0")],
                         body=body, content_length=False)  # fmt: skip
    replies, _ = exchange(firm.url, data, quiet=5)
    assert replies and replies[0].status == 413, replies[:1]


def _chunked(body: str, size: int = 7) -> bytes:
    raw = body.encode()
    return (
        b"".join(b"%x\r\n%s\r\n" % (len(raw[i : i + size]), raw[i : i + size]) for i in range(0, len(raw), size))
        + b"0\r\n\r\n"
    )


def test_a_chunked_proppatch_body_is_applied(target):
    """The WsgiDAV behaviour the portal fixes (chunked XML bodies treated as empty): a chunked
    PROPPATCH sets its property, proving the body was read, not dropped."""
    firm, path = target
    value = unique("", "chunked-note")
    body = (f"<D:propertyupdate xmlns:D='DAV:'><D:set><D:prop><x:cnote xmlns:x='urn:x'>{value}</x:cnote>"
            "</D:prop></D:set></D:propertyupdate>")  # fmt: skip
    data = request_bytes(firm.url, "PROPPATCH", q(path), headers=[("Transfer-Encoding", "chunked")],
                         body=_chunked(body), content_length=False)  # fmt: skip
    replies, _ = exchange(firm.url, data)
    assert replies and replies[0].status == 207, replies[:1]
    check = send(
        firm,
        "PROPFIND",
        q(path),
        headers=[("Depth", "0")],
        body="<D:propfind xmlns:D='DAV:'><D:prop><x:cnote xmlns:x='urn:x'/></D:prop></D:propfind>",
    )
    assert value.encode() in check.body


def test_a_chunked_lock_body_is_applied(target):
    """As above for LOCK: the owner given in a chunked lockinfo is the lock's owner."""
    firm, path = target
    owner = unique("", "chunked-owner")
    body = LOCK_BODY.replace("<D:owner>owner</D:owner>", f"<D:owner>{owner}</D:owner>")
    data = request_bytes(
        firm.url,
        "LOCK",
        q(path),
        headers=[("Transfer-Encoding", "chunked"), ("Timeout", "Second-60")],
        body=_chunked(body),
        content_length=False,
    )
    replies, _ = exchange(firm.url, data)
    assert replies and replies[0].status in (200, 201), replies[:1]
    assert owner.encode() in replies[0].body
    token = replies[0].headers["lock-token"]
    assert send(firm, "UNLOCK", q(path), headers=[("Lock-Token", token)]).status == 204


def test_a_chunked_body_with_a_doctype_is_refused(target, listener):
    """CWE-611 through the chunked path: the same DOCTYPE refusal when the body comes in chunks."""
    firm, path = target
    body = (f"<?xml version='1.0'?><!DOCTYPE d [<!ENTITY x SYSTEM 'http://127.0.0.1:{listener.port}/c'>]>"
            + _wrap("PROPPATCH", "&x;"))  # fmt: skip
    data = request_bytes(firm.url, "PROPPATCH", q(path), headers=[("Transfer-Encoding", "chunked")],
                         body=_chunked(body), content_length=False)  # fmt: skip
    replies, _ = exchange(firm.url, data)
    assert replies and replies[0].status == 400, replies[:1]
    assert listener.calls() == 0
