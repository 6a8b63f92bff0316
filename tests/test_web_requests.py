"""Document requests on the web pages, over real HTTP: a contact's home page, a client's requests,
the new request form, a request's page and everything outstanding (SQLite and PostgreSQL)."""

from __future__ import annotations

import re
import shutil
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import select

from davportal.core.models import AuditEvent, DocumentRequest, RequestItem
from davportal.services import requests as document_requests
from davportal.services.request import RequestContext
from davportal.web.document_requests import today_of
from policy import Actor, Role
from provisioning import accounts, clients
from tests.conftest import ADMIN, CLIENT, PASSWORD, Browser, Running, portal_config, signed_in, start_portal

ROOT = Path(__file__).resolve().parent.parent
WEB = "/.davportal-web"
SAM = Actor("sam", Role.STAFF, is_admin=True)
TEMPLATE = "annual-tax-return"
HTML = {"Accept": "text/html"}


def start_office(database_url: str, folder: Path) -> Running:
    """A firm with request templates: staff sam and nina; acme (Annual tax return) with alice (the
    client) and ben (their bookkeeper); beta with bob."""
    types = folder / "matter-types.yaml"
    shutil.copy(ROOT / "config" / "matter-types.yaml", types)
    running = start_portal(portal_config(database_url, folder / "storage", matter_types_file=str(types)))
    running.add_staff("sam", admin=True)
    running.add_staff("nina")
    folders = running.portal.settings.folders
    with running.portal.sessions.begin() as session:
        for client_id, name, kind in (("acme", "Acme Ltd", TEMPLATE), ("beta", "Beta LLP", None)):
            clients.add_client(session, running.portal.storage, client_id, name=name,
                               folders=(folders.team_shared, folders.client_shared),
                               matter_type=running.portal.matter_types_file.current()[kind] if kind else None,
                               actor=ADMIN)  # fmt: skip
        accounts.add_contact(session, "alice", client_id="acme", password=PASSWORD, name="Alice Martin", actor=ADMIN)
        accounts.add_contact(session, "ben", client_id="acme", password=PASSWORD, participant_type="bookkeeper",
                             actor=ADMIN)  # fmt: skip
        accounts.add_contact(session, "bob", client_id="beta", password=PASSWORD, actor=ADMIN)
    return running


@pytest.fixture(scope="module")
def office(database_url, tmp_path_factory):
    running = start_office(database_url, tmp_path_factory.mktemp("office"))
    try:
        yield running
    finally:
        running.server.stop()
        running.portal.engine.dispose()


@pytest.fixture(scope="module")
def people(office) -> dict[str, Browser]:
    return {login: signed_in(office.url, login) for login in ("sam", "alice", "ben", "bob")}


def make(office, client_id: str = "acme", *, title: str = "Year end", items=("P60",), **kwargs) -> int:
    """A request made by the service directly (the CLI's way), for a test's starting point."""
    context = RequestContext(office.portal, actor=SAM)
    try:
        wanted = [document_requests.NewItem(*(i if isinstance(i, tuple) else (i,))) for i in items]
        request = document_requests.create(context, client_id, title=title, items=wanted, **kwargs)
        context.session.commit()
        return request.id
    finally:
        context.session.close()


def items_of(office, request_id: int) -> dict[str, RequestItem]:
    with office.portal.sessions() as session:
        items = document_requests.items_of(session, request_id)
        session.expunge_all()
    return {item.name: item for item in items}


def status_of(office, request_id: int) -> str:
    with office.portal.sessions() as session:
        return session.get(DocumentRequest, request_id).status


def post(browser: Browser, office, route: str, data: dict, *, csrf: bool = True):
    form = {"csrf": browser.csrf, **data} if csrf else data
    return browser.post(office.url + WEB + route, data=form, headers=HTML, allow_redirects=False)


