"""Notifications against a real SMTP server (aiosmtpd): the rules, digests, outages, restarts."""

from __future__ import annotations

import asyncio
import email
import email.policy
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from davportal.core.models import utcnow
from davportal.notifications.worker import send_round
from provisioning import accounts, clients
from tests.conftest import ADMIN, CLIENT, PASSWORD, TEAM

LATER = timedelta(minutes=10)  # past any digest window


class Inbox:
    """An SMTP server's handler that keeps every message it accepts."""

    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []
        self.on_data = None
        self.port = 0  # the server's, once started

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        message["X-Envelope-To"] = ",".join(envelope.rcpt_tos)
        self.messages.append(message)
        if self.on_data:
            self.on_data()
        return "250 OK"

    def to(self, address: str) -> list:
        return [m for m in self.messages if m["To"] == address]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_smtp(inbox: Inbox, port: int, **kwargs) -> Controller:
    # aiosmtpd gives up after 5 s by default ("the system is too busy"): a busy machine waits longer.
    controller = Controller(inbox, hostname="127.0.0.1", port=port, ready_timeout=120, **kwargs)
    controller.start()
    return controller


def _settings(smtp_port: int, **mail) -> dict:
    return {
        "firm_name": "Dupont & Søn LLP",
        "mail": {"host": "127.0.0.1", "port": smtp_port, "security": "none", "from_address": "portal@dupont.example",
                 "retry_seconds": 60, "max_attempts": 3, "claim_seconds": 1, **mail},
        "notifications": {"digest_seconds": 120, "staff_address": "office@dupont.example",
                          "public_url": "https://portal.dupont.example/"},
    }  # fmt: skip


@pytest.fixture
def firm_mail(fresh_portal, smtp_port):
    running = fresh_portal(**_settings(smtp_port))
    running.add_staff("sam")
    running.add_client("acme", "Acme Ltd")
    running.add_client("beta", "Beta LLP")
    with running.portal.sessions.begin() as session:
        accounts.add_staff(session, "fiona", password=PASSWORD, email="fiona@dupont.example")
        clients.assign(session, "acme", "fiona", actor=ADMIN)
        for login, client_id in (("alice", "acme"), ("carol", "acme"), ("bob", "beta")):
            accounts.add_contact(session, login, client_id=client_id, password=PASSWORD,
                                 email=f"{login}@{client_id}.example")  # fmt: skip
        accounts.add_contact(session, "nomail", client_id="acme", password=PASSWORD)
    return running


def _send(running, after: timedelta = LATER):
    return asyncio.run(send_round(running.portal, now=utcnow() + after))


def _documents(message) -> str:
    return message.get_body(("plain",)).get_content()


def test_staff_upload_notifies_the_clients_contacts_once_each(firm_mail, inbox):
    sam = firm_mail.as_user("sam")
    assert sam.put(f"/acme/{TEAM}/Engagement letter.pdf", b"%PDF").status_code == 201
    sam.request("MKCOL", "/acme/Internal/")
    assert sam.put("/acme/Internal/notes.pdf", b"private").status_code == 201  # nobody may read it: no email
    assert _send(firm_mail, after=timedelta(0)).composed == 0  # the digest window has not passed
    result = _send(firm_mail)
    assert result.delivery.sent == 2
    for address in ("alice@acme.example", "carol@acme.example"):
        (message,) = inbox.to(address)
        assert "Engagement letter.pdf" in _documents(message) and "notes.pdf" not in _documents(message)
    assert inbox.to("bob@beta.example") == []
    assert _send(firm_mail).delivery.sent == 0  # nothing twice


