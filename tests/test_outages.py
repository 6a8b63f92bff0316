"""Outages degrade, never freeze: the database stopped or frozen under a running portal.

The database is reached through a TCP proxy the test closes or freezes. Nothing here measures
time: the timeouts are made short in the config and each answer is waited for with a generous
limit, then its status and body are checked.
"""

from __future__ import annotations

import logging
import os
import select
import socket
import threading
import time
from collections.abc import Callable

import pytest
import requests
from sqlalchemy.engine import make_url

from tests.conftest import POSTGRES_ENV, TEAM, Dav, new_database, portal_config, seed_firm, start_portal

DATABASE_DOWN = "The portal cannot reach its database for the moment; please try again in a minute."
PATIENCE = 90  # seconds an answer (or a recovery) may take on a busy machine before the test fails
LOCK_BODY = (b"<?xml version='1.0' encoding='utf-8'?><D:lockinfo xmlns:D='DAV:'><D:lockscope><D:exclusive/>"
             b"</D:lockscope><D:locktype><D:write/></D:locktype><D:owner>sam</D:owner></D:lockinfo>")  # fmt: skip


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def eventually(attempt: Callable[[], object], *, limit: float = PATIENCE):
    """What `attempt` returns once it returns something true (it is tried again until then)."""
    deadline = time.monotonic() + limit
    while True:
        outcome = attempt()
        if outcome or time.monotonic() > deadline:
            return outcome
        time.sleep(0.2)


