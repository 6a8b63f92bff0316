"""Two-factor sign-in on the web, and app passwords for drives."""

from __future__ import annotations

import re

import pyotp
import pytest
import requests
from click.testing import CliRunner

from tests.conftest import PASSWORD

WEB = "/.davportal-web"


def _csrf(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def sign_in(portal, login: str, password: str = PASSWORD) -> tuple[requests.Session, requests.Response]:
    browser = requests.Session()
    page = browser.get(portal.url + WEB + "/login")
    response = browser.post(portal.url + WEB + "/login", data={"csrf": _csrf(page.text), "login": login,
                                                               "password": password, "next": "/acme/"})  # fmt: skip
    return browser, response


def enrol(portal, browser: requests.Session) -> tuple[str, list[str]]:
    page = browser.get(portal.url + WEB + "/account")
    secret = re.search(r'name="secret" value="([A-Z2-7]+)"', page.text).group(1)
    assert 'src="data:image/svg+xml' in page.text  # the QR code for the app
    form = {"csrf": _csrf(page.text), "action": "enable", "secret": secret, "code": pyotp.TOTP(secret).now()}
    done = browser.post(portal.url + WEB + "/account", data=form)
    assert "Two-factor sign-in is on." in done.text
    return secret, re.findall(r"<li><code>([0-9a-f]{10})</code></li>", done.text)


@pytest.fixture
def portal(fresh_portal):
    running = fresh_portal()
    running.add_staff("sam")
    running.add_client("acme")
    running.add_contact("alice", "acme")
    return running


def test_two_factor_sign_in_and_app_passwords(portal):
    browser, _ = sign_in(portal, "alice")
    secret, recovery = enrol(portal, browser)
    assert len(recovery) == 8

    # WebDAV: the main password no longer opens it; an app password does.
    assert portal.as_user("alice").propfind("/acme/").status_code == 401
    page = browser.get(portal.url + WEB + "/account")
    created = browser.post(portal.url + WEB + "/account", data={"csrf": _csrf(page.text), "action": "create",
                                                                "name": "Office laptop"})  # fmt: skip
    app_password = re.search(r"(app-\d+-[A-Za-z0-9_-]+)", created.text).group(1)
    assert "shown only once" in created.text
    drive = portal.as_user("alice", app_password)
    assert drive.propfind("/acme/").status_code == 207
    listing = browser.get(portal.url + WEB + "/account").text
    assert "Office laptop" in listing and "never" not in listing.split("Office laptop", 1)[1][:200]
    assert app_password not in listing  # never shown again

    # The web: password, then the code.
    fresh, response = sign_in(portal, "alice")
    assert response.url.endswith(WEB + "/login/code?next=/acme/")
    assert fresh.get(portal.url + "/acme/", headers={"Accept": "text/html"}).url.endswith(WEB + "/login/code")
    token = _csrf(response.text)
    wrong = fresh.post(portal.url + WEB + "/login/code", data={"csrf": token, "code": "000000", "next": "/acme/"})
    assert wrong.status_code == 401
    right = fresh.post(portal.url + WEB + "/login/code",
                       data={"csrf": token, "code": pyotp.TOTP(secret).now(), "next": "/acme/"})  # fmt: skip
    assert right.status_code == 200, (right.url, right.history, right.text[:500])
    assert right.url.endswith("/acme/") and "Client&#39;s shared" in right.text

    # A recovery code works once.
    other, response = sign_in(portal, "alice")
    ok = other.post(portal.url + WEB + "/login/code", data={"csrf": _csrf(response.text), "code": recovery[0]})
    assert ok.status_code == 200
    again, response = sign_in(portal, "alice")
    assert again.post(portal.url + WEB + "/login/code",
                      data={"csrf": _csrf(response.text), "code": recovery[0]}).status_code == 401  # fmt: skip

    # Revoked: refused at once, even though the portal had it cached.
    page = browser.get(portal.url + WEB + "/account")
    app_id = re.search(r'name="id" value="(\d+)"', page.text).group(1)
    browser.post(portal.url + WEB + "/account", data={"csrf": _csrf(page.text), "action": "revoke", "id": app_id})
    assert drive.propfind("/acme/").status_code == 401


def test_staff_can_be_required_to_use_two_factor(fresh_portal):
    running = fresh_portal(auth={"staff_two_factor": True})
    running.add_staff("sam")
    running.add_client("acme")
    browser, response = sign_in(running, "sam")
    assert response.url.endswith(WEB + "/account") and "asks staff to sign in with a code" in response.text
    assert browser.get(running.url + "/acme/", headers={"Accept": "text/html"}).url.endswith(WEB + "/account")
    enrol(running, browser)
    assert browser.get(running.url + "/acme/", headers={"Accept": "text/html"}).status_code == 200


def test_admin_commands(portal, tmp_path):
    import yaml

    from davportal.cli import main

    browser, _ = sign_in(portal, "alice")
    enrol(portal, browser)
    page = browser.get(portal.url + WEB + "/account")
    browser.post(portal.url + WEB + "/account", data={"csrf": _csrf(page.text), "action": "create", "name": "Phone"})
    config = tmp_path / "davportal.yaml"
    settings = portal.portal.settings
    config.write_text(yaml.safe_dump({"davportal": {"database_url": settings.database_url,
                                                    "storage_root": str(settings.storage_root)}}))  # fmt: skip
    runner = CliRunner()
    listed = runner.invoke(main, ["user", "app-passwords", "alice", "--config", str(config)])
    assert listed.exit_code == 0 and "\tPhone\t" in listed.stdout and "never used" in listed.stdout
    assert portal.as_user("alice").propfind("/acme/").status_code == 401
    reset = runner.invoke(main, ["user", "2fa", "reset", "alice", "--config", str(config)])
    assert reset.exit_code == 0 and "is now off" in reset.stdout
    assert portal.as_user("alice").propfind("/acme/").status_code == 207