def upload(browser: Browser, office, client_id: str, folder: str, name: str, content: bytes = b"%PDF-1.4 x"):
    """The page's upload: a PUT into the item's folder with the session's CSRF token."""
    url = office.url + quote(f"/{client_id}/{folder}/{name}")
    return browser.put(url, data=content, headers={"X-CSRF-Token": browser.csrf})


def home(browser: Browser, office, path: str = "/") -> str:
    answer = browser.get(office.url + path, headers=HTML)
    assert answer.status_code == 200
    return answer.text


def section(page: str, anchor: str) -> str:
    """The HTML of one request's card on a contact's page."""
    start = page.index(f'id="{anchor}"')
    end = page.find("</article>", start)
    return page[start : end if end >= 0 else len(page)]


def test_staff_make_a_request_from_a_template_on_the_web(office, people):
    sam = people["sam"]
    client_page = home(sam, office, "/acme/")
    assert "Requests" in client_page and f"{WEB}/requests/new?client=acme" in client_page

    form = sam.get(office.url + WEB + "/requests/new", params={"client": "acme", "template": TEMPLATE})
    assert form.status_code == 200
    assert 'value="Tax return papers"' in form.text and 'value="P60 from your employer"' in form.text
    assert 'value="3"' in form.text  # bank statements: three files expected
    assert re.search(r'name="contact" value="alice" checked', form.text)  # the template's participant types
    assert re.search(r'name="contact" value="ben"', form.text)  # the bookkeeper is offered...
    assert not re.search(r'name="contact" value="ben" checked', form.text)  # ...not ticked: the template is for clients
    due = (today_of(office.portal) + timedelta(days=60)).isoformat()
    assert f'value="{due}"' in form.text  # the template's 60 days

    rows = re.findall(r'name="(item-\d+-(?:name|note|files))" value="([^"]*)"', form.text)
    data = {"client": "acme", "template": TEMPLATE, "title": "Tax return papers", "message": "Thanks!", "due": due,
            "contact": ["alice"], "send": "yes", **dict(rows)}  # fmt: skip
    made = post(sam, office, "/requests/new", data)
    assert made.status_code == 303
    request_id = int(made.headers["Location"].rsplit("/", 1)[1])
    page = sam.get(office.url + made.headers["Location"])
    assert "is sent to the client" in page.text and "Open since" in page.text
    assert "P60 from your employer" in page.text and "Signed engagement letter" in page.text
    assert "Request made" in page.text and "Sent to the client" in page.text  # its history
    with office.portal.sessions() as session:
        request = session.get(DocumentRequest, request_id)
        assert (request.template, request.due_on.isoformat(), request.items_total) == (TEMPLATE, due, 7)
        assert document_requests.contacts_of(session, request_id) == ["alice"]
    assert "Tax return papers" in home(sam, office, "/acme/")


def test_the_new_request_form_works_without_script_and_refuses_in_words(office, people):
    sam = people["sam"]
    form = sam.get(office.url + WEB + "/requests/new", params={"client": "beta"})
    assert form.text.count('class="item-row"') == 5  # blank rows enough without JavaScript
    refused = post(sam, office, "/requests/new", {"client": "beta", "title": "", "item-0-name": "Ledger",
                                                  "contact": "bob", "send": "yes"})  # fmt: skip
    assert refused.status_code == 400 and "A request needs a title" in refused.text
    assert 'value="Ledger"' in refused.text  # what was typed is kept
    no_items = post(sam, office, "/requests/new", {"client": "beta", "title": "Ledger", "contact": "bob"})
    assert no_items.status_code == 400 and "at least one item" in no_items.text
    bad_date = post(sam, office, "/requests/new", {"client": "beta", "title": "T", "due": "soon",
                                                   "item-0-name": "X", "contact": "bob"})  # fmt: skip
    assert bad_date.status_code == 400 and "is not a date" in bad_date.text
    with office.portal.sessions() as session:
        assert not session.scalars(select(DocumentRequest).where(DocumentRequest.client_id == "beta")).all()
    assert sam.get(office.url + WEB + "/requests/new", params={"client": "nobody"}).status_code == 404

    draft = post(sam, office, "/requests/new", {"client": "beta", "title": "Payroll", "item-3-name": "Payslips",
                                                "item-3-files": "2", "contact": "bob"})  # fmt: skip
    assert draft.status_code == 303
    request_id = int(draft.headers["Location"].rsplit("/", 1)[1])
    assert status_of(office, request_id) == "draft"
    assert items_of(office, request_id)["Payslips"].files_expected == 2
    assert post(sam, office, f"/requests/{request_id}/send", {}).status_code == 303
    assert status_of(office, request_id) == "open"


