"""The account pages over real HTTP: a set-up link, forgot password, changing the password,
two-factor off and new recovery codes; tokens kept out of the audit trail and Referer headers."""

from __future__ import annotations

import email
import email.policy
import re
from datetime import timedelta

import pyotp
import pytest
import requests
from sqlalchemy import select

from davportal.core.models import Account, AuditEvent, OutboxMessage, WebSession
from davportal.services import account_links, two_factor
from policy import Actor, Role
from provisioning import accounts
from tests.conftest import PASSWORD, Dav

WEB = "/.davportal-web"
ADMIN = Actor("cli:root", Role.STAFF, is_admin=True)
CHOSEN = "plum tree in the yard"
HTML = {"Accept": "text/html"}


def _csrf(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


@pytest.fixture
def portal(fresh_portal):
    running = fresh_portal(firm_name="Dupont <&> Søn", notifications={"public_url": "https://portal.example/"})
    running.add_client("acme", "Acme Ltd")
    with running.portal.sessions.begin() as session:
        accounts.add_contact(session, "alice", client_id="acme", password=None, email="alice@acme.example",
                             name="Alice <b>Martin</b>")  # fmt: skip
        accounts.add_contact(session, "carol", client_id="acme", password=PASSWORD, email="carol@acme.example")
    return running


def _tokens(running) -> list[str]:
    with running.portal.sessions() as session:
        raws = session.scalars(select(OutboxMessage.raw).order_by(OutboxMessage.id)).all()
    bodies = [
        email.message_from_string(r, policy=email.policy.default).get_body(("plain",)).get_content() for r in raws
    ]
    return [re.search(r"/\.davportal-web/link\?token=([\w-]+)", body).group(1) for body in bodies]


def _invite(running, login="alice"):
    with running.portal.sessions.begin() as session:
        account_links.invite(session, running.portal.settings, login, actor=ADMIN)
    return _tokens(running)[-1]


def _choose(browser: requests.Session, running, token: str, password=CHOSEN, again=None, **extra):
    page = browser.get(f"{running.url}{WEB}/link", params={"token": token})
    if page.status_code != 200:
        return page
    form = {"csrf": _csrf(page.text), "token": token, "password": password, "again": again or password, **extra}
    return browser.post(f"{running.url}{WEB}/link", allow_redirects=False, data=form)


def test_an_invited_contact_chooses_a_password_and_lands_on_their_documents(portal):
    token = _invite(portal)
    browser = requests.Session()
    page = browser.get(f"{portal.url}{WEB}/link", params={"token": token})
    assert page.status_code == 200 and page.headers["Referrer-Policy"] == "no-referrer"
    assert "Welcome, Alice &lt;b&gt;Martin&lt;/b&gt;" in page.text and "Dupont &lt;&amp;&gt; Søn" in page.text
    chosen = _choose(browser, portal, token)
    assert chosen.status_code == 303 and chosen.headers["Location"] == "/"
    home = browser.get(portal.url + "/", headers=HTML)
    assert home.status_code == 200 and "Acme Ltd" in home.text
    assert Dav(portal.url, "alice", CHOSEN).propfind("/acme/").status_code == 207
    again = browser.get(f"{portal.url}{WEB}/link", params={"token": token})  # signed in now: audited requests
    assert again.status_code == 410 and "already used" in again.text and f"{WEB}/forgot" in again.text
    with portal.portal.sessions() as session:
        assert session.get(Account, "alice").last_sign_in_at is not None
        trail = session.scalars(select(AuditEvent)).all()
    assert any(e.action == "PASSWORD-SET" and e.login == "alice" for e in trail)
    assert not [e for e in trail if token in " ".join(str(v) for v in (e.path, e.detail, e.destination, e.login))]


def test_the_set_up_page_can_lead_on_to_two_factor(portal):
    chosen = _choose(requests.Session(), portal, _invite(portal), two_factor="1")
    assert chosen.status_code == 303 and chosen.headers["Location"] == f"{WEB}/account"


@pytest.mark.parametrize(
    "password, again, sentence",
    [
        ("short one", "short one", "too short"),
        ("password123", "password123", "most common"),
        ("alice-alice", "alice-alice", "not contain your login"),
        (CHOSEN, CHOSEN + "!", "not the same"),
    ],
)
def test_a_refused_password_says_why_and_the_link_still_works(portal, password, again, sentence):
    token = _invite(portal)
    browser = requests.Session()
    refused = _choose(browser, portal, token, password, again)
    assert refused.status_code == 400 and sentence in refused.text
    assert _choose(browser, portal, token).status_code == 303


@pytest.mark.parametrize("token", ["", "not-a-token", "x" * 500])
def test_an_unknown_link_is_404_with_a_way_forward(portal, token):
    page = requests.get(f"{portal.url}{WEB}/link", params={"token": token})
    assert page.status_code == 404 and f"{WEB}/forgot" in page.text
    assert page.headers["Referrer-Policy"] == "no-referrer"


def test_an_expired_link_says_so_on_the_portals_clock(portal, monkeypatch):
    token = _invite(portal)
    authenticator = portal.portal.authenticator
    later = authenticator.clock() + timedelta(hours=portal.portal.settings.accounts.invite_hours, seconds=1)
    monkeypatch.setattr(authenticator, "clock", lambda: later)
    page = requests.get(f"{portal.url}{WEB}/link", params={"token": token})
    assert page.status_code == 410 and "expired" in page.text and "new invitation" in page.text


def test_the_link_form_needs_its_page_token(portal):
    token = _invite(portal)
    refused = requests.post(f"{portal.url}{WEB}/link", allow_redirects=False,
                            data={"token": token, "password": CHOSEN, "again": CHOSEN, "csrf": "forged"})  # fmt: skip
    assert refused.status_code == 403
    with portal.portal.sessions() as session:
        assert session.get(Account, "alice").password_hash is None


def _forgot(running, who: str) -> requests.Response:
    browser = requests.Session()
    page = browser.get(f"{running.url}{WEB}/forgot")
    return browser.post(f"{running.url}{WEB}/forgot", data={"csrf": _csrf(page.text), "who": who})


def test_forgot_password_answers_the_same_whoever_is_asked_for(portal):
    sign_in = requests.get(f"{portal.url}{WEB}/login")
    assert f'href="{WEB}/forgot"' in sign_in.text
    answers = {}
    for who in ("carol", "nobody", "carol@acme.example", "nobody@acme.example"):
        answer = _forgot(portal, who)
        assert answer.status_code == 200
        answers[who] = answer.text.replace(who, "WHO")
    assert len(set(answers.values())) == 1
    assert len(_tokens(portal)) == 2  # carol's, twice


def test_a_reset_link_sets_a_new_password_and_ends_the_old_one(portal):
    _forgot(portal, "carol@acme.example")
    (token,) = _tokens(portal)
    chosen = _choose(requests.Session(), portal, token)
    assert chosen.status_code == 303
    assert Dav(portal.url, "carol", PASSWORD).propfind("/acme/").status_code == 401
    assert Dav(portal.url, "carol", CHOSEN).propfind("/acme/").status_code == 207


def _signed_in(running, login, password=PASSWORD) -> requests.Session:
    browser = requests.Session()
    page = browser.get(f"{running.url}{WEB}/login")
    signed = browser.post(f"{running.url}{WEB}/login", data={"csrf": _csrf(page.text), "login": login,
                                                             "password": password})  # fmt: skip
    assert signed.status_code == 200, signed.text
    return browser


def _account_post(browser, running, **data) -> requests.Response:
    page = browser.get(f"{running.url}{WEB}/account")
    return browser.post(f"{running.url}{WEB}/account", data={"csrf": _csrf(page.text), **data})


def test_changing_the_password_keeps_this_browser_and_ends_every_other(portal, still):
    still(portal)  # the per-node cache may not be what ends the others: the change itself must
    this, other = _signed_in(portal, "carol"), _signed_in(portal, "carol")
    drive = Dav(portal.url, "carol", PASSWORD)
    assert drive.propfind("/acme/").status_code == 207
    changed = _account_post(this, portal, action="password", current=PASSWORD, password=CHOSEN, again=CHOSEN)
    assert changed.status_code == 200 and "Your password is changed" in changed.text
    assert this.get(portal.url + "/acme/", headers=HTML).status_code == 200
    assert other.get(portal.url + "/acme/", headers=HTML, allow_redirects=False).status_code == 303
    assert drive.propfind("/acme/").status_code == 401
    assert Dav(portal.url, "carol", CHOSEN).propfind("/acme/").status_code == 207
    with portal.portal.sessions() as session:
        assert len(session.scalars(select(WebSession).where(WebSession.login == "carol")).all()) == 1


@pytest.mark.parametrize(
    "current, password, again, sentence",
    [
        ("wrong password", CHOSEN, CHOSEN, "not your current password"),
        (PASSWORD, "qwertyuiop", "qwertyuiop", "most common"),
        (PASSWORD, CHOSEN, "something else", "not the same"),
    ],
)
def test_a_refused_password_change_changes_nothing(portal, current, password, again, sentence):
    browser = _signed_in(portal, "carol")
    refused = _account_post(browser, portal, action="password", current=current, password=password, again=again)
    assert sentence in refused.text
    assert Dav(portal.url, "carol", PASSWORD).propfind("/acme/").status_code == 207
    assert browser.get(portal.url + "/acme/", headers=HTML).status_code == 200


def test_the_account_page_form_needs_the_session_token(portal):
    browser = _signed_in(portal, "carol")
    refused = browser.post(f"{portal.url}{WEB}/account", data={"csrf": "forged", "action": "password",
                           "current": PASSWORD, "password": CHOSEN, "again": CHOSEN})  # fmt: skip
    assert refused.status_code == 403
    assert Dav(portal.url, "carol", PASSWORD).propfind("/acme/").status_code == 207


def test_two_factor_has_a_setup_link_new_recovery_codes_and_can_be_turned_off(portal):
    browser = _signed_in(portal, "carol")
    page = browser.get(f"{portal.url}{WEB}/account").text
    assert re.search(r'href="otpauth://totp/[^"]*carol[^"]*secret=', page)
    secret = two_factor.new_secret()
    with portal.portal.sessions.begin() as session:
        first_codes = two_factor.enable(session, "carol", secret, pyotp.TOTP(secret).now())
    renewed = _account_post(browser, portal, action="recovery-codes", current=PASSWORD, code=pyotp.TOTP(secret).now())
    codes = re.findall(r"<li><code>([0-9a-f]{10})</code></li>", renewed.text)
    assert len(codes) == two_factor.RECOVERY_CODES and not set(codes) & set(first_codes)
    refused = _account_post(browser, portal, action="two-factor-off", current=PASSWORD, code="000000")
    assert "not right" in refused.text
    turned_off = _account_post(browser, portal, action="two-factor-off", current=PASSWORD, code=codes[0])
    assert "Two-factor sign-in is off" in turned_off.text
    with portal.portal.sessions() as session:
        assert session.get(Account, "carol").totp_secret is None


def test_a_sign_in_records_its_time_but_a_remembered_drive_login_does_not_write(portal):
    drive = Dav(portal.url, "carol", PASSWORD)
    assert drive.propfind("/acme/").status_code == 207
    with portal.portal.sessions() as session:
        first = session.get(Account, "carol").last_sign_in_at
    assert first is not None
    with portal.portal.engine.begin() as connection:
        connection.execute(Account.__table__.update().where(Account.login == "carol").values(last_sign_in_at=None))
    assert drive.propfind("/acme/").status_code == 207  # verified a moment ago: no new sign-in
    with portal.portal.sessions() as session:
        assert session.get(Account, "carol").last_sign_in_at is None
    _signed_in(portal, "carol")
    with portal.portal.sessions() as session:
        assert session.get(Account, "carol").last_sign_in_at is not None
