"""Browser sign-in: where a form may send the browser, its tokens, and the second step."""

from __future__ import annotations

import re

import pyotp
import pytest
import requests

from davportal.services import two_factor
from tests.conftest import PASSWORD

WEB = "/.davportal-web"


def _csrf(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def _sign_in(base_url: str, login: str, next_path: str = "/") -> requests.Response:
    browser = requests.Session()
    page = browser.get(base_url + WEB + "/login")
    return browser.post(base_url + WEB + "/login", allow_redirects=False, data={
        "csrf": _csrf(page.text), "login": login, "password": PASSWORD, "next": next_path})  # fmt: skip


@pytest.mark.parametrize("next_path", ["//evil.example/", "/\\evil.example/", "https://evil.example/", "evil", ""])
def test_after_sign_in_the_browser_stays_on_this_server(firm, next_path):
    signed = _sign_in(firm.url, "alice", next_path)
    assert signed.status_code == 303
    assert signed.headers["Location"] == "/"


def test_after_sign_in_the_browser_goes_where_it_was_going(firm):
    signed = _sign_in(firm.url, "alice", "/acme/Client's shared/")
    assert signed.status_code == 303 and signed.headers["Location"] == "/acme/Client%27s%20shared/"


def test_a_token_that_is_not_ascii_is_refused_not_an_error(firm):
    browser = requests.Session()
    page = browser.get(firm.url + WEB + "/login")
    assert _csrf(page.text)
    refused = browser.post(firm.url + WEB + "/login", data={"csrf": "é" * 10, "login": "alice", "password": PASSWORD},
                           allow_redirects=False)  # fmt: skip
    assert refused.status_code == 403


def test_the_contacts_page_offers_no_staff_tools(firm):
    browser = requests.Session()
    page = browser.get(firm.url + WEB + "/login")
    browser.post(firm.url + WEB + "/login", data={"csrf": _csrf(page.text), "login": "alice", "password": PASSWORD})
    html = browser.get(firm.url + "/acme/", headers={"Accept": "text/html"}).text
    assert f'href="{WEB}/account"' in html and f'href="{WEB}/received"' not in html
    assert browser.get(firm.url + WEB + "/received").status_code == 404


@pytest.fixture
def with_two_factor(fresh_portal):
    running = fresh_portal()
    running.add_client("acme")
    running.add_contact("alice", "acme")
    secret = two_factor.new_secret()
    with running.portal.sessions.begin() as session:
        two_factor.enable(session, "alice", secret, pyotp.TOTP(secret).now())
    return running, secret


def test_a_session_waiting_for_its_code_cannot_turn_on_a_new_secret(with_two_factor):
    """The password alone does not open the account page, where a new secret would pass the code by."""
    running, secret = with_two_factor
    browser = requests.Session()
    page = browser.get(running.url + WEB + "/login")
    signed = browser.post(running.url + WEB + "/login", data={"csrf": _csrf(page.text), "login": "alice",
                          "password": PASSWORD})  # fmt: skip
    assert WEB + "/login/code" in signed.url
    csrf = _csrf(signed.text)
    account = browser.get(running.url + WEB + "/account", allow_redirects=False)
    assert account.status_code == 303 and account.headers["Location"].startswith(WEB + "/login/code")
    mine = pyotp.random_base32()
    forged = browser.post(
        running.url + WEB + "/account",
        allow_redirects=False,
        data={"csrf": csrf, "action": "enable", "secret": mine, "code": pyotp.TOTP(mine).now()},
    )
    assert forged.status_code == 303 and forged.headers["Location"].startswith(WEB + "/login/code")
    with running.portal.sessions() as session:
        assert two_factor.second_factor_ok(session, "alice", pyotp.TOTP(secret).now())  # the real secret stays
    assert WEB + "/login/code" in browser.get(running.url + "/acme/", headers={"Accept": "text/html"}).url
