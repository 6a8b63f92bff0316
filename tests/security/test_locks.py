"""Locks: another user's lock token stays theirs; nobody else unlocks or refreshes it; no lock
outlives `limits.lock_timeout_seconds` (3600 by default); one contact cannot lock the others out.
"""

from __future__ import annotations

import re

import pytest

from tests.security.conftest import CLIENT, LOCK_BODY, TEAM, q, send, unique

LOCKDISCOVERY = "<D:propfind xmlns:D='DAV:'><D:prop><D:lockdiscovery/></D:prop></D:propfind>"
ALLPROP = "<D:propfind xmlns:D='DAV:'><D:allprop/></D:propfind>"
CAP = 3600  # limits.lock_timeout_seconds, by default


def _lock(firm, login: str, path: str, timeout: str = "Second-600", depth: str = "0") -> str:
    response = firm.as_user(login).request("LOCK", path, data=LOCK_BODY, headers={"Timeout": timeout, "Depth": depth})
    assert response.status_code in (200, 201), response.text
    return response.headers["Lock-Token"].strip("<>")


@pytest.fixture(scope="module")
def locked(firm):
    """A file staff locked in Team's shared, and one carol locked in Client's shared (her own upload)."""
    staff_file = f"/acme/{TEAM}/{unique()}"
    assert firm.as_user("sam").put(staff_file, b"staff's").status_code == 201
    carols_file = f"/acme/{CLIENT}/{unique()}"
    assert firm.as_user("carol").put(carols_file, b"carol's").status_code == 201
    firm.locks = {
        "staff-in-team": (staff_file, "sam", _lock(firm, "sam", staff_file)),
        "carol-in-client": (carols_file, "carol", _lock(firm, "carol", carols_file)),
    }
    return firm


def _token_still_held(firm, path: str, owner: str, token: str) -> bool:
    reply = send(firm, "PROPFIND", q(path), login=owner, headers=[("Depth", "0")], body=LOCKDISCOVERY)
    return token in reply.text


SEEN_BY = {
    "lockdiscovery on the file": lambda path: (q(path), "0", LOCKDISCOVERY),
    "allprop on the file": lambda path: (q(path), "0", ALLPROP),
    "no body on the file": lambda path: (q(path), "0", ""),
    "lockdiscovery in the folder listing": lambda path: (q(path.rsplit("/", 1)[0] + "/"), "1", LOCKDISCOVERY),
}


@pytest.mark.parametrize("how", SEEN_BY, ids=SEEN_BY.keys())
@pytest.mark.parametrize("which", ["staff-in-team", "carol-in-client"])
def test_a_contact_never_sees_another_users_lock_token(locked, which, how):
    """CVE-2026-45283 (Nextcloud files_lock: lock tokens disclosed to unauthorised callers, who then
    removed other users' locks) / CWE-200: alice may see that a file is locked, never the token of
    staff's lock (Team's shared) or carol's (Client's shared), in any PROPFIND."""
    path, _, token = locked.locks[which]
    target, depth, body = SEEN_BY[how](path)
    reply = send(locked, "PROPFIND", target, headers=[("Depth", depth)], body=body)
    assert reply.status == 207, reply.text
    assert token not in reply.text
    assert token.split(":", 1)[-1] not in reply.text


def test_control_the_lock_owner_sees_their_own_token(locked):
    """Control for the test above: the token is in lockdiscovery for whoever holds the lock."""
    path, owner, token = locked.locks["carol-in-client"]
    assert _token_still_held(locked, path, owner, token)


@pytest.mark.parametrize("which", ["staff-in-team", "carol-in-client"])
def test_a_contact_cannot_unlock_another_users_lock(locked, which):
    """CVE-2026-45283 (Nextcloud: UNLOCK of other users' files) / CWE-284: alice's UNLOCK with the
    right token is refused (403) and the lock stays."""
    path, owner, token = locked.locks[which]
    reply = send(locked, "UNLOCK", q(path), headers=[("Lock-Token", f"<{token}>")])
    assert reply.status == 403, (reply.status, reply.text)
    assert _token_still_held(locked, path, owner, token)


@pytest.mark.parametrize("which", ["staff-in-team", "carol-in-client"])
def test_a_contact_cannot_refresh_another_users_lock(locked, which):
    """CVE-2026-45283 / CWE-284: a refresh (LOCK with no body and the token in If) by alice is refused
    and leaves the lock's timeout as its owner set it."""
    path, owner, token = locked.locks[which]
    reply = send(locked, "LOCK", q(path), headers=[("If", f"(<{token}>)"), ("Timeout", "Second-3000")])
    assert reply.status == 403, (reply.status, reply.text)
    discovery = send(locked, "PROPFIND", q(path), login=owner, headers=[("Depth", "0")], body=LOCKDISCOVERY)
    timeout = int(re.search(r"<D:timeout>Second-(\d+)</D:timeout>", discovery.text).group(1))
    assert timeout <= 600, "alice's refresh extended the lock"


