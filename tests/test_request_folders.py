"""A document request's folders over real HTTP: the policy on every WebDAV method, and what real
drive clients do in them (rclone, Explorer's and Office's LOCK then PUT, Finder's own files)."""

from __future__ import annotations

import subprocess
import threading
import time
import uuid
from datetime import date

import pytest
from sqlalchemy import select, text

from davportal.core.models import AuditEvent
from davportal.services import documents, fulfilment
from davportal.services import requests as document_requests
from davportal.services.request import RequestContext
from davportal.services.requests import NewItem
from policy import Actor, Role
from provisioning import accounts
from tests.clients.conftest import require
from tests.conftest import ADMIN, CLIENT, PASSWORD, new_database, portal_config, seed_firm, start_portal

SAM = Actor("sam", Role.STAFF, is_admin=True)
LOCK_BODY = (
    "<?xml version='1.0'?><D:lockinfo xmlns:D='DAV:'><D:lockscope><D:exclusive/></D:lockscope>"
    "<D:locktype><D:write/></D:locktype><D:owner>Microsoft Office</D:owner></D:lockinfo>"
)
PROPPATCH_BODY = (
    "<D:propertyupdate xmlns:D='DAV:'><D:set><D:prop><x:note xmlns:x='urn:test'>hi</x:note></D:prop></D:set>"
    "</D:propertyupdate>"
)


@pytest.fixture(scope="module")
def office(backend, tmp_path_factory):
    """The small firm, and dora: a contact of acme whose participant type is `bookkeeper`."""
    folder = tmp_path_factory.mktemp("request-folders")
    with new_database(backend, folder) as url:
        running = start_portal(portal_config(url, folder / "storage"))
        try:
            seed_firm(running)
            with running.portal.sessions.begin() as session:
                accounts.add_contact(session, "dora", client_id="acme", password=PASSWORD,
                                     participant_type="bookkeeper", actor=ADMIN)  # fmt: skip
            yield running
        finally:
            running.server.stop()
            running.portal.engine.dispose()


def _do(firm, change, *args, **kwargs):
    context = RequestContext(firm.portal, actor=SAM)
    try:
        result = change(context, *args, **kwargs)
        context.session.commit()
        return result
    finally:
        context.session.close()


def _ask(firm, *names: str, client: str = "acme", title: str | None = None, expected: dict | None = None):
    """A request sent to the client's contacts of type `client`; returns (id, its folder's URL path)."""
    title = title or f"Request {uuid.uuid4().hex[:6]}"
    items = [NewItem(name, files_expected=(expected or {}).get(name)) for name in names]
    request = _do(firm, document_requests.create, client, title=title, items=items, participants=["client"],
                  due_on=date(2027, 1, 31))  # fmt: skip
    return request.id, f"/{client}/{request.folder}"


def _items(firm, request_id) -> dict[str, tuple]:
    with firm.portal.sessions() as session:
        return {item.name: (item.id, item.status, item.files, item.folder)
                for item in document_requests.items_of(session, request_id)}  # fmt: skip


def _status(firm, request_id, name) -> tuple[str, int]:
    return _items(firm, request_id)[name][1:3]


def _unique(ext: str = ".pdf") -> str:
    return f"f-{uuid.uuid4().hex[:8]}{ext}"


# The policy on every method


