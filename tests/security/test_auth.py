"""Authentication: every failed login costs the same one argon2 verification and gets the same
answer; malformed Basic headers are a clean 401; no header but Authorization makes anyone anybody.

Counts, not wall times: `portal.authenticator.hashes_verified`. tests/test_auth.py covers the plain
unknown-login and wrong-password counts and five malformed headers; these are the variants an
attacker would try next. The firm here has the failed-login slow-down out of the way, so that
the counts measure the verification and nothing else.
"""

from __future__ import annotations

import base64

import pytest

from tests.conftest import ADMIN
from tests.security.conftest import PASSWORD, TEAM_Q, send


@pytest.fixture(scope="module")
def auth_firm(lenient_firm):
    lenient_firm.add_contact("dora", "acme")
    from provisioning import accounts

    with lenient_firm.portal.sessions.begin() as session:
        accounts.disable(session, "dora", actor=ADMIN)
    return lenient_firm


def _basic(raw: bytes) -> str:
    return "Basic " + base64.b64encode(raw).decode()


FAILED_LOGINS = {
    # (login, password) as the client sends them
    "unknown login": ("nobody-at-all", "whatever password"),
    "wrong password": ("alice", "wrong password"),
    "disabled login, right password": ("dora", PASSWORD),
    "disabled login, wrong password": ("dora", "wrong password"),
    "login in upper case": ("ALICE", "wrong password"),
    "login with a trailing space": ("alice ", "wrong password"),
    "full-width login": ("ａｌｉｃｅ", "wrong password"),
    "login with a NUL": ("ali\x00ce", "wrong password"),
    "SQL wildcard login": ("al%", "wrong password"),
    "SQL injection login": ("' OR '1'='1' --", "wrong password"),
    "4 KiB login": ("a" * 4096, "wrong password"),
    "empty password": ("alice", ""),
    "16 KiB password": ("alice", "p" * 16384),  # larger headers are refused before any login (431/413)
}


@pytest.mark.parametrize("login, password", FAILED_LOGINS.values(), ids=FAILED_LOGINS.keys())
def test_every_failed_login_costs_exactly_one_verification(auth_firm, login, password):
    """CWE-208 (observable timing discrepancy) / CWE-204, the login-enumeration class fixed in many
    servers by verifying against a dummy hash: whatever the login (unknown, disabled, look-alike,
    overlong, injected) and password, a failed login costs exactly one argon2 verification - never
    zero (an instant answer says the login does not exist) and never two."""
    counter = auth_firm.portal.authenticator
    before = counter.hashes_verified
    reply = send(auth_firm, "PROPFIND", "/", login=None, headers=[
        ("Authorization", _basic(f"{login}:{password}".encode())), ("Depth", "0")])  # fmt: skip
    assert reply.status == 401, (reply.status, reply.text)
    assert counter.hashes_verified - before == 1


def test_control_a_right_password_is_verified_once_then_cached(auth_firm):
    """Control for the counts above: the counter moves with real verifications only."""
    counter = auth_firm.portal.authenticator
    auth_firm.add_contact("fred", "acme")
    before = counter.hashes_verified
    for _ in range(3):
        assert send(auth_firm, "PROPFIND", "/", login="fred", headers=[("Depth", "0")]).status == 207
    assert counter.hashes_verified - before == 1


def test_unknown_wrong_and_disabled_logins_get_the_same_answer(auth_firm):
    """CWE-204 (response discrepancy; user enumeration): an unknown login, a wrong password and a
    disabled login answer byte for byte the same (but the Date)."""
    replies = [
        send(auth_firm, "PROPFIND", "/", login=login, password=password, headers=[("Depth", "0")])
        for login, password in (("nobody-at-all", "x" * 12), ("alice", "y" * 12), ("dora", PASSWORD))
    ]
    assert replies[0].status == 401
    assert replies[0].without_date() == replies[1].without_date() == replies[2].without_date()


