"""Document requests by email, against a real SMTP server (aiosmtpd) on a controlled clock: the
request sent, reminders on schedule listing only what is still wanted, rejections with the reason,
staff told of completion, and two senders at once reminding each request once."""

from __future__ import annotations

import asyncio
import threading
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, func, select

from davportal.core.models import AuditEvent, DocumentRequest, Notice, OutboxMessage, utcnow
from davportal.notifications.asked import long_date
from davportal.notifications.reminders import remind_due
from davportal.notifications.worker import send_round
from davportal.services import requests as document_requests
from davportal.services.portal import Portal
from davportal.services.request import RequestContext
from policy import Actor, Role
from provisioning import accounts, clients
from tests.conftest import ADMIN, CLIENT, PASSWORD, TEAM
from tests.test_notifications import _settings

SAM = Actor("sam", Role.STAFF, is_admin=True)
ZONE = ZoneInfo("America/New_York")  # reminders at 09:00 there: 14:00 UTC in winter, 13:00 in summer
LATER = timedelta(minutes=10)  # past the digest window
DUE = (utcnow() + timedelta(days=60)).date()  # ahead of the real clock: the notices it writes are older
FOLDER = f"{CLIENT}/Requested - 2025 tax return"
LINK = "https://portal.dupont.example/.davportal-web/requests/{}"
NewItem = document_requests.NewItem


@pytest.fixture
def firm(fresh_portal, inbox):
    settings = _settings(inbox.port)
    settings["requests"] = {"time_zone": "America/New_York", "reminder_time": "09:00"}
    running = fresh_portal(**settings)
    running.add_client("acme", "Acme Ltd")
    running.add_client("beta", "Beta LLP")
    with running.portal.sessions.begin() as session:
        accounts.add_staff(session, "sam", password=PASSWORD, admin=True, email="sam@dupont.example", actor=ADMIN)
        accounts.add_staff(session, "fiona", password=PASSWORD, email="fiona@dupont.example", actor=ADMIN)
        clients.assign(session, "acme", "fiona", actor=ADMIN)
        for login, client_id in (("alice", "acme"), ("carol", "acme"), ("bob", "beta")):
            accounts.add_contact(session, login, client_id=client_id, password=PASSWORD,
                                 email=f"{login}@{client_id}.example", actor=ADMIN)  # fmt: skip
        accounts.set_name(session, "alice", "Alice Martin", actor=ADMIN)
    return running


def _do(running, change, *args, **kwargs):
    context = RequestContext(running.portal, actor=SAM)
    try:
        result = change(context, *args, **kwargs)
        context.session.commit()
        return result.id if hasattr(result, "id") else result
    finally:
        context.session.close()


def _ask(running, client_id="acme", title="2025 tax return", **kwargs) -> int:
    items = [NewItem("P60", "From your employer"), NewItem("Bank statements", files_expected=2)]
    kwargs.setdefault("message", "Please send these before the end of the month.\nThank you! <Sam & co>")
    return _do(running, document_requests.create, client_id, title=title, items=items, due_on=DUE, **kwargs)


def _round(running, at: datetime):
    return asyncio.run(send_round(running.portal, now=at))


def _sent_then_read(running, inbox, at: datetime) -> dict[str, list]:
    """A round at `at` (reminders due then are written), one a digest window later (they go out):
    the emails it delivered, by recipient."""
    inbox.messages.clear()
    _round(running, at)
    _round(running, at + LATER)
    received: dict[str, list] = {}
    for message in inbox.messages:
        received.setdefault(message["To"], []).append(message)
    return received


def _text(message) -> str:
    return message.get_body(("plain",)).get_content().replace("\r\n", "\n")


def _html(message) -> str:
    return message.get_body(("html",)).get_content()


def _moment(day: date) -> datetime:
    return datetime.combine(day, time(9), tzinfo=ZONE).astimezone(timezone.utc)


def _utc(moment: datetime | None) -> datetime | None:
    """As PostgreSQL gives it back (SQLite keeps no time zone: its times are UTC)."""
    return moment.replace(tzinfo=timezone.utc) if moment and moment.tzinfo is None else moment


def _item(running, request_id: int, name: str) -> int:
    with running.portal.sessions() as session:
        return next(i.id for i in document_requests.items_of(session, request_id) if i.name == name)


