"""MODEL.md's access matrix, cell by cell, for every WebDAV method, over HTTP against a real server."""

from __future__ import annotations

import uuid

import pytest

from tests.conftest import CLIENT, TEAM

PRIVATE = "Matter"
AREA_FOLDER = {"private": PRIVATE, "team": TEAM, "client": CLIENT}
ACTOR = {"staff": "sam", "contact": "alice"}
OK = "ok"

# MODEL.md, "The access matrix": row -> (who, area) -> expected.
MATRIX = {
    "read": {
        ("staff", "private"): OK, ("staff", "team"): OK, ("staff", "client"): OK,
        ("contact", "private"): 404, ("contact", "team"): OK, ("contact", "client"): OK,
    },
    "create": {
        ("staff", "private"): OK, ("staff", "team"): OK, ("staff", "client"): 403,
        ("contact", "private"): 404, ("contact", "team"): 403, ("contact", "client"): OK,
    },
    # overwrite, rename/move away, delete, PROPPATCH; LOCK on an existing file ("where they may write")
    "change": {
        ("staff", "private"): OK, ("staff", "team"): OK, ("staff", "client"): 403,
        ("contact", "private"): 404, ("contact", "team"): 403, ("contact", "client"): OK,
    },
}  # fmt: skip
PROPPATCH_BODY = (
    "<D:propertyupdate xmlns:D='DAV:'><D:set><D:prop>"
    "<x:note xmlns:x='urn:test'>hi</x:note></D:prop></D:set></D:propertyupdate>"
)
LOCK_BODY = (
    "<?xml version='1.0'?><D:lockinfo xmlns:D='DAV:'><D:lockscope><D:exclusive/></D:lockscope>"
    "<D:locktype><D:write/></D:locktype><D:owner>test</D:owner></D:lockinfo>"
)

# method -> (matrix row, whether the target file exists first, success status)
METHODS = {
    "GET": ("read", True, 200),
    "HEAD": ("read", True, 200),
    "OPTIONS": ("read", True, 200),
    "PROPFIND-0": ("read", True, 207),
    "PROPFIND-1": ("read", None, 207),  # on the area folder itself
    "PUT-new": ("create", False, 201),
    "MKCOL": ("create", False, 201),
    "LOCK-new": ("create", False, 201),
    "PUT-overwrite": ("change", True, 204),
    "PROPPATCH": ("change", True, 207),
    "DELETE": ("change", True, 204),
    "MOVE-rename": ("change", True, 201),
    "LOCK": ("change", True, 200),
    "UNLOCK": ("change", True, 204),
}


@pytest.fixture(scope="module")
def matter(firm):
    assert firm.as_user("sam").request("MKCOL", f"/acme/{PRIVATE}/").status_code == 201
    return firm


def _unique(ext: str = ".txt") -> str:
    return f"f-{uuid.uuid4().hex[:8]}{ext}"


def _existing(firm, area: str, uploader: str) -> str:
    """A file in the area, put there by `uploader` (a contact's upload or a staff file)."""
    path = f"/acme/{AREA_FOLDER[area]}/{_unique()}"
    response = firm.as_user(uploader).put(path)
    assert response.status_code == 201, response.text
    return path


def _lock(dav, path: str) -> str:
    response = dav.request("LOCK", path, data=LOCK_BODY, headers={"Timeout": "Second-60"})
    assert response.status_code in (200, 201), response.text
    return response.headers["Lock-Token"]


def _send(firm, who: str, method: str, path: str, owner: str = "sam"):
    dav = firm.as_user(ACTOR[who])
    folder = path.rsplit("/", 1)[0] + "/"
    if method in ("GET", "HEAD", "OPTIONS"):
        return dav.request(method, path)
    if method == "PROPFIND-0":
        return dav.propfind(path, "0")
    if method == "PROPFIND-1":
        return dav.propfind(folder, "1")
    if method in ("PUT-new", "PUT-overwrite"):
        return dav.put(path, b"new version\n")
    if method == "MKCOL":
        return dav.request("MKCOL", path.removesuffix(".txt") + "/")
    if method in ("LOCK", "LOCK-new"):
        return dav.request("LOCK", path, data=LOCK_BODY, headers={"Timeout": "Second-60"})
    if method == "UNLOCK":
        token = _lock(firm.as_user(owner), path)  # a real lock, for the actor's UNLOCK to try
        return dav.request("UNLOCK", path, headers={"Lock-Token": token})
    if method == "PROPPATCH":
        return dav.request("PROPPATCH", path, data=PROPPATCH_BODY)
    if method == "DELETE":
        return dav.request("DELETE", path)
    if method == "MOVE-rename":
        return dav.request("MOVE", path, headers={"Destination": dav.url(folder + _unique())})
    raise AssertionError(method)


