"""Every overwrite keeps the earlier version: over WebDAV, the web page and the CLI.

Versions are listed with the `{urn:davportal}versions` property and restored by setting
`{urn:davportal}restore-version`; restoring keeps the current bytes as a version too.
"""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
import yaml
from click.testing import CliRunner
from lxml import etree
from sqlalchemy import select

from davportal.cli import main
from davportal.core.models import TrashItem, Version, utcnow
from davportal.services import trash, versions
from policy import Actor, Role, Target, default_rules
from policy.versions import keeps_versions, may_restore, may_see_version, sets_aside
from tests.conftest import CLIENT, TEAM
from tests.test_request_counts_web import WEB, signed_in

NS = "urn:davportal"
WORD = {"User-Agent": "Microsoft Office Word 2014"}


def _listed(dav, path: str) -> list[dict[str, str]]:
    body = f"<?xml version='1.0'?><d:propfind xmlns:d='DAV:' xmlns:p='{NS}'><d:prop><p:versions/></d:prop></d:propfind>"
    response = dav.request("PROPFIND", path, data=body, headers={"Depth": "0"})
    assert response.status_code == 207, response.text
    found = etree.fromstring(response.content).findall(f".//{{{NS}}}version")
    return [{child.tag.split("}")[1]: child.text for child in version} for version in found]


def _restore(dav, path: str, version_id: str):
    body = (f"<?xml version='1.0'?><d:propertyupdate xmlns:d='DAV:' xmlns:p='{NS}'><d:set><d:prop>"
            f"<p:restore-version>{version_id}</p:restore-version></d:prop></d:set></d:propertyupdate>")  # fmt: skip
    return dav.request("PROPPATCH", path, data=body)


@pytest.fixture
def folder(firm):
    path = f"/acme/{TEAM}/versions-{uuid.uuid4().hex[:6]}/"
    assert firm.as_user("sam").request("MKCOL", path).status_code == 201
    return path


def test_a_put_over_a_file_keeps_the_earlier_version_and_restoring_keeps_the_current(firm, folder):
    sam = firm.as_user("sam")
    letter = folder + "Engagement letter.pdf"
    assert sam.put(letter, b"signed by the client").status_code == 201
    assert sam.put(letter, b"overwritten by mistake").status_code == 204

    [kept] = _listed(sam, letter)
    assert kept["written-by"] == "sam" and kept["size"] == str(len(b"signed by the client"))
    assert sam.names(folder) == {"Engagement letter.pdf"}  # versions are never files in a listing

    restored = _restore(sam, letter, kept["id"])
    assert restored.status_code == 207 and "200 OK" in restored.text, restored.text
    assert sam.request("GET", letter).content == b"signed by the client"
    sizes = [v["size"] for v in _listed(sam, letter)]
    assert sorted(sizes) == sorted([str(len(b"signed by the client")), str(len(b"overwritten by mistake"))])


@pytest.mark.parametrize("method", ["COPY", "MOVE"])
def test_copy_or_move_over_a_file_keeps_its_earlier_version(firm, folder, method):
    sam = firm.as_user("sam")
    assert sam.put(folder + "Report.pdf", b"the report").status_code == 201
    assert sam.put(folder + "Draft.pdf", b"the draft").status_code == 201
    response = sam.request(method, folder + "Draft.pdf",
                           headers={"Destination": sam.url(folder + "Report.pdf"), "Overwrite": "T"})  # fmt: skip
    assert response.status_code == 204, response.text
    assert sam.request("GET", folder + "Report.pdf").content == b"the draft"
    assert [v["size"] for v in _listed(sam, folder + "Report.pdf")] == [str(len(b"the report"))]


def test_words_save_over_the_original_keeps_a_version(firm, folder):
    """Word: write a temporary file, rename it over the original."""
    sam = firm.as_user("sam")
    doc, temp = folder + "Plan.docx", folder + "~WRD0000.tmp"
    assert sam.put(doc, b"version 1").status_code == 201
    assert sam.put(temp, b"version 2", headers=WORD).status_code == 201
    moved = sam.request("MOVE", temp, headers={**WORD, "Destination": sam.url(doc), "Overwrite": "T"})
    assert moved.status_code == 204, moved.text
    assert sam.request("GET", doc).content == b"version 2"
    assert [v["size"] for v in _listed(sam, doc)] == [str(len(b"version 1"))]


def test_words_save_keeps_the_description_the_client_reads(firm, folder):
    sam = firm.as_user("sam")
    doc, temp = folder + "Budget.xlsx", folder + "~WRD0003.tmp"
    sam.put(doc, b"v1")
    described = (f"<?xml version='1.0'?><d:propertyupdate xmlns:d='DAV:' xmlns:p='{NS}'><d:set><d:prop>"
                 "<p:description>Your budget for 2026</p:description></d:prop></d:set></d:propertyupdate>")  # fmt: skip
    assert "200 OK" in sam.request("PROPPATCH", doc, data=described).text
    sam.put(temp, b"v2", headers=WORD)
    sam.request("MOVE", temp, headers={**WORD, "Destination": sam.url(doc), "Overwrite": "T"})
    body = f"<d:propfind xmlns:d='DAV:' xmlns:p='{NS}'><d:prop><p:description/></d:prop></d:propfind>"
    assert "Your budget for 2026" in sam.request("PROPFIND", doc, data=body, headers={"Depth": "0"}).text


