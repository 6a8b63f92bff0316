"""Listing leaks: nothing hidden from a contact shows in any answer, and hidden things cannot be told
apart from things that do not exist.

MODEL.md: "404 means the target is invisible: the same answer whether or not it exists, and it
never appears in any listing." tests/test_access_matrix.py checks Depth 1 listings with the default
body; here every PROPFIND body (allprop, propname, named, include), lockdiscovery and lockroot,
error bodies, headers and the browser's page are searched, and every method is sent to an existing
hidden thing and to a missing one, whose answers must be the same byte for byte (but the Date).
"""

from __future__ import annotations

from urllib.parse import quote, unquote

import pytest

from tests.security.conftest import CLIENT, CLIENT_Q, LOCK_BODY, TEAM, Reply, q, send, unique

PRIVATE = "Confidential-Matter"
HIDDEN_FILE = "hidden-plan-7f3.pdf"
SHARED_FILE = "shared-letter.pdf"  # in the private folder, shared with the client by the toggle
STAFF_DESKTOP = "~$hidden-draft.docx"  # Office's owner file, written by staff: the client never sees it
PRIVATE_BYTES = b"PRIVATE CONTENT 3b9d"


@pytest.fixture(scope="module")
def leaky(firm):
    sam = firm.as_user("sam")
    for path in (f"/acme/{PRIVATE}/", f"/acme/{TEAM}/Reports/", "/beta/Beta-Secret/"):
        assert sam.request("MKCOL", path).status_code == 201
    puts = {
        f"/acme/{PRIVATE}/{HIDDEN_FILE}": PRIVATE_BYTES,
        f"/acme/{PRIVATE}/{SHARED_FILE}": b"a letter shared from the private folder",
        f"/acme/{TEAM}/{STAFF_DESKTOP}": b"staff's Office owner file",
        f"/acme/{TEAM}/.DS_Store": b"staff's Finder file",
        f"/acme/{TEAM}/Reports/.DS_Store": b"staff's Finder file",
        f"/acme/{TEAM}/Reports/report.pdf": b"a report for acme",
        "/beta/Beta-Secret/beta-plan.pdf": b"beta's plan",
        f"/beta/{TEAM}/beta-doc.pdf": b"beta's document",
    }
    for path, data in puts.items():
        assert sam.put(path, data).status_code == 201, path
    share = ("<D:propertyupdate xmlns:D='DAV:' xmlns:p='urn:davportal'><D:set><D:prop><p:shared>true</p:shared>"
             "</D:prop></D:set></D:propertyupdate>")  # fmt: skip
    assert sam.request("PROPPATCH", f"/acme/{PRIVATE}/{SHARED_FILE}", data=share).status_code == 207
    assert SHARED_FILE in firm.as_user("alice").names(f"/acme/{TEAM}/"), "the share toggle did not work"
    # Staff lock the private original of the shared file: its lock root is a private path.
    lock = sam.request("LOCK", f"/acme/{PRIVATE}/{SHARED_FILE}", data=LOCK_BODY, headers={"Timeout": "Second-600"})
    assert lock.status_code == 200, lock.text
    firm.staff_token = lock.headers["Lock-Token"].strip("<>")
    # carol downloads the report: a read receipt that alice must not see.
    assert firm.as_user("carol").request("GET", f"/acme/{TEAM}/Reports/report.pdf").status_code == 200
    firm.alices = f"/acme/{CLIENT}/{unique()}"
    assert firm.as_user("alice").put(firm.alices, b"alice's own").status_code == 201
    return firm


def _markers(firm) -> list[str]:
    return [PRIVATE, "hidden-plan", STAFF_DESKTOP, "hidden-draft", "DS_Store", "beta", "carol", firm.staff_token,
            PRIVATE_BYTES.decode()]  # fmt: skip


