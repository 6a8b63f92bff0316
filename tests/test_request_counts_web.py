"""A signed-in browser's page reads its login's account once, whatever it shows."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest
import requests

from tests.conftest import CLIENT, PASSWORD, TEAM
from tests.test_query_counts import StatementCounter

WEB = "/.davportal-web"
ACCOUNT_TABLE = re.compile(r"\baccount\b", re.IGNORECASE)


def signed_in(base_url: str, login: str) -> requests.Session:
    """A browser's session, signed in over HTTP as the login page does it."""
    browser = requests.Session()
    page = browser.get(base_url + WEB + "/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    assert browser.cookies.get("davportal_login") == token
    signed = browser.post(base_url + WEB + "/login", data={"csrf": token, "login": login, "password": PASSWORD},
                          allow_redirects=False)  # fmt: skip
    assert signed.status_code == 303, signed.text
    return browser


@pytest.mark.parametrize("login, path", [("alice", "/acme/"), ("alice", f"/acme/{CLIENT}/"),
                                         ("sam", "/"), ("sam", f"/acme/{TEAM}/")])  # fmt: skip
def test_a_folder_page_reads_the_account_at_most_once(firm, still, login, path):
    still(firm)
    browser = signed_in(firm.url, login)
    url = firm.url + quote(path)
    assert browser.get(url, headers={"Accept": "text/html"}).status_code == 200  # warm
    with StatementCounter(firm.portal.engine) as counter:
        page = browser.get(url, headers={"Accept": "text/html"}, allow_redirects=False)
    assert page.status_code == 200 and '<table class="entries">' in page.text
    assert login in page.text  # the page is the signed-in login's
    touching = [s for s in counter.statements if ACCOUNT_TABLE.search(s)]
    assert len(touching) <= 1, touching


def test_a_page_of_the_portal_reads_the_account_at_most_once(firm):
    browser = signed_in(firm.url, "sam")
    with StatementCounter(firm.portal.engine) as counter:
        page = browser.get(firm.url + WEB + "/received", allow_redirects=False)
    assert page.status_code == 200 and "Received from clients" in page.text
    assert len([s for s in counter.statements if ACCOUNT_TABLE.search(s)]) <= 1
