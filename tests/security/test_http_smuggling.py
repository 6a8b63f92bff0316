"""HTTP framing: request smuggling, header and URL limits, method and path override headers.

Each smuggling case hides a second request - staff's DELETE of a file - where a front-end proxy
framing the bytes differently from the portal would see body, not a request. The portal must
answer 400 (or close the connection without a 2xx) and never run the hidden DELETE: the file is
still there afterwards. The sockets are raw: no client library would send these bytes.
"""

from __future__ import annotations

import pytest

from tests.conftest import basic_auth
from tests.security.conftest import TEAM, TEAM_Q, exchange, exists, q, request_bytes, send, unique

QUIET = 1.5  # a server that keeps a smuggling connection open costs this wait before the verdict


def _victim(firm) -> tuple[str, bytes]:
    """A file staff own, and the bytes of a complete request that deletes it (as staff)."""
    name = unique()
    path = f"/acme/{TEAM}/{name}"
    assert firm.as_user("sam").put(path, b"must survive").status_code == 201
    host = firm.url.split("//")[1]
    delete = (f"DELETE {q(path)} HTTP/1.1\r\nHost: {host}\r\nAuthorization: {basic_auth('sam')}\r\n"
              "Content-Length: 0\r\n\r\n").encode()  # fmt: skip
    return path, delete


def _front(firm, method: str, target: str, headers: list[tuple[str, str]]) -> bytes:
    """The head of the outer request, as staff, keeping the connection open for what follows."""
    return request_bytes(firm.url, method, target, login="sam", headers=headers, body=None, content_length=False,
                         close=False)  # fmt: skip


def _sentinel(firm) -> bytes:
    """A last, harmless request that closes the connection: a server that keeps reading after the
    attack answers it at once (instead of the test waiting for a timeout), and its answer tells
    that the connection was kept open."""
    host = firm.url.split("//")[1]
    auth = basic_auth("sam")
    return f"OPTIONS / HTTP/1.1\r\nHost: {host}\r\nAuthorization: {auth}\r\nConnection: close\r\n\r\n".encode()


def _is_sentinel(reply) -> bool:
    return reply.status == 200 and "dav" in reply.headers and "allow" in reply.headers


def _assert_not_smuggled(firm, data: bytes, victim: str):
    replies, closed = exchange(firm.url, data + _sentinel(firm), quiet=QUIET)
    kept_open = bool(replies) and _is_sentinel(replies[-1])
    if kept_open:
        replies, closed = replies[:-1], False
    statuses = [reply.status for reply in replies]
    assert exists(firm, victim), f"the smuggled DELETE ran (answers: {statuses})"
    assert len(replies) <= 1, f"one message was answered as several requests: {statuses}"
    if replies:
        assert replies[0].status == 400 or (closed and not 200 <= replies[0].status < 300), (
            f"answered {statuses[0]} and kept the connection open" if not closed else statuses
        )


def _cl_te(firm, te_lines: list[tuple[str, str]], *, method="PROPFIND", target="/acme/"):
    victim, smuggled = _victim(firm)
    body = b"0\r\n\r\n" + smuggled
    headers = [("Depth", "0"), ("Content-Length", str(len(body))), *te_lines]
    return _front(firm, method, target, headers) + body, victim


TE_VARIANTS = {
    # cherrypy/cheroot#275 (Content-Length and Transfer-Encoding both honoured) / CWE-444:
    # RFC 9112 6.1: such a message "ought to be handled as an error"; a server that processes it
    # anyway MUST close the connection after the response.
    "CL and TE": [("Transfer-Encoding", "chunked")],
    # CVE-2019-16789 (waitress: whitespace around Transfer-Encoding), RFC 9112 5.1: no whitespace
    # between field name and colon, "MUST respond with 400".
    "space before the colon": [("Transfer-Encoding ", "chunked")],
    "tab in the value": [("Transfer-Encoding", "\tchunked")],
    "vertical tab in the value": [("Transfer-Encoding", "\x0bchunked")],
    # RFC 9112 6.1 / 7: chunked applied more than once, or duplicated fields, is invalid framing.
    "TE twice": [("Transfer-Encoding", "chunked"), ("Transfer-Encoding", "chunked")],
    "chunked, chunked": [("Transfer-Encoding", "chunked, chunked")],
    "TE twice, different": [("Transfer-Encoding", "identity"), ("Transfer-Encoding", "chunked")],
    "mixed case": [("tRANSFER-eNCODING", "cHuNkEd")],
}