def _request(running, request_id: int) -> DocumentRequest:
    with running.portal.sessions() as session:
        request = session.get(DocumentRequest, request_id)
        session.expunge(request)
        return request


def _upload(running, login: str, item: str, name: str) -> None:
    assert running.as_user(login).put(f"/acme/{FOLDER}/{item}/{name}", b"%PDF").status_code == 201


def test_a_request_sent_emails_its_contacts_what_is_asked_and_the_message(firm, inbox):
    link = LINK.format(_ask(firm))
    received = _sent_then_read(firm, inbox, utcnow())
    assert sorted(received) == ["alice@acme.example", "carol@acme.example"]  # not bob, not staff
    (message,) = received["alice@acme.example"]
    assert message["Subject"] == "Dupont & Søn LLP: documents we need from you for 2025 tax return"
    text, html = _text(message), _html(message)
    assert text.startswith("Hello Alice Martin,\n")
    assert "Dupont & Søn LLP asks you for some documents: 2025 tax return\n" in text
    assert f"Due by {long_date(DUE)}.\n" in text
    assert "Please send these before the end of the month.\nThank you! <Sam & co>\n" in text
    assert "* P60 — From your employer\n" in text and "* Bank statements (2 files)\n" in text
    assert f"Upload them on the portal: {link}\n" in text
    assert "Thank you! &lt;Sam &amp; co&gt;" in html and "<Sam" not in html  # the message escaped
    assert f'<a href="{link}"' in html and "<strong>P60</strong>" in html
    for body in (text, html):
        assert "WebDAV" not in body and "PROPFIND" not in body and "404" not in body
    assert inbox.messages and not any(part.get_filename() for m in inbox.messages for part in m.walk())


def test_reminders_follow_the_schedule_and_list_only_what_is_still_wanted(firm, inbox):
    request_id = _ask(firm)
    _sent_then_read(firm, inbox, utcnow())  # the request itself
    week_before = _moment(DUE - timedelta(days=7))
    assert _utc(_request(firm, request_id).next_reminder_at) == week_before

    assert _round(firm, week_before - timedelta(seconds=1)).reminded == 0  # not yet
    received = _sent_then_read(firm, inbox, week_before)
    (message,) = received["alice@acme.example"]
    assert message["Subject"] == f"Reminder: 2 documents still needed by {long_date(DUE)}"
    assert "* P60" in _text(message) and "* Bank statements" in _text(message)
    assert "Please send these" not in _text(message)  # the message goes with the request, not each reminder
    assert len(received["carol@acme.example"]) == 1 and len(received) == 2

    _upload(firm, "alice", "P60", "p60.pdf")
    _upload(firm, "carol", "Bank statements", "january.pdf")  # one of the two expected
    received = _sent_then_read(firm, inbox, _moment(DUE))
    (message,) = received["alice@acme.example"]
    assert message["Subject"] == f"Reminder: 1 document still needed by {long_date(DUE)}"
    text = _text(message)
    assert "* P60" not in text and "* Bank statements (2 files, 1 received so far)\n" in text
    assert f"Due today ({long_date(DUE)})." in text
    assert len(received["carol@acme.example"]) == 1

    overdue = []
    for days in (3, 6, 9, 12):
        received = _sent_then_read(firm, inbox, _moment(DUE + timedelta(days=days)))
        overdue += received.get("alice@acme.example", [])
    assert [m["Subject"] for m in overdue] == [f"Overdue: 1 document still needed, due {long_date(DUE)}"] * 3
    assert f"Overdue: it was due on {long_date(DUE)}." in _text(overdue[0])
    request = _request(firm, request_id)
    assert (request.reminders_sent, request.next_reminder_at) == (5, None)  # 7 days before, on the day, 3 after
    with firm.portal.sessions() as session:
        assert session.scalar(select(func.count()).where(AuditEvent.action == "REQUEST-REMIND")) == 5


