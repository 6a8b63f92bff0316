"""IDOR: a contact replaying another client's contact's requests with their own credentials.

MODEL.md: another client's folders are 404 for a contact, always, on every method. Here bob (of
beta) does his ordinary work - lists, downloads, uploads, locks, renames, copies - and alice (of
acme) sends the very same requests (same paths, same headers, same lock tokens) signed as herself.
Every one is 404 and nothing of bob's changes. The last tests are the same class inside one
client: a contact acting on another contact's uploads through a folder, an overwrite, or the
portal's own properties.
"""

from __future__ import annotations

import re

import pytest
from lxml import etree

from tests.security.conftest import CLIENT, CLIENT_Q, LOCK_BODY, TEAM, TEAM_Q, q, send, unique

PROPPATCH = ("<D:propertyupdate xmlns:D='DAV:'><D:set><D:prop><x:tag xmlns:x='urn:x'>alice</x:tag></D:prop>"
             "</D:set></D:propertyupdate>")  # fmt: skip
PORTAL_PROPS = ("<D:propfind xmlns:D='DAV:' xmlns:p='urn:davportal' xmlns:oc='http://owncloud.org/ns'><D:prop>"
                "<p:description/><p:uploaded-by/><p:shared/><p:area/><oc:permissions/><oc:checksums/>"
                "<D:lockdiscovery/></D:prop></D:propfind>")  # fmt: skip
VERSIONS = "<D:propfind xmlns:D='DAV:' xmlns:p='urn:davportal'><D:prop><p:versions/></D:prop></D:propfind>"
RESTORE = ("<D:propertyupdate xmlns:D='DAV:' xmlns:p='urn:davportal'><D:set><D:prop>"
           "<p:restore-version>1</p:restore-version></D:prop></D:set></D:propertyupdate>")  # fmt: skip
BOB_BYTES = b"bob's upload 51af"


@pytest.fixture(scope="module")
def beta(firm):
    """bob's world: his upload (locked by him), a letter from staff, a private file shared with him."""
    sam, bob = firm.as_user("sam"), firm.as_user("bob")
    assert sam.request("MKCOL", "/beta/Private/").status_code == 201
    assert sam.put("/beta/Private/shared-with-bob.pdf", b"shared with bob").status_code == 201
    share = ("<D:propertyupdate xmlns:D='DAV:' xmlns:p='urn:davportal'><D:set><D:prop><p:shared>true</p:shared>"
             "</D:prop></D:set></D:propertyupdate>")  # fmt: skip
    assert sam.request("PROPPATCH", "/beta/Private/shared-with-bob.pdf", data=share).status_code == 207
    assert sam.put(f"/beta/{TEAM}/letter.pdf", b"letter for beta").status_code == 201
    assert bob.request("MKCOL", f"/beta/{CLIENT}/Bob's folder/").status_code == 201
    assert bob.put(f"/beta/{CLIENT}/Bob's folder/upload.pdf", BOB_BYTES).status_code == 201
    assert bob.put(f"/beta/{CLIENT}/unlocked.pdf", BOB_BYTES).status_code == 201
    lock = bob.request(
        "LOCK", f"/beta/{CLIENT}/Bob's folder/upload.pdf", data=LOCK_BODY, headers={"Timeout": "Second-3000"}
    )
    assert lock.status_code == 200
    firm.bob_token = lock.headers["Lock-Token"]
    firm.alices = f"/acme/{CLIENT}/{unique()}"
    assert firm.as_user("alice").put(firm.alices, b"alice's own").status_code == 201
    return firm


