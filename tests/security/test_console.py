"""The admin console: only staff whose account is admin find it; for everyone else it does not exist."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from davportal.core.models import Account, Client, LoginThrottle, Membership
from davportal.web.console import SECTIONS
from tests.conftest import Browser, signed_in

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