@pytest.mark.parametrize("step", ["every item uploaded", "complete", "cancelled", "client archived"])
def test_no_reminder_when_nothing_is_wanted_any_more(firm, inbox, step):
    request_id = _ask(firm)
    _sent_then_read(firm, inbox, utcnow())
    if step in ("every item uploaded", "complete"):
        for item, name in (("P60", "p60.pdf"), ("Bank statements", "a.pdf"), ("Bank statements", "b.pdf")):
            _upload(firm, "alice", item, name)
    if step == "complete":
        for item in ("P60", "Bank statements"):
            _do(firm, document_requests.accept, request_id, _item(firm, request_id, item))
    elif step == "cancelled":
        _do(firm, document_requests.cancel, request_id)
    elif step == "client archived":
        with firm.portal.sessions.begin() as session:
            clients.archive(session, "acme", actor=ADMIN)
    week_before = _moment(DUE - timedelta(days=7))
    for at in (week_before, _moment(DUE), _moment(DUE + timedelta(days=3))):
        received = _sent_then_read(firm, inbox, at)
        assert "alice@acme.example" not in received and "carol@acme.example" not in received
    request = _request(firm, request_id)
    assert request.reminders_sent == 0
    if step == "every item uploaded":  # still open: its schedule moved on, for when an item is wanted again
        assert _utc(request.next_reminder_at) == _moment(DUE + timedelta(days=6))


def test_a_request_answered_before_its_email_goes_out_is_left_out(firm, inbox):
    request_id = _ask(firm)
    for item, name in (("P60", "p60.pdf"), ("Bank statements", "a.pdf"), ("Bank statements", "b.pdf")):
        _upload(firm, "alice", item, name)
    received = _sent_then_read(firm, inbox, utcnow())
    assert "alice@acme.example" not in received and "carol@acme.example" not in received  # nothing left to ask
    with firm.portal.sessions() as session:
        left_out = session.scalars(select(Notice.message_id).where(Notice.request_id == request_id)).all()
    assert left_out == [-1, -1]
    assert "fiona@dupont.example" in received  # the uploads themselves are news to the firm


def test_a_reminder_and_a_document_in_one_window_make_one_email(firm, inbox):
    _ask(firm)
    _sent_then_read(firm, inbox, utcnow())
    assert firm.as_user("sam").put(f"/acme/{TEAM}/Engagement letter.pdf", b"%PDF").status_code == 201
    received = _sent_then_read(firm, inbox, _moment(DUE - timedelta(days=7)))
    (message,) = received["alice@acme.example"]
    assert message["Subject"] == (f"Reminder: 2 documents still needed by {long_date(DUE)} "
                                  "(and 1 new document for you)")  # fmt: skip
    text = _text(message)
    assert "* P60" in text and "- Engagement letter.pdf (new in Team's shared)" in text
    assert len(received["carol@acme.example"]) == 1


def test_a_rejection_emails_the_contacts_the_reason(firm, inbox):
    request_id = _ask(firm)
    _upload(firm, "alice", "P60", "p60.pdf")
    _sent_then_read(firm, inbox, utcnow())
    reason = "The scan is cut off on the right"
    _do(firm, document_requests.reject, request_id, _item(firm, request_id, "P60"), reason)
    received = _sent_then_read(firm, inbox, utcnow())
    assert sorted(received) == ["alice@acme.example", "carol@acme.example"]
    (message,) = received["alice@acme.example"]
    assert message["Subject"] == "Dupont & Søn LLP: please send P60 again"
    text = _text(message)
    assert "Dupont & Søn LLP could not accept P60 for 2025 tax return: please upload it again.\n" in text
    assert f"* P60 — From your employer\n  Not accepted: {reason} — please upload it again\n" in text
    assert "* Bank statements" in text  # what else is still wanted
    assert f"Not accepted: {reason} — please upload it again" in _html(message)

    # Sent again before the email went out: nothing to tell.
    _upload(firm, "alice", "P60", "p60 again.pdf")
    _do(firm, document_requests.reject, request_id, _item(firm, request_id, "P60"), "Still cut off")
    _upload(firm, "alice", "P60", "p60 whole.pdf")
    received = _sent_then_read(firm, inbox, utcnow())
    assert "alice@acme.example" not in received and "carol@acme.example" not in received


def test_a_complete_request_emails_the_firm(firm, inbox):
    request_id = _ask(firm)
    for item, name in (("P60", "p60.pdf"), ("Bank statements", "a.pdf"), ("Bank statements", "b.pdf")):
        _upload(firm, "alice", item, name)
    _sent_then_read(firm, inbox, utcnow())
    for item in ("P60", "Bank statements"):
        _do(firm, document_requests.accept, request_id, _item(firm, request_id, item))
    received = _sent_then_read(firm, inbox, utcnow())
    # Who hears of the client's uploads (the firm's address, the assigned staff) and who asked.
    assert sorted(received) == ["fiona@dupont.example", "office@dupont.example", "sam@dupont.example"]
    (message,) = received["sam@dupont.example"]
    assert message["Subject"] == "Dupont & Søn LLP: 2025 tax return for Acme Ltd is complete"
    text = _text(message)
    assert "2025 tax return for Acme Ltd is complete: every item asked for is accepted (2 in all).\n" in text
    assert f"The request on the portal: {LINK.format(request_id)}\n" in text