@pytest.mark.parametrize("which", ["staff-in-team", "carol-in-client"])
def test_a_contact_cannot_write_with_another_users_token(locked, which):
    """CWE-284 / RFC 4918 6.4 (a lock token is not a credential): alice submitting the lock's own token
    in If cannot overwrite or delete the locked file."""
    path, owner, token = locked.locks[which]
    before = locked.as_user(owner).request("GET", path).content
    for method, body in (("PUT", b"alice was here"), ("DELETE", b"")):
        reply = send(locked, method, q(path), headers=[("If", f"(<{token}>)")], body=body)
        assert reply.status in (403, 423), (method, reply.status, reply.text)
    assert locked.as_user(owner).request("GET", path).content == before


TIMEOUTS = [
    "Infinite",
    "Infinite, Second-4100000000",
    "Second-4100000000",
    "Second-99999999999999999999999",
    f"Second-{CAP + 1}",
    "Second-0",
    "Second--1",
    "Second-",
    "garbage",
    "Second-60, Infinite",
]


def _granted_seconds(reply) -> int:
    assert reply.status in (200, 201, 207), (reply.status, reply.text)
    match = re.search(r"<D:timeout>([^<]*)</D:timeout>", reply.text)
    assert match, reply.text
    value = match.group(1)
    assert value.lower() != "infinite", "an infinite lock was granted"
    return int(value.split("-", 1)[1])


@pytest.mark.parametrize("requested", TIMEOUTS)
def test_no_lock_outlives_the_cap(locked, requested):
    """CWE-400 / CWE-770 (an abandoned `Timeout: Infinite` lock blocks a file for ever; RFC 4918 6.6
    lets the server choose a shorter one): whatever the Timeout header says, the lock granted
    lasts at most limits.lock_timeout_seconds (3600), as the LOCK answer and lockdiscovery say."""
    path = f"/acme/{CLIENT}/{unique()}"
    assert locked.as_user("alice").put(path, b"alice's").status_code == 201
    reply = send(locked, "LOCK", q(path), headers=[("Timeout", requested)], body=LOCK_BODY)
    assert 0 < _granted_seconds(reply) <= CAP
    discovery = send(locked, "PROPFIND", q(path), headers=[("Depth", "0")], body=LOCKDISCOVERY)
    assert 0 < _granted_seconds(discovery) <= CAP


@pytest.mark.parametrize("requested", ["Infinite", "Second-0", "Second-4100000000"])
def test_no_lock_refresh_outlives_the_cap(locked, requested):
    """CWE-400 / CWE-770: refreshing one's own lock with a longer or infinite Timeout is capped too."""
    path = f"/acme/{CLIENT}/{unique()}"
    assert locked.as_user("alice").put(path, b"alice's").status_code == 201
    token = _lock(locked, "alice", path, timeout="Second-60")
    reply = send(locked, "LOCK", q(path), headers=[("If", f"(<{token}>)"), ("Timeout", requested)])
    assert 0 < _granted_seconds(reply) <= CAP


def test_a_contact_cannot_lock_the_other_contacts_out_of_their_shared_folder(locked):
    """CWE-400 / CWE-667 (denial of service by lock): a depth-infinity LOCK of the shared area folder
    itself (MODEL.md: the area folders are fixed, nobody deletes, moves or renames them) would stop
    every other contact of the client from uploading for as long as it is refreshed. In a client
    of its own (no other lock in the way), gus can still upload after gina tries."""
    locked.add_client("gamma")
    locked.add_contact("gina", "gamma")
    locked.add_contact("gus", "gamma")
    folder = f"/gamma/{CLIENT}/"
    gina_lock = send(
        locked,
        "LOCK",
        q(folder),
        login="gina",
        headers=[("Depth", "infinity"), ("Timeout", "Second-600")],
        body=LOCK_BODY,
    )
    try:
        upload = locked.as_user("gus").put(f"{folder}{unique()}", b"gus's upload")
        assert upload.status_code == 201, (gina_lock.status, upload.status_code, upload.text)
    finally:
        token = gina_lock.headers.get("lock-token")
        if token:
            locked.as_user("gina").request("UNLOCK", folder, headers={"Lock-Token": token})