def test_a_contact_sees_their_requests_first_and_sends_each_item(office, people):
    today = today_of(office.portal)
    request_id = make(office, title="Bank papers", items=[("Statements", "All accounts", 3), ("Passport",)],
                      message="We need these.", due_on=today - timedelta(days=3), participants=["client"])  # fmt: skip
    later = make(office, title="Later one", items=["Receipts"], due_on=date(2099, 1, 31))
    alice, bob = people["alice"], people["bob"]
    page = home(alice, office)
    assert page.index("Bank papers") < page.index("Later one") < page.index("Acme Ltd")  # requests first
    card = section(page, f"request-{request_id}")
    assert "Overdue by 3 days" in card and "We need these." in card and "All accounts" in card
    assert card.count("Still needed") == 2 and "0 of 3 files" in card
    assert "Due 31 January 2099" in section(page, f"request-{later}")
    assert f"request-{request_id}" in home(alice, office, "/acme/")  # on the client's page too

    items = items_of(office, request_id)
    for n in (1, 2):
        assert upload(alice, office, "acme", items["Statements"].folder, f"statement {n}.pdf").status_code == 201
    card = section(home(alice, office), f"request-{request_id}")
    assert "2 of 3 files" in card and card.count("Still needed") == 2
    assert upload(alice, office, "acme", items["Statements"].folder, "statement 3.pdf").status_code == 201
    assert upload(alice, office, "acme", items["Passport"].folder, "passport.exe").status_code == 415  # the same checks
    card = section(home(alice, office), f"request-{request_id}")
    assert "Sent, waiting for the firm to check" in card and "Still needed" in card

    # The link in an email takes a contact to the request on their page; not anyone else.
    there = alice.get(office.url + f"{WEB}/requests/{request_id}", allow_redirects=False)
    assert there.status_code == 303 and there.headers["Location"] == f"/acme/#request-{request_id}"
    assert bob.get(office.url + f"{WEB}/requests/{request_id}", allow_redirects=False).status_code == 404
    bookkeeper = people["ben"]
    assert f"request-{request_id}" not in home(bookkeeper, office)  # for the client's type only
    assert f"request-{later}" in home(bookkeeper, office)  # for every type
    assert bookkeeper.get(office.url + f"{WEB}/requests/{request_id}", allow_redirects=False).status_code == 404
    assert "Bank papers" not in home(bob, office)


