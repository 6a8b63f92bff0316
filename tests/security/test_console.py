"""The admin console: only staff whose account is admin find it; for everyone else it does not exist."""

from __future__ import annotations

import uuid

import pytest
import yaml
from markupsafe import escape
from sqlalchemy import func, select

from davportal.core.models import Account, AuditEvent, Client, LoginThrottle, Membership, OutboxMessage, TrashItem
from davportal.notifications.outbox import FAILED, SENT
from davportal.web.console import SECTIONS
from tests.conftest import TEAM, Browser, signed_in

CONSOLE = "/.davportal-web/admin"
# Every section's page, and an address below it that no section has.
PAGES = [f"{CONSOLE}/{slug}".rstrip("/") for slug in SECTIONS] + [f"{CONSOLE}/nothing-here", f"{CONSOLE}/"]
WHO = {"admin": "sam", "staff": "nina", "contact": "alice"}


@pytest.fixture(scope="module")
def browsers(firm) -> dict[str, Browser]:
    firm.add_staff("nina")  # staff, not admin
    return {who: signed_in(firm.url, login) for who, login in WHO.items()}


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("who", ["staff", "contact"])
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_nobody_else_finds_the_console(firm, browsers, page, who, method):
    browser = browsers[who]
    answer = browser.request(method, firm.url + page, data={"csrf": browser.csrf}, allow_redirects=False)
    assert answer.status_code == 404
    assert "Administration" not in answer.text


@pytest.mark.parametrize("who", ["staff", "contact"])
def test_nobody_else_is_offered_it(firm, browsers, who):
    home = browsers[who].get(firm.url + "/", headers={"Accept": "text/html"})
    assert home.ok and CONSOLE not in home.text


def test_an_admin_finds_it(firm, browsers):
    home = browsers["admin"].get(firm.url + "/", headers={"Accept": "text/html"})
    assert f'href="{CONSOLE}"' in home.text
    for slug, section in SECTIONS.items():
        page = browsers["admin"].get(f"{firm.url}{CONSOLE}/{slug}".rstrip("/"))
        assert page.status_code == 200 and section.title in page.text
    assert browsers["admin"].get(f"{firm.url}{CONSOLE}/nothing-here").status_code == 404


def test_before_sign_in_it_asks_for_a_sign_in(firm):
    answer = Browser().get(firm.url + CONSOLE, allow_redirects=False)
    assert answer.status_code == 303 and answer.headers["Location"].endswith("/login")


def test_basic_auth_does_not_open_it(firm):
    """The console is for a browser's session; a drive's password opens no page of it."""
    answer = Browser().get(firm.url + CONSOLE, auth=("sam", "correct horse battery"), allow_redirects=False)
    assert answer.status_code in (303, 404)


# --- the console's matter types, trash, audit trail and email: every page and action -----------

MARKUP = '<img src=x onerror="alert(1)">'


@pytest.fixture(scope="module")
def things(firm) -> dict[str, int]:
    """What the actions name: an item in the trash and an email given up on."""
    sam = firm.as_user("sam")
    assert sam.put(f"/acme/{TEAM}/kept.pdf", b"kept").status_code == 201
    assert sam.request("DELETE", f"/acme/{TEAM}/kept.pdf").status_code == 204
    with firm.portal.sessions.begin() as session:
        item = session.scalars(select(TrashItem).where(TrashItem.path == f"{TEAM}/kept.pdf")).one()
        message = OutboxMessage(recipient="alice@acme.example", message_id=f"<{uuid.uuid4().hex}@test>", raw="x",
                                status=FAILED, attempts=3, last_error="550 no such mailbox")  # fmt: skip
        session.add(message)
        session.flush()
        return {"item": item.id, "message": message.id}


# Every route of these sections, with the form an action sends (ids filled in from `things`).
ROUTES = [
    ("GET", "/matter-types", None),
    ("GET", "/matter-types/family-law/push", None),
    ("POST", "/matter-types/family-law/push", {}),
    ("GET", "/trash", None),
    ("GET", "/trash?client=acme&page=2", None),
    ("POST", "/trash/restore", {"item": "item"}),
    ("GET", "/trash/purge", None),
    ("GET", "/trash/purge?item={item}", None),
    ("POST", "/trash/purge", {"item": "item", "confirm": "yes"}),
    ("POST", "/trash/purge", {"confirm": "yes"}),
    ("GET", "/audit", None),
    ("GET", "/audit?client=acme&user=sam&from=2020-01-01", None),
    ("GET", "/audit/export.csv", None),
    ("GET", "/audit/export.json", None),
    ("GET", "/email", None),
    ("POST", "/email/retry", {"message": "message"}),
    ("POST", "/email/retry-failed", {}),
]


