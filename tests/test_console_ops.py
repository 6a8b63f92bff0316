"""The admin console's matter types, trash, audit trail and email pages, over HTTP on a real portal."""

from __future__ import annotations

import asyncio
import csv
import html
import io
import json
import re
import threading
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from markupsafe import escape
from sqlalchemy import select, update

from davportal.core.models import AuditEvent, OutboxMessage, TrashItem, utcnow
from davportal.notifications.outbox import FAILED, PENDING, SENT
from davportal.notifications.worker import send_round
from davportal.services.trash import TRASH_FOLDER
from provisioning import accounts, clients, templates
from provisioning.matter_types import PushRecord
from tests.conftest import ADMIN as SETUP  # who sets the firm up (ADMIN here is the console's address)
from tests.conftest import TEAM, new_database, portal_config, seed_firm, signed_in, start_portal
from tests.test_notifications import Inbox, _settings, _start_smtp

ROOT = Path(__file__).resolve().parents[1]
ADMIN = "/.davportal-web/admin"
LATER = timedelta(minutes=10)  # past any digest window


@pytest.fixture(scope="module")
def ops(backend, tmp_path_factory):
    """The small firm, with the shipped matter types in a file the tests may change."""
    folder = tmp_path_factory.mktemp("ops")
    types_file = folder / "types.yaml"
    types_file.write_text((ROOT / "config" / "matter-types.yaml").read_text())
    with new_database(backend, folder) as url:
        running = start_portal(portal_config(url, folder / "storage", matter_types_file=str(types_file)))
        running.types_file = types_file
        try:
            yield seed_firm(running)
        finally:
            running.server.stop()
            running.portal.engine.dispose()


@pytest.fixture(scope="module")
def sam(ops):
    return signed_in(ops.url, "sam")


def _flash(page) -> str:
    """The message the last action left, as a person reads it."""
    found = re.search(r'<p class="flash (\w+)" role="status">([^<]*)</p>', page.text)
    return f"{found.group(1)}: {html.unescape(found.group(2))}" if found else ""


def _events(portal, action: str) -> list[AuditEvent]:
    with portal.sessions() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


# --- matter types -----------------------------------------------------------------------------


def _add_typed_client(ops, client_id: str, type_id: str) -> None:
    folders = ops.portal.settings.folders
    with ops.portal.sessions.begin() as session:
        clients.add_client(session, ops.portal.storage, client_id, name=client_id.title(),
                           folders=(folders.team_shared, folders.client_shared),
                           matter_type=ops.portal.matter_types_file.current()[type_id], actor=SETUP)  # fmt: skip


def test_matter_types_show_each_folder_its_rule_and_how_many_clients(ops, sam):
    _add_typed_client(ops, "tax-one", "annual-tax-return")
    page = sam.get(f"{ops.url}{ADMIN}/matter-types")
    assert page.status_code == 200
    tax = page.text[page.text.index("Annual tax return") :]
    assert "1 client of this type" in tax
    row = re.search(r"<tr><td>Medical expenses</td>(.*?)</tr>", tax).group(1)
    assert "<td>medical</td>" in row and "<td>staff, client</td>" in row  # the area, and who reads it


