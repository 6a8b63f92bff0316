"""WebDAV locks are exclusive across nodes and worker processes: granted once, seen everywhere.

Three nodes (servers of their own, each with its own Portal: engine, WsgiDAV lock manager and
its in-process lock) share one database and one storage, on SQLite and PostgreSQL; and one node
runs as four gunicorn worker processes. The same exclusive LOCK sent to all of them at once,
released by a barrier, must be granted exactly once, every round.
"""

from __future__ import annotations

import importlib.util
import os
import re
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
import yaml

from davportal.core.settings import settings_of
from davportal.services import locks
from davportal.services.locks import HeldLock, LockConflict
from davportal.services.portal import Portal
from policy.locks import DEPTH_0, EXCLUSIVE, INFINITY, SHARED, LockScope, ancestors, conflicts
from provisioning import accounts, clients
from tests.conftest import ADMIN, PASSWORD, TEAM, Dav, Running, new_database, portal_config, start_portal

ROUNDS = 30
STAFF = ("sam", "tess", "uma")  # three people opening the same document at the same moment


def lock_body(owner: str) -> str:
    return ("<?xml version='1.0' encoding='utf-8'?><D:lockinfo xmlns:D='DAV:'><D:lockscope><D:exclusive/>"
            f"</D:lockscope><D:locktype><D:write/></D:locktype><D:owner>{owner}</D:owner></D:lockinfo>")  # fmt: skip


def take_lock(dav: Dav, path: str, *, depth: str = "0", timeout: str = "Second-600") -> requests.Response:
    return dav.request("LOCK", path, data=lock_body(dav.session.auth[0]), headers={"Depth": depth, "Timeout": timeout})


def token_of(response: requests.Response) -> str:
    assert response.status_code in (200, 201), (response.status_code, response.text)
    return response.headers["Lock-Token"]


def at_once(*calls: Callable[[], requests.Response]) -> list[int]:
    """Send the requests at the same moment (released by a barrier); their statuses, in order."""
    barrier = threading.Barrier(len(calls))

    def run(call):
        barrier.wait(timeout=120)
        return call().status_code

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def timeout_shown(dav: Dav, path: str) -> int:
    body = "<D:propfind xmlns:D='DAV:'><D:prop><D:lockdiscovery/></D:prop></D:propfind>"
    response = dav.request("PROPFIND", path, data=body, headers={"Depth": "0"})
    assert response.status_code == 207, response.text
    return int(re.search(r"<D:timeout>Second-(\d+)</D:timeout>", response.text).group(1))


# --- the rule ----------------------------------------------------------------------------------

F, D = "/acme/Team/Case/x.docx", "/acme/Team/Case"
RULE = [
    # wanted,                            held,                                   refused by
    (LockScope(F, EXCLUSIVE, DEPTH_0), [LockScope(F, EXCLUSIVE, DEPTH_0)], [F]),
    (LockScope(F, EXCLUSIVE, DEPTH_0), [LockScope(F, SHARED, DEPTH_0)], [F]),
    (LockScope(F, SHARED, DEPTH_0), [LockScope(F, SHARED, DEPTH_0)], []),
    (LockScope(F, EXCLUSIVE, DEPTH_0), [LockScope(D, EXCLUSIVE, INFINITY)], [D]),
    (LockScope(F, SHARED, DEPTH_0), [LockScope(D, SHARED, INFINITY)], []),
    (LockScope(F, EXCLUSIVE, DEPTH_0), [LockScope(D, EXCLUSIVE, DEPTH_0)], []),  # a folder alone
    (LockScope(F, EXCLUSIVE, DEPTH_0), [LockScope("/", EXCLUSIVE, INFINITY)], ["/"]),
    (LockScope(D, EXCLUSIVE, INFINITY), [LockScope(F, EXCLUSIVE, DEPTH_0)], [F]),
    (LockScope(D, SHARED, INFINITY), [LockScope(F, SHARED, DEPTH_0)], [F]),  # WsgiDAV's reading
    (LockScope(D, EXCLUSIVE, DEPTH_0), [LockScope(F, EXCLUSIVE, DEPTH_0)], []),
    (LockScope(D, EXCLUSIVE, INFINITY), [LockScope(D + "2/x.docx", EXCLUSIVE, DEPTH_0)], []),  # a sibling
    (LockScope(F, EXCLUSIVE, DEPTH_0), [LockScope("/acme/Team/Case2", EXCLUSIVE, INFINITY)], []),
]


@pytest.mark.parametrize("wanted, held, refused_by", RULE)
def test_which_locks_refuse_a_new_one(wanted, held, refused_by):
    assert conflicts(wanted, held) == refused_by


def test_the_folders_above_a_url():
    assert ancestors("/acme/Team/x.docx") == ["/acme/Team/x.docx", "/acme/Team", "/acme", "/"]
    assert ancestors("/acme/") == ["/acme", "/"]
    assert ancestors("/") == ["/"]