def _send(browser, firm, things, method: str, route: str, form: dict | None, *, csrf: str | None = None):
    url = firm.url + CONSOLE + route.format(**things)
    data = None if form is None else {"csrf": browser.csrf if csrf is None else csrf,
                                      **{k: things.get(v, v) for k, v in form.items()}}  # fmt: skip
    return browser.request(method, url, data=data, headers={"Accept": "text/html"}, allow_redirects=False)


def _unchanged(firm, things) -> tuple:
    """What the actions would change: the trash item, the email, the audit trail's length."""
    with firm.portal.sessions() as session:
        return (
            session.get(TrashItem, things["item"]) is not None,
            session.get(OutboxMessage, things["message"]).status,
            session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.login == "sam")),
        )


@pytest.mark.parametrize("method, route, form", ROUTES)
@pytest.mark.parametrize("who", ["staff", "contact"])
def test_nobody_else_reaches_a_page_or_action(firm, browsers, things, who, method, route, form):
    before = _unchanged(firm, things)
    answer = _send(browsers[who], firm, things, method, route, form)
    assert answer.status_code == 404 and "Administration" not in answer.text
    assert _unchanged(firm, things) == before


@pytest.mark.parametrize("method, route, form", [r for r in ROUTES if r[0] == "POST"])
@pytest.mark.parametrize("token", ["", "not-the-token"])
def test_an_action_without_the_token_changes_nothing(firm, browsers, things, method, route, form, token):
    before = _unchanged(firm, things)
    answer = _send(browsers["admin"], firm, things, method, route, form, csrf=token)
    if route.startswith("/matter-types"):
        assert answer.status_code == 404  # this firm has no matter types: nothing to push
    else:
        assert answer.status_code == 403 and "out of date" in answer.text
    assert _unchanged(firm, things) == before


@pytest.mark.parametrize("method, route, form, sentence", [
    ("POST", "/trash/restore", {"item": "99999999"}, "There is no item 99999999 in the trash."),
    ("POST", "/trash/restore", {"item": "../1"}, "There is no such item in the trash."),
    ("POST", "/trash/restore", {}, "There is no such item in the trash."),
    ("POST", "/trash/purge", {"item": "99999999", "confirm": "yes"}, "There is no item 99999999 in the trash."),
    ("GET", "/trash/purge?item=99999999", None, "There is no item 99999999 in the trash."),
    ("GET", "/trash/purge?item=1e3", None, "There is no such item in the trash."),
    ("POST", "/email/retry", {"message": "99999999"}, "There is no email 99999999 in the outbox."),
    ("POST", "/email/retry", {"message": "-1"}, "There is no such email."),
    ("GET", "/matter-types/%3Cb%3Eodd/push", None, "There is no matter type '<b>odd'."),
    ("POST", "/matter-types/nope/push", {}, "There is no matter type"),
    ("GET", "/audit/export.xml", None, "Not found."),
    ("POST", "/audit", {}, "Not found."),
])  # fmt: skip
def test_ids_that_name_nothing_are_not_found(firm, browsers, things, method, route, form, sentence):
    before = _unchanged(firm, things)
    answer = _send(browsers["admin"], firm, things, method, route, form)
    assert answer.status_code == 404 and sentence in answer.text
    assert answer.headers["Content-Type"].startswith("text/plain")  # what the id said is never markup
    assert _unchanged(firm, things) == before


def test_hostile_names_and_details_are_shown_as_text(firm, browsers):
    with firm.portal.sessions.begin() as session:
        session.add(TrashItem(client_id="acme", path=f"{TEAM}/{MARKUP}.pdf", deleted_by="sam", stored_as="none",
                              records={"documents": [], "properties": []}))  # fmt: skip
        session.add(AuditEvent(login="sam", role="staff", action="GET", client_id="marked", path=f"{MARKUP}.pdf",
                               status=200, detail=MARKUP))  # fmt: skip
        session.add(OutboxMessage(recipient=f"{MARKUP}@acme.example", message_id=f"<{uuid.uuid4().hex}@test>",
                                  raw="x", status=FAILED, last_error=MARKUP))  # fmt: skip
    admin = browsers["admin"]
    for page in ("/trash?client=acme", "/audit?client=marked", "/email"):
        text = admin.get(firm.url + CONSOLE + page).text
        assert MARKUP not in text and str(escape(MARKUP)) in text, page