@pytest.fixture(scope="module")
def closed(office):
    """One request for `client` contacts: P60 wanted (alice's upload in it, locked by her),
    Passport accepted, Bank rejected (its file kept in "Not accepted"); and one cancelled."""
    request_id, folder = _ask(office, "P60", "Passport", "Bank")
    alice = office.as_user("alice")
    for item in ("P60", "Passport", "Bank"):
        assert alice.put(f"{folder}/{item}/{item.lower()}.pdf", b"%PDF " + item.encode()).status_code == 201
    items = _items(office, request_id)
    _do(office, document_requests.accept, request_id, items["Passport"][0])
    _do(office, document_requests.reject, request_id, items["Bank"][0], "Cut off on the right")
    lock = alice.request("LOCK", f"{folder}/P60/p60.pdf", data=LOCK_BODY, headers={"Timeout": "Second-3600"})
    assert lock.status_code == 200
    cancelled_id, cancelled = _ask(office, "Ledger")
    assert alice.put(f"{cancelled}/Ledger/ledger.pdf", b"%PDF ledger").status_code == 201
    _do(office, document_requests.cancel, cancelled_id)
    return {
        "folder": folder, "token": lock.headers["Lock-Token"],
        "places": {
            "request": (folder, True), "wanted item": (f"{folder}/P60", True),
            "file in a wanted item": (f"{folder}/P60/p60.pdf", False),
            "accepted item": (f"{folder}/Passport", True),
            "file in an accepted item": (f"{folder}/Passport/passport.pdf", False),
            "not accepted": (f"{folder}/Not accepted", True),
            "file not accepted": (f"{folder}/Not accepted/Bank/bank.pdf", False),
            "cancelled": (cancelled, True), "file in a cancelled request": (f"{cancelled}/Ledger/ledger.pdf", False),
        },
    }  # fmt: skip


OPEN_PLACES = ("request", "wanted item", "file in a wanted item")
CLOSED_PLACES = ("accepted item", "file in an accepted item", "not accepted", "file not accepted", "cancelled",
                 "file in a cancelled request")  # fmt: skip
METHODS = ("PROPFIND-0", "PROPFIND-1", "GET", "HEAD", "PUT", "MKCOL", "DELETE", "PROPPATCH", "LOCK", "UNLOCK",
           "MOVE-from", "MOVE-into", "COPY-from", "COPY-into")  # fmt: skip
OWN_CLIENT = {"alice": "acme", "dora": "acme", "bob": "beta"}


def _send(firm, login: str, method: str, path: str, is_folder: bool, token: str):
    dav = firm.as_user(login)
    inside = f"{path}/{_unique()}" if is_folder else path  # a new file in a folder, else the file itself
    elsewhere = f"/{OWN_CLIENT[login]}/{CLIENT}/{_unique()}"  # where the actor may create
    if method == "PROPFIND-0":
        return dav.propfind(path, "0")
    if method == "PROPFIND-1":
        return dav.propfind(path if is_folder else path.rsplit("/", 1)[0], "1")
    if method in ("GET", "HEAD", "DELETE"):
        return dav.request(method, path)
    if method == "PUT":
        return dav.put(inside, b"%PDF planted")
    if method == "MKCOL":
        return dav.request("MKCOL", (path if is_folder else path.rsplit("/", 1)[0]) + "/new folder/")
    if method == "PROPPATCH":
        return dav.request("PROPPATCH", path, data=PROPPATCH_BODY)
    if method == "LOCK":
        return dav.request("LOCK", inside, data=LOCK_BODY, headers={"Timeout": "Second-60"})
    if method == "UNLOCK":
        return dav.request("UNLOCK", path, headers={"Lock-Token": token})
    if method in ("MOVE-from", "COPY-from"):
        return dav.request(method[:4], path, headers={"Destination": dav.url(elsewhere)})
    own = elsewhere  # "-into": the actor's own upload, sent into the request's folders
    assert dav.put(own, b"%PDF own").status_code == 201
    response = dav.request(method[:4], own, headers={"Destination": dav.url(inside)})
    assert firm.as_user("sam").request("HEAD", own).status_code == 200, "the refused MOVE took the source away"
    return response


def _cases():
    for place in OPEN_PLACES:
        for login in ("dora", "bob"):
            yield from ((login, place, method) for method in METHODS)
    for place in CLOSED_PLACES:
        for login in ("alice", "dora", "bob"):
            yield from ((login, place, method) for method in METHODS)


