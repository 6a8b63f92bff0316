"""Dead properties live in the database and follow their file through MOVE, COPY and DELETE."""

from __future__ import annotations

import uuid

from tests.conftest import TEAM
from tests.test_query_counts import StatementCounter

NOTE = "<x:note xmlns:x='urn:test'>{}</x:note>"
SET = "<D:propertyupdate xmlns:D='DAV:'><D:set><D:prop>{}</D:prop></D:set></D:propertyupdate>"
ASK = "<D:propfind xmlns:D='DAV:'><D:prop><x:note xmlns:x='urn:test'/></D:prop></D:propfind>"


def _note(dav, path: str) -> str | None:
    response = dav.request("PROPFIND", path, headers={"Depth": "0"}, data=ASK)
    assert response.status_code == 207
    if "200 OK" not in response.text:
        return None
    return response.text.split("note")[1].split(">", 1)[1].split("<", 1)[0]


def test_properties_follow_move_and_copy_and_go_with_delete(firm):
    sam = firm.as_user("sam")
    folder = f"/acme/{TEAM}/props-{uuid.uuid4().hex[:6]}/"
    assert sam.request("MKCOL", folder).status_code == 201
    assert sam.put(folder + "a.pdf", b"a").status_code == 201
    assert sam.request("PROPPATCH", folder + "a.pdf", data=SET.format(NOTE.format("signed"))).status_code == 207
    assert _note(sam, folder + "a.pdf") == "signed"
    assert _note(firm.as_user("alice"), folder + "a.pdf") == "signed"

    assert sam.request("MOVE", folder + "a.pdf", headers={"Destination": sam.url(folder + "b.pdf")}).status_code == 201
    assert _note(sam, folder + "b.pdf") == "signed"
    assert sam.request("COPY", folder + "b.pdf", headers={"Destination": sam.url(folder + "c.pdf")}).status_code == 201
    assert _note(sam, folder + "c.pdf") == "signed"

    moved = folder.rstrip("/") + "-moved/"
    assert sam.request("MOVE", folder, headers={"Destination": sam.url(moved)}).status_code == 201
    assert _note(sam, moved + "b.pdf") == "signed"

    assert sam.request("DELETE", moved).status_code == 204
    assert sam.request("MKCOL", moved).status_code == 201
    assert sam.put(moved + "b.pdf", b"new").status_code == 201
    assert _note(sam, moved + "b.pdf") is None


def test_listing_with_properties_stays_at_constant_statements(firm, still):
    still(firm)
    sam = firm.as_user("sam")
    folders = []
    for size in (2, 40):
        folder = f"/acme/{TEAM}/propcount-{size}-{uuid.uuid4().hex[:6]}/"
        sam.request("MKCOL", folder)
        for i in range(size):
            sam.put(f"{folder}f{i}.pdf", b"x")
            sam.request("PROPPATCH", f"{folder}f{i}.pdf", data=SET.format(NOTE.format(i)))
        folders.append(folder)
    counts = []
    for folder in folders:
        assert sam.propfind(folder).status_code == 207
        with StatementCounter(firm.portal.engine) as counter:
            response = sam.propfind(folder)
        assert response.status_code == 207 and "urn:test" in response.text
        counts.append(counter.count)
    assert counts[0] == counts[1] <= 2  # the dead properties, the WebDAV locks
