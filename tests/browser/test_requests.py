"""In Chromium: staff ask a client for their tax return papers from a template; the client sees the
request first on their page and as folders on their drive, sends documents from the page (a file
chooser, and drag and drop), by WebDAV PUT and with `rclone copy`; staff turn one down with a
reason (the client is emailed why), the client sends it again, staff accept everything, are told
it is complete, and the request ends under "Done"."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest

from davportal.core.models import DocumentRequest, utcnow
from davportal.notifications.worker import send_round
from davportal.services import requests as document_requests
from provisioning import accounts, clients
from tests.browser.conftest import sign_in, until
from tests.clients.conftest import require
from tests.conftest import ADMIN, CLIENT, PASSWORD
from tests.test_notifications import _settings

ROOT = Path(__file__).resolve().parents[2]
PHONE = {"width": 390, "height": 844}
REASON = "The scan is cut off on the right"


@pytest.fixture
def office(fresh_portal, inbox, tmp_path):
    types = tmp_path / "matter-types.yaml"
    shutil.copy(ROOT / "config" / "matter-types.yaml", types)
    running = fresh_portal(**_settings(inbox.port), matter_types_file=str(types))
    running.add_staff("sam")
    folders = running.portal.settings.folders
    with running.portal.sessions.begin() as session:
        clients.add_client(session, running.portal.storage, "acme", name="Acme Ltd",
                           folders=(folders.team_shared, folders.client_shared),
                           matter_type=running.portal.matter_types_file.current()["annual-tax-return"],
                           actor=ADMIN)  # fmt: skip
    with running.portal.sessions.begin() as session:
        accounts.add_contact(session, "alice", client_id="acme", password=PASSWORD, email="alice@acme.example",
                             actor=ADMIN)  # fmt: skip
    return running


def _emails_now(office, inbox) -> list:
    """What a sender's round delivers once the digest window of what is waiting has passed."""
    inbox.messages.clear()
    later = utcnow() + timedelta(seconds=office.portal.settings.notifications.digest_seconds + 1)
    with ThreadPoolExecutor(1) as sender:  # Playwright's loop runs in this thread
        sender.submit(asyncio.run, send_round(office.portal, now=later)).result()
    return list(inbox.messages)


