"""In Chromium: an invited contact gets in by themselves, forgets their password, changes it."""

from __future__ import annotations

import re
import threading

import pytest

from davportal.notifications.worker import Sender
from tests.browser.conftest import LIMIT_MS, sign_in, until
from tests.conftest import PASSWORD, TEAM, Dav

PUBLIC_URL = "https://portal.dupont.example"
FIRST, SECOND, THIRD = "plum tree in the yard", "seven swans swimming", "a quiet harbour at dusk"
WEB = "/.davportal-web"


@pytest.fixture
def office(fresh_portal, inbox):
    running = fresh_portal(
        firm_name="Dupont & Søn LLP",
        mail={"host": "127.0.0.1", "port": inbox.port, "security": "none", "from_address": "portal@dupont.example"},
        notifications={"public_url": PUBLIC_URL + "/", "digest_seconds": 2},  # the sender looks every 0.5 s
    )
    running.add_staff("sam", admin=True)
    running.add_client("acme", "Acme Ltd")
    running.as_user("sam").put(f"/acme/{TEAM}/Engagement letter.pdf", b"%PDF-1.4 letter")
    return running


@pytest.fixture
def sender(office, inbox):
    """The portal's own sender, as `serve` runs it; each message the test SMTP server takes is signalled."""
    arrived = threading.Semaphore(0)
    inbox.on_data = arrived.release
    running = Sender(office.portal)
    running.start()
    yield arrived
    running.stop()
    running.join()


def _delivered_link(running, inbox, arrived) -> str:
    """The link of the next email to alice, once the portal's sender has delivered it."""
    assert arrived.acquire(timeout=LIMIT_MS / 1000), "no email arrived"
    messages = inbox.to("alice@acme.example")
    text = messages[-1].get_body(("plain",)).get_content()
    assert text.startswith("Hello Alice Martin,")
    link = re.search(rf"{re.escape(PUBLIC_URL)}(/\S+)", text).group(1)
    return running.url + link  # the portal's public address stands for this test server's


def _choose_password(page, password: str) -> None:
    page.fill("input[name=password]", password)
    page.fill("input[name=again]", password)
    page.click("button[type=submit]")
    page.wait_for_load_state()


def test_an_invited_contact_gets_in_forgets_and_changes_their_password(office, inbox, sender, open_page, tmp_path):
    # The admin adds the contact in the console; the invitation is ticked already.
    admin = open_page()
    sign_in(admin, office.url, "sam", PASSWORD)
    admin.get_by_role("link", name="Administration", exact=True).click()
    admin.get_by_role("link", name="Clients", exact=True).click()
    admin.get_by_role("link", name="acme", exact=True).click()
    admin.fill("input[name=login]", "alice")
    admin.fill("input[name=name]", "Alice Martin")
    admin.fill("input[name=email]", "alice@acme.example")
    assert admin.is_checked("input[name=invite]")
    admin.click("text=Add the contact")
    admin.wait_for_load_state()
    assert "alice" in admin.inner_text("main") and "not signed up yet" in admin.inner_text("main")
    invitation = _delivered_link(office, inbox, sender)

    page = open_page()
    page.goto(invitation)
    assert "Welcome, Alice Martin" in page.inner_text("main")
    page.screenshot(path=str(tmp_path / "invitation.png"), full_page=True)
    page.fill("input[name=password]", "short")
    page.fill("input[name=again]", "short")
    assert "more characters" in page.inner_text("#strength")  # said while typing
    _choose_password(page, FIRST)
    assert page.url == office.url + "/"
    assert page.inner_text("header .who") == "Alice Martin"  # pages call them by name too
    page.click("text=Acme Ltd")
    page.click(f"text={TEAM}")
    assert "Engagement letter.pdf" in page.inner_text("table.entries")

    used = open_page()
    used.goto(invitation)
    assert "This link does not work" in used.inner_text("main") and "already used" in used.inner_text("main")

    # Forgot the password: ask by email address, follow the new link.
    forgetful = open_page()
    forgetful.goto(office.url + "/")
    forgetful.click("text=Forgot your password?")
    forgetful.fill("input[name=who]", "alice@acme.example")
    forgetful.click("button[type=submit]")
    forgetful.wait_for_selector("text=Check your email")
    forgetful.goto(_delivered_link(office, inbox, sender))
    assert "Choose a new password" in forgetful.inner_text("main")
    _choose_password(forgetful, SECOND)
    assert forgetful.url == office.url + "/" and "Acme Ltd" in forgetful.inner_text("main")
    assert Dav(office.url, "alice", FIRST).propfind("/acme/").status_code == 401

    # A password changed on the account page ends the other browser and the drive with the old one.
    other = open_page()
    sign_in(other, office.url, "alice", SECOND)
    drive = Dav(office.url, "alice", SECOND)
    assert drive.propfind("/acme/").status_code == 207
    forgetful.goto(office.url + WEB + "/account")
    forgetful.fill("input[name=current]", SECOND)
    forgetful.fill("input[name=password]", THIRD)
    forgetful.fill("input[name=again]", THIRD)
    forgetful.click("text=Change my password")
    forgetful.wait_for_selector("text=Your password is changed")
    forgetful.screenshot(path=str(tmp_path / "password-changed.png"), full_page=True)
    until(lambda: drive.propfind("/acme/").status_code == 401, "the drive's old password refused")
    other.goto(office.url + "/acme/")
    assert other.url.startswith(office.url + WEB + "/login")
    forgetful.goto(office.url + "/acme/")
    assert "Sign in" not in forgetful.title() and TEAM in forgetful.inner_text("main")
    assert Dav(office.url, "alice", THIRD).propfind("/acme/").status_code == 207