@pytest.mark.parametrize("method, target", [("PROPFIND", "/acme/"), ("GET", f"/acme/{TEAM_Q}/"), ("PUT", None)])
@pytest.mark.parametrize("variant", TE_VARIANTS, ids=TE_VARIANTS.keys())
def test_content_length_with_transfer_encoding_never_smuggles(firm, variant, method, target):
    """CWE-444 (HTTP request smuggling, CL.TE/TE.CL): cherrypy/cheroot#275, CVE-2019-16789.
    A request carrying both Content-Length and a (possibly obfuscated) Transfer-Encoding is answered
    400 - or processed and the connection closed - and the DELETE hidden after its chunked end
    never runs."""
    target = target or q(f"/acme/{TEAM}/{unique()}")
    data, victim = _cl_te(firm, TE_VARIANTS[variant], method=method, target=target)
    _assert_not_smuggled(firm, data, victim)


CL_VARIANTS = {
    # cherrypy/cheroot#737 (multiple Content-Length headers, the second one wins) / RFC 9112 6.3:
    # differing Content-Length values are "an unrecoverable error": 400.
    "two lengths, 0 last": lambda n: [("Content-Length", str(n)), ("Content-Length", "0")],
    "two lengths, 0 first": lambda n: [("Content-Length", "0"), ("Content-Length", str(n))],
    "two lengths in one field": lambda n: [("Content-Length", f"0, {n}")],
    # CVE-2022-24761 (waitress) / CVE-2023-38697 (protocol-http1): Python's int() accepts "+0",
    # "-0", "0_0" and " 0" where RFC 9110 allows 1*DIGIT only.
    "plus sign": lambda n: [("Content-Length", "+0")],
    "minus sign": lambda n: [("Content-Length", "-0")],
    "underscore": lambda n: [("Content-Length", "0_0")],
    "hex": lambda n: [("Content-Length", "0x0")],
}


@pytest.mark.parametrize("variant", CL_VARIANTS, ids=CL_VARIANTS.keys())
def test_ambiguous_content_lengths_never_smuggle(firm, variant):
    """CWE-444: cherrypy/cheroot#737, CVE-2022-24761, CVE-2023-38697. A Content-Length that is
    repeated, differs, or is not plain digits is refused with 400, and the request following
    the body (a proxy reading the other length would call it body) never runs."""
    victim, smuggled = _victim(firm)
    data = _front(firm, "GET", f"/acme/{TEAM_Q}/", CL_VARIANTS[variant](len(smuggled))) + smuggled
    _assert_not_smuggled(firm, data, victim)


CHUNK_SIZES = {
    # CVE-2022-24761 (waitress: int() parsing of chunk sizes) / CVE-2023-38697: a chunk-size is
    # 1*HEXDIG (RFC 9112 7.1); anything else is a framing error (400).
    "negative": b"-1",
    "minus zero": b"-0",
    "plus sign": b"+0",
    "0x prefix": b"0x0",
    "underscore": b"0_0",
    "leading space": b" 0",
    "not hex": b"zz",
    "empty": b"",
}


@pytest.mark.parametrize("size", CHUNK_SIZES.values(), ids=CHUNK_SIZES.keys())
def test_malformed_chunk_sizes_never_smuggle(firm, size):
    """CWE-444: CVE-2022-24761, CVE-2023-38697. A chunked body whose size line is not plain hex is
    refused with 400 (not a 500, not read as the end of the body), and the request after it
    never runs."""
    victim, smuggled = _victim(firm)
    head = _front(firm, "PROPFIND", "/acme/", [("Depth", "0"), ("Transfer-Encoding", "chunked")])
    _assert_not_smuggled(firm, head + size + b"\r\n\r\n" + smuggled, victim)


@pytest.mark.parametrize("size", [*CHUNK_SIZES.values(), b"ffffffffffffffffffffffffffffffff"],
                         ids=[*CHUNK_SIZES.keys(), "overflowing"])  # fmt: skip
def test_malformed_chunk_sizes_in_an_upload_are_refused(firm, size):
    """CWE-444 / CWE-20: CVE-2022-24761. An upload whose chunk size is not plain hex (or is absurdly
    large) is refused with 400 (or 413), and nothing is stored."""
    path = f"/acme/Client's shared/{unique()}"
    head = request_bytes(firm.url, "PUT", q(path), headers=[("Transfer-Encoding", "chunked")], body=None,
                         content_length=False)  # fmt: skip
    replies, _ = exchange(firm.url, head + size + b"\r\nhello\r\n0\r\n\r\n" + _sentinel(firm), quiet=QUIET)
    assert replies and replies[0].status in (400, 413), [r.status for r in replies]
    assert not exists(firm, path)