@pytest.mark.parametrize("login, place, method", list(_cases()))
def test_a_request_is_invisible_to_whom_it_is_not_for_on_every_method(office, closed, login, place, method):
    """404 on every method for a contact of another client, of a participant type not on the
    request, and for its own contacts once a folder is closed: as for any folder they may not see."""
    path, is_folder = closed["places"][place]
    sam = office.as_user("sam")
    before = sam.propfind(path, "1").text
    response = _send(office, login, method, path, is_folder, closed["token"])
    assert response.status_code == 404, (response.status_code, response.text)
    assert "Requested" not in response.text and "P60" not in response.text
    after = sam.propfind(path, "1")
    assert after.status_code == 207 and _hrefs(after.text) == _hrefs(before), "nothing changes"


def _hrefs(xml: str) -> set[str]:
    return {part.split("</D:href>")[0] for part in xml.split("<D:href>")[1:]}


def test_listings_never_show_what_a_contact_may_not_see(office, closed):
    folder = closed["folder"]
    name = folder.rsplit("/", 1)[-1]
    dora, alice, bob = office.as_user("dora"), office.as_user("alice"), office.as_user("bob")
    assert name not in dora.names(f"/acme/{CLIENT}/")
    assert name in alice.names(f"/acme/{CLIENT}/")
    assert alice.names(folder + "/") == {"P60", "Bank"}  # not the accepted Passport, not "Not accepted"
    cancelled = closed["places"]["cancelled"][0].rsplit("/", 1)[-1]
    assert cancelled not in alice.names(f"/acme/{CLIENT}/")
    assert bob.names("/") == {"beta"}
    assert {"P60", "Passport", "Bank", "Not accepted"} <= office.as_user("sam").names(folder + "/")


def test_what_the_contacts_of_a_request_and_staff_may_do_in_it(office):
    request_id, folder = _ask(office, "P60")
    alice, sam = office.as_user("alice"), office.as_user("sam")
    assert alice.put(f"{folder}/loose.pdf", b"%PDF").status_code == 403
    assert alice.request("MKCOL", f"{folder}/Mine/").status_code == 403
    assert alice.request("DELETE", f"{folder}/P60/").status_code == 403
    assert (
        alice.request("MOVE", f"{folder}/P60/", headers={"Destination": alice.url(f"{folder}/P61/")}).status_code == 403
    )
    assert alice.request("LOCK", f"{folder}/P60/", data=LOCK_BODY).status_code == 403
    assert alice.request("DELETE", folder + "/").status_code == 403
    assert alice.put(f"{folder}/P60/p60.pdf", b"%PDF").status_code == 201
    assert alice.request("PROPPATCH", f"{folder}/P60/p60.pdf", data=PROPPATCH_BODY).status_code == 207
    carol = office.as_user("carol")  # the same participant type: she sees it, and cannot touch alice's
    assert carol.request("GET", f"{folder}/P60/p60.pdf").status_code == 200
    assert carol.request("DELETE", f"{folder}/P60/p60.pdf").status_code == 403
    assert sam.request("GET", f"{folder}/P60/p60.pdf").status_code == 200
    assert sam.put(f"{folder}/P60/p60.pdf", b"%PDF staff").status_code == 403
    assert sam.request("DELETE", f"{folder}/P60/p60.pdf").status_code == 403
    assert sam.request("DELETE", f"{folder}/P60/").status_code == 403
    assert sam.request("MKCOL", "/acme/Kept/").status_code in (201, 405)
    copied = sam.request("COPY", f"{folder}/P60/p60.pdf", headers={"Destination": sam.url("/acme/Kept/p60.pdf")})
    assert copied.status_code == 201  # staff keep an internal copy, as anywhere in Client's shared
    assert _status(office, request_id, "P60") == ("uploaded", 1)


# Drive clients fulfil items


