"""Brute-force protection: tries spaced out per login and network, 429 with Retry-After, unblock."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from davportal.core.models import AuditEvent
from policy.throttle import delay_after, network_of
from tests.conftest import PASSWORD

ATTACKER = {"X-Forwarded-For": "203.0.113.7"}
ELSEWHERE = {"X-Forwarded-For": "198.51.100.20"}


@pytest.fixture
def portal(fresh_portal):
    # Behind a proxy on 127.0.0.1, so the tests can speak from several networks.
    throttle = {"slowdown_after": 3, "slowdown_max_seconds": 25, "network_slowdown_after": 6}
    running = fresh_portal(trusted_proxies=["127.0.0.1/32"], auth=throttle)
    running.add_client("acme")
    running.add_contact("alice", "acme")
    running.add_contact("carol", "acme")
    return running


def _try(portal, login, password, source):
    return portal.as_user(login, password).request("PROPFIND", "/acme/", headers={"Depth": "0", **source})


def test_repeated_failures_get_429_with_retry_after_and_are_audited(portal):
    statuses = [_try(portal, "alice", "guess", ATTACKER).status_code for _ in range(4)]
    assert statuses == [401, 401, 401, 429]
    refused = _try(portal, "alice", PASSWORD, ATTACKER)  # even the right password waits its turn
    assert refused.status_code == 429 and 1 <= int(refused.headers["Retry-After"]) <= 25
    assert "please wait" in refused.text
    with portal.portal.sessions() as session:
        actions = session.scalars(select(AuditEvent.action).where(AuditEvent.login == "alice")).all()
    assert actions.count("LOGIN-FAILED") == 3 and actions.count("LOGIN-BLOCKED") == 2


def test_the_owner_elsewhere_is_not_locked_out(portal):
    for _ in range(5):
        _try(portal, "alice", "guess", ATTACKER)
    assert _try(portal, "alice", PASSWORD, ELSEWHERE).status_code == 207


def test_spraying_many_logins_from_one_network_is_slowed_down_too(portal):
    logins = ("alice", "carol", "ghost1", "ghost2", "ghost3", "ghost4", "ghost5")
    statuses = [_try(portal, login, "guess", ATTACKER).status_code for login in logins]
    assert statuses[:6] == [401] * 6 and statuses[6] == 429
    assert _try(portal, "carol", PASSWORD, ELSEWHERE).status_code == 207


def test_unblock_lets_the_login_in_again(portal, tmp_path, monkeypatch):
    import yaml

    from davportal.cli import main

    for _ in range(4):
        _try(portal, "alice", "guess", ATTACKER)
    assert _try(portal, "alice", PASSWORD, ATTACKER).status_code == 429
    config = tmp_path / "davportal.yaml"
    settings = portal.portal.settings
    config.write_text(yaml.safe_dump({"davportal": {"database_url": settings.database_url,
                                                    "storage_root": str(settings.storage_root)}}))  # fmt: skip
    result = CliRunner().invoke(main, ["user", "unblock", "alice", "--config", str(config)])
    assert result.exit_code == 0 and "alice may sign in again" in result.stdout
    assert _try(portal, "alice", PASSWORD, ATTACKER).status_code == 207


def test_a_success_forgets_the_failures(portal):
    for _ in range(2):
        _try(portal, "alice", "guess", ATTACKER)
    assert _try(portal, "alice", PASSWORD, ATTACKER).status_code == 207
    assert [_try(portal, "alice", "guess", ATTACKER).status_code for _ in range(3)] == [401, 401, 401]


def test_the_web_sign_in_is_throttled_the_same_way(portal):
    import re

    import requests

    session = requests.Session()
    page = session.get(portal.url + "/.davportal-web/login")
    statuses = []
    for _ in range(4):
        token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
        page = session.post(portal.url + "/.davportal-web/login", headers=ATTACKER,
                            data={"csrf": token, "login": "alice", "password": "guess"})  # fmt: skip
        statuses.append(page.status_code)
    assert statuses == [401, 401, 401, 429] and "please wait" in page.text


def test_delays_and_networks():
    assert [delay_after(n, free=3, cap=25) for n in (1, 2, 3, 4, 5, 10, 50)] == [0, 0, 0.25, 0.5, 1.0, 25, 25]
    assert network_of("203.0.113.7") == "203.0.113.0/24"
    assert network_of("2001:db8::1") == "2001:db8::/64"
    assert network_of("nonsense") == "unknown"