UPLOAD = f"/beta/{CLIENT_Q}/Bob%27s%20folder/upload.pdf"
UNLOCKED = f"/beta/{CLIENT_Q}/unlocked.pdf"
LETTER = f"/beta/{TEAM_Q}/letter.pdf"
SHARED = f"/beta/{TEAM_Q}/shared-with-bob.pdf"
BOBS_REQUESTS = {
    # label: (method, target, headers, body); "{token}" is bob's lock token, "{alices}" alice's file
    "list the client": ("PROPFIND", "/beta/", [("Depth", "1")], ""),
    "list Team's shared": ("PROPFIND", f"/beta/{TEAM_Q}/", [("Depth", "1")], ""),
    "list Client's shared": ("PROPFIND", f"/beta/{CLIENT_Q}/", [("Depth", "1")], ""),
    "portal properties": ("PROPFIND", UPLOAD, [("Depth", "0")], PORTAL_PROPS),
    "browser page": ("GET", f"/beta/{CLIENT_Q}/", [("Accept", "text/html")], ""),
    "download": ("GET", LETTER, [], ""),
    "download a range": ("GET", LETTER, [("Range", "bytes=0-3")], ""),
    "conditional download": ("GET", LETTER, [("If-None-Match", "*")], ""),
    "download the shared file": ("GET", SHARED, [], ""),
    "download his upload": ("GET", UPLOAD, [], ""),
    "preview": ("GET", LETTER + "?preview=1", [], ""),
    "earlier versions page": ("GET", UNLOCKED + "?versions", [("Accept", "text/html")], ""),
    "earlier versions": ("PROPFIND", UNLOCKED, [("Depth", "0")], VERSIONS),
    "restore an earlier version": ("PROPPATCH", UNLOCKED, [], RESTORE),
    "head": ("HEAD", LETTER, [], ""),
    "options": ("OPTIONS", UPLOAD, [], ""),
    "overwrite his upload": ("PUT", UNLOCKED, [], "alice was here"),
    "overwrite with his token": ("PUT", UPLOAD, [("If", "({token})")], "alice was here"),
    "upload a new file": ("PUT", f"/beta/{CLIENT_Q}/from-alice.pdf", [], "planted"),
    "new folder": ("MKCOL", f"/beta/{CLIENT_Q}/from-alice/", [], ""),
    "delete": ("DELETE", UNLOCKED, [], ""),
    "delete his folder": ("DELETE", f"/beta/{CLIENT_Q}/Bob%27s%20folder/", [("If", "({token})")], ""),
    "rename": ("MOVE", UNLOCKED, [("Destination", f"/beta/{CLIENT_Q}/renamed.pdf")], ""),
    "move out to acme": ("MOVE", UNLOCKED, [("Destination", f"/acme/{CLIENT_Q}/stolen.pdf")], ""),
    "copy out to acme": ("COPY", LETTER, [("Destination", f"/acme/{CLIENT_Q}/stolen-letter.pdf")], ""),
    "copy the shared file out": ("COPY", SHARED, [("Destination", f"/acme/{CLIENT_Q}/stolen-shared.pdf")], ""),
    "copy within beta": ("COPY", UNLOCKED, [("Destination", f"/beta/{CLIENT_Q}/copy.pdf")], ""),
    "copy over his upload": ("COPY", "{alices}", [("Destination", UPLOAD), ("Overwrite", "T")], ""),
    "move over his upload": ("MOVE", "{alices}", [("Destination", UNLOCKED), ("Overwrite", "T")], ""),
    "proppatch": ("PROPPATCH", UNLOCKED, [], PROPPATCH),
    "lock": ("LOCK", UNLOCKED, [("Timeout", "Second-60")], LOCK_BODY),
    "refresh his lock": ("LOCK", UPLOAD, [("If", "({token})"), ("Timeout", "Second-3600")], ""),
    "unlock his lock": ("UNLOCK", UPLOAD, [("Lock-Token", "{token}")], ""),
    "lock a new name": ("LOCK", f"/beta/{CLIENT_Q}/lock-null.pdf", [("Timeout", "Second-60")], LOCK_BODY),
}


def _bob_unharmed(firm):
    bob, sam = firm.as_user("bob"), firm.as_user("sam")
    assert bob.request("GET", f"/beta/{CLIENT}/Bob's folder/upload.pdf").content == BOB_BYTES
    assert bob.request("GET", f"/beta/{CLIENT}/unlocked.pdf").content == BOB_BYTES
    assert sam.names(f"/beta/{CLIENT}/") == {"Bob's folder", "unlocked.pdf"}
    assert sam.names(f"/beta/{CLIENT}/Bob's folder/") == {"upload.pdf"}
    discovery = send(firm, "PROPFIND", UPLOAD, login="bob", headers=[("Depth", "0")], body=PORTAL_PROPS)
    assert firm.bob_token.strip("<>") in discovery.text, "bob's lock is gone"
    seconds = re.search(r"<D:timeout>Second-(\d+)</D:timeout>", discovery.text)
    assert seconds and int(seconds.group(1)) <= 3000, "bob's lock was refreshed by someone else"
    assert not [n for n in sam.names(f"/acme/{CLIENT}/") if n.startswith("stolen")]


def test_control_bob_does_all_this_himself(beta):
    """Control for the replay: bob's own requests work (so alice's 404s are not a broken fixture)."""
    for label in ("list the client", "download", "download the shared file", "portal properties"):
        method, target, headers, body = BOBS_REQUESTS[label]
        reply = send(beta, method, target, login="bob", headers=headers, body=body)
        assert reply.status in (200, 207), (label, reply.status)


@pytest.mark.parametrize("label", BOBS_REQUESTS)
def test_a_contact_replaying_another_clients_requests_gets_404(beta, label):
    """CWE-639 (authorization bypass through a user-controlled key) / OWASP API1:2023 (broken
    object level authorization), the IDOR class of client portals (another client's documents
    fetched by changing the client id in the URL): alice sends bob's exact request, bob's lock token
    included, with her own credentials. Every method answers 404 and nothing of bob's changes."""
    method, target, headers, body = BOBS_REQUESTS[label]
    fill = {"token": beta.bob_token, "alices": q(beta.alices)}
    target = target.format(**fill)
    headers = [(k, v.format(**fill)) for k, v in headers]
    reply = send(beta, method, target, headers=headers, body=body)
    assert reply.status == 404, (reply.status, reply.text[:300])
    assert BOB_BYTES not in reply.body and b"letter for beta" not in reply.body
    assert beta.bob_token.strip("<>").encode() not in reply.body
    _bob_unharmed(beta)


