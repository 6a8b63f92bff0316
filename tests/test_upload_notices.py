"""Every client upload is reported once, under the name it has when the email is built; someone
always hears of it. Against a real server and a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import html
from urllib.parse import quote

import pytest

from davportal.core.models import Notice
from policy import Actor, Role
from policy.documents import Audience, staff_told, told_of_arrival, told_of_write
from provisioning import accounts, clients
from tests.conftest import ADMIN, CLIENT, PASSWORD, TEAM
from tests.test_notifications import _cli, _documents, _send, _settings
from tests.test_request_counts_web import WEB, signed_in

LINK = "https://portal.dupont.example/"
FIRM = ("office@dupont.example", "fiona@dupont.example")  # the firm's address, and acme's assigned staff


def _firm(fresh_portal, inbox, **notifications):
    """sam and fiona (staff; fiona assigned to acme); alice (acme), bob (beta), dora (both)."""
    settings = _settings(inbox.port)
    settings["notifications"] |= notifications
    running = fresh_portal(**settings)
    running.add_staff("sam")
    running.add_client("acme", "Acme Ltd")
    running.add_client("beta", "Beta LLP")
    with running.portal.sessions.begin() as session:
        accounts.add_staff(session, "fiona", password=PASSWORD, email="fiona@dupont.example")
        clients.assign(session, "acme", "fiona", actor=ADMIN)
        for login, client_id in (("alice", "acme"), ("bob", "beta"), ("dora", "acme"), ("dora", "beta")):
            accounts.add_contact(session, login, client_id=client_id, password=PASSWORD,
                                 email=f"{login}@clients.example")  # fmt: skip
    return running


@pytest.fixture
def firm(fresh_portal, inbox):
    return _firm(fresh_portal, inbox)


def _lines(message) -> list[str]:
    """The plain-text part's lines about documents."""
    return [line for line in _documents(message).splitlines() if line.startswith("- ")]


def _link(client_id: str, path: str) -> str:
    return LINK + quote(f"{client_id}/{path}")


def _move(dav, src: str, dest: str, method: str = "MOVE") -> None:
    response = dav.request(method, src, headers={"Destination": dav.url(dest)})
    assert response.status_code in (201, 204), response.text


def test_an_upload_renamed_before_the_email_is_reported_under_its_new_name(firm, inbox):
    alice = firm.as_user("alice")
    assert alice.put(f"/acme/{CLIENT}/scan001.pdf", b"%PDF").status_code == 201
    _move(alice, f"/acme/{CLIENT}/scan001.pdf", f"/acme/{CLIENT}/Tax receipts 2025.pdf")
    _send(firm)
    for address in FIRM:
        (message,) = inbox.to(address)
        assert _lines(message) == [f"- Tax receipts 2025.pdf (uploaded in {CLIENT}, Acme Ltd): "
                                   + _link("acme", f"{CLIENT}/Tax receipts 2025.pdf")]  # fmt: skip
        assert "scan001" not in message.as_string()


def test_a_folder_renamed_before_the_email_takes_every_notice_below_it(firm, inbox):
    alice = firm.as_user("alice")
    assert alice.request("MKCOL", f"/acme/{CLIENT}/scans/").status_code == 201
    assert alice.request("MKCOL", f"/acme/{CLIENT}/scans/bank/").status_code == 201
    for path in ("scans/a.pdf", "scans/bank/b.pdf"):
        assert alice.put(f"/acme/{CLIENT}/{path}", b"%PDF").status_code == 201
    _move(alice, f"/acme/{CLIENT}/scans/", f"/acme/{CLIENT}/Tax 2025/")
    _send(firm)
    (message,) = inbox.to("office@dupont.example")
    links = [line.rsplit(": ", 1)[1] for line in _lines(message)]
    assert links == [_link("acme", f"{CLIENT}/Tax 2025/a.pdf"), _link("acme", f"{CLIENT}/Tax 2025/bank/b.pdf")]


def test_an_upload_already_reported_is_not_reported_again_when_renamed(firm, inbox):
    alice = firm.as_user("alice")
    assert alice.put(f"/acme/{CLIENT}/scan001.pdf", b"%PDF").status_code == 201
    _send(firm)
    assert len(inbox.to("office@dupont.example")) == 1
    inbox.messages.clear()
    _move(alice, f"/acme/{CLIENT}/scan001.pdf", f"/acme/{CLIENT}/Tax receipts 2025.pdf")
    _send(firm)
    assert inbox.messages == []