CASES = [(who, area, method) for method in METHODS for who in ACTOR for area in AREA_FOLDER]


@pytest.mark.parametrize("who, area, method", CASES)
def test_matrix(matter, who, area, method):
    row, exists, success = METHODS[method]
    expected = MATRIX[row][(who, area)]
    # Files in Client's shared are the contacts'; for a contact acting there, their own upload.
    uploader = "alice" if area == "client" else "sam"
    path = _existing(matter, area, uploader) if exists else f"/acme/{AREA_FOLDER[area]}/{_unique()}"
    response = _send(matter, who, method, path, owner=uploader)
    assert response.status_code == (success if expected == OK else expected), response.text
    if expected in (403, 404) and method not in ("HEAD",):
        assert response.text.strip(), "a refusal must say why"


@pytest.mark.parametrize("method", ["PUT-overwrite", "PROPPATCH", "DELETE", "MOVE-rename", "LOCK", "UNLOCK"])
def test_contact_may_not_change_another_contacts_upload(matter, method):
    path = _existing(matter, "client", "carol")
    response = _send(matter, "contact", method, path, owner="carol")
    assert response.status_code == 403
    assert "uploaded yourself" in response.text


@pytest.mark.parametrize("who", ACTOR)
@pytest.mark.parametrize("src_area", AREA_FOLDER)
@pytest.mark.parametrize("dest_area", AREA_FOLDER)
@pytest.mark.parametrize("method", ["COPY", "MOVE"])
def test_copy_and_move_between_areas(matter, who, src_area, dest_area, method):
    """COPY reads the source and creates the destination; MOVE also removes the source."""
    uploader = ACTOR[who] if src_area == "client" and who == "contact" else ("alice" if src_area == "client" else "sam")
    src = _existing(matter, src_area, uploader)
    dest = f"/acme/{AREA_FOLDER[dest_area]}/{_unique()}"
    source_row = "read" if method == "COPY" else "change"
    expected = _combine(MATRIX[source_row][(who, src_area)], MATRIX["create"][(who, dest_area)])
    dav = matter.as_user(ACTOR[who])
    response = dav.request(method, src, headers={"Destination": dav.url(dest)})
    assert response.status_code == (201 if expected == OK else expected), response.text
    sam = matter.as_user("sam")
    assert sam.request("HEAD", dest).status_code == (200 if expected == OK else 404)
    source_stays = method == "COPY" or expected != OK
    assert sam.request("HEAD", src).status_code == (200 if source_stays else 404)


def _combine(source, destination):
    for outcome in (source, destination):
        if outcome == 404:
            return 404
    for outcome in (source, destination):
        if outcome == 403:
            return 403
    return OK


@pytest.mark.parametrize("method", ["COPY", "MOVE"])
def test_staff_copy_and_move_between_clients(matter, method):
    src = _existing(matter, "team", "sam")
    dest = f"/beta/{TEAM}/{_unique()}"
    sam = matter.as_user("sam")
    assert sam.request(method, src, headers={"Destination": sam.url(dest)}).status_code == 201
    assert matter.as_user("bob").request("GET", dest).status_code == 200


@pytest.mark.parametrize("method", ["COPY", "MOVE"])
@pytest.mark.parametrize("dest_area", [TEAM, CLIENT, PRIVATE])
def test_contact_cannot_reach_another_client(matter, method, dest_area):
    src = _existing(matter, "client", "alice")
    dav = matter.as_user("alice")
    response = dav.request(method, src, headers={"Destination": dav.url(f"/beta/{dest_area}/{_unique()}")})
    assert response.status_code == 404
    assert matter.as_user("sam").request("HEAD", src).status_code == 200


