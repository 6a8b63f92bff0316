"""COPY and MOVE across every pair of areas and clients, and Destinations that try to leave.

MODEL.md: both ends are checked, the source as a read (and for MOVE as a removal), the
Destination as a create (and as a removal where it exists and `Overwrite: T`); a Destination on
another host is refused (502 or 403); a client-sent X-Forwarded-Host is not believed.
tests/test_access_matrix.py covers single files between acme's areas with default headers; here
the sources are folders (so Depth matters), the destinations may exist (so Overwrite matters),
and beta's areas are in every pair.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from davportal.core.models import AuditEvent
from tests.security.conftest import CLIENT, CLIENT_Q, TEAM, exists, members, q, send, unique

OK = "ok"
AREA_FOLDER = {"private": "Matter", "team": TEAM, "client": CLIENT}
PLACES = [(client, area) for client in ("acme", "beta") for area in AREA_FOLDER]


def _verdict(actor: str, client: str, area: str, action: str):
    """MODEL.md's matrix for one end: read, create or remove, by sam (staff) or alice (acme's contact)."""
    if actor == "sam":
        return OK if action == "read" or area != "client" else 403
    if client != "acme" or area == "private":
        return 404
    if action == "read" or area == "client":
        return OK  # in Client's shared: alice's own uploads
    return 403


def _expected(actor, source, destination, method, dest_exists, overwrite):
    outcomes = [
        _verdict(actor, *source, "read" if method == "COPY" else "remove"),
        _verdict(actor, *destination, "create"),
    ]
    if dest_exists and overwrite == "T":
        outcomes.append(_verdict(actor, *destination, "remove"))
    for refusal in (404, 403):
        if refusal in outcomes:
            return refusal
    if dest_exists:
        return 204 if overwrite == "T" else 412
    return 201


def _owner(client: str, area: str) -> str:
    return {"acme": "alice", "beta": "bob"}[client] if area == "client" else "sam"


def _folder(firm, client: str, area: str, prefix: str, file_name: str) -> str:
    """A folder with one file, made by whoever may write there."""
    dav = firm.as_user(_owner(client, area))
    path = f"/{client}/{AREA_FOLDER[area]}/{unique('', prefix)}/"
    assert dav.request("MKCOL", path).status_code == 201
    assert dav.put(path + file_name, f"{file_name} in {path}".encode()).status_code == 201
    return path


@pytest.fixture(scope="module")
def areas(firm):
    sam = firm.as_user("sam")
    for client in ("acme", "beta"):
        assert sam.request("MKCOL", f"/{client}/Matter/").status_code == 201
    # Shared by every case that must change nothing: a source and an existing destination per place.
    firm.fixed = {
        place: (_folder(firm, *place, "src", "inner.pdf"), _folder(firm, *place, "dst", "keep.pdf")) for place in PLACES
    }
    return firm


COMBOS = [
    # (method, Depth, Overwrite, whether the destination exists)
    ("COPY", "0", "T", False),
    ("COPY", "infinity", "T", True),
    ("COPY", "infinity", "F", True),
    ("MOVE", "infinity", "T", False),
    ("MOVE", "infinity", "T", True),
    ("MOVE", "infinity", "F", True),
]


@pytest.mark.parametrize(
    "method, depth, overwrite, dest_exists",
    COMBOS,
    ids=[f"{m}-depth-{d}-overwrite-{o}-{'existing' if e else 'new'}" for m, d, o, e in COMBOS],
)
@pytest.mark.parametrize("destination", PLACES, ids=[f"to-{c}-{a}" for c, a in PLACES])
@pytest.mark.parametrize("source", PLACES, ids=[f"from-{c}-{a}" for c, a in PLACES])
@pytest.mark.parametrize("actor", ["alice", "sam"])
def test_copy_and_move_check_both_ends(areas, actor, source, destination, method, depth, overwrite, dest_exists):
    """CWE-284 / CWE-639 (missing authorization on the second path of a two-path method; no CVE
    id, the class the access matrix exists for): COPY/MOVE of a folder between any two
    areas of acme and beta, Depth 0 and infinity, Overwrite T and F, onto a new name and onto an
    existing folder. The answer is MODEL.md's (404 before 403, then 412 for Overwrite: F), and a
    refused request changes nothing at either end."""
    expected = _expected(actor, source, destination, method, dest_exists, overwrite)
    changes = expected in (201, 204)
    if changes:  # objects of its own: it will change them
        src = _folder(areas, *source, "src", "inner.pdf")
        dst = _folder(areas, *destination, "dst", "keep.pdf") if dest_exists else None
    else:
        src = areas.fixed[source][0]
        dst = areas.fixed[destination][1] if dest_exists else None
    target = dst or f"/{destination[0]}/{AREA_FOLDER[destination[1]]}/{unique('', 'new')}/"

    reply = send(areas, method, q(src), login=actor,
                 headers=[("Destination", q(target)), ("Depth", depth), ("Overwrite", overwrite)])  # fmt: skip
    assert reply.status == expected, (reply.status, reply.text)

    src_names, dst_names = members(areas, src), members(areas, target)
    if not changes:
        assert src_names == {"inner.pdf"}, "a refused request changed its source"
        assert dst_names == ({"keep.pdf"} if dest_exists else None), "a refused request changed its destination"
        return
    assert src_names == (None if method == "MOVE" else {"inner.pdf"})
    assert dst_names is not None
    if depth == "infinity":
        assert dst_names == {"inner.pdf"}  # an overwritten folder is replaced, not merged


def test_copy_with_depth_0_copies_the_folder_alone(areas):
    """RFC 4918 9.8.3 (CWE-684): "A COPY of a collection with Depth: 0 MUST only copy the collection
    and its properties, not its internal members" - a client asking for the folder alone must not
    get (and pay for, and expose in a new place) every document inside it."""
    src = _folder(areas, "acme", "client", "src", "inner.pdf")
    target = f"/acme/{CLIENT}/{unique('', 'shallow')}/"
    reply = send(areas, "COPY", q(src), headers=[("Destination", q(target)), ("Depth", "0")])
    assert reply.status == 201, reply.text
    assert areas.as_user("sam").names(target) == set()


DESTINATIONS = [
    # (label, Destination, methods it is tried with, statuses that refuse it)
    # CWE-22 / CWE-23 (relative path traversal) on the second path: '..' in the Destination.
    ("absolute URL with ..", "{base}/acme/{cs}/../../beta/{cs}/{name}", ("COPY", "MOVE"), (400,)),
    ("absolute URL with %2e%2e", "{base}/acme/{cs}/%2e%2e/%2e%2e/beta/{cs}/{name}", ("COPY", "MOVE"), (400,)),
    ("plain ..", "/acme/{cs}/../../beta/{cs}/{name}", ("MOVE",), (400,)),
    ("encoded %2E%2E%2F", "/acme/{cs}/%2E%2E%2F%2E%2E%2Fbeta/{cs}/{name}", ("COPY", "MOVE"), (400,)),
    ("backslashes", "/acme/{cs}/..\\..\\beta\\{cs}\\{name}", ("COPY", "MOVE"), (400,)),
    ("encoded backslashes", "/acme/{cs}/..%5c..%5cbeta%5c{cs}%5c{name}", ("COPY", "MOVE"), (400,)),
    # CVE-2001-0333 (double decoding) and ';' path parameters: literal names, never a way out.
    ("double-encoded dots", "/acme/{cs}/%252e%252e/%252e%252e/beta/{cs}/{name}", ("COPY", "MOVE"), (400, 404, 409)),
    ("path parameter dots", "/acme/{cs}/..;/..;/beta/{cs}/{name}", ("COPY", "MOVE"), (400, 404, 409)),
    # RFC 4918 9.8.4 / MODEL.md: another scheme, host or port is another server (502, or 403).
    ("scheme-relative other host", "//evil.example/acme/{cs}/{name}", ("COPY", "MOVE"), (403, 502)),
    ("other host", "http://elsewhere.example/acme/{cs}/{name}", ("MOVE",), (403, 502)),
    ("other host, same port", "http://evil.example:{port}/acme/{cs}/{name}", ("COPY", "MOVE"), (403, 502)),
    ("other port", "http://{hostname}:{other_port}/acme/{cs}/{name}", ("COPY", "MOVE"), (403, 502)),
    ("other scheme", "https://{host}/acme/{cs}/{name}", ("MOVE",), (403, 502)),
    ("ftp scheme", "ftp://{host}/acme/{cs}/{name}", ("COPY", "MOVE"), (403, 502)),
    ("file scheme", "file:///tmp/{name}", ("COPY", "MOVE"), (403, 502)),
    # CWE-20 URL parsing confusion: the real host in the userinfo, another host after the '@'.
    ("host in userinfo", "http://{host}@evil.example/acme/{cs}/{name}", ("COPY", "MOVE"), (403, 502)),
    ("another name for this host", "http://localhost:{port}/acme/{cs}/{name}", ("COPY", "MOVE"), (403, 502)),
    ("another client", "/beta/{cs}/{name}", ("MOVE",), (404,)),
    ("another client, absolute", "{base}/beta/{cs}/{name}", ("COPY", "MOVE"), (404,)),
]
DEST_CASES = [(label, dest, method, refusals) for label, dest, methods, refusals in DESTINATIONS for method in methods]


@pytest.mark.parametrize("label, template, method, refusals", DEST_CASES, ids=[f"{c[2]}-{c[0]}" for c in DEST_CASES])
def test_destinations_that_leave_are_refused(areas, label, template, method, refusals):
    """CWE-22 / CWE-23 ('..' in the Destination), CVE-2001-0333 (double decoding), RFC 4918
    9.8.4 (Destination on another server: 502): a contact's COPY/MOVE to a Destination that leaves
    their folders or this server is refused and creates nothing anywhere."""
    alice = areas.as_user("alice")
    source = f"/acme/{CLIENT}/{unique()}"
    assert alice.put(source, b"alice's own").status_code == 201
    name = unique()
    hostname, port = areas.url.split("//")[1].split(":")
    destination = template.format(base=areas.url, cs=CLIENT_Q, name=name, host=f"{hostname}:{port}",
                                  hostname=hostname, port=port, other_port=int(port) + 1)  # fmt: skip
    beta_before = areas.as_user("sam").names(f"/beta/{CLIENT}/")
    reply = send(areas, method, q(source), headers=[("Destination", destination)])
    assert reply.status in refusals, (reply.status, reply.text)
    assert exists(areas, source), "the source moved although the request was refused"
    assert areas.as_user("sam").names(f"/beta/{CLIENT}/") == beta_before
    assert not list(areas.portal.storage.root.rglob(name.removesuffix(".pdf") + "*"))


FORWARDED = [
    # CWE-348 (use of a less trusted source) / CWE-290: forwarding headers are believed only from
    # the configured proxies; from a client they must not make another host or scheme "this server".
    ("X-Forwarded-Host", [("X-Forwarded-Host", "evil.example")], "http://evil.example/acme/{cs}/{name}"),
    ("X-Forwarded-Host list", [("X-Forwarded-Host", "evil.example, {host}")], "http://evil.example/acme/{cs}/{name}"),
    ("X-Forwarded-Proto", [("X-Forwarded-Proto", "https")], "https://{host}/acme/{cs}/{name}"),
    ("X-Forwarded-Host and -Proto and -Port",
     [("X-Forwarded-Host", "evil.example"), ("X-Forwarded-Proto", "https"), ("X-Forwarded-Port", "443")],
     "https://evil.example/acme/{cs}/{name}"),
    ("Forwarded (RFC 7239)", [("Forwarded", "for=203.0.113.9;host=evil.example;proto=https")],
     "https://evil.example/acme/{cs}/{name}"),
    ("X-Original-Host", [("X-Original-Host", "evil.example"), ("X-Host", "evil.example")],
     "http://evil.example/acme/{cs}/{name}"),
]  # fmt: skip


@pytest.mark.parametrize("method", ["COPY", "MOVE"])
@pytest.mark.parametrize("label, headers, template", FORWARDED, ids=[f[0] for f in FORWARDED])
def test_client_sent_forwarding_headers_do_not_move_the_server(areas, label, headers, template, method):
    """CWE-348 / CWE-290: a client (not a trusted proxy) claiming another host or scheme through
    X-Forwarded-*, Forwarded or X-Original-Host cannot make a Destination on that host acceptable
    (the X-Forwarded-Host COPY case is in test_bad_input)."""
    if (label, method) == ("X-Forwarded-Host", "COPY"):
        pytest.skip("covered by tests/test_bad_input.py::test_x_forwarded_host_from_a_client_is_not_believed")
    alice = areas.as_user("alice")
    source = f"/acme/{CLIENT}/{unique()}"
    assert alice.put(source, b"alice's own").status_code == 201
    host = areas.url.split("//")[1]
    name = unique()
    spoofed = [(k, v.format(host=host)) for k, v in headers]
    destination = template.format(cs=CLIENT_Q, name=name, host=host)
    reply = send(areas, method, q(source), headers=[*spoofed, ("Destination", destination)])
    assert reply.status in (403, 502), (reply.status, reply.text)
    assert exists(areas, source)
    assert not list(areas.portal.storage.root.rglob(name.removesuffix(".pdf") + "*"))


def test_a_client_sent_x_forwarded_for_is_not_the_address_in_the_audit(areas):
    """CWE-348 (a spoofed X-Forwarded-For, e.g. to pin a download or a failed login on someone
    else): from a client that is not a trusted proxy, the audit trail records the real peer."""
    alice = areas.as_user("alice")
    path = f"/acme/{CLIENT}/{unique()}"
    assert alice.put(path, b"audited").status_code == 201
    reply = send(areas, "GET", q(path), headers=[("X-Forwarded-For", "203.0.113.9"), ("X-Real-IP", "203.0.113.9"),
                                                 ("Forwarded", "for=203.0.113.9")])  # fmt: skip
    assert reply.status == 200
    below = path.split("/", 2)[2]
    with areas.portal.sessions() as session:
        addresses = session.scalars(select(AuditEvent.remote_addr).where(
            AuditEvent.login == "alice", AuditEvent.action == "GET", AuditEvent.path == below)).all()  # fmt: skip
    assert addresses and set(addresses) == {"127.0.0.1"}, addresses