# --- the same class inside one client: another contact's uploads -------------------------------


def _carols_file_in_alices_folder(firm) -> tuple[str, str]:
    alice, carol = firm.as_user("alice"), firm.as_user("carol")
    folder = f"/acme/{CLIENT}/{unique('', 'alices-folder')}/"
    assert alice.request("MKCOL", folder).status_code == 201
    assert carol.put(folder + "carols.pdf", b"carol's upload").status_code == 201
    return folder, folder + "carols.pdf"


@pytest.mark.parametrize("method", ["DELETE", "MOVE", "COPY-over"])
def test_a_contact_cannot_remove_another_contacts_upload_through_a_folder(beta, method):
    """CWE-639 / CWE-284 (MODEL.md: contacts change or delete "own uploads only"): alice made the
    folder, carol uploaded into it; deleting, moving or overwriting the folder would take carol's
    document with it, so it is refused (403) and carol's file stays where it was."""
    folder, carols = _carols_file_in_alices_folder(beta)
    if method == "DELETE":
        reply = send(beta, "DELETE", q(folder))
    elif method == "MOVE":
        reply = send(beta, "MOVE", q(folder), headers=[("Destination", q(folder.rstrip("/") + "-moved/"))])
    else:
        other = f"/acme/{CLIENT}/{unique('', 'other')}/"
        assert beta.as_user("alice").request("MKCOL", other).status_code == 201
        reply = send(beta, "COPY", q(other), headers=[("Destination", q(folder)), ("Overwrite", "T")])
    assert reply.status == 403, (reply.status, reply.text)
    assert beta.as_user("carol").request("GET", carols).content == b"carol's upload"


@pytest.mark.parametrize("method", ["COPY", "MOVE"])
def test_a_contact_cannot_overwrite_another_contacts_upload(beta, method):
    """CWE-639: COPY or MOVE of alice's file onto carol's upload with Overwrite: T is refused (403) and
    carol's bytes stay."""
    carols = f"/acme/{CLIENT}/{unique()}"
    assert beta.as_user("carol").put(carols, b"carol's upload").status_code == 201
    mine = f"/acme/{CLIENT}/{unique()}"
    assert beta.as_user("alice").put(mine, b"alice's").status_code == 201
    reply = send(beta, method, q(mine), headers=[("Destination", q(carols)), ("Overwrite", "T")])
    assert reply.status == 403, (reply.status, reply.text)
    assert beta.as_user("carol").request("GET", carols).content == b"carol's upload"


@pytest.mark.parametrize("prop, value", [("uploaded-by", "carol"), ("uploaded-by", "sam"), ("shared", "true"),
                                         ("description", "set by alice")])  # fmt: skip
def test_a_contact_cannot_rewrite_the_portals_own_record_of_a_file(beta, prop, value):
    """CWE-639 / CWE-915 (mass assignment of a protected attribute): alice cannot PROPPATCH who
    uploaded her file (to pass it off as carol's or the firm's), share it or describe it: the
    property is refused in the 207 and the record is unchanged."""
    mine = f"/acme/{CLIENT}/{unique()}"
    assert beta.as_user("alice").put(mine, b"alice's").status_code == 201
    body = (f"<D:propertyupdate xmlns:D='DAV:' xmlns:p='urn:davportal'><D:set><D:prop><p:{prop}>{value}</p:{prop}>"
            "</D:prop></D:set></D:propertyupdate>")  # fmt: skip
    reply = send(beta, "PROPPATCH", q(mine), body=body)
    assert reply.status in (207, 403), reply.text
    if reply.status == 207:
        statuses = [e.text for e in etree.fromstring(reply.body).iter("{DAV:}status")]
        assert statuses and not any(" 200 " in status for status in statuses), statuses
    check = send(beta, "PROPFIND", q(mine), headers=[("Depth", "0")], body=PORTAL_PROPS)
    record = etree.fromstring(check.body)
    assert record.findtext(".//{urn:davportal}uploaded-by") == "alice"
    assert record.findtext(".//{urn:davportal}shared") in (None, "false")
    assert record.findtext(".//{urn:davportal}description") in (None, "")


def test_a_contact_cannot_share_a_private_file_with_themself(beta):
    """CWE-639: the share toggle on a private file is 404 for a contact (it is invisible to them), and
    the file does not appear in their Team's shared."""
    beta.as_user("sam").request("MKCOL", "/acme/Private/")
    assert beta.as_user("sam").put("/acme/Private/not-for-alice.pdf", b"private").status_code == 201
    body = ("<D:propertyupdate xmlns:D='DAV:' xmlns:p='urn:davportal'><D:set><D:prop><p:shared>true</p:shared>"
            "</D:prop></D:set></D:propertyupdate>")  # fmt: skip
    reply = send(beta, "PROPPATCH", q("/acme/Private/not-for-alice.pdf"), body=body)
    assert reply.status == 404, (reply.status, reply.text)
    assert "not-for-alice.pdf" not in beta.as_user("alice").names(f"/acme/{TEAM}/")
