"""Descriptions, the share toggle, the trash, the audit trail and read receipts, over HTTP."""

from __future__ import annotations

import uuid
from datetime import timedelta
from urllib.parse import unquote

import pytest
from lxml import etree

from davportal.core.models import AuditEvent, utcnow
from davportal.services import trash
from policy import Actor, Role
from tests.conftest import CLIENT, TEAM

ADMIN = Actor("sam", Role.STAFF, is_admin=True)

NS = "urn:davportal"


def _set(dav, path: str, name: str, value: str, ns: str = NS):
    body = (f"<D:propertyupdate xmlns:D='DAV:' xmlns:p='{ns}'><D:set><D:prop><p:{name}>{value}</p:{name}>"
            "</D:prop></D:set></D:propertyupdate>")  # fmt: skip
    return dav.request("PROPPATCH", path, data=body.encode())


def _props(dav, path: str, *names: str, depth: str = "0") -> dict[str, dict[str, str]]:
    """{href name: {property: text or status}} for the asked properties."""
    asked = "".join(f"<{n.split('}')[1]} xmlns='{n[1:].split('}')[0]}'/>" for n in names)
    body = f"<D:propfind xmlns:D='DAV:'><D:prop>{asked}</D:prop></D:propfind>".encode()
    response = dav.request("PROPFIND", path, headers={"Depth": depth}, data=body)
    assert response.status_code == 207, response.text
    found = {}
    for entry in etree.fromstring(response.content).findall("{DAV:}response"):
        href = unquote(entry.findtext("{DAV:}href").rstrip("/").rsplit("/", 1)[-1])
        values = {}
        for propstat in entry.findall("{DAV:}propstat"):
            ok = "200" in propstat.findtext("{DAV:}status")
            for prop in propstat.find("{DAV:}prop"):
                values[prop.tag] = ("".join(prop.itertext()) if len(prop) == 0 else etree.tostring(prop).decode()) \
                    if ok else "missing"  # fmt: skip
        found[href] = values
    return found


@pytest.fixture
def matter(firm):
    """A private folder of its own for each test."""
    path = f"/acme/Matter-{uuid.uuid4().hex[:6]}/"
    assert firm.as_user("sam").request("MKCOL", path).status_code == 201
    return path


def test_staff_describe_and_contacts_read_descriptions(firm):
    sam, alice = firm.as_user("sam"), firm.as_user("alice")
    path = f"/acme/{TEAM}/described-{uuid.uuid4().hex[:6]}.pdf"
    sam.put(path, b"%PDF")
    response = _set(sam, path, "description", "Signed engagement letter — keep a copy")
    assert response.status_code == 207 and "200 OK" in response.text
    props = _props(alice, path, f"{{{NS}}}description", f"{{{NS}}}uploaded-by", f"{{{NS}}}area")
    name = path.rsplit("/", 1)[1]
    assert props[name] == {f"{{{NS}}}description": "Signed engagement letter — keep a copy",
                           f"{{{NS}}}uploaded-by": "sam", f"{{{NS}}}area": "team-shared"}  # fmt: skip
    too_long = _set(sam, path, "description", "x" * 501)
    assert "409" in too_long.text and "at most 500" in too_long.text


def test_contacts_cannot_set_portal_properties(firm):
    alice = firm.as_user("alice")
    own = f"/acme/{CLIENT}/mine-{uuid.uuid4().hex[:6]}.pdf"
    alice.put(own, b"%PDF")
    response = _set(alice, own, "description", "my own words")
    assert response.status_code == 207 and "403" in response.text and "Only the firm's staff" in response.text
    assert _set(alice, own, "shared", "true").text.count("403") >= 1
    team_file = f"/acme/{TEAM}/x-{uuid.uuid4().hex[:6]}.pdf"
    firm.as_user("sam").put(team_file, b"x")
    assert _set(alice, team_file, "description", "no").status_code == 403


