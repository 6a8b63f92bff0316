"""Basic auth against the database: argon2, the cache, disabled logins, slow-down on failures."""

from __future__ import annotations

import logging

import pytest

from provisioning import accounts
from tests.conftest import ADMIN, TEAM, basic_auth, raw_http


@pytest.fixture
def portal(fresh_portal):
    running = fresh_portal(auth={"slowdown_after": 100})
    running.add_staff("sam")
    running.add_client("acme")
    running.add_contact("alice", "acme")
    return running


def test_unknown_login_and_wrong_password_get_401(portal):
    assert portal.as_user("nobody").propfind("/").status_code == 401
    response = portal.as_user("alice", "wrong password").propfind("/")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Basic")
    assert "Digest" not in response.headers["WWW-Authenticate"]


def test_unknown_login_costs_one_hash_like_a_wrong_password(portal):
    counter = portal.portal.authenticator
    before = counter.hashes_verified
    portal.as_user("nobody").propfind("/")
    assert counter.hashes_verified == before + 1
    portal.as_user("alice", "wrong password").propfind("/")
    assert counter.hashes_verified == before + 2


def test_a_verified_password_is_not_hashed_again(portal):
    alice = portal.as_user("alice")
    assert alice.propfind("/acme/").status_code == 207
    counter = portal.portal.authenticator
    before = counter.hashes_verified
    for _ in range(20):
        assert alice.propfind("/acme/").status_code == 207
    assert counter.hashes_verified == before


def test_a_changed_password_takes_effect_at_once(portal):
    alice = portal.as_user("alice")
    assert alice.propfind("/acme/").status_code == 207
    with portal.portal.sessions.begin() as session:
        accounts.set_password(session, "alice", "a brand new password")
    assert alice.propfind("/acme/").status_code == 401
    assert portal.as_user("alice", "a brand new password").propfind("/acme/").status_code == 207


def test_a_disabled_login_is_refused_at_once(portal):
    alice = portal.as_user("alice")
    assert alice.propfind("/acme/").status_code == 207
    with portal.portal.sessions.begin() as session:
        accounts.disable(session, "alice", actor=ADMIN)
    assert alice.propfind("/acme/").status_code == 401
    assert alice.request("GET", f"/acme/{TEAM}/").status_code == 401


@pytest.mark.parametrize("header", [
    "Basic !!!not-base64!!!",
    "Basic " + "bm8tY29sb24=",  # "no-colon"
    "Basic " + "/w==",  # 0xff: not UTF-8
    "Basic",
    "Digest username=\"alice\"",
])  # fmt: skip
def test_malformed_authorization_is_refused_cleanly(portal, header):
    status, headers, body = raw_http(
        portal.url, f"PROPFIND / HTTP/1.1\r\nHost: t\r\nDepth: 0\r\nAuthorization: {header}\r\n\r\n".encode()
    )
    assert status == 401
    assert headers["www-authenticate"].startswith("Basic")


def test_failures_are_logged(portal, caplog):
    with caplog.at_level(logging.WARNING, logger="davportal.auth"):
        portal.as_user("alice", "guess").propfind("/")
    assert "Failed login for 'alice'" in caplog.text


def test_basic_header_with_utf8_password(fresh_portal):
    running = fresh_portal()
    running.add_client("acme")
    with running.portal.sessions.begin() as session:
        accounts.add_staff(session, "zoe", password="pässwörd-ünïcode")
    status, _, _ = raw_http(running.url, (
        "PROPFIND / HTTP/1.1\r\nHost: t\r\nDepth: 0\r\n"
        f"Authorization: {basic_auth('zoe', 'pässwörd-ünïcode')}\r\n\r\n").encode())  # fmt: skip
    assert status == 207