def _assert_nothing_hidden(firm, reply: Reply, *, sent: str = ""):
    """No marker in the body or any header, but those the request itself spelled out (an echo)."""
    texts = [reply.body.decode("utf-8", "replace")] + [f"{k}: {v}" for k, v in reply.header_list]
    texts += [unquote(t) for t in texts]
    sent = unquote(sent).lower()
    for text in texts:
        for marker in _markers(firm):
            if marker.lower() not in sent:
                assert marker.lower() not in text.lower(), f"{marker!r} leaked in: {text[:300]}"


NAMED_PROPS = (
    "<D:displayname/><D:resourcetype/><D:getetag/><D:getlastmodified/><D:creationdate/><D:getcontentlength/>"
    "<D:getcontenttype/><D:lockdiscovery/><D:supportedlock/><D:quota-available-bytes/><D:quota-used-bytes/>"
    "<D:owner/><D:current-user-principal/><D:href/>"
    "<p:description/><p:shared/><p:uploaded-by/><p:area/><p:seen-by/>"
    "<oc:permissions/><oc:checksums/><oc:fileid/><oc:size/><oc:owner-id/><oc:owner-display-name/>"
    "<ms:Win32FileAttributes/><ms:Win32LastModifiedTime/>"
)
NS = "xmlns:D='DAV:' xmlns:p='urn:davportal' xmlns:oc='http://owncloud.org/ns' xmlns:ms='urn:schemas-microsoft-com:'"
BODIES = {
    "no body": "",
    "allprop": f"<D:propfind {NS}><D:allprop/></D:propfind>",
    "propname": f"<D:propfind {NS}><D:propname/></D:propfind>",
    "named": f"<D:propfind {NS}><D:prop>{NAMED_PROPS}</D:prop></D:propfind>",
    "allprop+include": f"<D:propfind {NS}><D:allprop/><D:include>{NAMED_PROPS}</D:include></D:propfind>",
}
LISTED = ["/", "/acme/", f"/acme/{TEAM}/", f"/acme/{TEAM}/{SHARED_FILE}", f"/acme/{TEAM}/Reports/", f"/acme/{CLIENT}/"]


@pytest.mark.parametrize("depth", ["0", "1"])
@pytest.mark.parametrize("path", LISTED)
@pytest.mark.parametrize("body", BODIES.values(), ids=BODIES.keys())
def test_no_hidden_name_in_any_propfind_answer(leaky, body, path, depth):
    """CWE-200 / CWE-538 (exposure of files outside the user's reach through PROPFIND properties):
    for a contact, no PROPFIND body (none, allprop, propname, named properties including
    lockdiscovery, lockroot, seen-by and ownCloud's, allprop+include), at any folder or at a file
    shared from a private folder, names a private folder or file, another client, staff's own
    desktop files, another contact's read receipt, a lock token of staff or the private bytes."""
    reply = send(leaky, "PROPFIND", q(path), headers=[("Depth", depth)], body=body)
    assert reply.status == 207, (reply.status, reply.text)
    _assert_nothing_hidden(leaky, reply)


@pytest.mark.parametrize("query", ["", "?q=hidden", "?q=Confidential", "?q=beta", "?q=DS_Store", "?q=%7E%24"])
@pytest.mark.parametrize("path", ["/", "/acme/", f"/acme/{TEAM}/", f"/acme/{TEAM}/Reports/", f"/acme/{CLIENT}/"])
def test_no_hidden_name_in_the_browser_listing_or_its_search(leaky, path, query):
    """CWE-200 / CWE-538 on the HTML side: the page a browser gets for a folder (and its search box)
    names nothing hidden from the contact."""
    reply = send(leaky, "GET", q(path) + query, headers=[("Accept", "text/html")])
    assert reply.status == 200, (reply.status, reply.text[:300])
    _assert_nothing_hidden(leaky, reply)