@pytest.mark.parametrize("method, extra", [
    ("GET", {}), ("HEAD", {}), ("OPTIONS", {}), ("PROPFIND", {"headers": {"Depth": "1"}}),
    ("PROPFIND", {"headers": {"Depth": "0"}}), ("PUT", {"data": b"x"}), ("MKCOL", {}),
    ("DELETE", {}), ("PROPPATCH", {"data": PROPPATCH_BODY}), ("LOCK", {"data": LOCK_BODY}),
    ("UNLOCK", {"headers": {"Lock-Token": "<opaquelocktoken:x>"}}),
])  # fmt: skip
@pytest.mark.parametrize("path", ["/beta/", f"/beta/{TEAM}/", f"/beta/{CLIENT}/x.txt", "/beta/nothing-here.txt"])
def test_another_clients_folders_are_404_for_a_contact(matter, method, extra, path):
    response = matter.as_user("alice").request(method, path, **extra)
    changes_top = path == "/beta/" and method in ("PUT", "MKCOL", "PROPPATCH")
    # Creating or changing anything at the top level is 403 for every name, known client or not.
    assert response.status_code == (403 if changes_top else 404)


@pytest.mark.parametrize("who", ACTOR)
@pytest.mark.parametrize("folder", [TEAM, CLIENT])
@pytest.mark.parametrize("method", ["DELETE", "MOVE"])
def test_area_folders_cannot_be_deleted_moved_or_renamed(matter, who, folder, method):
    dav = matter.as_user(ACTOR[who])
    headers = {"Destination": dav.url(f"/acme/{_unique('')}/")} if method == "MOVE" else {}
    response = dav.request(method, f"/acme/{folder}/", headers=headers)
    assert response.status_code == 403
    assert "cannot be deleted, moved or renamed" in response.text


@pytest.mark.parametrize("method, path, who, expected", [
    ("MKCOL", "/newclient/", "staff", 403),
    ("PUT", "/top.txt", "staff", 403),
    ("PUT", "/top.txt", "contact", 403),
    ("DELETE", "/acme/", "staff", 403),
    ("MOVE", "/acme/", "staff", 403),
    ("PUT", "/acme/{name}", "staff", 201),
    ("MKCOL", "/acme/{folder}/", "staff", 201),
    ("PUT", "/acme/{name}", "contact", 403),
    ("MKCOL", "/acme/{folder}/", "contact", 403),
    ("PUT", f"/acme/{PRIVATE}", "contact", 403),  # the same answer whether or not the name exists
])  # fmt: skip
def test_server_root_and_client_root(matter, method, path, who, expected):
    dav = matter.as_user(ACTOR[who])
    path = path.format(name=_unique(), folder=_unique(""))
    headers = {"Destination": dav.url("/elsewhere/")} if method == "MOVE" else {}
    response = dav.request(method, path, data=b"x" if method == "PUT" else None, headers=headers)
    assert response.status_code == expected, response.text


@pytest.mark.parametrize("who, area, expected", [
    ("staff", "private", 403), ("staff", "team", 403), ("staff", "client", 403),
    ("contact", "private", 404), ("contact", "team", 403), ("contact", "client", 403),
])  # fmt: skip
def test_propfind_depth_infinity_is_refused(matter, who, area, expected):
    response = matter.as_user(ACTOR[who]).propfind(f"/acme/{AREA_FOLDER[area]}/", "infinity")
    assert response.status_code == expected
    if expected == 403:
        assert b"propfind-finite-depth" in response.content


def test_nothing_hidden_appears_in_any_listing(matter):
    secret = _existing(matter, "private", "sam").rsplit("/", 1)[1]
    matter.as_user("sam").request("MKCOL", f"/acme/{TEAM}/Reports/")
    alice = matter.as_user("alice")
    for path in ("/", "/acme/", f"/acme/{TEAM}/", f"/acme/{CLIENT}/", f"/acme/{TEAM}/Reports/"):
        body = alice.propfind(path).text
        assert PRIVATE not in body and secret not in body and "beta" not in body, path
    assert alice.names("/acme/") == {TEAM, CLIENT}
    assert alice.names("/") == {"acme"}
    assert {"acme", "beta"} <= matter.as_user("sam").names("/")
