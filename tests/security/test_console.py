"""The admin console: only staff whose account is admin find it; for everyone else it does not exist."""

from __future__ import annotations

import pytest

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