def test_rclone_copy_into_an_items_folder_fulfils_it(office, tmp_path):
    binary = require("rclone")
    request_id, folder = _ask(office, "P60")
    obscured = subprocess.run([binary, "obscure", PASSWORD], capture_output=True, text=True, check=True).stdout
    config = tmp_path / "rclone.conf"
    config.write_text(f"[alice]\ntype = webdav\nurl = {office.url}/\nvendor = owncloud\nuser = alice\n"
                      f"pass = {obscured.strip()}\n")  # fmt: skip
    local = tmp_path / "to send" / "P60 2025.pdf"
    local.parent.mkdir()
    local.write_bytes(b"%PDF-1.4 the P60")

    def rclone(*args):
        result = subprocess.run([binary, "--config", str(config), "--retries", "1", "--low-level-retries", "1", *args],
                                capture_output=True, text=True, timeout=120)  # fmt: skip
        assert result.returncode == 0, result.stderr
        return result.stdout

    name = folder.rsplit("/", 1)[-1]
    assert f"{name}/" in rclone("lsf", f"alice:acme/{CLIENT}/").splitlines()
    assert rclone("lsf", f"alice:{folder.lstrip('/')}/").splitlines() == ["P60/"]
    rclone("copy", str(local.parent), f"alice:{folder.lstrip('/')}/P60")
    assert _status(office, request_id, "P60") == ("uploaded", 1)
    assert office.as_user("sam").request("GET", f"{folder}/P60/P60 2025.pdf").content == b"%PDF-1.4 the P60"


def test_move_into_an_item_fulfils_it_and_out_of_it_wants_it_again(office):
    request_id, folder = _ask(office, "P60")
    alice = office.as_user("alice")
    mine = f"/acme/{CLIENT}/{_unique()}"
    assert alice.put(mine, b"%PDF mine").status_code == 201
    assert alice.request("MOVE", mine, headers={"Destination": alice.url(f"{folder}/P60/p60.pdf")}).status_code == 201
    assert _status(office, request_id, "P60") == ("uploaded", 1)
    renamed = alice.request(
        "MOVE", f"{folder}/P60/p60.pdf", headers={"Destination": alice.url(f"{folder}/P60/P60.pdf")}
    )
    assert renamed.status_code == 201
    assert _status(office, request_id, "P60") == ("uploaded", 1)  # a rename inside keeps it uploaded
    assert alice.request("MOVE", f"{folder}/P60/P60.pdf", headers={"Destination": alice.url(mine)}).status_code == 201
    assert _status(office, request_id, "P60") == ("requested", 0)


def test_copy_into_an_item_fulfils_it(office):
    request_id, folder = _ask(office, "P60")
    alice = office.as_user("alice")
    mine = f"/acme/{CLIENT}/{_unique()}"
    assert alice.put(mine, b"%PDF mine").status_code == 201
    assert alice.request("COPY", mine, headers={"Destination": alice.url(f"{folder}/P60/copy.pdf")}).status_code == 201
    assert _status(office, request_id, "P60") == ("uploaded", 1)


def test_a_desktops_own_files_do_not_count(office):
    request_id, folder = _ask(office, "P60")
    alice = office.as_user("alice")
    for name in (".DS_Store", "~$letter.docx", "._p60.pdf", "Thumbs.db", "desktop.ini"):
        assert alice.put(f"{folder}/P60/{name}", b"desktop's own").status_code == 201, name
    assert _status(office, request_id, "P60") == ("requested", 0)
    assert alice.put(f"{folder}/P60/letter.docx", b"PK the letter").status_code == 201
    assert _status(office, request_id, "P60") == ("uploaded", 1)


def test_a_file_in_a_subfolder_the_contact_made_in_an_item_counts(office):
    request_id, folder = _ask(office, "Bank statements", expected={"Bank statements": 2})
    alice = office.as_user("alice")
    assert alice.request("MKCOL", f"{folder}/Bank statements/2025/").status_code == 201
    assert alice.put(f"{folder}/Bank statements/2025/jan.pdf", b"%PDF jan").status_code == 201
    assert _status(office, request_id, "Bank statements") == ("requested", 1)
    assert alice.put(f"{folder}/Bank statements/2025/feb.pdf", b"%PDF feb").status_code == 201
    assert _status(office, request_id, "Bank statements") == ("uploaded", 2)


