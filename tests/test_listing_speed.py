"""PROPFIND's direct answer (wsgidav_ext.propfind): the same answer as WsgiDAV's own, for every
entry the policy lets through, with no lock work when nothing is locked and one scandir and one
stat per entry. Counts, never times."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from urllib.parse import quote

import pytest
import requests
import yaml
from lxml import etree

from davportal.services import locks
from tests.conftest import PASSWORD, TEAM
from tests.test_entry_points import Process, _console
from tests.test_processes import _provision, wait_for
from wsgidav_ext import lock_store, propfind, provider
from wsgidav_ext.provider import HREF_SAFE

LITMUS = "http://example.com/neon/litmus/"
WIN32 = "urn:schemas-microsoft-com:"
# Passes for any file: the request takes WsgiDAV's own way (conditional headers), answer unchanged.
WSGIDAV_WAY = {"If-Unmodified-Since": "Fri, 01 Jan 2100 00:00:00 GMT"}
COMMON = ("resourcetype", "getcontentlength", "getlastmodified", "creationdate", "displayname", "getetag",
          "getcontenttype", "lockdiscovery", "supportedlock")  # fmt: skip
NAMED = (
    '<?xml version="1.0"?><D:propfind xmlns:D="DAV:" xmlns:W="urn:schemas-microsoft-com:" xmlns:L="%s"><D:prop>'
    "%s<W:Win32LastModifiedTime/><W:Win32FileAttributes/><L:prop0/><L:missing/></D:prop></D:propfind>"
    % (LITMUS, "".join(f"<D:{name}/>" for name in COMMON))
)
FINDER = ('<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:getlastmodified/><D:getcontentlength/>'
          "<D:creationdate/><D:resourcetype/></D:prop></D:propfind>")  # fmt: skip
NAMES = ("plain.txt", "Tom's & co – Résumé.pdf", "x(1),$!.docx", "Report.PDF", "sheet.xlsx", "locked.docx")


def _proppatch(dav, path: str, namespace: str, values: dict[str, str]) -> None:
    sets = "".join(f"<X:{name}>{value}</X:{name}>" for name, value in values.items())
    body = (f'<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:X="{namespace}">'
            f"<D:set><D:prop>{sets}</D:prop></D:set></D:propertyupdate>")  # fmt: skip
    assert dav.request("PROPPATCH", path, data=body.encode()).status_code == 207


@pytest.fixture(scope="module")
def tree(firm):
    """A folder in Team's shared with names that need quoting and escaping, a subfolder, dead
    properties (litmus'; Windows' times are the file's own), a lock of sam's, and Finder's own
    file, written by staff."""
    sam = firm.as_user("sam")
    folder = f"/acme/{TEAM}/fast/"
    assert sam.request("MKCOL", folder).status_code == 201
    assert sam.request("MKCOL", folder + "sub/").status_code == 201
    for name in (*NAMES, ".DS_Store"):
        assert sam.put(folder + name, b"content").status_code == 201
    _proppatch(sam, folder + "plain.txt", WIN32, {"Win32LastModifiedTime": "Tue, 01 Dec 2026 10:00:00 GMT",
                                                  "Win32FileAttributes": "00000020"})  # fmt: skip
    _proppatch(sam, folder + "sub/", LITMUS, {"prop0": "value0 &amp; more"})
    _proppatch(sam, folder + "plain.txt", LITMUS, {"prop0": "<X:nested>deep</X:nested>", "prop1": "Ünïcode"})
    lock = ('<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope>'
            "<D:locktype><D:write/></D:locktype><D:owner>sam at the office</D:owner></D:lockinfo>")  # fmt: skip
    assert sam.request("LOCK", folder + "locked.docx", data=lock.encode()).status_code == 200
    return firm, folder


def _answer(response) -> list[tuple[str, dict[str, dict[str, str]]]]:
    """A multistatus as (href, {status: {property: its XML without prefixes}}), in its order."""
    assert response.status_code == 207, response.text
    entries = []
    for node in etree.fromstring(response.content).iter("{DAV:}response"):
        statuses: dict[str, dict[str, str]] = {}
        for propstat in node.iter("{DAV:}propstat"):
            status = propstat.findtext("{DAV:}status")
            statuses[status] = {prop.tag: _plain(prop) for prop in propstat.find("{DAV:}prop")}
        entries.append((node.findtext("{DAV:}href"), statuses))
    return entries


def _plain(element) -> str:
    """The element's names and text, whatever prefixes it was written with; a lock's time left
    rounded (the two answers come a moment apart)."""
    text = (element.text or "").strip()
    text = re.sub(r"^Second-\d+$", "Second-n", text)
    inner = "".join(_plain(child) for child in element)
    return f"<{element.tag}>{text}{inner}</{element.tag}>"


@pytest.mark.parametrize("login", ["sam", "alice"])
@pytest.mark.parametrize("body", ["", NAMED, FINDER], ids=["allprop", "named", "finder"])
@pytest.mark.parametrize("depth", ["0", "1"])
def test_the_direct_answer_is_wsgidavs_answer(tree, login, body, depth, monkeypatch):
    firm, folder = tree
    dav = firm.as_user(login)
    written = Counted(monkeypatch, propfind._Multistatus, "write")
    paths = (folder, folder + "plain.txt", folder + "sub/", folder + "locked.docx")
    for path in paths:
        fast = _answer(dav.request("PROPFIND", path, data=body.encode(), headers={"Depth": depth}))
        slow = _answer(dav.request("PROPFIND", path, data=body.encode(), headers={"Depth": depth, **WSGIDAV_WAY}))
        assert fast == slow
    assert written.calls == len(paths)  # the first of each pair only


def test_a_listing_quotes_hrefs_hides_what_the_policy_hides_and_other_tokens(tree):
    firm, folder = tree
    for login in ("sam", "alice"):
        response = firm.as_user(login).propfind(folder, "1")
        hrefs = [href for href, _ in _answer(response)]
        base = "/acme/Team%27s%20shared/fast/"
        expected = {base, base + "sub/", *(base + quote(name, safe=HREF_SAFE) for name in NAMES)}
        if login == "sam":
            expected.add(base + ".DS_Store")  # staff's own Finder file: theirs to see, not the client's
        assert set(hrefs) == expected and len(hrefs) == len(expected)
        assert "%27" in hrefs[0] and "x(1),$!.docx" in "".join(hrefs)
        tokens = etree.fromstring(response.content).findall(".//{DAV:}locktoken")
        assert len(tokens) == (1 if login == "sam" else 0)  # a lock's token only for its holder
        assert response.text.count("<D:activelock>") == 1
        properties = dict(_answer(response))
        assert f"{{{LITMUS}}}prop1" in properties[base + "plain.txt"]["HTTP/1.1 200 OK"]
        assert f"{{{LITMUS}}}prop0" in properties[base + "sub/"]["HTTP/1.1 200 OK"]
        assert "Tom's &amp; co – Résumé.pdf</D:displayname>" in response.text


class Counted:
    """Calls of a function, which still runs: a spy, not a stand-in."""

    def __init__(self, monkeypatch, owner, name: str):
        self.calls = 0
        real = getattr(owner, name)

        def counted(*args, **kwargs):
            result = real(*args, **kwargs)
            self.calls += 1  # a call that raised (the fast path giving the request up) is no call made
            return result

        monkeypatch.setattr(owner, name, counted)


def test_no_lock_work_per_entry_when_nothing_is_locked(firm, monkeypatch):
    sam = firm.as_user("sam")
    folder = f"/acme/{TEAM}/unlocked/"
    assert sam.request("MKCOL", folder).status_code == 201
    for i in range(40):
        assert sam.put(f"{folder}f{i:02}.txt", b"x").status_code == 201
    lookups = [Counted(monkeypatch, locks, name) for name in ("at", "on", "find")]
    # WsgiDAV's own answer builds lockdiscovery through the provider: counted too, so a request
    # that fell back would show.
    discoveries = [Counted(monkeypatch, module, "lock_discovery") for module in (propfind, provider)]
    walks = Counted(monkeypatch, lock_store.PortalLockStorage, "get_lock_list")
    for body in ("", NAMED, FINDER):
        for path, depth in ((folder, "1"), (folder + "f00.txt", "0")):
            response = sam.request("PROPFIND", path, data=body.encode(), headers={"Depth": depth})
            assert response.status_code == 207
            assert ("<D:lockdiscovery/>" in response.text) is (body != FINDER)
    assert [counter.calls for counter in (*lookups, *discoveries, walks)] == [0, 0, 0, 0, 0, 0]


def test_one_lock_means_one_lockdiscovery_built(tree, monkeypatch):
    firm, folder = tree
    discoveries = Counted(monkeypatch, propfind, "lock_discovery")
    assert firm.as_user("alice").propfind(folder, "1").status_code == 207
    assert discoveries.calls == 1


# --- system calls: one scandir per folder, one stat per entry --------------------------------


@pytest.fixture
def served(fresh_database_url, tmp_path):
    """`davportal serve` as a process of its own, for strace to watch."""
    config = tmp_path / "davportal.yaml"
    storage = tmp_path / "files"
    config.write_text(yaml.safe_dump({"port": 0, "davportal": {"database_url": fresh_database_url,
                                                               "storage_root": str(storage)}}))  # fmt: skip
    _provision(config)
    process = Process([*_console("davportal"), "serve", "--workers", "1", "--config", str(config)], cwd=tmp_path)
    try:
        yield process, process.served_url(), storage
    finally:
        process.stop()


def test_a_listing_reads_the_folder_once_and_stats_each_entry_once(served, tmp_path):
    process, url, storage = served
    folder = f"/acme/{TEAM}/many/"
    session = requests.Session()
    session.auth = ("sam", PASSWORD)
    assert session.request("MKCOL", url + quote(folder)).status_code == 201
    names = [f"f{i:03}.txt" for i in range(50)]
    for name in names:
        assert session.put(url + quote(folder + name), data=b"x").status_code == 201
    assert session.request("PROPFIND", url + quote(folder), headers={"Depth": "1"}).status_code == 207  # warm

    trace = tmp_path / "trace.txt"
    # -f with -p: every thread of the server; %file and %desc: every open, stat and directory read.
    strace = subprocess.Popen(["strace", "-f", "-qq", "-p", str(process.proc.pid), "-e", "trace=%file,getdents64",
                               "-o", str(trace)], stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        # Attached once a request made after the start shows in the trace.
        wait_for("strace to attach", lambda: _traced(session, url, trace))
        response = session.request("PROPFIND", url + quote(folder), headers={"Depth": "1"})
        assert response.status_code == 207 and response.text.count("<D:response>") == 1 + len(names)
        marker = session.request("PROPFIND", url + "/acme/end-of-listing", headers={"Depth": "0"})
        assert marker.status_code == 404
        wait_for("the trace", lambda: "end-of-listing" in trace.read_text())
    finally:
        strace.terminate()
        strace.wait()
    lines = trace.read_text().split("start-of-listing")[-1].split("end-of-listing")[0].splitlines()
    disk = str(storage / "acme" / TEAM / "many")
    opened = [line for line in lines if "openat(" in line and f'"{disk}"' in line]
    stats = {name: sum(f'"{disk}/{name}"' in line for line in lines if "stat" in line) for name in names}
    assert len(opened) == 1  # one scandir
    assert set(stats.values()) == {1}, stats  # one stat per entry (scandir's own), none twice


def _traced(session, url: str, trace: Path) -> bool:
    session.request("PROPFIND", url + "/acme/start-of-listing", headers={"Depth": "0"})
    return trace.exists() and "start-of-listing" in trace.read_text()