def test_an_upload_sent_twice_before_the_email_is_one_line(firm, inbox):
    alice = firm.as_user("alice")
    assert alice.put(f"/acme/{CLIENT}/scan.pdf", b"one").status_code == 201
    assert alice.put(f"/acme/{CLIENT}/scan.pdf", b"two").status_code == 204
    assert alice.put(f"/acme/{CLIENT}/other.pdf", b"x").status_code == 201
    _move(alice, f"/acme/{CLIENT}/other.pdf", f"/acme/{CLIENT}/scan.pdf")  # renamed onto the waiting one
    _send(firm)
    (message,) = inbox.to("office@dupont.example")
    assert [line.split(" (")[0] for line in _lines(message)] == ["- scan.pdf"]
    assert message["Subject"] == "Dupont & Søn LLP: 1 document uploaded by Acme Ltd"


@pytest.mark.parametrize("reported_first", [False, True])
def test_a_document_saved_by_word_is_reported_once_under_its_name(firm, inbox, reported_first):
    """Word saves to a temporary file, renames the document away, renames the save onto its name
    and deletes the old one."""
    alice = firm.as_user("alice")
    folder = f"/acme/{CLIENT}"
    assert alice.put(f"{folder}/Report.docx", b"v1").status_code == 201
    if reported_first:
        _send(firm)
        inbox.messages.clear()
    assert alice.put(f"{folder}/~WRD0000.tmp", b"v2").status_code == 201
    _move(alice, f"{folder}/Report.docx", f"{folder}/~WRL0001.tmp")
    _move(alice, f"{folder}/~WRD0000.tmp", f"{folder}/Report.docx")
    assert alice.request("DELETE", f"{folder}/~WRL0001.tmp").status_code == 204
    _send(firm)
    (message,) = inbox.to("office@dupont.example")
    assert [line.split(" (")[0] for line in _lines(message)] == ["- Report.docx"]


@pytest.mark.parametrize("step, told", [
    ("copy from Team's shared", True),
    ("copy within Client's shared", True),
    ("move from another client", True),
    ("rename within Client's shared", False),  # reported once already, under its old name
])  # fmt: skip
def test_a_contacts_copy_or_move_into_clients_shared_tells_the_firm(firm, inbox, step, told):
    dora, sam = firm.as_user("dora"), firm.as_user("sam")
    source = {"copy from Team's shared": f"/acme/{TEAM}/Form.pdf",
              "move from another client": f"/beta/{CLIENT}/Form.pdf"}.get(step, f"/acme/{CLIENT}/Form.pdf")  # fmt: skip
    author = sam if step == "copy from Team's shared" else dora
    assert author.put(source, b"%PDF").status_code == 201
    _send(firm)
    inbox.messages.clear()
    _move(dora, source, f"/acme/{CLIENT}/Form filled.pdf", "COPY" if step.startswith("copy") else "MOVE")
    _send(firm)
    for address in FIRM:
        messages = inbox.to(address)
        assert len(messages) == told, [_documents(m) for m in inbox.messages]
        if told:
            assert _lines(messages[0])[0].startswith(f"- Form filled.pdf (uploaded in {CLIENT}, Acme Ltd)")
    assert inbox.to("alice@clients.example") == []  # another contact's upload is not news to a contact


def test_a_staff_rename_before_the_email_tells_contacts_the_new_name(firm, inbox):
    sam = firm.as_user("sam")
    assert sam.request("MKCOL", "/acme/Internal/").status_code == 201
    for name in ("draft.pdf", "not yet.pdf"):
        assert sam.put(f"/acme/{TEAM}/{name}", b"%PDF").status_code == 201
    _move(sam, f"/acme/{TEAM}/draft.pdf", f"/acme/{TEAM}/Engagement letter.pdf")
    _move(sam, f"/acme/{TEAM}/not yet.pdf", "/acme/Internal/not yet.pdf")  # out of the contacts' sight
    _send(firm)
    for address in ("alice@clients.example", "dora@clients.example"):
        (message,) = inbox.to(address)
        assert _lines(message) == [f"- Engagement letter.pdf (new in {TEAM}): "
                                   + _link("acme", f"{TEAM}/Engagement letter.pdf")]  # fmt: skip
    assert inbox.to("bob@clients.example") == []


