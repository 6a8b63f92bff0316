"""In Chromium: staff ask a client for their tax return papers from a template, the client sends
them from their home page (a file chooser, and drag and drop), staff turn one down with a reason,
the client sends it again, staff accept everything, and the request ends under "Done"."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from davportal.core.models import DocumentRequest
from davportal.services import requests as document_requests
from provisioning import clients
from tests.browser.conftest import sign_in, until
from tests.conftest import ADMIN, PASSWORD

ROOT = Path(__file__).resolve().parents[2]
PHONE = {"width": 390, "height": 844}
REASON = "The scan is cut off on the right"


@pytest.fixture
def office(fresh_portal, tmp_path):
    types = tmp_path / "matter-types.yaml"
    shutil.copy(ROOT / "config" / "matter-types.yaml", types)
    running = fresh_portal(firm_name="Dupont & Søn LLP", matter_types_file=str(types))
    running.add_staff("sam")
    folders = running.portal.settings.folders
    with running.portal.sessions.begin() as session:
        clients.add_client(session, running.portal.storage, "acme", name="Acme Ltd",
                           folders=(folders.team_shared, folders.client_shared),
                           matter_type=running.portal.matter_types_file.current()["annual-tax-return"],
                           actor=ADMIN)  # fmt: skip
    running.add_contact("alice", "acme")
    return running


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


def test_a_request_from_template_to_done(office, open_page, tmp_path):
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

    # The client reads why, and sends it again.
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