def test_share_toggle(firm, matter):
    sam, alice, bob = firm.as_user("sam"), firm.as_user("alice"), firm.as_user("bob")
    private = matter + "Engagement letter.pdf"
    sam.put(private, b"%PDF engagement")
    assert alice.request("GET", private).status_code == 404
    assert _set(sam, private, "shared", "true").status_code == 207
    shared_url = f"/acme/{TEAM}/Engagement letter.pdf"
    assert "Engagement letter.pdf" in alice.names(f"/acme/{TEAM}/")
    assert alice.request("GET", shared_url).content == b"%PDF engagement"
    assert alice.request("GET", private).status_code == 404  # the private folder stays private
    receipts = _props(sam, private, f"{{{NS}}}seen-by")["Engagement letter.pdf"][f"{{{NS}}}seen-by"]
    assert "alice" in receipts  # the download is the private document's
    assert "Engagement letter.pdf" not in sam.names(f"/acme/{TEAM}/")  # staff's view is unchanged
    assert bob.request("GET", f"/beta/{TEAM}/Engagement letter.pdf").status_code == 404
    # read-only for the client
    assert alice.put(shared_url, b"changed").status_code == 403
    assert alice.request("DELETE", shared_url).status_code == 403
    props = _props(alice, shared_url, f"{{{NS}}}shared", f"{{{NS}}}area")["Engagement letter.pdf"]
    assert props == {f"{{{NS}}}shared": "true", f"{{{NS}}}area": "team-shared"}
    assert _set(sam, private, "shared", "false").status_code == 207
    assert alice.request("GET", shared_url).status_code == 404  # gone at once, URL or not
    assert "Engagement letter.pdf" not in alice.names(f"/acme/{TEAM}/")
    actions = [e.action for e in _events(firm, path=private.strip("/").split("/", 1)[1])]
    assert actions.count("SHARE") == 1 and actions.count("UNSHARE") == 1


def test_a_shared_name_that_clashes_gets_a_visible_suffix(firm, matter):
    sam, alice = firm.as_user("sam"), firm.as_user("alice")
    name = f"Invoice-{uuid.uuid4().hex[:6]}.pdf"
    sam.put(f"/acme/{TEAM}/{name}", b"the real one")
    sam.put(matter + name, b"the shared one")
    _set(sam, matter + name, "shared", "true")
    shown = name.replace(".pdf", " (shared).pdf")
    assert {name, shown} <= alice.names(f"/acme/{TEAM}/")
    assert alice.request("GET", f"/acme/{TEAM}/{shown}").content == b"the shared one"
    assert alice.request("GET", f"/acme/{TEAM}/{name}").content == b"the real one"


@pytest.mark.parametrize("where, reason", [
    (f"/acme/{TEAM}/t.pdf", "already visible"),
    ("folder", "Only single files"),
])  # fmt: skip
def test_only_private_files_can_be_shared(firm, matter, where, reason):
    sam = firm.as_user("sam")
    path = matter if where == "folder" else where
    if where != "folder":
        sam.put(path, b"x")
    response = _set(sam, path, "shared", "true")
    assert "403" in response.text and reason in response.text


def test_move_keeps_description_and_share(firm, matter):
    sam, alice = firm.as_user("sam"), firm.as_user("alice")
    sam.put(matter + "Will.pdf", b"will")
    _set(sam, matter + "Will.pdf", "description", "Last will, signed")
    _set(sam, matter + "Will.pdf", "shared", "true")
    destination = {"Destination": sam.url(matter + "Will (final).pdf")}
    assert sam.request("MOVE", matter + "Will.pdf", headers=destination).status_code == 201
    props = _props(alice, f"/acme/{TEAM}/Will (final).pdf", f"{{{NS}}}description")
    assert props["Will (final).pdf"][f"{{{NS}}}description"] == "Last will, signed"