def test_the_email_itself(firm_mail, inbox):
    sam = firm_mail.as_user("sam")
    sam.put(f"/acme/{TEAM}/Déclaration été.pdf", b"%PDF")
    describe = ("<D:propertyupdate xmlns:D='DAV:' xmlns:p='urn:davportal'><D:set><D:prop><p:description>"
                "À signer avant vendredi</p:description></D:prop></D:set></D:propertyupdate>")  # fmt: skip
    sam.request("PROPPATCH", f"/acme/{TEAM}/Déclaration été.pdf", data=describe.encode())
    _send(firm_mail)
    (message,) = inbox.to("alice@acme.example")
    assert message["Subject"] == "Dupont & Søn LLP: 1 new document for you"
    assert message["From"].addresses[0].addr_spec == "portal@dupont.example"
    assert message["From"].addresses[0].display_name == "Dupont & Søn LLP"
    assert message["Date"] and message["Message-ID"].startswith("<") and message.is_multipart()
    assert [part.get_content_type() for part in message.iter_parts()] == ["text/plain", "text/html"]
    text, html = _documents(message), message.get_body(("html",)).get_content()
    link = "https://portal.dupont.example/acme/Team%27s%20shared/D%C3%A9claration%20%C3%A9t%C3%A9.pdf"
    for body in (text, html):
        assert "Déclaration été.pdf" in body and "À signer avant vendredi" in body and link in body
        assert "Dupont &amp; Søn LLP" in body if body is html else "Dupont & Søn LLP" in body
    assert not any(part.get_filename() for part in message.walk())  # no attachment, no content


def test_client_upload_tells_the_firm_not_the_other_contacts(firm_mail, inbox):
    assert firm_mail.as_user("alice").put(f"/acme/{CLIENT}/Bank statement.pdf", b"%PDF").status_code == 201
    _send(firm_mail)
    for address in ("office@dupont.example", "fiona@dupont.example"):
        (message,) = inbox.to(address)
        assert "Bank statement.pdf" in _documents(message) and "Acme Ltd" in message["Subject"]
    assert inbox.to("carol@acme.example") == [] and inbox.to("alice@acme.example") == []


@pytest.mark.parametrize("step, notified", [
    ("copy within the client", False),
    ("move in from a private folder", True),
    ("move within Team's shared", False),
    ("copy from another client", True),
    ("share toggle on", True),
    ("desktop files", False),
    ("new version", True),
])  # fmt: skip
def test_when_contacts_are_told(firm_mail, inbox, step, notified):
    sam = firm_mail.as_user("sam")
    name = f"doc-{uuid.uuid4().hex[:6]}.pdf"
    sam.request("MKCOL", "/acme/Internal/")
    sam.request("MKCOL", "/beta/Internal/")
    setup = {"copy from another client": f"/beta/Internal/{name}", "move within Team's shared": f"/acme/{TEAM}/{name}",
             "new version": f"/acme/{TEAM}/{name}"}.get(step, f"/acme/Internal/{name}")  # fmt: skip
    assert sam.put(setup, b"v1").status_code == 201
    _send(firm_mail)
    inbox.messages.clear()
    if step in ("copy within the client", "copy from another client", "move in from a private folder"):
        method = "MOVE" if step.startswith("move") else "COPY"
        assert sam.request(method, setup, headers={"Destination": sam.url(f"/acme/{TEAM}/{name}")}).status_code == 201
    elif step == "move within Team's shared":
        renamed = {"Destination": sam.url(f"/acme/{TEAM}/renamed-{name}")}
        assert sam.request("MOVE", setup, headers=renamed).status_code == 201
    elif step == "share toggle on":
        body = ("<D:propertyupdate xmlns:D='DAV:' xmlns:p='urn:davportal'><D:set><D:prop><p:shared>true</p:shared>"
                "</D:prop></D:set></D:propertyupdate>")  # fmt: skip
        assert "200 OK" in sam.request("PROPPATCH", setup, data=body.encode()).text
    elif step == "desktop files":
        for junk in ("~$Letter.docx", "~WRL0001.tmp", ".DS_Store", "._Letter.docx"):
            assert sam.put(f"/acme/{TEAM}/{junk}", b"junk").status_code == 201
    elif step == "new version":
        assert sam.put(setup, b"v2").status_code == 204
    _send(firm_mail)
    assert bool(inbox.to("alice@acme.example")) == notified, [_documents(m) for m in inbox.messages]