def test_two_contacts_uploading_into_one_item_at_once_both_land(office):
    request_id, folder = _ask(office, "Passports", expected={"Passports": 2})
    start, results = threading.Event(), {}

    def upload(login):
        dav = office.as_user(login)
        dav.propfind(folder + "/", "0")  # signed in before the start: the uploads race, not the logins
        start.wait()
        results[login] = dav.put(f"{folder}/Passports/{login}.pdf", b"%PDF passport of " + login.encode())

    threads = [threading.Thread(target=upload, args=(login,)) for login in ("alice", "carol")]
    for thread in threads:
        thread.start()
    start.set()
    for thread in threads:
        thread.join()
    assert {login: response.status_code for login, response in results.items()} == {"alice": 201, "carol": 201}
    assert _status(office, request_id, "Passports") == ("uploaded", 2)
    with office.portal.sessions() as session:
        request = document_requests.find(session, request_id)
        assert (request.items_total, request.items_uploaded) == (1, 1)


def test_a_lock_then_put_as_office_saves_fulfils_once(office):
    request_id, folder = _ask(office, "Engagement letter")
    alice = office.as_user("alice")
    path = f"{folder}/Engagement letter/signed.docx"
    lock = alice.request("LOCK", path, data=LOCK_BODY, headers={"Timeout": "Second-60"})
    assert lock.status_code == 201  # an empty file, locked: Office's bytes come next
    assert _status(office, request_id, "Engagement letter") == ("requested", 0)
    token = lock.headers["Lock-Token"]
    assert alice.put(path, b"PK signed letter", headers={"If": f"({token})"}).status_code == 204
    assert _status(office, request_id, "Engagement letter") == ("uploaded", 1)
    assert alice.request("UNLOCK", path, headers={"Lock-Token": token}).status_code == 204
    with office.portal.sessions() as session:
        uploads = session.scalars(select(AuditEvent).where(
            AuditEvent.action == "REQUEST-UPLOAD", AuditEvent.detail.contains(f"request {request_id} ")))  # fmt: skip
        assert len(uploads.all()) == 1


# The request machinery around folders


def test_a_title_the_client_already_has_as_a_folder_gets_a_name_of_its_own(office):
    title = f"Taxes {uuid.uuid4().hex[:6]}"
    alice = office.as_user("alice")
    theirs = f"/acme/{CLIENT}/Requested - {title.upper()}"
    assert alice.request("MKCOL", theirs + "/").status_code == 201
    assert alice.put(theirs + "/own.pdf", b"%PDF own").status_code == 201
    request_id, folder = _ask(office, "P60", title=title)
    assert folder == f"/acme/{CLIENT}/Requested - {title} (2)"
    assert alice.request("DELETE", theirs + "/own.pdf").status_code == 204  # still an ordinary folder of hers
    assert alice.put(f"{folder}/P60/p60.pdf", b"%PDF").status_code == 201
    assert _status(office, request_id, "P60") == ("uploaded", 1)


def test_an_item_named_like_the_folder_of_files_not_accepted_is_still_the_clients(office):
    request_id, folder = _ask(office, "Not accepted", "P60")
    assert _items(office, request_id)["Not accepted"][3].rsplit("/", 1)[-1] == "Not accepted (2)"
    alice = office.as_user("alice")
    assert alice.put(f"{folder}/Not accepted (2)/letter.pdf", b"%PDF").status_code == 201
    assert _status(office, request_id, "Not accepted") == ("uploaded", 1)
    p60 = _items(office, request_id)["P60"][0]
    assert alice.put(f"{folder}/P60/p60.pdf", b"%PDF").status_code == 201
    _do(office, document_requests.reject, request_id, p60, "Unreadable")
    assert "Not accepted (2)" in alice.names(folder + "/")


