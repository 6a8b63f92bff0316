"""Path escapes: encodings of '..', lookalike clients, control characters, overlong names, symlinks.

A contact must never leave the folders open to them, whatever the spelling of the path; nothing
planted in the storage (a symlink) is ever followed or listed, for staff either. The plain
`..`, `%2e%2e`, `%2E%2E%2F`, `..%5c` and `%00` cases are in tests/test_bad_input.py.
"""

from __future__ import annotations

import os

import pytest

from tests.security.conftest import CLIENT, CLIENT_Q, LOCK_BODY, TEAM, TEAM_Q, exists, q, send, unique

ACME_PLAN = b"ACME PRIVATE PLAN 41c7"
BETA_PLAN = b"BETA SECRET PLAN 9e02"
EVIL_DOC = b"SIBLING CLIENT DOC 77aa"
CANARY = b"CANARY OUTSIDE THE STORAGE 5d1e"
SECRETS = (ACME_PLAN, BETA_PLAN, EVIL_DOC, CANARY, b"root:x:0:0")


@pytest.fixture(scope="module")
def world(firm):
    sam = firm.as_user("sam")
    assert sam.request("MKCOL", "/acme/Matter/").status_code == 201
    assert sam.put("/acme/Matter/plan.pdf", ACME_PLAN).status_code == 201
    assert sam.request("MKCOL", "/beta/Secret/").status_code == 201
    assert sam.put("/beta/Secret/plan.pdf", BETA_PLAN).status_code == 201
    assert sam.put(f"/acme/{TEAM}/letter.pdf", b"letter for acme").status_code == 201
    assert sam.put(f"/beta/{TEAM}/beta-letter.pdf", BETA_PLAN).status_code == 201
    return firm


def _no_secret(body: bytes):
    for secret in SECRETS:
        assert secret not in body, f"leaked {secret!r}"


def _secrets_intact(firm):
    sam = firm.as_user("sam")
    assert sam.request("GET", "/acme/Matter/plan.pdf").content == ACME_PLAN
    assert sam.request("GET", "/beta/Secret/plan.pdf").content == BETA_PLAN
    assert sam.names("/beta/Secret/") == {"plan.pdf"}
    assert sam.names("/acme/Matter/") == {"plan.pdf"}


def test_control_a_contact_reads_what_is_open_to_them(world):
    """Control for this module: a clean path works, so the refusals below are the attacks' doing."""
    reply = send(world, "GET", f"/acme/{TEAM_Q}/letter.pdf")
    assert reply.status == 200 and reply.body == b"letter for acme"


T = f"/acme/{TEAM_Q}"
# (label, path prefix that should lead out of the contact's area, what it aims at)
ESCAPES = [
    # CVE-2001-0333 / MS01-026 (IIS): a second, superfluous decoding turned %252e into '.' after the check.
    ("double-encoded dots", f"{T}/%252e%252e/%252e%252e/beta/Secret/"),
    ("double-encoded slash", f"{T}/..%252f..%252fbeta%252fSecret/"),
    ("double-encoded backslash", f"{T}/..%255c..%255cbeta%255cSecret/"),
    # CVE-2008-2938 (Tomcat) and CVE-2000-0884 / MS00-078 (IIS): overlong UTF-8 forms of '.' and '/'.
    ("overlong UTF-8 dots", f"{T}/%c0%ae%c0%ae/%c0%ae%c0%ae/beta/Secret/"),
    ("overlong UTF-8 slash", f"{T}/..%c0%af..%c0%afbeta/Secret/"),
    # IIS-style %u escapes (CWE-174, double decoding of non-standard escapes).
    ("%u escapes", f"{T}/%u002e%u002e/%u002e%u002e/beta/Secret/"),
    # CVE-2007-0450 (Tomcat): '\' and encoded separators taken as path separators.
    ("literal backslashes", f"{T}/..\\..\\beta\\Secret/"),
    ("encoded backslash and slash", f"{T}/..%5c..%2fbeta%5cSecret/"),
    ("upper-case %2E%2E%2F", f"{T}/%2E%2E%2F%2E%2E%2Fbeta%2FSecret/"),
    # CWE-22 variants: half-encoded dots, path parameters (';' as in Tomcat/Spring), NUL-terminated dots.
    ("half-encoded dots", f"{T}/.%2e/%2e./beta/Secret/"),
    ("path parameter dots", f"{T}/..;/..;/beta/Secret/"),
    ("dots with NUL", f"{T}/..%00/..%00/beta/Secret/"),
    # CWE-41 (path equivalence): the contact's own client, private folder reached by another spelling.
    ("dot segment", "/acme/./Matter/"),
    ("empty segments", "/acme//Matter//"),
    ("dot-dot from Team's shared", f"{T}/../Matter/"),
    ("encoded dot-dot from Client's shared", f"/acme/{CLIENT_Q}/%2e%2e/Matter/"),
    ("trailing dot (Windows alias)", "/acme/Matter./"),
    ("trailing space (Windows alias)", "/acme/Matter%20/"),
]