def test_with_no_staff_address_and_no_assigned_staff_the_admins_are_told(fresh_portal, inbox):
    running = _firm(fresh_portal, inbox, staff_address=None)
    with running.portal.sessions.begin() as session:
        accounts.add_staff(session, "ada", password=PASSWORD, admin=True, email="ada@dupont.example")
        accounts.add_staff(session, "adam", password=PASSWORD, admin=True)  # no email: cannot be told
        accounts.add_staff(session, "olga", password=PASSWORD, admin=True, email="olga@dupont.example")
        accounts.disable(session, "olga", actor=ADMIN)
        accounts.add_staff(session, "tom", password=PASSWORD, email="tom@dupont.example")  # not an admin
    assert running.as_user("bob").put(f"/beta/{CLIENT}/Bank statement.pdf", b"%PDF").status_code == 201
    assert running.as_user("alice").put(f"/acme/{CLIENT}/Payslip.pdf", b"%PDF").status_code == 201
    _send(running)
    assert sorted(m["To"] for m in inbox.messages) == ["ada@dupont.example", "fiona@dupont.example"]
    (to_admin,) = inbox.to("ada@dupont.example")
    assert [line.split(" (")[0] for line in _lines(to_admin)] == ["- Bank statement.pdf"]
    (to_assigned,) = inbox.to("fiona@dupont.example")  # acme has assigned staff: the admins are not told
    assert [line.split(" (")[0] for line in _lines(to_assigned)] == ["- Payslip.pdf"]


def test_notify_status_says_who_hears_of_each_clients_uploads(fresh_portal, inbox, tmp_path):
    running = _firm(fresh_portal, inbox, staff_address=None)
    with running.portal.sessions.begin() as session:
        accounts.add_staff(session, "ada", password=PASSWORD, admin=True, email="ada@dupont.example")
    status = _cli(running, tmp_path, "notify", "status")
    assert status.returncode == 0, status.stderr
    assert "Who hears of client uploads:\n  acme (Acme Ltd): fiona@dupont.example\n" in status.stdout
    assert "  beta (Beta LLP): ada@dupont.example\n" in status.stdout
    assert "nobody" not in status.stderr

    with running.portal.sessions.begin() as session:
        # Another admin, without an email address: the last enabled admin cannot be disabled.
        accounts.add_staff(session, "adam", password=PASSWORD, admin=True)
        accounts.disable(session, "ada", actor=ADMIN)
    status = _cli(running, tmp_path, "notify", "status")
    assert status.returncode == 0 and "  beta (Beta LLP): NOBODY\n" in status.stdout
    assert "Warning: nobody hears of uploads from beta (Beta LLP): set notifications.staff_address" in status.stderr
    assert "acme" not in status.stderr


def test_the_plain_text_part_has_one_line_per_document(firm, inbox):
    sam = firm.as_user("sam")
    names = ["Letter.pdf", "Invoice 42.pdf", "Déclaration été.pdf"]
    for name in names:
        assert sam.put(f"/acme/{TEAM}/{name}", b"%PDF").status_code == 201
    describe = ("<D:propertyupdate xmlns:D='DAV:' xmlns:p='urn:davportal'><D:set><D:prop><p:description>"
                "Please sign\n\nand return by Friday</p:description></D:prop></D:set></D:propertyupdate>")  # fmt: skip
    assert "200 OK" in sam.request("PROPPATCH", f"/acme/{TEAM}/Invoice 42.pdf", data=describe.encode()).text
    _send(firm)
    (message,) = inbox.to("alice@clients.example")
    assert _lines(message) == [
        f"- Letter.pdf (new in {TEAM}): {_link('acme', f'{TEAM}/Letter.pdf')}",
        f"- Invoice 42.pdf (new in {TEAM}) — Please sign and return by Friday: "
        + _link("acme", f"{TEAM}/Invoice 42.pdf"),
        f"- Déclaration été.pdf (new in {TEAM}): {_link('acme', f'{TEAM}/Déclaration été.pdf')}",
    ]
    assert _documents(message).count(LINK) == len(names)  # no link anywhere else