def test_a_push_shows_its_dry_run_then_each_client_as_it_goes_and_its_conflicts(ops, sam, monkeypatch):
    for client_id in ("fam-a", "fam-b", "fam-c"):
        _add_typed_client(ops, client_id, "family-law")
    ops.types_file.write_text(ops.types_file.read_text().replace(
        "      - path: Court documents\n", "      - path: Court documents\n      - path: Archive\n", 1))  # fmt: skip
    (ops.portal.storage.root / "fam-b" / "Archive").write_bytes(b"a file where the new folder goes")

    dry = sam.get(f"{ops.url}{ADMIN}/matter-types/family-law/push")
    assert dry.status_code == 200
    assert "<strong>Archive</strong> for 2 clients" in dry.text
    assert "<td>fam-b</td><td>Archive</td><td>a file is where the folder should be</td>" in dry.text
    assert "were never given out from here before" in dry.text  # and so its rules are listed
    assert not (ops.portal.storage.root / "fam-a" / "Archive").exists()  # a dry run changes nothing

    # The page must show the first client done while the others are still waiting.
    first_done, go_on = threading.Event(), threading.Event()
    real_apply = templates.apply_template

    def held_after_the_first(*args, **kwargs):
        report = real_apply(*args, **kwargs)
        if not first_done.is_set():
            first_done.set()
        else:
            go_on.wait(120)  # released by the test once it has read the first line
        return report

    monkeypatch.setattr(templates, "apply_template", held_after_the_first)
    answer = sam.post(f"{ops.url}{ADMIN}/matter-types/family-law/push", data={"csrf": sam.csrf}, stream=True)
    assert answer.status_code == 200 and answer.headers.get("Transfer-Encoding") == "chunked"
    seen = ""
    chunks = answer.iter_content(chunk_size=None, decode_unicode=True)
    while "1 of 3: fam-a: created Archive" not in seen:
        seen += next(chunks)
    assert 'id="outcome"' not in seen  # the rest is still to come
    go_on.set()
    seen += "".join(chunks)
    assert "2 of 3: fam-b: nothing to create" in seen and "3 of 3: fam-c: created Archive" in seen
    outcome = seen[seen.index('id="outcome"') :]
    assert "3 clients, 2 folders created, 1 left alone" in outcome
    assert "<td>fam-b</td><td>Archive</td><td>a file is where the folder should be</td>" in outcome
    assert (ops.portal.storage.root / "fam-c" / "Archive").is_dir()
    assert (ops.portal.storage.root / "fam-b" / "Archive").is_file()  # left alone
    pushed = _events(ops.portal, "PUSH")[-1]
    assert pushed.login == "sam" and "family-law" in pushed.detail and "1 conflict" in pushed.detail
    assert "Archive" in PushRecord(ops.types_file).last("family-law")  # as the command line records it


def test_a_damaged_record_of_the_last_push_is_said_on_the_page(ops, sam):
    record = PushRecord(ops.types_file).path
    before = record.read_bytes() if record.exists() else None
    record.write_text("- not a mapping\n")
    try:
        page = sam.get(f"{ops.url}{ADMIN}/matter-types/annual-tax-return/push")
        assert page.status_code == 200 and "the record of the last push cannot be read" in page.text
        assert "were never given out from here before" in page.text  # and so its rules are listed
    finally:
        if before is None:
            record.unlink()
        else:
            record.write_bytes(before)


def test_an_unknown_matter_type_is_not_found(ops, sam):
    for method in ("GET", "POST"):
        answer = sam.request(method, f"{ops.url}{ADMIN}/matter-types/no-such-type/push", data={"csrf": sam.csrf})
        assert answer.status_code == 404 and "There is no matter type" in answer.text


# --- trash ------------------------------------------------------------------------------------


def _deleted(ops, name: str, client_id: str = "acme") -> TrashItem:
    staff = ops.as_user("sam")
    path = f"/{client_id}/{TEAM}/{name}"
    assert staff.put(path, b"kept in the trash").status_code == 201
    assert staff.request("DELETE", path).status_code == 204
    with ops.portal.sessions() as session:
        return session.scalars(select(TrashItem).where(TrashItem.path == f"{TEAM}/{name}")
                               .order_by(TrashItem.id.desc())).first()  # fmt: skip


def test_the_trash_by_client_and_a_restore(ops, sam):
    name = f"letter-{uuid.uuid4().hex[:6]}.pdf"
    item = _deleted(ops, name)
    beta_item = _deleted(ops, f"other-{uuid.uuid4().hex[:6]}.pdf", "beta")
    page = sam.get(f"{ops.url}{ADMIN}/trash", params={"client": "acme"})
    assert escape(name) in page.text and beta_item.path.rpartition("/")[2] not in page.text
    restored = sam.post(f"{ops.url}{ADMIN}/trash/restore", data={"csrf": sam.csrf, "item": item.id, "client": "acme"})
    assert restored.url.endswith("/admin/trash?client=acme")
    assert _flash(restored) == f"ok: Restored to acme/{TEAM}/{name}."
    assert ops.as_user("alice").request("GET", f"/acme/{TEAM}/{name}").content == b"kept in the trash"
    assert name not in sam.get(f"{ops.url}{ADMIN}/trash", params={"client": "acme"}).text
    event = _events(ops.portal, "TRASH-RESTORE")[-1]
    assert (event.login, event.client_id, event.path) == ("sam", "acme", f"{TEAM}/{name}")
    again = sam.post(f"{ops.url}{ADMIN}/trash/restore", data={"csrf": sam.csrf, "item": item.id})
    assert again.status_code == 404 and f"There is no item {item.id} in the trash." in again.text