def test_staff_review_and_the_contact_reads_the_reason(office, people):
    sam, alice = people["sam"], people["alice"]
    request_id = make(office, title="Review me", items=["ID", "Lease"], participants=["client"])
    items = items_of(office, request_id)
    upload(alice, office, "acme", items["ID"].folder, "id.pdf", b"%PDF cut")
    upload(alice, office, "acme", items["Lease"].folder, "lease.pdf")
    page = sam.get(office.url + f"{WEB}/requests/{request_id}").text
    assert "id.pdf" in page and "from alice" in page and "Sent: to check" in page

    empty = post(sam, office, f"/requests/{request_id}/reject", {"item": items["ID"].id, "reason": " "})
    assert empty.status_code == 303
    assert "Say why the document is not accepted" in sam.get(office.url + empty.headers["Location"]).text
    assert items_of(office, request_id)["ID"].status == "uploaded"  # refused: nothing changed

    rejected = post(
        sam,
        office,
        f"/requests/{request_id}/reject",
        {"item": items["ID"].id, "reason": "The scan is cut off on the right", "keep": "yes"},
    )
    assert rejected.status_code == 303
    page = sam.get(office.url + rejected.headers["Location"]).text
    assert "the client is told why" in page and "Not accepted, kept for staff" in page and "id.pdf" in page
    card = section(home(alice, office), f"request-{request_id}")
    assert "Not accepted: The scan is cut off on the right — please send it again" in card

    upload(alice, office, "acme", items["ID"].folder, "id whole.pdf")
    card = section(home(alice, office), f"request-{request_id}")
    assert "cut off" not in card and card.count("Sent, waiting for the firm to check") == 2

    for name in ("ID", "Lease"):
        assert post(sam, office, f"/requests/{request_id}/accept", {"item": items[name].id}).status_code == 303
    assert status_of(office, request_id) == "complete"
    page = sam.get(office.url + f"{WEB}/requests/{request_id}").text
    assert "Complete: every item accepted" in page
    assert all(words in page for words in ("Accepted", "Not accepted", "Document sent", "Complete"))
    again = post(sam, office, f"/requests/{request_id}/accept", {"item": items["ID"].id})
    assert "can no longer be reviewed" in sam.get(office.url + again.headers["Location"]).text

    contact_page = home(alice, office)
    done = contact_page[contact_page.index('<details class="done">') :]
    assert "Review me" in done and "Complete on" in done
    assert f'id="request-{request_id}"' not in contact_page[: contact_page.index('<details class="done">')]


def test_staff_change_a_request_and_cancel_it_after_confirming(office, people):
    sam, alice = people["sam"], people["alice"]
    request_id = make(office, title="Changes", items=["One", "Two"])
    route = f"/requests/{request_id}"
    assert post(sam, office, route + "/due", {"due": "2099-03-01"}).status_code == 303
    assert "Due 1 March 2099" in section(home(alice, office), f"request-{request_id}")
    post(sam, office, route + "/add-item", {"name": "Three", "note": "A third", "files": "2"})
    assert items_of(office, request_id)["Three"].files_expected == 2
    assert "Three" in section(home(alice, office), f"request-{request_id}")
    post(sam, office, route + "/remove-item", {"item": items_of(office, request_id)["One"].id})
    assert set(items_of(office, request_id)) == {"Two", "Three"}
    page = sam.get(office.url + WEB + route).text
    assert "item &#39;Three&#39; added" in page and "due 2099-03-01" in page  # the history says what changed

    confirm = sam.get(office.url + WEB + route + "/cancel")
    assert confirm.status_code == 200 and "Yes, cancel this request" in confirm.text
    unconfirmed = post(sam, office, route + "/cancel", {})
    assert "tick the box" in sam.get(office.url + unconfirmed.headers["Location"]).text
    assert status_of(office, request_id) == "open"
    post(sam, office, route + "/cancel", {"confirm": "yes"})
    assert status_of(office, request_id) == "cancelled"
    assert "Cancelled by the firm" in home(alice, office)
    assert "Cancelled by sam" in sam.get(office.url + WEB + route).text