def test_a_hostile_matter_type_name_is_shown_as_text(fresh_portal, tmp_path):
    types = tmp_path / "types.yaml"
    folder = "Tom & Jerry's"  # a folder name cannot hold < > or "
    types.write_text(yaml.safe_dump({"matter_types": {"odd": {"name": MARKUP, "folders": [{"path": folder}]}}}))
    running = fresh_portal(matter_types_file=str(types))
    running.add_staff("sam", admin=True)
    admin = signed_in(running.url, "sam")
    for page in ("/matter-types", "/matter-types/odd/push"):
        text = admin.get(running.url + CONSOLE + page).text
        assert MARKUP not in text and str(escape(MARKUP)) in text, page
        assert folder not in text and str(escape(folder)) in text, page


def test_a_refusal_is_a_message_not_an_error(firm, browsers, things):
    """A service's refusal (an email sent already) is said on the page, and changes nothing."""
    with firm.portal.sessions.begin() as session:
        sent = OutboxMessage(recipient="carol@acme.example", message_id=f"<{uuid.uuid4().hex}@test>", raw="x",
                             status=SENT)  # fmt: skip
        session.add(sent)
        session.flush()
        sent_id = sent.id
    answer = browsers["admin"].post(firm.url + CONSOLE + "/email/retry",
                                    data={"csrf": browsers["admin"].csrf, "message": sent_id})  # fmt: skip
    assert answer.status_code == 200 and "was sent already: it is not sent twice" in answer.text
    with firm.portal.sessions() as session:
        assert session.get(OutboxMessage, sent_id).status == SENT


# --- the Clients, Contacts and Staff sections: every page and action ---------------------------------

# (method, address below the console, form): every route of the three sections, with a form that
# would change something if it were let through.
PEOPLE_ROUTES = [
    ("GET", "clients", None),
    ("GET", "clients?q=ac&archived=1&page=2", None),
    ("POST", "clients", {"id": "intruded", "name": "Intruded", "matter_type": ""}),
    ("GET", "clients/_import", None),
    ("POST", "clients/_import", {"step": "preview"}),
    ("GET", "clients/acme", None),
    ("POST", "clients/acme/type", {"matter_type": ""}),
    ("POST", "clients/acme/assign", {"staff": "nina"}),
    ("POST", "clients/acme/contacts", {"login": "intruder", "participant_type": "client"}),
    ("POST", "clients/acme/remove", {"login": "carol"}),
    ("POST", "clients/beta/archive", {}),
    ("POST", "clients/beta/unarchive", {}),
    ("GET", "clients/beta/erase", None),
    ("POST", "clients/beta/erase", {"confirm": "beta"}),
    ("GET", "contacts", None),
    ("GET", "contacts/bob", None),
    ("POST", "contacts/bob/join", {"client": "acme", "participant_type": "client"}),
    ("POST", "contacts/carol/remove", {"client": "acme"}),
    ("POST", "contacts/bob/disable", {}),
    ("POST", "contacts/bob/enable", {}),
    ("POST", "contacts/bob/unblock", {}),
    ("POST", "contacts/bob/invite", {}),
    ("POST", "contacts/bob/name", {"name": "Renamed"}),
    ("GET", "staff", None),
    ("POST", "staff", {"login": "intruder2", "admin": "1"}),
    ("POST", "staff/nina/admin", {"admin": "1"}),
    ("POST", "staff/sam/admin", {"admin": "0"}),
    ("POST", "staff/sam/disable", {}),
    ("POST", "staff/sam/enable", {}),
    ("POST", "staff/sam/unblock", {}),
    ("POST", "staff/nina/invite", {}),
]
POSTS = [(path, form) for method, path, form in PEOPLE_ROUTES if method == "POST"]


def people_state(firm) -> tuple:
    """What any of those actions would change: accounts, memberships, clients, held-back logins."""
    accounts = select(Account.login, Account.name, Account.role, Account.is_admin, Account.disabled)
    memberships = select(Membership.login, Membership.client_id, Membership.participant_type)
    clients = select(Client.id, Client.name, Client.matter_type, Client.assigned_staff, Client.archived_at)
    with firm.portal.sessions() as session:
        return (
            sorted(session.execute(accounts).all()),
            sorted(session.execute(memberships).all()),
            sorted(session.execute(clients).all()),
            session.scalar(select(func.count()).select_from(LoginThrottle)),
        )