def test_bare_lf_line_endings_are_refused(firm):
    """CVE-2019-16785 (waitress accepted a bare LF as a line end, so a proxy and the server split
    the headers differently) / CWE-444: a header line ending in LF alone gets 400."""
    victim, smuggled = _victim(firm)
    head = _front(firm, "GET", f"/acme/{TEAM_Q}/", [("X-Padding", "x\nContent-Length: 0"),
                                                    ("Content-Length", str(len(smuggled)))])  # fmt: skip
    _assert_not_smuggled(firm, head + smuggled, victim)


def test_an_obsolete_folded_header_is_refused(firm):
    """RFC 9112 5.2 (obs-fold: "MUST either reject the message by sending a 400" or unfold it) and
    CWE-444: a Transfer-Encoding hidden on a continuation line never frames the body."""
    victim, smuggled = _victim(firm)
    body = b"0\r\n\r\n" + smuggled
    head = _front(firm, "PROPFIND", "/acme/", [("Depth", "0"), ("Content-Length", str(len(body))),
                                               ("X-Folded", "a\r\n Transfer-Encoding: chunked")])  # fmt: skip
    _assert_not_smuggled(firm, head + body, victim)


# --- limits on the request line and the headers ---------------------------------------------------


def _refused_quickly(firm, data: bytes, allowed: tuple[int, ...]):
    replies, _ = exchange(firm.url, data, quiet=5)
    assert replies, "no answer"
    assert replies[0].status in allowed, (replies[0].status, replies[0].text[:200])


def test_an_overlong_request_line_is_refused(firm):
    """CVE-2009-3896 (nginx: a long URI crashed the worker) / CWE-770: a 64 KiB request target
    (Apache and nginx refuse beyond 8 KiB) is refused with 414 (or 400), not served or a 500."""
    data = request_bytes(firm.url, "PROPFIND", "/acme/" + "a" * 65536, headers=[("Depth", "0")])
    _refused_quickly(firm, data, (400, 414))


def test_an_overlong_header_is_refused(firm):
    """CWE-770 (cheroot's max_request_header_size is 0, unlimited, unless set): a single 64 KiB
    header is refused with 431 (or 400/413)."""
    data = request_bytes(firm.url, "PROPFIND", "/acme/", headers=[("Depth", "0"), ("X-Big", "a" * 65536)])
    _refused_quickly(firm, data, (400, 413, 431))


def test_too_many_headers_are_refused(firm):
    """CWE-770 (Apache's LimitRequestFields is 100): 10,000 headers are refused with 431 (or 400/413)."""
    headers = [("Depth", "0"), *((f"X-H{i}", "v") for i in range(10_000))]
    data = request_bytes(firm.url, "PROPFIND", "/acme/", headers=headers)
    _refused_quickly(firm, data, (400, 413, 431))


def test_a_megabyte_of_headers_is_refused(firm):
    """CWE-400 / CWE-770: a 1 MiB header block, the memory a server spends per connection, is refused."""
    data = request_bytes(firm.url, "PROPFIND", "/acme/", headers=[("Depth", "0"), ("X-Big", "a" * (1 << 20))])
    _refused_quickly(firm, data, (400, 413, 431))


# --- headers that would change the method or the path ----------------------------------------------

OVERRIDES = ["X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override"]


@pytest.mark.parametrize("method", ["GET", "POST", "PROPFIND"])
@pytest.mark.parametrize("header", OVERRIDES)
def test_method_override_headers_are_ignored(firm, header, method):
    """CWE-650 (trusting the HTTP method name; method-override headers bypassing per-method checks):
    a GET/POST/PROPFIND carrying an override to DELETE deletes nothing."""
    path = f"/acme/{TEAM}/{unique()}"
    assert firm.as_user("sam").put(path, b"stays").status_code == 201
    reply = send(firm, method, q(path), login="sam", headers=[(header, "DELETE"), ("Depth", "0")])
    assert reply.status != 204
    assert exists(firm, path)


def test_path_override_headers_are_ignored(firm):
    """Symfony's X-Original-URL / X-Rewrite-URL class (a header replacing the checked path, CWE-436):
    the contact gets the file they asked for, never the private one the headers name."""
    sam = firm.as_user("sam")
    sam.request("MKCOL", "/acme/Overridden/")
    assert sam.put("/acme/Overridden/secret.pdf", b"PRIVATE 7e1").status_code == 201
    public = f"/acme/{TEAM}/{unique()}"
    assert sam.put(public, b"public").status_code == 201
    reply = send(firm, "GET", q(public), headers=[("X-Original-URL", "/acme/Overridden/secret.pdf"),
                                                  ("X-Rewrite-URL", "/acme/Overridden/secret.pdf")])  # fmt: skip
    assert reply.status == 200 and reply.body == b"public"