@pytest.mark.parametrize("method", ["GET", "PROPFIND", "PUT", "MKCOL", "DELETE"])
@pytest.mark.parametrize("label, prefix", ESCAPES, ids=[e[0] for e in ESCAPES])
def test_encoded_traversal_never_leaves_the_contacts_folders(world, label, prefix, method):
    """CVE-2001-0333, CVE-2008-2938, CVE-2000-0884, CVE-2007-0450 and CWE-22/CWE-41 variants.

    However '..' and '/' are spelled, a contact's request never reads, lists, creates or removes
    anything in another client or in their client's private folders: a refusal (400, 404, 409 for
    a parent that does not exist, or 403 where the literal name would land in a read-only folder),
    a real answer (never a dropped connection or a 500), and the private files unchanged.
    """
    new_name = unique()
    target = {
        "GET": prefix + "plan.pdf",
        "PROPFIND": prefix,
        "PUT": prefix + new_name,
        "MKCOL": prefix + new_name.removesuffix(".pdf") + "/",
        "DELETE": prefix + "plan.pdf",
    }[method]
    headers = [("Depth", "1")] if method == "PROPFIND" else []
    reply = send(world, method, target, headers=headers, body=b"planted" if method == "PUT" else b"")
    assert reply.status in (400, 403, 404, 409), (reply.status, reply.text)
    _no_secret(reply.body)
    _secrets_intact(world)
    assert not list(world.portal.storage.root.rglob(new_name.removesuffix(".pdf") + "*"))


# --- clients whose id starts like the contact's --------------------------------------------------

SIBLINGS = ["acme_evil", "acme-evil"]


@pytest.fixture(scope="module")
def siblings(world):
    sam = world.as_user("sam")
    for client_id in SIBLINGS:
        world.add_client(client_id)
        assert sam.put(f"/{client_id}/{TEAM}/evil-letter.pdf", EVIL_DOC).status_code == 201
    world.add_contact("eve", "acme_evil")
    return world


@pytest.mark.parametrize("client_id", SIBLINGS)
@pytest.mark.parametrize("method, path", [
    ("GET", "/{c}/{team}/evil-letter.pdf"),
    ("HEAD", "/{c}/{team}/evil-letter.pdf"),
    ("PROPFIND", "/{c}/"),
    ("PROPFIND", "/{c}/{team}/"),
    ("PUT", "/{c}/{client}/planted.pdf"),
    ("MKCOL", "/{c}/{client}/planted/"),
    ("DELETE", "/{c}/{team}/evil-letter.pdf"),
    ("LOCK", "/{c}/{team}/evil-letter.pdf"),
])  # fmt: skip
def test_a_client_id_that_starts_like_the_contacts_is_another_client(siblings, client_id, method, path):
    """CWE-22 partial path traversal (a prefix test without a separator: "/acme" matching "/acme_evil").

    A contact of `acme` gets 404 on every method in `acme_evil` and `acme-evil`, as in any other client.
    """
    target = path.format(c=client_id, team=TEAM_Q, client=CLIENT_Q)
    headers = [("Depth", "1")] if method == "PROPFIND" else []
    body = LOCK_BODY if method == "LOCK" else (b"planted" if method == "PUT" else b"")
    reply = send(siblings, method, target, headers=headers, body=body)
    assert reply.status == 404, (reply.status, reply.text)
    _no_secret(reply.body)
    assert siblings.as_user("sam").request("GET", f"/{client_id}/{TEAM}/evil-letter.pdf").content == EVIL_DOC
    assert not exists(siblings, f"/{client_id}/{CLIENT}/planted.pdf")
    assert not exists(siblings, f"/{client_id}/{CLIENT}/planted/")