def send(firm, browser: Browser, method: str, path: str, form: dict | None, csrf: str | None):
    url = f"{firm.url}{CONSOLE}/{path}"
    data = {**(form or {}), **({"csrf": csrf} if csrf is not None else {})}
    if path.startswith("clients/_import") and method == "POST":  # an upload is multipart
        files = {name: (None, value) for name, value in data.items()}
        files["file"] = ("c.csv", b"id,name\nintruded2,Intruded\n")
        return browser.post(url, files=files, allow_redirects=False)
    return browser.request(method, url, data=data if method == "POST" else None, allow_redirects=False)


@pytest.mark.parametrize("method, path, form", PEOPLE_ROUTES, ids=[f"{m} {p}" for m, p, _ in PEOPLE_ROUTES])
@pytest.mark.parametrize("who", ["staff", "contact"])
def test_nobody_else_finds_a_people_page_or_action(firm, browsers, who, method, path, form):
    browser = browsers[who]
    before = people_state(firm)
    answer = send(firm, browser, method, path, form, browser.csrf)
    assert answer.status_code == 404 and "Administration" not in answer.text
    assert people_state(firm) == before


@pytest.mark.parametrize("path, form", POSTS, ids=[p for p, _ in POSTS])
@pytest.mark.parametrize("csrf", [None, "", "not-the-token"], ids=["no token", "empty token", "wrong token"])
def test_a_people_action_without_the_pages_token_changes_nothing(firm, browsers, path, form, csrf):
    before = people_state(firm)
    answer = send(firm, browsers["admin"], "POST", path, form, csrf)
    assert answer.status_code == 403 and "out of date" in answer.text
    assert people_state(firm) == before


HOSTILE = "<script>alert(1)</script>"


def test_names_are_shown_as_text_never_as_markup(firm, browsers):
    admin = browsers["admin"]
    firm.add_client("hostile", HOSTILE)
    firm.add_contact("hostile-p", "hostile")
    with firm.portal.sessions.begin() as session:
        account = session.get(Account, "hostile-p")
        account.name, account.email = '<img src=x onerror="alert(2)">', "a@example.com"
    pages = ["clients/hostile", "contacts/hostile-p", "contacts?q=hostile", "clients?q=hostile"]
    for path in pages:
        page = admin.get(f"{firm.url}{CONSOLE}/{path}")
        assert page.ok, path
        assert "<script>alert(1)" not in page.text and "<img src=x" not in page.text, path
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in admin.get(f"{firm.url}{CONSOLE}/clients/hostile").text
    assert "&lt;img src=x" in admin.get(f"{firm.url}{CONSOLE}/contacts/hostile-p").text
    # What an action says back, and what an import shows, are text too.
    added = admin.post(f"{firm.url}{CONSOLE}/clients", data={"csrf": admin.csrf, "id": "hostile2", "name": HOSTILE})
    assert "Client &lt;script&gt;alert(1)&lt;/script&gt; added" in added.text and "<script>alert" not in added.text
    csv = f'id,name\nhostile3,"{HOSTILE}"\n<b>,x\n'.encode()
    preview = admin.post(f"{firm.url}{CONSOLE}/clients/_import", data={"csrf": admin.csrf, "step": "preview"},
                         files={"file": (f"{HOSTILE}.csv", csv)})  # fmt: skip
    assert preview.ok and "<script>alert" not in preview.text and "<b>" not in preview.text


@pytest.mark.parametrize(
    "path, form",
    [
        ("clients/acme/remove", {"login": "sam"}),  # staff, not a contact
        ("clients/acme/remove", {"login": "bob"}),  # beta's contact, not acme's
        ("clients/acme/assign", {"staff": "alice"}),  # a contact, not staff
        ("contacts/bob/remove", {"client": "acme"}),  # bob does not belong to acme
        ("contacts/bob/join", {"client": "no-such-client"}),
        ("staff/alice/admin", {"admin": "1"}),  # a contact is not made admin from the staff page
        ("staff/alice/disable", {}),
        ("contacts/nina/disable", {}),
    ],
)
def test_a_form_naming_something_else_is_not_found_and_changes_nothing(firm, browsers, path, form):
    before = people_state(firm)
    answer = send(firm, browsers["admin"], "POST", path, form, browsers["admin"].csrf)
    assert answer.status_code == 404 and ("There is no" in answer.text or "does not belong" in answer.text)
    assert people_state(firm) == before