MALFORMED = {
    # pallets/werkzeug#1816 (parse_authorization_header raised UnicodeDecodeError) and WsgiDAV's own
    # 500 on bad Basic headers (wsgidav_ext/guard.py): every one of these must be a plain 401.
    "latin-1 password": _basic("alice:pässwörd".encode("latin-1")),
    "latin-1 login": _basic("alïce:x".encode("latin-1")),
    "invalid UTF-8 both sides": _basic(b"\xff\xfe:\xc3\x28"),
    "NUL bytes": _basic(b"\x00:\x00"),
    "empty login": _basic(f":{PASSWORD}".encode()),
    "colon only": _basic(b":"),
    "over-padded": "Basic YWxpY2U6eA======",
    "spaces inside the base64": "Basic YWxp Y2U6 eA==",
    "URL-safe alphabet": "Basic " + base64.urlsafe_b64encode(b"\xfb\xff:\xfe\xff").decode(),
    "tab after the scheme": "Basic\t" + _basic(b"alice:x")[6:],
    "two credentials": _basic(b"alice:x") + ", " + _basic(b"sam:y"),
    "NTLM (what Windows tries first)": "NTLM TlRMTVNTUAABAAAAB4IIAAAAAAAAAAAAAAAAAAAAAAA=",
    "Negotiate": "Negotiate YIIGhgYGKwYBBQUCoIIGejCCBnagMDAuBgkqhkiC9xIBAgIGCSqGSIb3EgECAgYK",
    "Bearer": "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJzYW0ifQ.",
}


@pytest.mark.parametrize("header", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_authorization_is_a_clean_401(auth_firm, header):
    """pallets/werkzeug#1816 / CWE-755 (a malformed or non-UTF-8 Basic header raising a 500 that
    logs or leaks the credentials): the answer is 401 with a Basic challenge, the header is not
    echoed, and nobody is signed in."""
    reply = send(
        auth_firm, "PROPFIND", f"/acme/{TEAM_Q}/", login=None, headers=[("Authorization", header), ("Depth", "0")]
    )
    assert reply.status == 401, (reply.status, reply.text)
    assert reply.headers.get("www-authenticate", "").startswith("Basic")
    token = header.split(None, 1)[-1]
    assert token.encode() not in reply.body


def test_an_enormous_authorization_header_is_refused_cleanly(auth_firm):
    """CWE-400 / CWE-770: 100 KiB of base64 in Authorization is refused (401, or 400/413/431 for the
    size) without a 500."""
    reply = send(
        auth_firm, "PROPFIND", "/", login=None, headers=[("Authorization", "Basic " + "QUFB" * 25_000), ("Depth", "0")]
    )
    assert reply.status in (400, 401, 413, 431), (reply.status, reply.text[:200])


IDENTITY_HEADERS = ["X-Remote-User", "Remote-User", "X-Forwarded-User", "X-Authenticated-User", "X-User",
                    "X-Auth-User", "X-Webauth-User", "davportal.web_login", "Davportal-Web-Login"]  # fmt: skip


@pytest.mark.parametrize("header", IDENTITY_HEADERS)
def test_headers_naming_a_user_do_not_sign_anyone_in(auth_firm, header):
    """CWE-290 (authentication bypass by spoofing) / CWE-287: the reverse-proxy "trusted header"
    class (WsgiDAV's trusted_auth_header is an environ key, never a client header). Without
    credentials such a header gets 401; with alice's credentials it does not make her sam."""
    anonymous = send(auth_firm, "PROPFIND", "/", login=None, headers=[(header, "sam"), ("Depth", "0")])
    assert anonymous.status == 401, (anonymous.status, anonymous.text)
    as_alice = send(auth_firm, "PROPFIND", "/beta/", headers=[(header, "sam"), ("Depth", "0")])
    assert as_alice.status == 404, (as_alice.status, as_alice.text)


@pytest.mark.parametrize("cookie", ["davportal_session", "session", "sessionid", "davportal_login"])
def test_a_made_up_session_cookie_signs_nobody_in(auth_firm, cookie):
    """CWE-287 / CWE-384: a session cookie the server never issued authenticates nobody."""
    reply = send(auth_firm, "PROPFIND", "/", login=None, headers=[("Cookie", f"{cookie}=sam"), ("Depth", "0")])
    assert reply.status == 401, (reply.status, reply.text)