def test_explorers_save_that_renames_the_original_aside_keeps_a_version(firm, folder):
    """Word through a mapped drive: the original to ~WRL, the new one to its name, ~WRL deleted."""
    sam = firm.as_user("sam")
    doc = folder + "Minutes.docx"
    assert sam.put(doc, b"the minutes, first draft").status_code == 201
    assert sam.put(folder + "~WRD0001.tmp", b"the minutes, final").status_code == 201
    for src, dest in ((doc, folder + "~WRL0002.tmp"), (folder + "~WRD0001.tmp", doc)):
        assert sam.request("MOVE", src, headers={"Destination": sam.url(dest)}).status_code == 201
    assert sam.request("DELETE", folder + "~WRL0002.tmp").status_code == 204

    [kept] = _listed(sam, doc)
    assert kept["size"] == str(len(b"the minutes, first draft"))
    assert _restore(sam, doc, kept["id"]).status_code == 207
    assert sam.request("GET", doc).content == b"the minutes, first draft"


def test_desktop_files_keep_no_versions(firm, folder):
    sam = firm.as_user("sam")
    for name in ("~$Plan.docx", ".DS_Store", "~WRL0009.tmp"):
        sam.put(folder + name, b"one")
        sam.put(folder + name, b"two")
    with firm.portal.sessions() as session:
        below = folder.strip("/").split("/", 1)[1]
        assert not session.scalars(select(Version).where(Version.path.startswith(below))).all()


def test_deleting_trashes_the_versions_and_restoring_brings_them_back(firm, folder):
    sam = firm.as_user("sam")
    doc = folder + "Contract.pdf"
    sam.put(doc, b"v1")
    sam.put(doc, b"v2")
    assert sam.request("DELETE", doc).status_code == 204
    below = doc.strip("/").split("/", 1)[1]
    with firm.portal.sessions.begin() as session:
        assert versions.of_document(session, "acme", below) == []
        [item] = [i for i in trash.list_items(session, "acme") if i.path == below]
        trash.restore(session, firm.portal.storage, item.id, actor=Actor("sam", Role.STAFF, is_admin=True))
    assert sam.request("GET", doc).content == b"v2"
    assert [v["size"] for v in _listed(sam, doc)] == ["2"]


def test_the_trash_purge_removes_the_versions_with_the_document(firm, folder):
    sam = firm.as_user("sam")
    doc = folder + "Old.pdf"
    sam.put(doc, b"v1")
    sam.put(doc, b"v2")
    sam.request("DELETE", doc)
    below = doc.strip("/").split("/", 1)[1]
    with firm.portal.sessions.begin() as session:
        kept = session.scalars(select(Version).where(Version.path == below)).all()
        files = [versions.file_of(firm.portal.storage, v) for v in kept]
        assert files and all(f.exists() for f in files)
        item_id = session.scalars(select(TrashItem.id).where(TrashItem.path == below)).one()
        later = utcnow() + timedelta(seconds=1)
        trash.purge(session, firm.portal.storage, older_than=timedelta(0), actor=None, now=later)
    with firm.portal.sessions() as session:
        assert session.get(TrashItem, item_id) is None
        assert not session.scalars(select(Version).where(Version.path == below)).all()
    assert not any(f.exists() for f in files)


def test_retention_keeps_the_newest_and_drops_the_old(firm, folder):
    sam = firm.as_user("sam")
    doc = folder + "Ledger.xlsx"
    for n in range(5):
        sam.put(doc, f"save {n}".encode())
    storage = firm.portal.storage
    with firm.portal.sessions.begin() as session:
        assert versions.purge(session, storage, versions.Retention(keep=10, keep_days=0)) == 0
        dropped = versions.purge(session, storage, versions.Retention(keep=2, keep_days=0), dry_run=True)
        assert dropped >= 2  # other tests' documents may count too
        versions.purge(session, storage, versions.Retention(keep=2, keep_days=0))
    assert [v["size"] for v in _listed(sam, doc)] == ["6", "6"]
    with firm.portal.sessions.begin() as session:
        later = utcnow() + timedelta(days=31)
        versions.purge(session, storage, versions.Retention(keep=10, keep_days=30), now=later)
    assert _listed(sam, doc) == []
    assert sam.request("GET", doc).content == b"save 4"  # the file itself is never purged


