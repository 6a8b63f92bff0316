"""Invitations and password resets as services, on a real database: links, expiry, throttle, emails."""

from __future__ import annotations

import email
import email.policy
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from davportal.core.errors import BadRequest, Conflict, NotFound
from davportal.core.models import AccountLink, AuditEvent, OutboxMessage, utcnow
from davportal.services import account_links, passwords
from davportal.services.account_links import LinkNotUsable
from davportal.services.passwords import verify
from policy import Actor, Role
from provisioning import accounts
from tests.conftest import PASSWORD

ADMIN = Actor("cli:root", Role.STAFF, is_admin=True)
NEW_PASSWORD = "plum tree in the yard"


@pytest.fixture
def portal(fresh_portal):
    running = fresh_portal(firm_name="Dupont & Søn LLP", notifications={"public_url": "https://portal.example/"})
    running.add_client("acme", "Acme Ltd")
    with running.portal.sessions.begin() as session:
        accounts.add_contact(session, "alice", client_id="acme", password=None, email="Alice@acme.example",
                             name="Alice Martin")  # fmt: skip
        accounts.add_contact(session, "nomail", client_id="acme", password=None)
        accounts.add_staff(session, "gone", password=None, email="gone@dupont.example")
        accounts.disable(session, "gone")
    return running.portal


def _invite(portal, login="alice", now=None):
    with portal.sessions.begin() as session:
        account_links.invite(session, portal.settings, login, actor=ADMIN, now=now)


def _emails(portal) -> list[email.message.EmailMessage]:
    with portal.sessions() as session:
        raws = session.scalars(select(OutboxMessage.raw).order_by(OutboxMessage.id)).all()
    return [email.message_from_string(raw, policy=email.policy.default) for raw in raws]


def _token(message) -> str:
    text = message.get_body(("plain",)).get_content()
    return re.search(r"https://portal\.example/\.davportal-web/link\?token=([\w-]+)", text).group(1)


def _redeem(portal, token, password=NEW_PASSWORD, now=None):
    with portal.sessions.begin() as session:
        return account_links.redeem(session, token, password, now=now).login


def test_an_invitation_is_an_email_with_a_link_that_sets_the_password_once(portal):
    _invite(portal)
    (message,) = _emails(portal)
    assert message["To"] == "Alice@acme.example"
    assert "Dupont & Søn LLP" in message["Subject"] and "Dupont & Søn LLP" in message["From"]
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert text.startswith("Hello Alice Martin,") and "Hello Alice Martin," in html
    assert "Your login is: alice" in text and "3 days" in text
    token = _token(message)
    with portal.sessions() as session:
        (link,) = session.scalars(select(AccountLink)).all()
        assert link.token_hash == account_links.token_hash(token) and token not in link.token_hash
        assert link.purpose == "invite"
        (event,) = session.scalars(select(AuditEvent).where(AuditEvent.action == "INVITE")).all()
        assert event.login == "cli:root" and "alice" in event.detail
    assert _redeem(portal, token) == "alice"
    with portal.sessions() as session:
        account = accounts._get(session, "alice")
        assert verify(account.password_hash, NEW_PASSWORD) and account.last_sign_in_at is not None
    with pytest.raises(LinkNotUsable, match="already used"):
        _redeem(portal, token, "another fine password")


@pytest.mark.parametrize(
    "login, error, sentence",
    [
        ("ghost", NotFound, "no login 'ghost'"),
        ("nomail", BadRequest, "no email address"),
        ("gone", Conflict, "disabled"),
    ],
)
def test_an_invitation_is_refused_plainly_and_leaves_nothing(portal, login, error, sentence):
    with pytest.raises(error, match=sentence):
        _invite(portal, login)
    with portal.sessions() as session:
        assert session.scalars(select(AccountLink)).all() == []
        assert session.scalars(select(OutboxMessage)).all() == []


def test_a_resent_invitation_replaces_the_first_link(portal):
    _invite(portal)
    _invite(portal)
    first, second = (_token(m) for m in _emails(portal))
    with pytest.raises(LinkNotUsable, match="newer one replaced it"):
        _redeem(portal, first)
    assert _redeem(portal, second) == "alice"


def test_a_link_expires_on_the_clock(portal):
    issued = utcnow()
    _invite(portal, now=issued)
    token = _token(_emails(portal)[0])
    hours = portal.settings.accounts.invite_hours
    with pytest.raises(LinkNotUsable, match="expired") as refused:
        _redeem(portal, token, now=issued + timedelta(hours=hours, seconds=1))
    assert refused.value.purpose == "invite"
    assert _redeem(portal, token, now=issued + timedelta(hours=hours, seconds=-1)) == "alice"