def test_a_document_removed_before_the_email_is_left_out(firm_mail, inbox):
    sam = firm_mail.as_user("sam")
    sam.put(f"/acme/{TEAM}/kept.pdf", b"x")
    sam.put(f"/acme/{TEAM}/oops.pdf", b"x")
    sam.request("DELETE", f"/acme/{TEAM}/oops.pdf")
    _send(firm_mail)
    (message,) = inbox.to("alice@acme.example")
    assert "kept.pdf" in _documents(message) and "oops.pdf" not in _documents(message)
    sam.put(f"/acme/{TEAM}/gone.pdf", b"x")
    sam.request("DELETE", f"/acme/{TEAM}/gone.pdf")
    inbox.messages.clear()
    _send(firm_mail)
    assert inbox.messages == []  # nothing left to tell: no email at all


def test_fifty_uploads_make_one_email_per_contact(firm_mail, inbox):
    sam = firm_mail.as_user("sam")
    for n in range(50):
        assert sam.put(f"/acme/{TEAM}/scan-{n:02}.pdf", b"x").status_code == 201
    result = _send(firm_mail)
    assert result.composed == 2 and result.delivery.sent == 2
    (message,) = inbox.to("alice@acme.example")
    assert "50 new documents" in message["Subject"]
    assert all(f"scan-{n:02}.pdf" in _documents(message) for n in range(50))


def test_mail_server_down_then_up_delivers_everything_once(fresh_portal):
    port = _free_port()  # nothing listens yet: the mail server is down
    running = fresh_portal(**_settings(port))
    running.add_staff("sam")
    running.add_client("acme")
    with running.portal.sessions.begin() as session:
        accounts.add_contact(session, "alice", client_id="acme", password=PASSWORD, email="alice@acme.example")
    sam = running.as_user("sam")
    sam.put(f"/acme/{TEAM}/one.pdf", b"1")
    down = _send(running)
    assert down.composed == 1 and down.delivery.retried == 1 and down.delivery.sent == 0
    sam.put(f"/acme/{TEAM}/two.pdf", b"2")
    inbox = Inbox()
    controller = _start_smtp(inbox, port)
    try:
        assert _send(running, after=LATER + timedelta(seconds=61)).delivery.sent == 2  # the retry, and the new one
        assert _send(running, after=LATER * 3).delivery.sent == 0
    finally:
        controller.stop()
    bodies = sorted(_documents(m) for m in inbox.messages)
    assert "one.pdf" in bodies[0] and "two.pdf" not in bodies[0]
    assert "two.pdf" in bodies[1] and "one.pdf" not in bodies[1]
    assert len({m["Message-ID"] for m in inbox.messages}) == 2


def test_wrong_smtp_credentials_fail_visibly(fresh_portal, smtp_port, tmp_path):
    class Refuse:
        def __call__(self, server, session, envelope, mechanism, auth_data):
            return AuthResult(success=False, handled=False)

    inbox = Inbox()
    controller = _start_smtp(inbox, smtp_port, authenticator=Refuse(), auth_require_tls=False)
    try:
        running = fresh_portal(**_settings(smtp_port, username="portal", password="wrong", max_attempts=2))
        running.add_staff("sam")
        running.add_client("acme")
        with running.portal.sessions.begin() as session:
            accounts.add_contact(session, "alice", client_id="acme", password=PASSWORD, email="alice@acme.example")
        running.as_user("sam").put(f"/acme/{TEAM}/x.pdf", b"x")
        assert _send(running).delivery.retried == 1
        assert _send(running, after=LATER * 2).delivery.failed == 1
    finally:
        controller.stop()
    assert inbox.messages == []
    status = _cli(running, tmp_path, "notify", "status")
    assert "0 pending, 0 sent, 1 failed" in status.stdout
    assert "failed\talice@acme.example\t2 attempt(s)\tSMTPAuthenticationError" in status.stdout
    message_id = status.stdout.splitlines()[1].split("\t")[0]
    assert "will be sent again" in _cli(running, tmp_path, "notify", "retry", message_id).stdout
    assert "1 pending" in _cli(running, tmp_path, "notify", "status").stdout