def _together(portals, at: datetime, statement: str) -> None:
    """A round on each portal at once, in threads: each stops before its first `statement` until
    every one has read what is due, so that they all go for the same rows."""
    barrier = threading.Barrier(len(portals), timeout=120)
    failures: list[BaseException] = []

    def run(portal: Portal) -> None:
        waited = threading.Event()

        def hold(conn, cursor, sql, parameters, context, executemany):
            if sql.lstrip().upper().startswith(statement) and not waited.is_set():
                waited.set()
                barrier.wait()

        event.listen(portal.engine, "before_cursor_execute", hold)
        try:
            asyncio.run(send_round(portal, now=at))
        except BaseException as exc:  # reported in the test's thread
            failures.append(exc)
        finally:
            event.remove(portal.engine, "before_cursor_execute", hold)

    threads = [threading.Thread(target=run, args=(portal,)) for portal in portals]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def test_two_nodes_at_once_remind_each_request_once(firm, inbox):
    ids = [_ask(firm, title=f"Request {n}") for n in range(3)]
    ids += [_ask(firm, "beta", title=f"Year end {n}") for n in range(2)]
    _sent_then_read(firm, inbox, utcnow())
    with firm.portal.sessions() as session:
        composed_before = session.scalar(select(func.max(OutboxMessage.id)))
    other = Portal(firm.portal.settings)  # a second node: the same database and storage
    try:
        portals = [firm.portal, other]
        week_before = _moment(DUE - timedelta(days=7))
        inbox.messages.clear()
        _together(portals, week_before, "UPDATE DOCUMENT_REQUEST")  # both claim the same requests
        _together(portals, week_before + LATER, "SELECT NOTICE.ID")  # both compose the same notices
    finally:
        other.engine.dispose()
    with firm.portal.sessions() as session:
        reminders = session.execute(select(Notice.request_id, Notice.recipient_name, Notice.message_id)
                                    .where(Notice.kind == "reminder")).all()  # fmt: skip
        audited = session.scalar(select(func.count()).where(AuditEvent.action == "REQUEST-REMIND"))
        composed = session.scalars(select(OutboxMessage.recipient).where(OutboxMessage.id > composed_before)).all()
        counts = [session.get(DocumentRequest, request_id).reminders_sent for request_id in ids]
    expected = {(r, login) for r in ids[:3] for login in ("alice", "carol")} | {(r, "bob") for r in ids[3:]}
    assert sorted((r, login) for r, login, _ in reminders) == sorted(expected)  # each once
    assert all(message_id and message_id > 0 for _, _, message_id in reminders)
    assert audited == 5 and counts == [1] * 5
    assert sorted(m["To"] for m in inbox.messages) == ["alice@acme.example", "bob@beta.example",
                                                       "carol@acme.example"]  # fmt: skip
    assert sorted(composed) == ["alice@acme.example", "bob@beta.example", "carol@acme.example"]
    (to_alice,) = [m for m in inbox.messages if m["To"] == "alice@acme.example"]
    assert to_alice["Subject"] == "Reminder: 6 documents still needed for 3 requests"
    assert _text(to_alice).count("still needs 2 documents from you.\n") == 3


def test_remind_due_alone_reminds_what_is_due_once(firm, inbox):
    request_id = _ask(firm)
    week_before = _moment(DUE - timedelta(days=7))
    with firm.portal.sessions.begin() as session:
        assert remind_due(session, firm.portal.settings, now=week_before - timedelta(seconds=1)) == 0
        assert remind_due(session, firm.portal.settings, now=week_before) == 1
        assert remind_due(session, firm.portal.settings, now=week_before) == 0  # moved on: not twice
    request = _request(firm, request_id)
    assert (request.reminders_sent, _utc(request.last_reminded_at), _utc(request.next_reminder_at)) == (
        1, week_before, _moment(DUE))  # fmt: skip
