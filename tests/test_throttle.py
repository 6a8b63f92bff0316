"""Brute-force protection: tries spaced out per login and network, 429 with Retry-After, unblock.

The throttle's clock is the test's: it stands still until a test moves it, so a wait never
runs out (or not) because the machine is slow. Tries sent together are released by a barrier.
"""

from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import pytest
import requests
from click.testing import CliRunner
from sqlalchemy import select

from davportal.core.models import AuditEvent
from davportal.services.authentication import Authenticator
from policy.throttle import delay_after, network_of
from tests.conftest import PASSWORD
from tests.test_two_factor import enrol, sign_in

ATTACKER = {"X-Forwarded-For": "203.0.113.7"}
ELSEWHERE = {"X-Forwarded-For": "198.51.100.20"}
BEHIND_PROXY = {"trusted_proxies": ["127.0.0.1/32"]}  # so the tests can speak from several networks
THROTTLE = {"slowdown_after": 3, "slowdown_max_seconds": 25, "network_slowdown_after": 6}


class Clock:
    """The throttle's time: still until the test advances it."""

    def __init__(self) -> None:
        self.now = datetime.now(timezone.utc)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock():
    return Clock()


def on_clock(running, clock):
    portal = running.portal
    portal.authenticator = Authenticator(portal.sessions, portal.settings.auth, portal.recent, clock=clock)
    return running


@pytest.fixture
def portal(fresh_portal, clock):
    running = on_clock(fresh_portal(**BEHIND_PROXY, auth=THROTTLE), clock)
    running.add_client("acme")
    running.add_contact("alice", "acme")
    running.add_contact("carol", "acme")
    return running


def _try(portal, login, password, source):
    return portal.as_user(login, password).request("PROPFIND", "/acme/", headers={"Depth": "0", **source})


def together(count, send):
    """`send(i)` from `count` threads at once: each waits at a barrier until all are ready."""
    barrier = threading.Barrier(count)

    def one(i):
        barrier.wait()
        return send(i)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(one, range(count)))


def verified(*nodes):
    return sum(node.portal.authenticator.hashes_verified for node in nodes)


def test_repeated_failures_get_429_with_retry_after_and_are_audited(portal, clock):
    statuses = [_try(portal, "alice", "guess", ATTACKER).status_code for _ in range(4)]
    assert statuses == [401, 401, 401, 429]
    refused = _try(portal, "alice", PASSWORD, ATTACKER)  # even the right password waits its turn
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "1"  # the third failure's quarter second
    assert "please wait" in refused.text
    with portal.portal.sessions() as session:
        actions = session.scalars(select(AuditEvent.action).where(AuditEvent.login == "alice")).all()
    assert actions.count("LOGIN-FAILED") == 3 and actions.count("LOGIN-BLOCKED") == 2
    clock.advance(delay_after(3, free=3, cap=25))
    assert _try(portal, "alice", PASSWORD, ATTACKER).status_code == 207


def test_guesses_sent_together_are_checked_one_per_window(portal, clock):
    for _ in range(2):
        assert _try(portal, "alice", "guess", ATTACKER).status_code == 401  # the free tries
    for failure in (3, 4):
        before = verified(portal)
        answers = together(10, lambda i: _try(portal, "alice", f"guess {i}", ATTACKER))
        assert sorted(a.status_code for a in answers) == [401] + [429] * 9
        assert verified(portal) - before == 1  # the refused nine were never checked
        for refused in (a for a in answers if a.status_code == 429):
            assert refused.headers["Content-Type"].startswith("text/plain") and "please wait" in refused.text
        clock.advance(delay_after(failure, free=3, cap=25))  # the next window opens


def test_the_free_tries_are_counted_before_they_are_checked(portal):
    before = verified(portal)
    answers = together(10, lambda i: _try(portal, "alice", f"guess {i}", ATTACKER))
    assert sorted(a.status_code for a in answers) == [401] * 3 + [429] * 7
    assert verified(portal) - before == 3


def test_a_try_whose_clock_reads_a_moment_earlier_is_not_refused(portal, clock):
    """Another node's clock, or another thread's reading, a little behind: the window is open to it."""
    assert _try(portal, "alice", PASSWORD, ATTACKER).status_code == 207
    assert _try(portal, "carol", "guess", ATTACKER).status_code == 401
    clock.advance(-0.5)
    assert _try(portal, "carol", PASSWORD, ATTACKER).status_code == 207


def test_a_drive_opening_many_connections_with_a_new_password_gets_in_on_all(portal):
    """Explorer maps a drive with several connections at once: one verification, no refusal."""
    before = verified(portal)
    answers = together(10, lambda i: _try(portal, "carol", PASSWORD, ATTACKER))
    assert [a.status_code for a in answers] == [207] * 10
    assert verified(portal) - before == 1