@pytest.mark.parametrize("client_id", SIBLINGS)
@pytest.mark.parametrize("method", ["COPY", "MOVE"])
def test_a_lookalike_client_is_no_destination_for_a_contact(siblings, client_id, method):
    """CWE-22 partial path traversal, on the Destination header: COPY/MOVE into `acme_evil` is 404."""
    alice = siblings.as_user("alice")
    source = f"/acme/{CLIENT}/{unique()}"
    assert alice.put(source, b"alice's").status_code == 201
    destination = f"/{client_id}/{CLIENT}/{unique()}"
    reply = send(siblings, method, q(source), headers=[("Destination", q(destination))])
    assert reply.status == 404
    assert not exists(siblings, destination)
    assert exists(siblings, source)


def test_lookalike_clients_are_not_listed_and_their_contacts_stay_out(siblings):
    """CWE-22 partial path traversal, the other way round: eve of `acme_evil` never reaches `acme`."""
    assert siblings.as_user("alice").names("/") == {"acme"}
    assert siblings.as_user("eve").names("/") == {"acme_evil"}
    for target in ("/acme/", f"/acme/{TEAM_Q}/letter.pdf", "/acme-evil/"):
        assert send(siblings, "GET", target, login="eve").status == 404
        assert send(siblings, "PROPFIND", target, login="eve", headers=[("Depth", "0")]).status == 404


# --- NUL and control characters ------------------------------------------------------------------

CONTROLS = ["%00", "%01", "%09", "%0a", "%0d", "%0d%0a", "%1b", "%7f"]


@pytest.mark.parametrize("method", ["GET", "PROPFIND", "PUT", "MKCOL", "DELETE"])
@pytest.mark.parametrize("char", CONTROLS)
def test_control_characters_anywhere_in_the_path_are_refused(world, char, method):
    """CWE-158 (NUL byte) and CWE-93/CWE-117 (CR, LF): a name with a control character is refused with
    400 on every method, in a folder segment as in the name (the `%00` GET is in test_bad_input)."""
    for target in (f"/acme/{CLIENT_Q}/a{char}b/x.pdf", f"/acme/{CLIENT_Q}/x{char}.pdf"):
        headers = [("Depth", "0")] if method == "PROPFIND" else []
        reply = send(world, method, target, headers=headers, body=b"x" if method == "PUT" else b"")
        assert reply.status == 400, (target, reply.status, reply.text)
    assert not [p for p in (world.portal.storage.root / "acme" / CLIENT).iterdir() if p.name.startswith(("a", "x"))]


@pytest.mark.parametrize("method", ["COPY", "MOVE"])
@pytest.mark.parametrize("char", CONTROLS)
def test_control_characters_in_the_destination_are_refused(world, char, method):
    """CWE-158 / CWE-93 on the Destination header: 400, and nothing is created or moved."""
    alice = world.as_user("alice")
    source = f"/acme/{CLIENT}/{unique()}"
    assert alice.put(source, b"alice's").status_code == 201
    for destination in (f"/acme/{CLIENT_Q}/d{char}e/x.pdf", f"/acme/{CLIENT_Q}/y{char}z.pdf"):
        reply = send(world, method, q(source), headers=[("Destination", destination)])
        assert reply.status == 400, (destination, reply.status, reply.text)
    assert exists(world, source)


# --- overlong names and paths --------------------------------------------------------------------