PROPPATCH_BODY = (
    b"<D:propertyupdate xmlns:D='DAV:'><D:set><D:prop><x:n xmlns:x='urn:x'>1</x:n></D:prop></D:set></D:propertyupdate>"
)
REFUSED = [
    # (method, path, extra headers, body): visible to alice, refused, and close to something hidden.
    ("PUT", f"/acme/{TEAM}/{SHARED_FILE}", [], b"overwrite"),
    ("DELETE", f"/acme/{TEAM}/{SHARED_FILE}", [], b""),
    ("MOVE", f"/acme/{TEAM}/{SHARED_FILE}", [("Destination", f"/acme/{CLIENT_Q}/moved.pdf")], b""),
    ("PROPPATCH", f"/acme/{TEAM}/{SHARED_FILE}", [], PROPPATCH_BODY),
    ("LOCK", f"/acme/{TEAM}/{SHARED_FILE}", [("Timeout", "Second-60")], LOCK_BODY.encode()),
    ("UNLOCK", f"/acme/{TEAM}/{SHARED_FILE}", [("Lock-Token", "<opaquelocktoken:guess>")], b""),
    ("PUT", f"/acme/{TEAM}/.DS_Store", [], b"mine"),
    ("DELETE", f"/acme/{TEAM}/Reports/", [], b""),
    ("MOVE", f"/acme/{TEAM}/Reports/", [("Destination", f"/acme/{CLIENT_Q}/Reports/")], b""),
    ("MKCOL", f"/acme/{TEAM}/Reports/", [], b""),
    ("PUT", "/acme/x.pdf", [], b"x"),
    ("DELETE", f"/acme/{TEAM}/", [], b""),
    ("PROPFIND", f"/acme/{TEAM}/", [("Depth", "infinity")], b""),
]  # fmt: skip


@pytest.mark.parametrize("method, path, headers, body", REFUSED, ids=[f"{r[0]}-{r[1]}" for r in REFUSED])
def test_no_hidden_name_in_error_bodies_or_headers(leaky, method, path, headers, body):
    """CWE-209 (information exposure through an error message) / CWE-200: a refusal next to hidden
    things (a shared file's private original, staff's desktop files, a private lock root) explains
    itself without naming them, in the body or in any header (Location included)."""
    reply = send(leaky, method, q(path), headers=headers, body=body)
    assert 400 <= reply.status < 500, (reply.status, reply.text)
    _assert_nothing_hidden(leaky, reply, sent=path + repr(headers))


def test_a_copy_of_a_shared_file_carries_nothing_of_its_private_original(leaky):
    """CWE-200: alice copies the shared letter into her folder; the copy's properties (including the
    dead properties and locks copied along) name neither the private folder nor staff's lock."""
    target = f"/acme/{CLIENT}/{unique()}"
    reply = send(leaky, "COPY", q(f"/acme/{TEAM}/{SHARED_FILE}"), headers=[("Destination", q(target))])
    assert reply.status == 201, reply.text
    _assert_nothing_hidden(leaky, reply)
    listing = send(leaky, "PROPFIND", q(target), headers=[("Depth", "0")], body=BODIES["allprop+include"])
    _assert_nothing_hidden(leaky, listing)


def test_copying_a_folder_does_not_hand_over_staffs_hidden_files(leaky):
    """CWE-200 / CWE-284: a contact copying a Team's shared folder (Depth infinity) into their own
    folder gets only what they can see there: staff's desktop files inside stay behind, instead of
    becoming the contact's own visible copies."""
    target = f"/acme/{CLIENT}/{unique('', 'copied-reports')}/"
    reply = send(
        leaky, "COPY", q(f"/acme/{TEAM}/Reports/"), headers=[("Destination", q(target)), ("Depth", "infinity")]
    )
    assert reply.status == 201, reply.text
    assert leaky.as_user("sam").names(target) == {"report.pdf"}
    assert leaky.as_user("alice").names(target) == {"report.pdf"}


# --- existence: a hidden thing and a missing one answer the same ----------------------------------