def test_delete_one_item_for_good_after_a_confirmation(ops, sam):
    item = _deleted(ops, f"draft-{uuid.uuid4().hex[:6]}.pdf")
    stored = ops.portal.storage.root / TRASH_FOLDER / item.stored_as
    asked = sam.get(f"{ops.url}{ADMIN}/trash/purge", params={"item": item.id})
    assert asked.status_code == 200 and escape(item.path) in asked.text and "cannot be undone" in asked.text
    unconfirmed = sam.post(f"{ops.url}{ADMIN}/trash/purge", data={"csrf": sam.csrf, "item": item.id})
    assert _flash(unconfirmed).startswith("error: Nothing was deleted") and stored.exists()
    done = sam.post(f"{ops.url}{ADMIN}/trash/purge", data={"csrf": sam.csrf, "item": item.id, "confirm": "yes"})
    assert _flash(done) == f"ok: acme/{item.path} is deleted for good."
    assert not stored.exists()
    with ops.portal.sessions() as session:
        assert session.get(TrashItem, item.id) is None
    assert _events(ops.portal, "TRASH-PURGE")[-1].path == item.path


def test_delete_for_good_what_is_older_than_the_retention_period(ops, sam):
    old, recent = _deleted(ops, f"old-{uuid.uuid4().hex[:6]}.pdf"), _deleted(ops, f"new-{uuid.uuid4().hex[:6]}.pdf")
    with ops.portal.sessions.begin() as session:
        session.execute(update(TrashItem).where(TrashItem.deleted_at <= utcnow() - timedelta(days=30))
                        .values(deleted_at=utcnow() - timedelta(days=29)))  # only this test's item is old  # fmt: skip
        session.execute(update(TrashItem).where(TrashItem.id == old.id)
                        .values(deleted_at=utcnow() - timedelta(days=31)))  # fmt: skip
    asked = sam.get(f"{ops.url}{ADMIN}/trash/purge")
    assert "<strong>1</strong> item deleted more than 30 days ago" in asked.text
    done = sam.post(f"{ops.url}{ADMIN}/trash/purge", data={"csrf": sam.csrf, "confirm": "yes"})
    assert _flash(done) == "ok: 1 item(s) deleted more than 30 day(s) ago are deleted for good."
    with ops.portal.sessions() as session:
        assert session.get(TrashItem, old.id) is None and session.get(TrashItem, recent.id) is not None
    assert "1 item(s) deleted more than 30 day(s) ago purged" in _events(ops.portal, "TRASH-PURGE")[-1].detail


def test_the_trash_a_page_at_a_time(ops, sam):
    with ops.portal.sessions.begin() as session:
        start = utcnow() - timedelta(days=1)
        session.add_all(TrashItem(client_id="pages", path=f"file {n:03}.pdf", deleted_by="sam", stored_as=f"none{n}",
                                  records={}, deleted_at=start + timedelta(minutes=n)) for n in range(120))  # fmt: skip
    first = sam.get(f"{ops.url}{ADMIN}/trash", params={"client": "pages"}).text
    assert "file 119.pdf" in first and "file 070.pdf" in first and "file 069.pdf" not in first
    assert "1–50 of 120" in first and "page 1 of 3" in first
    last = sam.get(f"{ops.url}{ADMIN}/trash", params={"client": "pages", "page": "3"}).text
    assert "file 000.pdf" in last and "file 020.pdf" not in last and "101–120 of 120" in last
    assert 'href="?client=pages&amp;page=2" rel="prev"' in last


# --- audit ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def trail(ops):
    """120 events of client "audco", one an hour from 2026-03-01 00:00, by two logins; every tenth a PUT."""
    start = datetime(2026, 3, 1, tzinfo=UTC)
    with ops.portal.sessions.begin() as session:
        session.add_all(AuditEvent(at=start + timedelta(hours=n), login="ann" if n % 2 else "ben", role="staff",
                                   action="PUT" if n % 10 == 0 else "GET", client_id="audco",
                                   path=f"{TEAM}/doc {n:03}.pdf", status=200, detail=f"event {n:03}")
                        for n in range(120))  # fmt: skip
    return start