LONG_NAMES = {
    "256 ASCII bytes": "a" * 252 + ".pdf",
    "300 bytes of 2-byte characters": "é" * 148 + ".pdf",
}
ALL_METHODS = ["GET", "HEAD", "PROPFIND", "PUT", "MKCOL", "DELETE", "LOCK", "COPY-to", "MOVE-to"]


def _send_named(firm, method: str, path: str):
    headers, body = [], b""
    if method == "PROPFIND":
        headers = [("Depth", "0")]
    elif method == "PUT":
        body = b"x"
    elif method == "LOCK":
        body = LOCK_BODY.encode()
    elif method == "MKCOL":
        path = path + "/"  # the same name, as a folder
    elif method in ("COPY-to", "MOVE-to"):
        source = f"/acme/{CLIENT}/{unique()}"
        assert firm.as_user("alice").put(source, b"alice's").status_code == 201
        return send(firm, method[:4], q(source), headers=[("Destination", q(path))])
    return send(firm, method, q(path), headers=headers, body=body)


@pytest.mark.parametrize("method", ALL_METHODS)
@pytest.mark.parametrize("name", LONG_NAMES.values(), ids=LONG_NAMES.keys())
def test_names_over_255_bytes_are_refused_cleanly(world, name, method):
    """CWE-20 / CWE-209: a name longer than the filesystem allows (255 bytes) is a clean refusal:
    400 for what would create it, 400 or 404 for the rest; never a 500 from the filesystem's
    ENAMETOOLONG (MODEL.md: errors never show internals; names over 255 bytes are refused)."""
    reply = _send_named(world, method, f"/acme/{CLIENT}/{name}")
    creates = method in ("PUT", "MKCOL", "LOCK", "COPY-to", "MOVE-to")
    assert reply.status in ((400,) if creates else (400, 404)), (reply.status, reply.text)


@pytest.mark.parametrize("method", ALL_METHODS)
@pytest.mark.parametrize("name", LONG_NAMES.values(), ids=LONG_NAMES.keys())
def test_overlong_names_in_a_hidden_folder_are_as_invisible_as_any(world, name, method):
    """CWE-204: an overlong name in a private folder answers a contact 404 (or 400, which depends on
    the name alone), never a 500 that would tell the folder apart from one that does not exist."""
    hidden = _send_named(world, method, f"/acme/Matter/{name}")
    missing = _send_named(world, method, f"/acme/Mattex/{name}")
    assert hidden.status in (400, 404), (hidden.status, hidden.text)
    assert (hidden.status, hidden.body.replace(b"Matter", b"Mattex")) == (missing.status, missing.body)


@pytest.mark.parametrize("method", ["GET", "PROPFIND", "PUT", "MKCOL", "DELETE"])
def test_overlong_paths_are_refused_cleanly(world, method):
    """CVE-2009-3896 (nginx: a long URI crashed a worker) / CWE-400: a path longer than the
    filesystem's PATH_MAX (30 segments of 200 bytes) is refused (400, 404 or 414), not a 500."""
    path = f"/acme/{CLIENT}/" + "/".join(["b" * 200] * 30) + "/x.pdf"
    reply = _send_named(world, method, path)
    assert reply.status in (400, 404, 409, 414), (reply.status, reply.text[:200])


# --- symlinks planted in the storage -------------------------------------------------------------


@pytest.fixture(scope="module")
def planted(world, tmp_path_factory):
    """Symlinks an intruder with shell access (or a restored backup) left in acme's Client's shared."""
    root = world.portal.storage.root
    outside = tmp_path_factory.mktemp("outside")
    (outside / "canary.pdf").write_bytes(CANARY)
    (outside / "dir").mkdir()
    (outside / "dir" / "canary.pdf").write_bytes(CANARY)
    shared = root / "acme" / CLIENT
    (shared / "sub").mkdir()
    links = {
        "link-beta": root / "beta" / TEAM,  # another client's folder
        "link-beta-secret": root / "beta" / "Secret",
        "link-matter": root / "acme" / "Matter",  # the client's own private folder
        "link-plan": root / "beta" / "Secret" / "plan.pdf",  # a file
        "link-etc": "/etc",  # the host
        "link-passwd": "/etc/passwd",
        "link-outside": outside / "dir",
        "link-canary": outside / "canary.pdf",
        "link-dangling": outside / "nothing-here",
        "sub/link-up": "..",  # a loop
    }
    for name, target in links.items():
        os.symlink(target, shared / name)
    world.outside = outside
    return world