def test_delete_goes_to_the_trash_and_can_be_restored(firm, matter):
    sam, alice = firm.as_user("sam"), firm.as_user("alice")
    own = f"/acme/{CLIENT}/trash-{uuid.uuid4().hex[:6]}.pdf"
    alice.put(own, b"my upload")
    assert alice.request("DELETE", own).status_code == 204
    assert alice.request("GET", own).status_code == 404
    assert own.rsplit("/", 1)[1] not in sam.names(f"/acme/{CLIENT}/")
    with firm.portal.sessions() as session:
        item = next(i for i in trash.list_items(session, "acme") if i.path == own.split("/", 2)[2])
    assert item.deleted_by == "alice"
    alice.put(own, b"a new file with the same name")
    with firm.portal.sessions.begin() as session:
        restored = trash.restore(session, firm.portal.storage, item.id, actor=ADMIN)
    assert restored.path.endswith(" (restored).pdf")
    assert alice.request("GET", f"/acme/{restored.path}").content == b"my upload"
    # restored with its record: still the contact's own upload
    assert alice.request("DELETE", f"/acme/{restored.path}").status_code == 204


def test_folders_go_to_the_trash_whole(firm, matter):
    sam = firm.as_user("sam")
    sam.request("MKCOL", matter + "Sub/")
    sam.put(matter + "Sub/a.pdf", b"a")
    _set(sam, matter + "Sub/a.pdf", "description", "kept")
    assert sam.request("DELETE", matter + "Sub/").status_code == 204
    deleted = matter.strip("/").split("/", 1)[1] + "/Sub"
    with firm.portal.sessions.begin() as session:
        item = next(i for i in trash.list_items(session, "acme") if i.path == deleted)
        trash.restore(session, firm.portal.storage, item.id, actor=ADMIN)
    assert _props(sam, matter + "Sub/a.pdf", f"{{{NS}}}description")["a.pdf"][f"{{{NS}}}description"] == "kept"


def test_purge_after_the_retention_period(firm, matter):
    sam = firm.as_user("sam")
    sam.put(matter + "old.pdf", b"old")
    sam.request("DELETE", matter + "old.pdf")
    with firm.portal.sessions.begin() as session:
        item = next(i for i in trash.list_items(session, "acme") if i.path.endswith("old.pdf"))
        stored = firm.portal.storage.root / trash.TRASH_FOLDER / item.stored_as
        assert stored.exists()
        assert trash.purge(session, firm.portal.storage, older_than=timedelta(days=30), actor=None, now=utcnow()) == 0
        later = utcnow() + timedelta(days=30, seconds=1)
        assert trash.purge(session, firm.portal.storage, older_than=timedelta(days=30), actor=None, now=later) >= 1
    assert not stored.exists()


def _events(firm, **where) -> list[AuditEvent]:
    from sqlalchemy import select

    with firm.portal.sessions() as session:
        query = select(AuditEvent).order_by(AuditEvent.id)
        for column, value in where.items():
            query = query.where(getattr(AuditEvent, column) == value)
        return list(session.scalars(query))


def test_every_audited_action_appears_once_with_its_fields(firm, matter):
    sam = firm.as_user("sam")
    below = matter.strip("/").split("/", 1)[1]
    sam.put(matter + "a.pdf", b"a")
    sam.request("GET", matter + "a.pdf")
    sam.request("COPY", matter + "a.pdf", headers={"Destination": sam.url(matter + "b.pdf")})
    sam.request("MOVE", matter + "b.pdf", headers={"Destination": sam.url(matter + "c.pdf")})
    _set(sam, matter + "c.pdf", "description", "d")
    sam.request("MKCOL", matter + "Sub/")
    sam.request("DELETE", matter + "c.pdf")
    sam.propfind(matter)  # not audited
    events = [e for e in _events(firm, login="sam") if (e.path or "").startswith(below + "/")]
    assert [(e.action, e.path.removeprefix(below), e.status) for e in events] == [
        ("PUT", "/a.pdf", 201), ("GET", "/a.pdf", 200), ("COPY", "/a.pdf", 201), ("MOVE", "/b.pdf", 201),
        ("PROPPATCH", "/c.pdf", 207), ("MKCOL", "/Sub", 201), ("DELETE", "/c.pdf", 204),
    ]  # fmt: skip
    copy = events[2]
    assert copy.destination == f"acme/{below}/b.pdf" and copy.client_id == "acme"
    assert copy.remote_addr == "127.0.0.1" and copy.role == "staff"