def _details(text: str) -> list[str]:
    return re.findall(r"<td>(event \d+)</td>", text)


def test_the_audit_trail_newest_first_a_page_at_a_time(ops, sam, trail):
    first = sam.get(f"{ops.url}{ADMIN}/audit", params={"client": "audco"}).text
    assert _details(first) == [f"event {n:03}" for n in range(119, 69, -1)]
    assert "1–50 of 120" in first
    last = sam.get(f"{ops.url}{ADMIN}/audit", params={"client": "audco", "page": "3"}).text
    assert _details(last) == [f"event {n:03}" for n in range(19, -1, -1)]


def test_the_audit_trail_filtered_by_login_and_date(ops, sam, trail):
    by_ann = sam.get(f"{ops.url}{ADMIN}/audit", params={"client": "audco", "user": "ann", "from": "2026-03-05"}).text
    # From 5 March: events 96 to 119, of which ann has the odd ones.
    assert _details(by_ann) == [f"event {n:03}" for n in range(119, 95, -1) if n % 2]
    bad = sam.get(f"{ops.url}{ADMIN}/audit", params={"from": "5 March"})
    assert bad.status_code == 200 and "&#34;5 March&#34; is not a date: write it as 2026-01-31." in bad.text


def test_the_filtered_trail_downloads_as_csv_and_json(ops, sam, trail):
    query = {"client": "audco", "user": "ben", "from": "2026-03-05"}
    expected = [f"event {n:03}" for n in range(96, 120) if n % 2 == 0]
    as_csv = sam.get(f"{ops.url}{ADMIN}/audit/export.csv", params=query)
    assert as_csv.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert as_csv.headers["Content-Disposition"].startswith('attachment; filename="audit-')
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert [row["detail"] for row in rows] == expected and {row["login"] for row in rows} == {"ben"}
    as_json = sam.get(f"{ops.url}{ADMIN}/audit/export.json", params=query)
    assert as_json.headers["Content-Type"] == "application/json"
    assert as_json.headers["Content-Disposition"].startswith("attachment;")
    assert [row["detail"] for row in json.loads(as_json.text)] == expected
    assert sam.get(f"{ops.url}{ADMIN}/audit/export.csv", params={"from": "soon"}).status_code == 400


# --- email ------------------------------------------------------------------------------------


@pytest.fixture
def mail_firm(fresh_portal, smtp_port):
    """A portal whose mail server is not there yet, giving up on an email at its first failure."""
    running = fresh_portal(**_settings(smtp_port, max_attempts=1))
    seed_firm(running)
    with running.portal.sessions.begin() as session:
        for login, client_id in (("dora", "acme"), ("eve", "beta")):
            accounts.add_contact(session, login, client_id=client_id, password="correct horse battery",
                                 email=f"{login}@{client_id}.example", actor=SETUP)  # fmt: skip
    return running


def _send(running) -> None:
    """Rounds until nothing is due: with the mail server away, a round stops at its first email."""
    for _ in range(10):
        delivery = asyncio.run(send_round(running.portal, now=utcnow() + LATER)).delivery
        if not (delivery.sent or delivery.failed or delivery.retried):
            return


def _status_of(running, recipient: str) -> str:
    with running.portal.sessions() as session:
        return session.scalars(select(OutboxMessage.status).where(OutboxMessage.recipient == recipient)).one()