LINK_NAMES = {"link-beta", "link-beta-secret", "link-matter", "link-plan", "link-etc", "link-passwd",
              "link-outside", "link-canary", "link-dangling", "link-up"}  # fmt: skip


def _outside_intact(firm):
    assert (firm.outside / "canary.pdf").read_bytes() == CANARY
    assert sorted(p.name for p in firm.outside.iterdir()) == ["canary.pdf", "dir"]
    assert sorted(p.name for p in (firm.outside / "dir").iterdir()) == ["canary.pdf"]
    _secrets_intact(firm)
    assert firm.as_user("sam").names(f"/beta/{TEAM}/") == {"beta-letter.pdf"}


@pytest.mark.parametrize("login", ["alice", "sam"])
@pytest.mark.parametrize("folder", [f"/acme/{CLIENT}/", f"/acme/{CLIENT}/sub/"])
def test_symlinks_are_never_listed(planted, login, folder):
    """CWE-59 / CWE-61 (link following): a symlink in the storage appears in no listing, for anyone."""
    names = planted.as_user(login).names(folder)
    assert not names & LINK_NAMES, names
    reply = send(planted, "PROPFIND", q(folder), login=login, headers=[("Depth", "1")])
    for name in LINK_NAMES:
        assert name.encode() not in reply.body


@pytest.mark.parametrize("login", ["alice", "sam"])
def test_symlinks_are_not_in_the_browser_listing(planted, login):
    """CWE-59: the HTML page of a folder (a browser's GET) lists no symlink either."""
    reply = send(planted, "GET", f"/acme/{CLIENT_Q}/", login=login, headers=[("Accept", "text/html")])
    for name in LINK_NAMES:
        assert name.encode() not in reply.body


READ_THROUGH = [
    "link-beta/", "link-beta/beta-letter.pdf", "link-beta-secret/plan.pdf", "link-matter/plan.pdf",
    "link-plan", "link-etc/", "link-etc/passwd", "link-passwd", "link-outside/canary.pdf",
    "link-canary", "link-dangling", "sub/link-up/", "sub/link-up/link-plan",
]  # fmt: skip


@pytest.mark.parametrize("method", ["GET", "PROPFIND", "COPY"])
@pytest.mark.parametrize("login", ["alice", "sam"])
@pytest.mark.parametrize("link", READ_THROUGH)
def test_symlinks_are_never_followed_for_reading(planted, link, login, method):
    """CWE-59 / CWE-61: reading through a planted symlink (to another client, to the client's private
    folder, to /etc, to a file, in a loop) is 404 for staff and contacts alike, on GET, PROPFIND
    and COPY (a copy would read it)."""
    # Somewhere the actor may create: the copy's only obstacle is the source.
    destination = f"/acme/{CLIENT}/{unique()}" if login == "alice" else f"/acme/Matter/{unique()}"
    headers = {"PROPFIND": [("Depth", "1")], "COPY": [("Destination", q(destination))]}.get(method, [])
    reply = send(planted, method, q(f"/acme/{CLIENT}/{link}"), login=login, headers=headers)
    assert reply.status == 404, (reply.status, reply.text[:200])
    _no_secret(reply.body)
    assert not exists(planted, destination)