def test_two_nodes_on_one_database_take_turns(fresh_portal, clock):
    """Guesses for a login nobody has tried yet, spread over two nodes: the first row is
    inserted once, every other guess waits, and none of them is a 500."""
    nodes = [on_clock(fresh_portal(**BEHIND_PROXY, auth={"slowdown_after": 1}), clock) for _ in range(2)]
    nodes[0].add_client("acme")
    nodes[0].add_contact("alice", "acme")
    before = verified(*nodes)
    answers = together(12, lambda i: _try(nodes[i % 2], "alice", f"guess {i}", ATTACKER))
    assert sorted(a.status_code for a in answers) == [401] + [429] * 11, [a.text for a in answers]
    assert verified(*nodes) - before == 1
    clock.advance(delay_after(1, free=1, cap=25))
    assert _try(nodes[1], "alice", PASSWORD, ATTACKER).status_code == 207


def test_a_password_verified_a_moment_ago_does_not_wait(portal):
    assert _try(portal, "alice", PASSWORD, ATTACKER).status_code == 207  # verified, then trusted for a while
    assert [_try(portal, "alice", "guess", ATTACKER).status_code for _ in range(4)] == [401, 401, 401, 429]
    assert _try(portal, "alice", PASSWORD, ATTACKER).status_code == 207


def test_the_owner_elsewhere_is_not_locked_out(portal):
    for _ in range(5):
        _try(portal, "alice", "guess", ATTACKER)
    assert _try(portal, "alice", PASSWORD, ELSEWHERE).status_code == 207


def test_spraying_many_logins_from_one_network_is_slowed_down_too(portal):
    logins = ("alice", "carol", "ghost1", "ghost2", "ghost3", "ghost4", "ghost5")
    statuses = [_try(portal, login, "guess", ATTACKER).status_code for login in logins]
    assert statuses[:6] == [401] * 6 and statuses[6] == 429
    assert _try(portal, "carol", PASSWORD, ELSEWHERE).status_code == 207


def test_sign_ins_that_work_do_not_slow_their_network_down(portal):
    for login in ("ghost1", "ghost2", "ghost3", "ghost4", "ghost5"):
        assert _try(portal, login, "guess", ATTACKER).status_code == 401
    for _ in range(3):  # each takes the network's last free try, and gives it back
        assert _try(portal, "carol", PASSWORD, ATTACKER).status_code == 207
        assert _try(portal, "alice", PASSWORD, ATTACKER).status_code == 207
    assert _try(portal, "ghost6", "guess", ATTACKER).status_code == 401  # the sixth failure
    assert _try(portal, "ghost7", "guess", ATTACKER).status_code == 429


def test_unblock_lets_the_login_in_again(portal, tmp_path):
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


def _csrf(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def test_the_web_sign_in_is_throttled_the_same_way(portal):
    session = requests.Session()
    page = session.get(portal.url + "/.davportal-web/login")
    statuses = []
    for _ in range(4):
        page = session.post(portal.url + "/.davportal-web/login", headers=ATTACKER,
                            data={"csrf": _csrf(page.text), "login": "alice", "password": "guess"})  # fmt: skip
        statuses.append(page.status_code)
    assert statuses == [401, 401, 401, 429] and "please wait" in page.text


def test_codes_sent_together_are_checked_one_per_window(portal):
    browser, _ = sign_in(portal, "alice")
    enrol(portal, browser)
    pending, page = sign_in(portal, "alice")  # the password was right: the code is still to come
    form = {"csrf": _csrf(page.text), "next": "/acme/"}
    url = portal.url + "/.davportal-web/login/code"
    for _ in range(2):
        assert pending.post(url, data=form | {"code": "not a code"}).status_code == 401  # the free tries
    cookies = pending.cookies.get_dict()
    answers = together(10, lambda i: requests.post(url, cookies=cookies, data=form | {"code": f"not a code {i}"}))
    assert sorted(a.status_code for a in answers) == [401] + [429] * 9
    assert all("please wait" in a.text for a in answers if a.status_code == 429)


def test_delays_and_networks():
    assert [delay_after(n, free=3, cap=25) for n in (1, 2, 3, 4, 5, 10, 50)] == [0, 0, 0.25, 0.5, 1.0, 25, 25]
    assert network_of("203.0.113.7") == "203.0.113.0/24"
    assert network_of("2001:db8::1") == "2001:db8::/64"
    assert network_of("nonsense") == "unknown"