def _rclone(tmp_path, office, *args) -> str:
    binary = require("rclone")
    config = tmp_path / "rclone.conf"
    if not config.exists():
        obscured = subprocess.run([binary, "obscure", PASSWORD], capture_output=True, text=True, check=True).stdout
        config.write_text(f"[alice]\ntype = webdav\nurl = {office.url}/\nvendor = owncloud\nuser = alice\n"
                          f"pass = {obscured.strip()}\n")  # fmt: skip
    result = subprocess.run([binary, "--config", str(config), "--retries", "1", "--low-level-retries", "1", *args],
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout


def _pdf(tmp_path, name: str) -> str:
    path = tmp_path / name
    path.write_bytes(b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")
    return str(path)


def _the_request(office) -> DocumentRequest:
    with office.portal.sessions() as session:
        request = session.query(DocumentRequest).one()
        session.expunge(request)
        return request


def _item_status(office, request_id: int, name: str) -> str:
    with office.portal.sessions() as session:
        return next(i.status for i in document_requests.items_of(session, request_id) if i.name == name)


def _fits_the_width(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_a_request_from_template_to_done(office, inbox, open_page, tmp_path):
    # Staff ask from the client's page, from the matter type's template.
    staff = open_page()
    sign_in(staff, office.url, "sam", PASSWORD, "/acme/")
    staff.get_by_role("link", name="New request").click()
    staff.select_option("select[name=template]", "annual-tax-return")
    staff.get_by_role("button", name="Fill in from the template").click()
    assert staff.input_value("input[name=title]") == "Tax return papers"
    assert staff.input_value("input[name=item-0-name]") == "P60 from your employer"
    assert staff.is_checked("input[name=contact][value=alice]")
    rows = staff.locator("tr.item-row")
    blank = rows.count()  # the template's seven items, and blank rows
    staff.get_by_role("button", name="Add a row").click()  # rows come and go with JavaScript
    assert rows.count() == blank + 1
    rows.last.locator("input").first.fill("Anything else")
    rows.last.get_by_role("button", name="Remove").click()
    assert rows.count() == blank
    staff.get_by_role("button", name="Make the request").click()
    staff.wait_for_selector("p.flash")
    assert "is sent to the client" in staff.inner_text("p.flash")
    request = _the_request(office)
    assert request.status == "open" and request.items_total == 7 and request.template == "annual-tax-return"
    staff.screenshot(path=str(tmp_path / "staff-request.png"), full_page=True)

    # It is sent: the client is emailed what is needed.
    (sent,) = [message for message in _emails_now(office, inbox) if message["To"] == "alice@acme.example"]
    assert "P60 from your employer" in sent.get_body(("plain",)).get_content()

    # On the client's drive it is a folder with one folder per item (a PROPFIND, and rclone).
    folder = f"acme/{CLIENT}/{request.folder.rsplit('/', 1)[-1]}"
    alice = office.as_user("alice")
    assert "P60 from your employer" in alice.names(f"/{folder}/")
    assert "Pension contributions/" in _rclone(tmp_path, office, "lsf", f"alice:{folder}/").splitlines()

    # The client sees it first, on a phone.
    client = open_page()
    client.set_viewport_size(PHONE)
    sign_in(client, office.url, "alice", PASSWORD)
    main = client.inner_text("main")
    assert main.index("Tax return papers") < main.index("Acme Ltd")
    p60 = client.locator("li.item", has_text="P60 from your employer")
    assert "Still needed" in p60.inner_text()
    assert _fits_the_width(client)

    # One item with the file chooser...
    with client.expect_file_chooser() as chooser:
        p60.locator("label.button").click()
    chooser.value.set_files(_pdf(tmp_path, "p60.pdf"))
    until(lambda: _item_status(office, request.id, "P60 from your employer") == "uploaded", "the P60 arrives")
    client.wait_for_selector("li.item:has-text('P60 from your employer') >> text=Sent, waiting for the firm to check")

    # ...another by dropping three files on it (three bank statements are expected).
    bank = client.locator("li.item", has_text="Bank statements")
    assert "0 of 3 files" in bank.inner_text()
    dropped = client.evaluate_handle("""() => {
        const files = new DataTransfer();
        for (const name of ["jan.pdf", "feb.pdf", "mar.pdf"]) {
            files.items.add(new File(["%PDF-1.4 " + name], name, {type: "application/pdf"}));
        }
        return files;
    }""")  # fmt: skip
    bank.locator(".upload").dispatch_event("drop", {"dataTransfer": dropped})
    until(lambda: _item_status(office, request.id, "Bank statements") == "uploaded", "the statements arrive")
    client.wait_for_selector("li.item:has-text('Bank statements') >> text=Sent, waiting for the firm to check")
    client.screenshot(path=str(tmp_path / "client-requests-phone.png"), full_page=True)

    # One item from the drive by PUT, one with rclone copy.
    assert alice.put(f"/{folder}/Interest and dividend statements/bank interest.pdf", b"%PDF-1.4 interest"
                     ).status_code == 201  # fmt: skip
    local = tmp_path / "to send" / "pension.pdf"
    local.parent.mkdir()
    local.write_bytes(b"%PDF-1.4 pension")
    _rclone(tmp_path, office, "copy", str(local.parent), f"alice:{folder}/Pension contributions")
    for name in ("Interest and dividend statements", "Pension contributions"):
        assert _item_status(office, request.id, name) == "uploaded"
    client.reload()
    interest = client.locator("li.item", has_text="Interest and dividend statements")
    assert "Sent, waiting for the firm to check" in interest.inner_text()

    # Staff turn the P60 down with a reason, keeping the file for themselves.
    staff.reload()
    item = staff.locator("li.item", has_text="P60 from your employer")
    assert "p60.pdf" in item.inner_text()
    item.locator("summary", has_text="Not accepted").click()
    item.locator("textarea[name=reason]").fill(REASON)
    item.get_by_role("button", name="Ask for it again").click()
    staff.wait_for_selector("p.flash")
    assert "the client is told why" in staff.inner_text("p.flash")
    assert "p60.pdf" in staff.inner_text("main")  # under "Not accepted, kept for staff"

    # The client is emailed why, reads it on the page, and sends it again.
    (why,) = [message for message in _emails_now(office, inbox) if message["To"] == "alice@acme.example"]
    assert REASON in why.get_body(("plain",)).get_content()
    client.reload()
    p60 = client.locator("li.item", has_text="P60 from your employer")
    assert f"Not accepted: {REASON} — please send it again" in p60.inner_text()
    p60.locator("input[type=file]").set_input_files(_pdf(tmp_path, "p60 whole.pdf"))
    until(lambda: _item_status(office, request.id, "P60 from your employer") == "uploaded", "the P60 again")

    # Staff accept every item, one after another.
    staff.reload()
    for _ in range(7):
        staff.get_by_role("button", name="Accept").first.click()
        staff.wait_for_selector("p.flash")
        assert "is accepted" in staff.inner_text("p.flash")
    assert "Complete: every item accepted" in staff.inner_text("main")
    assert _the_request(office).status == "complete"
    told = {message["To"]: message["Subject"] for message in _emails_now(office, inbox)}
    assert "is complete" in told["office@dupont.example"] and "alice@acme.example" not in told
    history = staff.inner_text("table.history")
    assert all(words in history for words in ("Request made", "Document sent", "Not accepted", REASON, "Complete"))

    # The client's request is done: folded away under "Done".
    client.reload()
    done = client.locator("details.done")
    assert done.inner_text() == "Done (1)" and not done.evaluate("d => d.open")  # folded
    assert "Tax return papers" in done.text_content()
    assert client.locator("article.request").count() == 0
    done.locator("summary").click()
    assert "Complete on" in done.inner_text()
    assert _fits_the_width(client)

    # Everything outstanding is empty again.
    staff.get_by_role("link", name="Outstanding").click()
    assert "Nothing outstanding" in staff.inner_text("main")