def test_received_lists_uploads_where_they_are_now(firm):
    alice = firm.as_user("alice")
    assert alice.put(f"/acme/{CLIENT}/scan001.pdf", b"%PDF").status_code == 201
    _move(alice, f"/acme/{CLIENT}/scan001.pdf", f"/acme/{CLIENT}/Tax receipts 2025.pdf")
    assert alice.request("MKCOL", f"/acme/{CLIENT}/scans/").status_code == 201
    assert alice.put(f"/acme/{CLIENT}/scans/bank.pdf", b"%PDF").status_code == 201
    _move(alice, f"/acme/{CLIENT}/scans/", f"/acme/{CLIENT}/Bank 2025/")
    assert firm.as_user("sam").put(f"/acme/{TEAM}/Engagement letter.pdf", b"%PDF").status_code == 201
    page = signed_in(firm.url, "sam").get(firm.url + WEB + "/received", allow_redirects=False)
    assert page.status_code == 200
    text = html.unescape(page.text)
    for path in (f"{CLIENT}/Tax receipts 2025.pdf", f"{CLIENT}/Bank 2025/bank.pdf"):
        assert f'<a href="{quote(f"/acme/{path}")}" download>{path}</a>' in text
    assert "scan001" not in text and "scans/" not in text and "no longer there" not in text
    assert "Engagement letter.pdf" not in text  # staff's own upload: not received from a client


def test_notices_follow_in_the_database_and_a_delete_leaves_them_out(firm):
    alice = firm.as_user("alice")
    assert alice.put(f"/acme/{CLIENT}/a.pdf", b"%PDF").status_code == 201
    assert alice.put(f"/acme/{CLIENT}/gone.pdf", b"%PDF").status_code == 201
    _move(alice, f"/acme/{CLIENT}/a.pdf", f"/acme/{CLIENT}/b.pdf")
    assert alice.request("DELETE", f"/acme/{CLIENT}/gone.pdf").status_code == 204
    with firm.portal.sessions() as session:
        waiting = sorted((n.recipient, n.path) for n in session.query(Notice).filter(Notice.message_id.is_(None)))
    assert waiting == sorted((address, path) for address in FIRM for path in (f"{CLIENT}/b.pdf", f"{CLIENT}/gone.pdf"))
    result = _send(firm)
    assert result.composed == 2  # gone.pdf is left out of both emails


CONTACT, STAFF = Actor("alice", Role.CONTACT, clients={"acme": "client"}), Actor("sam", Role.STAFF)


@pytest.mark.parametrize("actor, same_client, moved, from_name, audience", [
    (STAFF, True, False, "a.pdf", Audience.NOBODY),  # a copy within the client
    (STAFF, True, True, "a.pdf", Audience.CONTACTS),  # contacts who could not read it before
    (STAFF, False, False, "a.pdf", Audience.CONTACTS),  # copy to matter
    (STAFF, False, True, "a.pdf", Audience.CONTACTS),
    (CONTACT, True, False, "a.pdf", Audience.STAFF),  # a contact's copy is an upload
    (CONTACT, False, False, "a.pdf", Audience.STAFF),
    (CONTACT, False, True, "a.pdf", Audience.STAFF),  # new to this client
    (CONTACT, True, True, "a.pdf", Audience.NOBODY),  # a rename: reported once, its notice follows
    (CONTACT, True, True, "~WRD0000.tmp", Audience.STAFF),  # how Word saves: a new version
])  # fmt: skip
def test_who_is_told_of_an_arrival(actor, same_client, moved, from_name, audience):
    assert told_of_arrival(actor, same_client=same_client, moved=moved, from_name=from_name) is audience


@pytest.mark.parametrize("actor, name, audience", [
    (CONTACT, "a.pdf", Audience.STAFF), (STAFF, "a.pdf", Audience.CONTACTS),
    (CONTACT, "~$a.docx", Audience.NOBODY), (STAFF, ".DS_Store", Audience.NOBODY),
])  # fmt: skip
def test_who_is_told_of_a_write(actor, name, audience):
    assert told_of_write(actor, name) is audience


@pytest.mark.parametrize("address, assigned, admins, told", [
    ("office@f.example", "fiona@f.example", ["ada@f.example"], ["fiona@f.example", "office@f.example"]),
    ("office@f.example", None, ["ada@f.example"], ["office@f.example"]),
    (None, "fiona@f.example", ["ada@f.example"], ["fiona@f.example"]),
    (None, None, ["ben@f.example", "ada@f.example"], ["ada@f.example", "ben@f.example"]),  # never silently nobody
    (None, None, [], []),  # nobody to tell: `davportal notify status` warns
])  # fmt: skip
def test_who_hears_of_a_clients_uploads(address, assigned, admins, told):
    assert staff_told(address, assigned, admins) == told