def test_an_item_removed_then_asked_for_again_gets_a_folder_of_its_own(office):
    request_id, folder = _ask(office, "P60", "Passport")
    alice = office.as_user("alice")
    assert alice.put(f"{folder}/P60/old.pdf", b"%PDF old").status_code == 201
    _do(office, document_requests.remove_item, request_id, _items(office, request_id)["P60"][0])
    added = _do(office, document_requests.add_item, request_id, NewItem("P60"))
    assert added.folder.endswith("/P60 (2)")
    assert alice.put(f"{folder}/P60 (2)/new.pdf", b"%PDF new").status_code == 201
    assert _status(office, request_id, "P60") == ("uploaded", 1)
    assert office.as_user("sam").request("GET", f"{folder}/P60/old.pdf").content == b"%PDF old"  # kept


def test_an_item_added_after_sending_is_a_folder_its_contacts_fill(office):
    request_id, folder = _ask(office, "P60")
    _do(office, document_requests.add_item, request_id, NewItem("Passport"))
    alice = office.as_user("alice")
    assert alice.names(folder + "/") == {"P60", "Passport"}
    assert alice.put(f"{folder}/Passport/passport.jpg", b"\xff\xd8 photo").status_code == 201
    assert _status(office, request_id, "Passport") == ("uploaded", 1)


def test_an_item_accepted_with_nothing_uploaded_completes_the_request(office):
    """Staff may have the document another way (by post, at a meeting): they accept it as it is."""
    request_id, folder = _ask(office, "Signed engagement letter")
    item = _items(office, request_id)["Signed engagement letter"][0]
    _do(office, document_requests.accept, request_id, item)
    with office.portal.sessions() as session:
        assert document_requests.find(session, request_id).status == "complete"
    assert office.as_user("alice").propfind(folder + "/").status_code == 404


def test_a_request_whose_sending_does_not_commit_leaves_no_folder_behind(office):
    """The folders are made on disk before the transaction commits: if it does not (a later step
    failed, or the database did), they go again, and the request can be sent afresh."""
    title = f"Rolled back {uuid.uuid4().hex[:6]}"
    context = RequestContext(office.portal, actor=SAM)
    try:
        document_requests.create(context, "acme", title=title, items=[NewItem("P60")], participants=["client"])
        assert (office.portal.storage.path_of(("acme", CLIENT)) / f"Requested - {title}" / "P60").is_dir()
        context.session.rollback()
    finally:
        context.session.close()
    assert not (office.portal.storage.path_of(("acme", CLIENT)) / f"Requested - {title}").exists()
    assert f"Requested - {title}" not in office.as_user("alice").names(f"/acme/{CLIENT}/")
    request_id, folder = _ask(office, "P60", title=title)
    assert folder == f"/acme/{CLIENT}/Requested - {title}"  # its own name, not "(2)"