# --- three nodes -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def nodes(database_url, tmp_path_factory):
    """Three nodes on one database and one storage; staff sam, tess, uma; client acme."""
    storage = tmp_path_factory.mktemp("shared-storage")
    started: list[Running] = []
    try:
        for _ in range(3):
            started.append(start_portal(portal_config(database_url, storage)))
        for login in STAFF:
            started[0].add_staff(login)
        started[0].add_client("acme", "Acme Ltd")
        yield started
    finally:
        for running in started:
            running.server.stop()
            running.portal.engine.dispose()


def on(node: Running, login: str) -> Dav:
    """`login` on `node`, signed in once already (its connection open, its password checked)."""
    dav = node.as_user(login)
    assert dav.request("OPTIONS", "/").status_code == 200
    return dav


def new_document(nodes, name: str) -> str:
    path = f"/acme/{TEAM}/{name}-{uuid.uuid4().hex[:8]}.docx"
    assert nodes[0].as_user("sam").put(path, b"v1").status_code == 201
    return path


def test_the_same_lock_sent_to_three_nodes_at_once_is_granted_once(nodes):
    for _ in range(ROUNDS):
        path = new_document(nodes, "race")
        people = [on(node, login) for node, login in zip(nodes, STAFF)]
        statuses = at_once(*(lambda dav=dav, path=path: take_lock(dav, path) for dav in people))
        assert sorted(statuses) == [200, 423, 423], statuses


def test_a_lock_taken_on_one_node_holds_on_every_node_and_its_holder_refreshes_and_releases_it_anywhere(nodes):
    a, b, c = nodes
    path = new_document(nodes, "held")
    token = token_of(take_lock(a.as_user("sam"), path))
    for node in nodes:
        assert node.as_user("tess").put(path, b"tess's").status_code == 423
        assert node.as_user("sam").put(path, b"sam without the token").status_code == 423
        assert take_lock(node.as_user("tess"), path).status_code == 423
        assert node.as_user("tess").request("UNLOCK", path, headers={"Lock-Token": token}).status_code == 403
    assert b.as_user("sam").put(path, b"v2", headers={"If": f"({token})"}).status_code == 204

    refreshed = b.as_user("sam").request("LOCK", path, headers={"If": f"({token})", "Timeout": "Second-3000"})
    assert refreshed.status_code == 200, refreshed.text
    assert timeout_shown(c.as_user("sam"), path) > 600  # granted for 600, refreshed for 3000

    assert c.as_user("sam").request("UNLOCK", path, headers={"Lock-Token": token}).status_code == 204
    assert a.as_user("tess").put(path, b"tess's").status_code == 204
    assert a.as_user("sam").request("GET", path).content == b"tess's"


def test_a_folder_locked_whole_on_one_node_refuses_locks_and_writes_inside_it_on_another(nodes):
    a, b, c = nodes
    folder = f"/acme/{TEAM}/Case-{uuid.uuid4().hex[:8]}/"
    assert a.as_user("sam").request("MKCOL", folder).status_code == 201
    inside = folder + "brief.docx"
    assert a.as_user("sam").put(inside, b"v1").status_code == 201

    token = token_of(take_lock(a.as_user("sam"), folder, depth="infinity"))
    assert take_lock(b.as_user("tess"), inside).status_code == 423
    assert c.as_user("tess").put(inside, b"tess's").status_code == 423
    assert c.as_user("tess").put(folder + "new.docx", b"tess's").status_code == 423
    assert b.as_user("sam").request("UNLOCK", folder, headers={"Lock-Token": token}).status_code == 204

    # And the other way round: a document held inside keeps the folder from being locked whole.
    token = token_of(take_lock(b.as_user("tess"), inside))
    assert take_lock(c.as_user("sam"), folder, depth="infinity").status_code == 423
    assert a.as_user("tess").request("UNLOCK", inside, headers={"Lock-Token": token}).status_code == 204
    assert take_lock(c.as_user("sam"), folder, depth="infinity").status_code == 200


def test_a_folder_and_a_document_inside_it_locked_at_once_on_two_nodes_are_not_both_granted(nodes):
    a, b, _ = nodes
    for n in range(ROUNDS):
        folder = f"/acme/{TEAM}/Matter-{n}-{uuid.uuid4().hex[:6]}/"
        assert a.as_user("sam").request("MKCOL", folder).status_code == 201
        inside = folder + "brief.docx"
        assert a.as_user("sam").put(inside, b"v1").status_code == 201
        sam, tess = on(a, "sam"), on(b, "tess")
        statuses = at_once(lambda sam=sam, folder=folder: take_lock(sam, folder, depth="infinity"),
                           lambda tess=tess, inside=inside: take_lock(tess, inside))  # fmt: skip
        assert sorted(statuses) == [200, 423], statuses