def test_a_failed_email_is_listed_with_its_error_and_sent_again(mail_firm, smtp_port):
    assert mail_firm.as_user("sam").put(f"/acme/{TEAM}/Engagement.pdf", b"%PDF").status_code == 201
    _send(mail_firm)  # nobody listens on the mail port: the email is given up on
    assert _status_of(mail_firm, "dora@acme.example") == FAILED
    sam = signed_in(mail_firm.url, "sam")
    page = sam.get(f"{mail_firm.url}{ADMIN}/email").text
    failed = page[page.index("Could not be sent</h2>") :]
    assert "dora@acme.example" in failed and "Connect" in failed  # the last error: the server could not be reached
    message_id = re.search(r'name="message" value="(\d+)"', failed).group(1)

    inbox = Inbox()
    controller = _start_smtp(inbox, smtp_port)
    try:
        answer = sam.post(f"{mail_firm.url}{ADMIN}/email/retry", data={"csrf": sam.csrf, "message": message_id})
        assert _flash(answer) == "ok: The email to dora@acme.example will be sent again."
        assert _status_of(mail_firm, "dora@acme.example") == PENDING
        _send(mail_firm)
        assert _status_of(mail_firm, "dora@acme.example") == SENT and inbox.to("dora@acme.example")
        again = sam.post(f"{mail_firm.url}{ADMIN}/email/retry", data={"csrf": sam.csrf, "message": message_id})
        assert again.status_code == 200 and _flash(again).startswith("error: Email")
        assert "was sent already" in _flash(again) and len(inbox.to("dora@acme.example")) == 1
    finally:
        controller.stop()
    event = _events(mail_firm.portal, "EMAIL-RETRY")[-1]
    assert event.login == "sam" and f"email {message_id} to dora@acme.example" in event.detail


def test_every_failed_email_sent_again_at_once(mail_firm, smtp_port):
    for client_id in ("acme", "beta"):
        assert mail_firm.as_user("sam").put(f"/{client_id}/{TEAM}/Engagement.pdf", b"%PDF").status_code == 201
    _send(mail_firm)
    with mail_firm.portal.sessions() as session:
        failed = session.scalars(select(OutboxMessage.recipient).where(OutboxMessage.status == FAILED)).all()
    assert sorted(failed) == ["dora@acme.example", "eve@beta.example"]
    sam = signed_in(mail_firm.url, "sam")
    inbox = Inbox()
    controller = _start_smtp(inbox, smtp_port)
    try:
        answer = sam.post(f"{mail_firm.url}{ADMIN}/email/retry-failed", data={"csrf": sam.csrf})
        assert _flash(answer) == f"ok: {len(failed)} email(s) that could not be sent will be sent again."
        _send(mail_firm)
        assert {m["X-Envelope-To"] for m in inbox.messages} == set(failed)
    finally:
        controller.stop()
    page = sam.get(f"{mail_firm.url}{ADMIN}/email").text
    assert "None: every email went out or is on its way." in page


def test_a_downloaded_trail_never_holds_a_spreadsheet_formula(ops, sam):
    formula = '=HYPERLINK("http://evil.example","Invoice")'
    with ops.portal.sessions.begin() as session:
        session.add(AuditEvent(login="alice", role="contact", action="PUT", client_id="formula", path=f"{formula}.pdf",
                               status=201, detail=formula))  # fmt: skip
    rows = list(
        csv.DictReader(io.StringIO(sam.get(f"{ops.url}{ADMIN}/audit/export.csv", params={"client": "formula"}).text))
    )
    assert [(row["path"], row["detail"]) for row in rows] == [(f"'{formula}.pdf", f"'{formula}")]
    as_json = sam.get(f"{ops.url}{ADMIN}/audit/export.json", params={"client": "formula"}).json()
    assert as_json[0]["detail"] == formula  # JSON is read by programs: as it was


def test_the_audit_trail_filtered_by_a_date_range_a_path_and_an_action(ops, sam, trail):
    def details(**query) -> list[str]:
        return _details(sam.get(f"{ops.url}{ADMIN}/audit", params={"client": "audco", **query}).text)

    # 2 and 3 March, both days whole: events 24 to 71.
    assert details(**{"from": "2026-03-02", "to": "2026-03-03"}) == [f"event {n:03}" for n in range(71, 23, -1)]
    assert details(to="2026-03-01") == [f"event {n:03}" for n in range(23, -1, -1)]
    assert details(path=f"{TEAM}/doc 007.pdf") == ["event 007"]
    assert details(path=TEAM, action="put") == [f"event {n:03}" for n in range(110, -1, -10)]
    assert details(action="DELETE") == []
    query = {"client": "audco", "action": "PUT", "from": "2026-03-02", "to": "2026-03-02"}
    rows = list(csv.DictReader(io.StringIO(sam.get(f"{ops.url}{ADMIN}/audit/export.csv", params=query).text)))
    assert [row["detail"] for row in rows] == ["event 030", "event 040"]