PAIRS = {
    # label: (an existing thing alice may not see, the same path but for one letter, which does not exist)
    "private file": (f"/acme/{PRIVATE}/{HIDDEN_FILE}", f"/acme/{PRIVATE}/hidden-plan-7f4.pdf"),
    "private folder": (f"/acme/{PRIVATE}/", "/acme/Confidential-Mattex/"),
    "staff's desktop file in Team's shared": (f"/acme/{TEAM}/{STAFF_DESKTOP}", f"/acme/{TEAM}/~$hidden-drafx.docx"),
    "another client's file": (f"/beta/{TEAM}/beta-doc.pdf", f"/beta/{TEAM}/beta-dox.pdf"),
    "another client's folder": ("/beta/Beta-Secret/", "/beta/Beta-Secrex/"),
    "another client": ("/beta/", "/betx/"),
}
METHODS = ["GET", "HEAD", "OPTIONS", "PROPFIND-0", "PROPFIND-1", "PROPFIND-infinity", "PROPPATCH", "PUT", "MKCOL",
           "DELETE", "LOCK", "UNLOCK", "COPY-from", "MOVE-from", "COPY-onto-T", "COPY-onto-F", "MOVE-onto",
           "POST", "PATCH", "TRACE", "REPORT", "SEARCH"]  # fmt: skip


def _probe(firm, method: str, path: str) -> Reply:
    headers, body, target = [], b"", q(path)
    if method.startswith("PROPFIND"):
        method, depth = method.split("-")
        headers = [("Depth", depth)]
    elif method == "PROPPATCH":
        body = PROPPATCH_BODY
    elif method == "PUT":
        body = b"planted"
    elif method == "LOCK":
        headers, body = [("Timeout", "Second-60")], LOCK_BODY.encode()
    elif method == "UNLOCK":
        headers = [("Lock-Token", "<opaquelocktoken:0123456789>")]
    elif method in ("COPY-from", "MOVE-from"):
        method = method[:4]
        headers = [("Destination", f"/acme/{CLIENT_Q}/landed-here.pdf")]
    elif method in ("COPY-onto-T", "COPY-onto-F", "MOVE-onto"):
        overwrite = "F" if method.endswith("F") else "T"
        method, target = method[:4], q(firm.alices)
        headers = [("Destination", q(path)), ("Overwrite", overwrite)]
    elif method in ("POST", "PATCH"):
        headers, body = [("Content-Type", "application/x-www-form-urlencoded")], b"a=b"
    elif method in ("REPORT", "SEARCH"):
        body = b"<?xml version='1.0'?><D:searchrequest xmlns:D='DAV:'/>"
    return send(firm, method, target, headers=headers, body=body)


def _differing(existing: str, missing: str) -> list[tuple[bytes, bytes]]:
    """The spellings in which the two paths may be echoed, missing -> existing."""
    forms = [
        (missing, existing),
        (quote(missing), quote(existing)),
        (quote(missing, safe="/'"), quote(existing, safe="/'")),
    ]
    return [(m.encode(), e.encode()) for m, e in forms]


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("pair", PAIRS.values(), ids=PAIRS.keys())
def test_a_hidden_thing_answers_exactly_like_a_missing_one(leaky, pair, method):
    """CWE-204 (observable response discrepancy) / CWE-203 (file and client enumeration through
    answers that differ): every method on an existing thing
    a contact may not see answers exactly as on one that does not exist - status, headers and body,
    but the Date (and the echoed path itself)."""
    existing, missing = pair
    seen = _probe(leaky, method, existing)
    unseen = _probe(leaky, method, missing)
    for wrong, right in _differing(existing, missing):
        unseen.body = unseen.body.replace(wrong, right)
        unseen.header_list = [(k, v.replace(wrong.decode(), right.decode())) for k, v in unseen.header_list]
    assert seen.without_date() == unseen.without_date(), (seen, unseen)
    # OPTIONS answers for the path as a missing one would (the methods a new name takes); the rest refuse.
    assert seen.status in (403, 404, 405) or method == "OPTIONS", seen
    assert PRIVATE_BYTES not in seen.body and leaky.staff_token.encode() not in seen.body
    assert leaky.as_user("sam").request("GET", f"/acme/{PRIVATE}/{HIDDEN_FILE}").content == PRIVATE_BYTES