@pytest.mark.parametrize("one_item", [True, False], ids=["one item", "two items"])
def test_files_arriving_at_once_are_counted_one_after_the_other(office, backend, one_item):
    """Two uploads at once, into one item or into two of one request: the second to count waits
    for the first's commit and sees its file, so neither's count overwrites the other's
    (PostgreSQL: writers run side by side)."""
    if backend == "sqlite":
        pytest.skip("SQLite lets one writer at a time: an upload's record already waits for the other's commit")
    if one_item:
        request_id, folder = _ask(office, "Bank statements", expected={"Bank statements": 2})
        into = {"alice": "Bank statements", "carol": "Bank statements"}
    else:
        request_id, folder = _ask(office, "P60", "Passport")
        into = {"alice": "P60", "carol": "Passport"}
    portal = office.portal

    def arrive(context: RequestContext) -> None:
        login = context.actor.login
        parts = (*folder.strip("/").split("/"), into[login], f"{login}.pdf")
        portal.storage.path_of(parts).write_bytes(b"%PDF " + login.encode())
        documents.record(context.session, "acme", "/".join(parts[1:]), login, is_folder=False)
        fulfilment.arrived(context, parts)

    first = RequestContext(portal, actor=Actor("alice", Role.CONTACT, clients={"acme": "client"}))
    second = RequestContext(portal, actor=Actor("carol", Role.CONTACT, clients={"acme": "client"}))
    pid = second.session.execute(text("SELECT pg_backend_pid()")).scalar()
    arrive(first)  # counted, not yet committed
    done = threading.Event()

    def the_other():
        try:
            arrive(second)
            second.session.commit()
        finally:
            second.session.close()
            done.set()

    thread = threading.Thread(target=the_other)
    thread.start()
    waiting = text("SELECT count(*) FROM pg_locks WHERE pid = :pid AND NOT granted")
    with portal.engine.connect() as watch:
        deadline = time.monotonic() + 60  # a bound, never a wait: on time, the other is waiting or done
        while not done.is_set() and not watch.execute(waiting, {"pid": pid}).scalar():
            assert time.monotonic() < deadline, "the second upload neither waited nor finished"
            time.sleep(0.02)
    first.session.commit()
    first.session.close()
    thread.join()
    if one_item:
        assert _status(office, request_id, "Bank statements") == ("uploaded", 2)
    else:
        assert _status(office, request_id, "P60") == _status(office, request_id, "Passport") == ("uploaded", 1)
    with portal.sessions() as session:
        assert document_requests.find(session, request_id).items_uploaded == (1 if one_item else 2)


def test_rejecting_an_item_with_more_files_than_asked_sets_them_all_aside_at_once(office):
    request_id, folder = _ask(office, "P60")
    alice = office.as_user("alice")
    for name in ("one.pdf", "two.pdf", "three.pdf"):
        assert alice.put(f"{folder}/P60/{name}", b"%PDF " + name.encode()).status_code == 201
    context = RequestContext(office.portal, actor=SAM)  # a page's: its events are audited with it
    try:
        document_requests.reject(context, request_id, _items(office, request_id)["P60"][0], "Not the P60")
        context.session.commit()
    finally:
        context.session.close()
    assert _status(office, request_id, "P60") == ("requested", 0)
    assert [event for event in context.events if event[0].startswith("REQUEST-")] == []  # no "uploaded" meanwhile
    assert office.as_user("sam").names(f"{folder}/Not accepted/P60/") == {"one.pdf", "two.pdf", "three.pdf"}


def test_a_title_and_items_typed_on_a_mac_are_folders_every_drive_finds(office):
    """Names arrive decomposed from macOS (e + a combining accent); paths are matched in NFC."""
    request_id, folder = _ask(
        office, "Pie\u0300ces d'identite\u0301", title=f"Re\u0301sume\u0301 {uuid.uuid4().hex[:4]}"
    )
    alice = office.as_user("alice")
    assert "Pièces d'identité" in alice.names(folder + "/")
    assert alice.put(f"{folder}/Pièces d'identité/passport.pdf", b"%PDF").status_code == 201
    assert _status(office, request_id, "Pie\u0300ces d'identite\u0301") == ("uploaded", 1)


def test_a_file_rejected_twice_under_one_name_is_kept_twice_and_still_opens(office):
    request_id, folder = _ask(office, "P60")
    alice, p60 = office.as_user("alice"), _items(office, request_id)["P60"][0]
    for attempt in (b"%PDF first", b"%PDF second"):
        assert alice.put(f"{folder}/P60/P60.pdf", attempt).status_code == 201
        _do(office, document_requests.reject, request_id, p60, "Cut off")
    sam = office.as_user("sam")
    assert sam.names(f"{folder}/Not accepted/P60/") == {"P60.pdf", "P60 (2).pdf"}
    assert sam.request("GET", f"{folder}/Not accepted/P60/P60 (2).pdf").content == b"%PDF second"