class Proxy:
    """A TCP proxy to a server, that the test closes (connections refused and cut) or freezes
    (connections accepted, bytes held: a server that never answers)."""

    def __init__(self, target: tuple[str, int]):
        self.target = target
        self.port = free_port()
        self.flowing = threading.Event()
        self.flowing.set()
        self._listener: socket.socket | None = None
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()

    def open(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def close(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def _accept(self, listener: socket.socket) -> None:
        while self._listener is listener:
            try:
                ready, _, _ = select.select([listener], [], [], 0.2)
                if not ready:
                    continue
                client, _ = listener.accept()
            except (OSError, ValueError):
                return
            try:
                server = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets += [client, server]
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                self.flowing.wait()
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def health(url: str) -> requests.Response:
    return requests.get(url + "/.davportal-web/health", timeout=PATIENCE)


def lock(sam: Dav, path: str) -> requests.Response:
    return sam.request("LOCK", path, data=LOCK_BODY, headers={"Timeout": "Second-60"}, timeout=PATIENCE)


def unavailable(response: requests.Response, reason: str) -> bool:
    return (
        response.status_code == 503
        and response.headers.get("Retry-After", "").isdigit()
        and response.headers["Content-Type"].startswith("text/plain")
        and reason in response.text
        and "Traceback" not in response.text
    )


# --- Redis, no longer used ------------------------------------------------------------------


def test_a_redis_url_left_in_the_config_is_not_used(tmp_path, caplog):
    """WebDAV locks are in the database: a config that still names a Redis (here, one that is not
    there) starts, says once that Redis is not used, is healthy, and locks hold."""
    config = portal_config(f"sqlite:///{tmp_path}/portal.db", tmp_path / "storage",
                           redis_url=f"redis://127.0.0.1:{free_port()}/0", redis_timeout_seconds=0.5)  # fmt: skip
    with caplog.at_level(logging.WARNING, logger="davportal"):
        running = seed_firm(start_portal(config))
    try:
        assert [r.getMessage() for r in caplog.records if "redis_url" in r.getMessage()] == [
            "davportal.redis_url is no longer used: WebDAV locks are kept in the database, which every node "
            "shares. Remove it from config."]  # fmt: skip
        assert health(running.url).text == "ok\n"
        running.add_staff("tess")
        sam, path = running.as_user("sam"), f"/acme/{TEAM}/report.pdf"
        assert sam.put(path, b"v1").status_code == 201
        taken = lock(sam, path)
        assert taken.status_code == 200
        assert running.as_user("tess").put(path, b"tess's").status_code == 423
        assert sam.put(path, b"v2", headers={"If": f"({taken.headers['Lock-Token']})"}).status_code == 204
    finally:
        running.server.stop()
        running.portal.engine.dispose()


# --- the database stopped or frozen (PostgreSQL behind a proxy) -------------------------------


@pytest.fixture
def behind_proxy(tmp_path):
    """A running portal whose PostgreSQL is reached through a Proxy, with short timeouts."""
    if not os.environ.get(POSTGRES_ENV):
        pytest.skip("needs PostgreSQL")
    with new_database("postgresql", tmp_path) as direct_url:
        direct = make_url(direct_url)
        proxy = Proxy((direct.host or "127.0.0.1", direct.port or 5432))
        proxy.open()
        url = direct.set(port=proxy.port).render_as_string(hide_password=False)
        config = portal_config(url, tmp_path / "storage", database_timeout_seconds=2, database_statement_seconds=2)
        running = seed_firm(start_portal(config))
        try:
            yield running, proxy
        finally:
            proxy.flowing.set()
            running.server.stop()
            running.portal.engine.dispose()
            proxy.close()


@pytest.mark.parametrize("outage", ["closed", "frozen"])
def test_without_the_database_requests_answer_503_and_all_comes_back(behind_proxy, outage):
    running, proxy = behind_proxy
    sam = running.as_user("sam")
    folder = f"/acme/{TEAM}/"
    assert sam.put(f"{folder}before.pdf", b"v1").status_code == 201
    if outage == "closed":
        proxy.close()
    else:
        proxy.flowing.clear()
    try:
        assert eventually(lambda: unavailable(sam.propfind(folder, timeout=PATIENCE), DATABASE_DOWN))
        assert unavailable(sam.put(f"{folder}during.pdf", b"v1", timeout=PATIENCE), DATABASE_DOWN)
        answer = health(running.url)
        assert answer.status_code == 503 and "database" in answer.text
    finally:
        proxy.open() if outage == "closed" else proxy.flowing.set()
    assert eventually(lambda: sam.propfind(folder, timeout=PATIENCE).status_code == 207)
    assert "before.pdf" in sam.propfind(folder).text
    assert sam.put(f"{folder}after.pdf", b"v1").status_code == 201
    assert health(running.url).text == "ok\n"


def test_a_statement_never_waits_for_ever(tmp_path):
    """PostgreSQL cancels a statement that runs too long; one whose server froze mid-answer is
    given up by the portal itself (the server cannot cancel anything while frozen)."""
    if not os.environ.get(POSTGRES_ENV):
        pytest.skip("needs PostgreSQL")
    from sqlalchemy import text
    from sqlalchemy.exc import OperationalError

    from davportal.core.db import make_engine
    from davportal.core.outages import DATABASE, outage_of

    direct = make_url(os.environ[POSTGRES_ENV])
    proxy = Proxy((direct.host or "127.0.0.1", direct.port or 5432))
    proxy.open()
    engine = make_engine(direct.set(port=proxy.port).render_as_string(hide_password=False),
                         timeout_seconds=2, statement_seconds=2)  # fmt: skip
    try:
        with engine.connect() as conn, pytest.raises(OperationalError) as cancelled:
            conn.execute(text("SELECT pg_sleep(30)"))
        outage = outage_of(cancelled.value)
        assert outage is not None and (outage.service, outage.busy) == (DATABASE, True)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT 1")).scalar() == 1
            proxy.flowing.clear()
            with pytest.raises(OperationalError) as given_up:
                conn.execute(text("SELECT 1"))
        outage = outage_of(given_up.value)
        assert outage is not None
        assert (outage.service, outage.busy, outage.cause) == (DATABASE, False, "no answer within 4 s")
    finally:
        proxy.flowing.set()
        engine.dispose()
        proxy.close()


@pytest.mark.parametrize("url, where", [
    ("postgresql+psycopg://portal:s3cret@db.internal:5433/portal", "db.internal:5433"),
    ("postgresql+psycopg://portal:s3cret@db.internal/portal", "db.internal:5432"),
    ("sqlite:///davportal-data/davportal.db", "davportal-data/davportal.db"),
])  # fmt: skip
def test_where_the_database_is_says_no_password(url, where):
    from davportal.core.outages import database_at

    assert database_at(url) == where


@pytest.mark.parametrize("text, expected", [
    ("could not parse postgresql+psycopg://portal:s3cret@db/portal", "could not parse postgresql+psycopg://portal:***@db/portal"),
    ("redis://:hunter2@10.0.0.5:6379/0 refused", "redis://:***@10.0.0.5:6379/0 refused"),
    ("login failed with mail-pw", "login failed with ***"),
])  # fmt: skip
def test_secrets_are_blanked_out_of_every_line(text, expected):
    from davportal.core.outages import without_secrets

    assert without_secrets(text, "mail-pw") == expected