def test_a_contact_sees_and_restores_versions_of_their_own_uploads_only(firm):
    alice, sam = firm.as_user("alice"), firm.as_user("sam")
    mine = f"/acme/{CLIENT}/Bank statement {uuid.uuid4().hex[:4]}.pdf"
    alice.put(mine, b"January")
    alice.put(mine, b"February")
    [kept] = _listed(alice, mine)
    assert _restore(alice, mine, kept["id"]).status_code == 207
    assert alice.request("GET", mine).content == b"January"

    theirs = f"/acme/{TEAM}/Invoice {uuid.uuid4().hex[:4]}.pdf"
    sam.put(theirs, b"draft")
    sam.put(theirs, b"final")
    [staff_version] = _listed(sam, theirs)
    assert _listed(alice, theirs) == []  # staff's file: the client may not change it, nor see its history
    refused = _restore(alice, theirs, staff_version["id"])
    assert "200 OK" not in refused.text
    assert alice.request("GET", theirs).content == b"final"
    # Another file's version number does not restore here.
    assert "200 OK" not in _restore(alice, mine, staff_version["id"]).text


ALICE = Actor("alice", Role.CONTACT, clients={"acme": "client"})
SAM = Actor("sam", Role.STAFF)
RULES = default_rules(TEAM, CLIENT)


@pytest.mark.parametrize("actor, document, written_in, sees", [
    (SAM, ("acme", TEAM, "a.pdf"), ("acme", TEAM, "a.pdf"), True),
    (SAM, ("acme", "Working", "a.pdf"), ("acme", "Working", "a.pdf"), True),
    (ALICE, ("acme", CLIENT, "a.pdf", "alice"), ("acme", CLIENT, "a.pdf"), True),
    (ALICE, ("acme", CLIENT, "a.pdf", "sam"), ("acme", CLIENT, "a.pdf"), False),  # staff's file there
    (ALICE, ("acme", CLIENT, "a.pdf", "alice"), ("acme", "Working", "a.pdf"), False),  # written where hidden
    (ALICE, ("acme", TEAM, "a.pdf", "sam"), ("acme", TEAM, "a.pdf"), False),  # read-only for the client
])  # fmt: skip
def test_who_sees_which_versions(actor, document, written_in, sees):
    *parts, uploader = document if len(document) == 4 else (*document, None)
    target = Target(tuple(parts), exists=True, uploaded_by=uploader)
    where = Target(written_in, exists=True)
    assert may_see_version(actor, target, where, RULES) is sees
    assert may_restore(actor, target, where, RULES).allowed is sees


@pytest.mark.parametrize("name, keeps", [("Report.docx", True), ("~$Report.docx", False), (".DS_Store", False),
                                         ("~WRL0001.tmp", False), ("._Report.docx", False)])  # fmt: skip
def test_which_files_keep_versions(name, keeps):
    assert keeps_versions(name) is keeps


def test_renaming_a_document_to_a_temporary_name_sets_it_aside():
    assert sets_aside("Report.docx", "~WRL0001.tmp")
    assert not sets_aside("~WRD0000.tmp", "Report.docx")
    assert not sets_aside("Report.docx", "Report final.docx")


def test_the_web_page_lists_and_restores_versions(firm, folder):
    sam = firm.as_user("sam")
    doc = folder + "Will.pdf"
    sam.put(doc, b"first will")
    sam.put(doc, b"second will")
    browser = signed_in(firm.url, "sam")
    listing = browser.get(firm.url + sam.url(folder)[len(firm.url) :], headers={"Accept": "text/html"})
    assert "earlier versions" in listing.text
    page = browser.get(sam.url(doc) + "?versions", headers={"Accept": "text/html"})
    assert page.status_code == 200 and "Earlier versions of Will.pdf" in page.text
    version_id = re.search(r'name="version" value="(\d+)"', page.text).group(1)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    done = browser.post(firm.url + WEB + "/do", data={"csrf": csrf, "action": "restore", "path": doc,
                                                     "version": version_id}, allow_redirects=False)  # fmt: skip
    assert done.status_code == 303
    assert sam.request("GET", doc).content == b"first will"


def test_the_cli_lists_and_restores_versions(firm, folder, tmp_path):
    sam = firm.as_user("sam")
    doc = folder + "Deed.pdf"
    sam.put(doc, b"deed one")
    sam.put(doc, b"deed two")
    config = tmp_path / "davportal.yaml"
    config.write_text(yaml.safe_dump({"davportal": {"database_url": str(firm.portal.engine.url.render_as_string(
        hide_password=False)), "storage_root": str(firm.portal.storage.root)}}))  # fmt: skip
    runner = CliRunner()
    below = doc.strip("/").split("/", 1)[1]
    listed = runner.invoke(main, ["versions", "list", "--config", str(config), "acme", below])
    assert listed.exit_code == 0, listed.output
    version_id = listed.stdout.split("\t", 1)[0]
    restored = runner.invoke(main, ["versions", "restore", "--config", str(config), "acme", below, version_id])
    assert restored.exit_code == 0, restored.output
    assert "Restored" in restored.stdout
    assert sam.request("GET", doc).content == b"deed one"
    missing = runner.invoke(main, ["versions", "restore", "--config", str(config), "acme", below, "999999"])
    assert missing.exit_code == 1 and "no such earlier version" in missing.stderr