@pytest.mark.parametrize(
    "password, sentence",
    [
        ("short1", "too short"),
        ("password123", "most common"),
        ("qwertyuiop", "most common"),
        ("Alice2024!!", "contain your login or your name"),
        ("AliceMartin1", "contain your login or your name"),
    ],
)
def test_a_weak_password_is_refused_and_the_link_still_works(portal, password, sentence):
    _invite(portal)
    token = _token(_emails(portal)[0])
    with pytest.raises(BadRequest, match=sentence):
        _redeem(portal, token, password)
    with portal.sessions() as session:
        assert accounts._get(session, "alice").password_hash is None
    assert _redeem(portal, token) == "alice"


@pytest.mark.parametrize(
    "password, login, name, refused",
    [
        ("correct horse battery", "alice", None, False),
        ("tr0ub4dor&3x", "alice", None, False),
        ("123456789", "alice", None, True),
        ("iloveyou1", "alice", None, True),
        ("bob.smith99", "bob.smith", None, True),
        ("Alice@Acme.Example!", "alice@acme.example", None, True),
        ("jean-pierre 1", "jp", "Jean Pierre", True),
        ("ninechars", "alice", None, True),
    ],
)
def test_password_rules(password, login, name, refused):
    assert bool(passwords.problem(password, login=login, name=name)) == refused


def test_an_admin_setting_a_password_meets_the_same_rules(portal):
    with portal.sessions.begin() as session, pytest.raises(BadRequest, match="most common"):
        accounts.set_password(session, "alice", "password1234")


def _reset(portal, who, address="203.0.113.5", now=None):
    with portal.sessions.begin() as session:
        account_links.request_reset(session, portal.settings, who, address, now=now)


@pytest.mark.parametrize("who", ["alice", "alice@ACME.example", "Alice@acme.example"])
def test_a_reset_goes_to_the_login_by_login_or_address(portal, who):
    with portal.sessions.begin() as session:
        accounts.set_password(session, "alice", PASSWORD)
    _reset(portal, who)
    (message,) = _emails(portal)
    assert message["To"] == "Alice@acme.example" and "reset your password" in message["Subject"]
    assert "Choose a new password here" in message.get_body(("plain",)).get_content()
    assert _redeem(portal, _token(message)) == "alice"


@pytest.mark.parametrize("who", ["ghost", "nobody@acme.example", "gone", "nomail", "", "%@acme.example"])
def test_a_reset_for_no_usable_login_sends_nothing(portal, who):
    _reset(portal, who)
    assert _emails(portal) == []


def test_resets_are_throttled_per_address_and_per_network(portal):
    now = utcnow()
    for _ in range(account_links.FREE_RESETS):
        _reset(portal, "alice", now=now)
    assert len(_emails(portal)) == account_links.FREE_RESETS
    _reset(portal, "alice", address="198.51.100.7", now=now)  # the address waits, from any network
    assert len(_emails(portal)) == account_links.FREE_RESETS
    later = now + timedelta(seconds=account_links.RESET_FIRST_WAIT_SECONDS + 1)
    _reset(portal, "alice", address="198.51.100.7", now=later)
    assert len(_emails(portal)) == account_links.FREE_RESETS + 1
    # One network asking for many addresses waits too.
    for number in range(account_links.FREE_RESETS):
        _reset(portal, f"someone{number}@acme.example", address="192.0.2.1", now=later)
    _reset(portal, "alice", address="192.0.2.9", now=later)
    assert len(_emails(portal)) == account_links.FREE_RESETS + 1


def test_names_are_set_and_cleared(portal):
    with portal.sessions.begin() as session:
        accounts.set_name(session, "nomail", "  Bob   Durand ")
    with portal.sessions() as session:
        assert accounts._get(session, "nomail").name == "Bob Durand"
    with portal.sessions.begin() as session:
        accounts.set_name(session, "nomail", "")
    with portal.sessions() as session:
        assert accounts._get(session, "nomail").name is None
    with portal.sessions.begin() as session, pytest.raises(BadRequest, match="at most 200"):
        accounts.set_name(session, "nomail", "x" * 201)
    with portal.sessions.begin() as session, pytest.raises(NotFound):
        accounts.set_name(session, "ghost", "Ghost")