def test_refusals_and_failed_logins_are_audited(firm):
    firm.as_user("alice").put(f"/acme/{TEAM}/nope.pdf", b"x")
    firm.as_user("alice", "wrong password").propfind("/")
    refused = [e for e in _events(firm, login="alice", action="PUT") if e.path == f"{TEAM}/nope.pdf"]
    assert refused and refused[-1].status == 403
    failed = _events(firm, login="alice", action="LOGIN-FAILED")
    assert failed and failed[-1].status == 401 and failed[-1].role is None


PERMISSIONS = [
    # who, area, whose file, file letters, folder letters (MODEL.md's matrix, as Nextcloud reads it)
    ("sam", "Matter", "sam", "RGDNVW", "GDNVCK"),
    ("sam", TEAM, "sam", "GDNVW", "GDNVCK"),
    ("sam", CLIENT, "alice", "G", "G"),
    ("alice", TEAM, "sam", "G", "G"),
    ("alice", CLIENT, "alice", "GDNVW", "GDNVCK"),
    ("alice", CLIENT, "carol", "G", "GCK"),  # may add to a co-contact's folder, not change it
]  # fmt: skip


@pytest.mark.parametrize("who, area, owner, file_letters, folder_letters", PERMISSIONS)
def test_nextcloud_permissions_follow_the_policy(firm, who, area, owner, file_letters, folder_letters):
    folder = f"/acme/{area}/perm-{uuid.uuid4().hex[:6]}/"
    writer = firm.as_user(owner)
    if area == "Matter":
        firm.as_user("sam").request("MKCOL", "/acme/Matter/")
    assert writer.request("MKCOL", folder).status_code == 201
    assert writer.put(folder + "f.pdf", b"x").status_code == 201
    letters = _props(firm.as_user(who), folder, "{http://owncloud.org/ns}permissions", depth="1")
    assert letters["f.pdf"]["{http://owncloud.org/ns}permissions"] == file_letters
    assert letters[folder.rstrip("/").rsplit("/", 1)[1]]["{http://owncloud.org/ns}permissions"] == folder_letters


def test_read_receipts(firm):
    sam, alice, carol = firm.as_user("sam"), firm.as_user("alice"), firm.as_user("carol")
    folder = f"/acme/{TEAM}/receipts-{uuid.uuid4().hex[:6]}/"
    sam.request("MKCOL", folder)
    sam.put(folder + "Letter.pdf", b"letter")
    sam.put(folder + "Other.pdf", b"other")
    assert alice.request("GET", folder + "Letter.pdf").status_code == 200
    assert alice.request("GET", folder + "Letter.pdf").status_code == 200
    seen = _props(sam, folder, f"{{{NS}}}seen-by", depth="1")
    receipts = etree.fromstring(seen["Letter.pdf"][f"{{{NS}}}seen-by"])
    assert [c.findtext(f"{{{NS}}}login") for c in receipts] == ["alice"]  # once, however many downloads
    assert receipts[0].findtext(f"{{{NS}}}first-download")
    assert seen["Other.pdf"][f"{{{NS}}}seen-by"] == ""  # nobody yet
    for contact in (alice, carol):
        assert _props(contact, folder + "Letter.pdf", f"{{{NS}}}seen-by")["Letter.pdf"][f"{{{NS}}}seen-by"] == "missing"