def test_everything_outstanding_overdue_first_filtered_and_paged(office, people, monkeypatch):
    sam = people["sam"]
    today = today_of(office.portal)
    overdue = make(office, "beta", title="Late ledger", items=["Ledger"], due_on=today - timedelta(days=10))
    soon = make(office, "beta", title="Soon ledger", items=["Ledger"], due_on=today + timedelta(days=1))
    page = sam.get(office.url + WEB + "/requests", params={"client": "beta"}).text
    assert page.index("Late ledger") < page.index("Soon ledger")
    assert "overdue by 10 days" in page and 'class="overdue"' in page
    only = sam.get(office.url + WEB + "/requests", params={"client": "Beta", "overdue": "1"}).text
    assert "Late ledger" in only and "Soon ledger" not in only
    typed = sam.get(office.url + WEB + "/requests", params={"matter_type": TEMPLATE}).text
    assert "Late ledger" not in typed and "Beta LLP" not in typed
    before = sam.get(office.url + WEB + "/requests", params={"client": "beta", "due_before": today.isoformat()}).text
    assert "Late ledger" in before and "Soon ledger" not in before
    assert "is not a date" in sam.get(office.url + WEB + "/requests", params={"due_before": "x"}).text
    assert f"{WEB}/requests/{overdue}" in page and f"{WEB}/requests/{soon}" in page
    assert f'href="{WEB}/requests"' in home(sam, office)  # in the staff header

    monkeypatch.setattr("davportal.web.document_requests.PAGE_SIZE", 1)
    first = sam.get(office.url + WEB + "/requests", params={"client": "beta"}).text
    assert "page 1 of" in first and 'rel="next"' in first
    assert "Late ledger" in first and "Soon ledger" not in first


def test_one_query_reads_a_page_of_outstanding_requests(office, people):
    """The list reads one page with one query and counts with another, however many there are."""
    sam = people["sam"]
    statements = []

    from sqlalchemy import event

    def seen(conn, cursor, statement, *args):
        if "document_request" in statement:
            statements.append(statement)

    event.listen(office.portal.engine, "before_cursor_execute", seen)
    try:
        assert sam.get(office.url + WEB + "/requests").status_code == 200
    finally:
        event.remove(office.portal.engine, "before_cursor_execute", seen)
    assert len(statements) == 2  # the count and the page


def test_the_audit_trail_has_each_web_step(office, people):
    sam = people["sam"]
    request_id = make(office, title="Audited", items=["A", "B"])
    post(sam, office, f"/requests/{request_id}/due", {"due": "2099-01-01"})
    with office.portal.sessions() as session:
        changes = session.scalars(
            select(AuditEvent).where(
                AuditEvent.action == "REQUEST-CHANGE", AuditEvent.detail.contains(f"request {request_id}:")
            )
        ).all()
    assert [(e.login, e.client_id) for e in changes] == [("sam", "acme")]
    assert CLIENT in changes[0].path
    upload(people["alice"], office, "acme", items_of(office, request_id)["A"].folder, "a.pdf")
    with office.portal.sessions() as session:
        sent = session.scalars(
            select(AuditEvent).where(
                AuditEvent.action == "REQUEST-UPLOAD", AuditEvent.detail.startswith(f"request {request_id} ")
            )
        ).all()
    assert [(e.login, e.client_id, e.path.rsplit("/", 1)[-1]) for e in sent] == [("alice", "acme", "a.pdf")]


def test_an_unsent_request_cancelled_is_never_the_contacts(office, people):
    request_id = make(office, title="Never sent", send=False)
    context = RequestContext(office.portal, actor=SAM)
    try:
        document_requests.cancel(context, request_id)
        context.session.commit()
    finally:
        context.session.close()
    assert "Never sent" not in home(people["alice"], office, "/acme/")
    assert people["alice"].get(office.url + f"{WEB}/requests/{request_id}", headers=HTML,
                               allow_redirects=False).status_code == 404  # fmt: skip


def test_a_request_folder_is_named_in_words_on_its_page(office, people):
    make(office, title="Words")
    folder = f"/acme/{CLIENT}/Requested - Words/"
    alice_page, sam_page = home(people["alice"], office, folder + "P60/"), home(people["sam"], office, folder + "P60/")
    assert "Send this document here</span>" in alice_page and ">request-item<" not in alice_page
    assert "Asked for: the client sends it here</span>" in sam_page and ">request-item<" not in sam_page