def test_a_lock_is_gone_once_its_time_is_up_and_a_late_refresh_does_not_revive_it(nodes):
    """The store with its clock given: a lock lasts exactly its timeout, a refresh restarts it."""
    sessions = nodes[0].portal.sessions
    root = f"/acme/{TEAM}/timed-{uuid.uuid4().hex[:8]}.docx"

    def wanted(login: str, now: float, timeout: float = 60) -> HeldLock:
        return HeldLock(token=f"opaquelocktoken:{uuid.uuid4()}", root=root, scope=EXCLUSIVE, depth=DEPTH_0,
                        owner=b"", principal=login, timeout=timeout, expire=now + timeout)  # fmt: skip

    def grant(lock: HeldLock, now: float) -> bool:
        try:
            with sessions.begin() as session:
                locks.grant(session, lock, now)
        except LockConflict:
            return False
        return True

    t = 1_000_000.0
    first = wanted("sam", t)
    assert grant(first, t)
    assert not grant(wanted("tess", t + 59), t + 59)
    with sessions.begin() as session:  # refreshed at +30: now good until +90
        refreshed = locks.refresh(session, first.token, 60, t + 30)
    assert refreshed is not None and refreshed.expire == t + 90
    assert not grant(wanted("tess", t + 89), t + 89)
    late = wanted("tess", t + 91)
    assert grant(late, t + 91)
    with sessions.begin() as session:
        assert locks.refresh(session, first.token, 60, t + 91) is None  # expired: not revived
    with sessions() as session:
        assert locks.find(session, first.token, t + 91) is None
        assert [lock.token for lock in locks.at(session, root, t + 91)] == [late.token]
    with sessions.begin() as session:
        locks.release(session, late.token)


# --- one node, four gunicorn workers --------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def workers(backend, tmp_path_factory):
    """`gunicorn --workers 4 davportal.wsgi:app` on one database (SQLite or PostgreSQL): its URL."""
    pytest.importorskip("gunicorn")
    folder = tmp_path_factory.mktemp("workers")
    with new_database(backend, folder) as database_url:
        config = portal_config(database_url, folder / "files")
        path = folder / "davportal.yaml"
        path.write_text(yaml.safe_dump(config))
        portal = Portal(settings_of(config))  # the schema and the people, before the workers start
        with portal.sessions.begin() as session:
            for login in STAFF:
                accounts.add_staff(session, login, password=PASSWORD, actor=ADMIN)
            clients.add_client(session, portal.storage, "acme", name="Acme Ltd",
                               folders=(portal.settings.folders.team_shared,
                                        portal.settings.folders.client_shared), actor=ADMIN)  # fmt: skip
        portal.engine.dispose()
        url = f"http://127.0.0.1:{_free_port()}"
        # gunicorn 27 opens a control socket in the home folder, which other servers may share.
        own = ["--no-control-socket"] if importlib.util.find_spec("gunicorn.ctl") else []
        with (folder / "gunicorn.log").open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "--workers", "4", "--bind", url.removeprefix("http://"), *own,
                 "davportal.wsgi:app"],
                cwd=folder, env={**os.environ, "DAVPORTAL_CONFIG": str(path)}, stdout=log, stderr=log,
            )  # fmt: skip
        try:
            _wait_until_serving(url, process)
            _sign_in_on_every_worker(url)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=60)


def _wait_until_serving(url: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 300  # generous: four workers start on a busy machine
    while time.monotonic() < deadline:
        assert process.poll() is None, "gunicorn stopped (see gunicorn.log in the test's folder)"
        try:
            if requests.get(url + "/.davportal-web/health", timeout=60).text == "ok\n":
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise AssertionError(f"gunicorn at {url} did not start")


def _sign_in_on_every_worker(url: str) -> None:
    """Each login's password checked (and remembered) by each worker before any race: sign-ins
    that are not remembered yet count against the login throttle, and several at once from one
    address may be told to wait (429), which would leave a race short of a runner. Sent one
    after another, on a new connection each (a sync worker closes it), 40 per login are all but
    certain to reach all four workers."""
    for login in STAFF:
        for _ in range(40):
            assert Dav(url, login, PASSWORD).request("OPTIONS", "/").status_code == 200


def test_the_same_lock_sent_to_four_workers_at_once_is_granted_once(workers):
    for n in range(ROUNDS):
        path = f"/acme/{TEAM}/race-{n}-{uuid.uuid4().hex[:6]}.docx"
        assert Dav(workers, "sam", PASSWORD).put(path, b"v1").status_code == 201
        # Four at once: a sync worker serves one request at a time, so they land on different workers.
        people = [Dav(workers, STAFF[i % len(STAFF)], PASSWORD) for i in range(4)]
        statuses = at_once(*(lambda dav=dav, path=path: take_lock(dav, path) for dav in people))
        assert sorted(statuses) == [200, 423, 423, 423], statuses


def test_a_file_locked_through_one_worker_is_locked_for_every_worker(workers):
    path = f"/acme/{TEAM}/report-{uuid.uuid4().hex[:6]}.docx"
    sam = Dav(workers, "sam", PASSWORD)
    assert sam.put(path, b"sam's").status_code == 201
    token = token_of(take_lock(sam, path))
    for _ in range(24):  # a new connection each time: any of the four workers answers
        assert Dav(workers, "tess", PASSWORD).put(path, b"tess's").status_code == 423
    assert sam.request("GET", path).content == b"sam's"
    assert Dav(workers, "sam", PASSWORD).request("UNLOCK", path, headers={"Lock-Token": token}).status_code == 204
    assert Dav(workers, "tess", PASSWORD).put(path, b"tess's").status_code == 204