WRITE_THROUGH = [
    ("PUT", "link-beta/planted.pdf"),
    ("PUT", "link-outside/planted.pdf"),
    ("PUT", "link-matter/planted.pdf"),
    ("MKCOL", "link-beta/planted/"),
    ("MKCOL", "link-outside/planted/"),
    ("DELETE", "link-plan"),
    ("DELETE", "link-beta/beta-letter.pdf"),
    ("DELETE", "link-outside/"),
    ("DELETE", "link-canary"),
    ("MOVE", "link-plan"),
    ("MOVE", "link-outside/canary.pdf"),
    ("PROPPATCH", "link-plan"),
    ("LOCK", "link-beta/locked.pdf"),
    ("LOCK", "link-outside/canary.pdf"),
]


@pytest.mark.parametrize("login", ["alice", "sam"])
@pytest.mark.parametrize("method, link", WRITE_THROUGH, ids=[f"{m}-{p}" for m, p in WRITE_THROUGH])
def test_symlinks_are_never_followed_for_writing(planted, method, link, login):
    """CWE-59 / CWE-61: writing through a planted symlink never creates, changes or removes anything
    where it points (another client, the private folder, outside the storage); the request is
    refused (404; 409 for a missing parent; 403 where the actor may not change that name at all)."""
    headers, body = [], b""
    if method == "PUT":
        body = b"planted"
    elif method == "MOVE":
        headers = [("Destination", q(f"/acme/{CLIENT}/{unique()}"))]
    elif method == "PROPPATCH":
        body = ("<D:propertyupdate xmlns:D='DAV:'><D:set><D:prop><x:n xmlns:x='urn:x'>1</x:n>"
                "</D:prop></D:set></D:propertyupdate>").encode()  # fmt: skip
    elif method == "LOCK":
        body = LOCK_BODY.encode()
    reply = send(planted, method, q(f"/acme/{CLIENT}/{link}"), login=login, headers=headers, body=body)
    assert reply.status in (403, 404, 409), (reply.status, reply.text)
    _outside_intact(planted)
    assert not list(planted.portal.storage.root.rglob("planted*"))
    assert not list(planted.outside.rglob("planted*"))


def test_copy_move_and_delete_of_a_folder_holding_symlinks_never_follow_them(planted):
    """CWE-59 / CWE-61, recursive: a folder with symlinks inside is copied (Depth infinity), moved and
    deleted without reading or touching what the links point to; the copy holds no link and no
    byte from outside the storage."""
    alice = planted.as_user("alice")
    box = f"/acme/{CLIENT}/{unique('', 'box')}"
    assert alice.request("MKCOL", box + "/").status_code == 201
    assert alice.put(box + "/a.pdf", b"alice's own").status_code == 201
    disk = planted.portal.storage.root / "acme" / CLIENT / box.rsplit("/", 1)[1]
    os.symlink(planted.outside / "dir", disk / "out")
    os.symlink(planted.outside / "canary.pdf", disk / "out-file.pdf")
    os.symlink(planted.portal.storage.root / "beta" / "Secret", disk / "beta-secret")

    copy = box + "-copy"
    reply = send(planted, "COPY", q(box + "/"), headers=[("Destination", q(copy + "/")), ("Depth", "infinity")])
    assert reply.status == 201, reply.text
    copied = planted.portal.storage.root / "acme" / CLIENT / copy.rsplit("/", 1)[1]
    assert sorted(p.name for p in copied.iterdir()) == ["a.pdf"]
    assert not any(p.is_symlink() for p in copied.rglob("*"))
    for file in copied.rglob("*"):
        if file.is_file():
            _no_secret(file.read_bytes())
    staff_copy = f"/acme/Matter/{unique('', 'staffcopy')}/"
    assert send(planted, "COPY", q(box + "/"), login="sam", headers=[("Destination", q(staff_copy))]).status == 201
    assert planted.as_user("sam").names(staff_copy) == {"a.pdf"}

    moved = box + "-moved"
    assert send(planted, "MOVE", q(box + "/"), headers=[("Destination", q(moved + "/"))]).status == 201
    assert send(planted, "DELETE", q(moved + "/")).status == 204
    assert send(planted, "DELETE", q(copy + "/")).status == 204
    assert send(planted, "DELETE", q(staff_copy), login="sam").status == 204
    _outside_intact(planted)