def test_status_counts_notices_not_yet_composed_as_pending(firm_mail, inbox, tmp_path):
    sam = firm_mail.as_user("sam")
    for n in range(3):
        assert sam.put(f"/acme/{TEAM}/letter-{n}.pdf", b"%PDF").status_code == 201
    status = _cli(firm_mail, tmp_path, "notify", "status").stdout
    # Within the digest window: three notices each for alice and carol, which become one email each.
    assert "2 pending, 0 sent, 0 failed" in status
    assert "2 of the pending not yet composed: 6 notice(s) waiting for their recipient's digest" in status
    for address in ("alice@acme.example", "carol@acme.example"):
        assert f"-\tpending\t{address}\t3 notice(s) since " in status
    assert _send(firm_mail).delivery.sent == 2
    status = _cli(firm_mail, tmp_path, "notify", "status").stdout
    assert "0 pending, 2 sent, 0 failed" in status and "not yet composed" not in status


def _config_file(running, tmp_path: Path, **extra) -> Path:
    config = tmp_path / "davportal.yaml"
    settings = running.portal.settings
    section = settings.model_dump(mode="json", exclude_none=True)
    section["database_url"] = settings.database_url
    config.write_text(yaml.safe_dump({"davportal": {**section, **extra}}))
    return config


def _cli(running, tmp_path, *args):
    davportal = Path(sys.executable).parent / "davportal"
    return subprocess.run([str(davportal), *args, "--config", str(_config_file(running, tmp_path))],
                          capture_output=True, text=True, timeout=60)  # fmt: skip


def test_a_sender_killed_between_sending_and_marking_loses_nothing(firm_mail, smtp_port, tmp_path):
    """The SMTP server takes the message, then the sender is killed before it can mark it sent."""
    inbox = Inbox()
    controller = _start_smtp(inbox, _free_port())
    port = controller.port
    try:
        config = _config_file(firm_mail, tmp_path, mail={**firm_mail.portal.settings.mail.model_dump(mode="json"),
                                                          "port": port}, notifications={
            **firm_mail.portal.settings.notifications.model_dump(mode="json"), "digest_seconds": 0})  # fmt: skip
        firm_mail.as_user("sam").put(f"/acme/{TEAM}/important.pdf", b"x")
        davportal = Path(sys.executable).parent / "davportal"
        sender = subprocess.Popen([str(davportal), "notify", "run", "--config", str(config)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        inbox.on_data = lambda: os.kill(sender.pid, signal.SIGKILL)  # dies right after the server has it
        sender.wait(timeout=60)
        assert sender.returncode == -signal.SIGKILL
        first = list(inbox.messages)
        inbox.on_data = None
        time.sleep(1.1)  # the dead sender's claim on the message runs out
        again = subprocess.run([str(davportal), "notify", "run", "--once", "--config", str(config)],
                               capture_output=True, text=True, timeout=60)  # fmt: skip
        assert again.returncode == 0, again.stderr
    finally:
        controller.stop()
    assert first, "the server had the message before the sender was killed"
    assert {m["To"] for m in inbox.messages} == {"alice@acme.example", "carol@acme.example"}  # nothing lost
    by_id: dict[str, set[str]] = {}
    for message in inbox.messages:
        by_id.setdefault(message["Message-ID"], set()).add(message["To"])
    assert len(inbox.messages) - len(by_id) <= 1  # at most the one in flight went twice...
    assert all(len(recipients) == 1 for recipients in by_id.values())  # ...recognisable by its Message-ID
