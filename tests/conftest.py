"""A real portal on a free port, on SQLite and (when configured) PostgreSQL."""

from __future__ import annotations

import os
import re
import socket
import threading
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote

import pytest
import requests
from cheroot import wsgi
from lxml import etree
from sqlalchemy import create_engine, text

from davportal.app import make_app, portal_of
from davportal.server import wsgi_server
from davportal.services.portal import Portal
from policy import Actor, Role
from provisioning import accounts, clients

POSTGRES_ENV = "DAVPORTAL_TEST_POSTGRES_URL"
PASSWORD = "correct horse battery"
TEAM = "Team's shared"
CLIENT = "Client's shared"
ADMIN = Actor("cli:test", Role.STAFF, is_admin=True)  # who makes the changes a test sets up


def backends():
    return (
        ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
        if os.environ.get(POSTGRES_ENV)
        else ["sqlite"]
    )


@pytest.fixture(scope="module", params=backends())
def backend(request):
    return request.param


@contextmanager
def new_database(backend: str, folder: Path):
    """An empty database: a SQLite file, or a PostgreSQL schema of its own."""
    if backend == "sqlite":
        yield f"sqlite:///{folder}/portal.db"
        return
    # One schema per use: tests in parallel never see each other's rows.
    base = os.environ[POSTGRES_ENV]
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    joiner = "&" if "?" in base else "?"
    try:
        yield f"{base}{joiner}options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture(scope="module")
def database_url(backend, tmp_path_factory):
    with new_database(backend, tmp_path_factory.mktemp("db")) as url:
        yield url


def portal_config(database_url: str, storage: Path, **davportal) -> dict:
    return {
        "logging": {"enable": False},
        "davportal": {"database_url": database_url, "storage_root": str(storage), **davportal},
    }


@dataclass
class Running:
    url: str
    portal: Portal
    server: wsgi.Server

    def as_user(self, login: str, password: str = PASSWORD) -> Dav:
        return Dav(self.url, login, password)

    def add_staff(self, login: str, *, admin: bool = False, password: str = PASSWORD) -> None:
        with self.portal.sessions.begin() as session:
            accounts.add_staff(session, login, password=password, admin=admin)

    def add_client(self, client_id: str, name: str | None = None) -> None:
        folders = self.portal.settings.folders
        with self.portal.sessions.begin() as session:
            clients.add_client(session, self.portal.storage, client_id, name=name or client_id,
                               folders=(folders.team_shared, folders.client_shared))  # fmt: skip

    def add_contact(self, login: str, client_id: str, *, password: str = PASSWORD) -> None:
        with self.portal.sessions.begin() as session:
            accounts.add_contact(session, login, client_id=client_id, password=password)


def start_portal(config: dict) -> Running:
    app = make_app(config)
    server = wsgi_server(("127.0.0.1", 0), app, numthreads=8)  # the server `davportal serve` runs
    server.prepare()  # binds now: bind_addr holds the real port
    threading.Thread(target=server.serve, daemon=True).start()
    host, port = server.bind_addr[:2]
    return Running(f"http://{host}:{port}", portal_of(app), server)


def seed_firm(running: Running) -> Running:
    """A small firm: staff sam; clients acme (alice, carol) and beta (bob)."""
    running.add_staff("sam", admin=True)
    running.add_client("acme", "Acme Ltd")
    running.add_client("beta", "Beta LLP")
    running.add_contact("alice", "acme")
    running.add_contact("carol", "acme")
    running.add_contact("bob", "beta")
    return running


@pytest.fixture(scope="module")
def firm(database_url, tmp_path_factory):
    """A running portal with the small firm of seed_firm."""
    running = start_portal(portal_config(database_url, tmp_path_factory.mktemp("storage")))
    try:
        yield seed_firm(running)
    finally:
        running.server.stop()
        running.portal.engine.dispose()


@pytest.fixture
def still(monkeypatch):
    """Stops the clock of the rows a node reads once a second (a login's account): what a test
    counts is then the request's own work, however slow the machine."""

    def hold(running: Running) -> None:
        for recent in (running.portal.recent, running.portal.recent_locks):
            now = recent.clock()
            monkeypatch.setattr(recent, "clock", lambda now=now: now)

    return hold


@pytest.fixture
def fresh_database_url(backend, tmp_path):
    with new_database(backend, tmp_path) as url:
        yield url


@pytest.fixture
def fresh_portal(fresh_database_url, tmp_path):
    """A portal with a database of its own, for tests that change settings or restart it."""
    started = []

    def start(**davportal) -> Running:
        running = start_portal(portal_config(fresh_database_url, tmp_path / "storage", **davportal))
        started.append(running)
        return running

    yield start
    for running in started:
        running.server.stop()
        running.portal.engine.dispose()


class Dav:
    """Raw HTTP as one login: what a WebDAV client sends, nothing normalised away."""

    def __init__(self, base_url: str, login: str, password: str):
        self.base_url = base_url
        self.session = requests.Session()
        self.session.auth = (login, password)

    def url(self, path: str) -> str:
        return self.base_url + quote(path)

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        return self.session.request(method, self.url(path), **kwargs)

    def put(self, path: str, data: bytes = b"content\n", **kwargs) -> requests.Response:
        return self.request("PUT", path, data=data, **kwargs)

    def propfind(self, path: str, depth: str = "1", **kwargs) -> requests.Response:
        return self.request("PROPFIND", path, headers={"Depth": depth}, **kwargs)

    def names(self, path: str) -> set[str]:
        """Names listed in a folder (Depth 1), without the folder itself."""
        response = self.propfind(path)
        assert response.status_code == 207, response.text
        responses = etree.fromstring(response.content).findall("{DAV:}response")
        hrefs = [unquote(r.findtext("{DAV:}href")) for r in responses]
        return {h[len(path) :].rstrip("/") for h in hrefs if h.rstrip("/") != path.rstrip("/")}


def basic_auth(login: str, password: str = PASSWORD) -> str:
    import base64

    return "Basic " + base64.b64encode(f"{login}:{password}".encode()).decode()


def raw_http(base_url: str, request: bytes, *, body_after: bytes | None = None, close_early=False):
    """Send bytes exactly as given; return (status, headers, body) of the response.

    `close_early` stops sending (an interrupted upload: the server reads end-of-stream), then
    waits for the server to finish with the connection, so the test can look at the result.
    """
    import socket
    from urllib.parse import urlsplit

    url = urlsplit(base_url)
    with socket.create_connection((url.hostname, url.port), timeout=30) as sock:
        sock.sendall(request)
        if body_after is not None:
            sock.sendall(body_after)
        if close_early:
            sock.shutdown(socket.SHUT_WR)
            while sock.recv(65536):
                pass
            return None
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        length = int(headers.get("content-length", "0"))
        while len(rest) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            rest += chunk
        return status, headers, rest


@pytest.fixture
def smtp_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def inbox(smtp_port):
    """An SMTP server on a free port (`inbox.port`) and what it received."""
    from tests.test_notifications import Inbox, _start_smtp  # the mail tests' server; they import this module

    inbox = Inbox()
    controller = _start_smtp(inbox, smtp_port)
    inbox.port = controller.port
    yield inbox
    controller.stop()


class Browser(requests.Session):
    """A browser's cookies, signed in through the sign-in page; `csrf` is its session's token."""

    csrf = ""


def signed_in(base_url: str, login: str, password: str = PASSWORD) -> Browser:
    web = base_url + "/.davportal-web"
    browser = Browser()
    page = browser.get(web + "/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    home = browser.post(web + "/login", data={"csrf": token, "login": login, "password": password})
    assert home.ok and "Sign out" in home.text, f"{login} could not sign in: {home.status_code}"
    browser.csrf = re.search(r'name="csrf" value="([^"]+)"', home.text).group(1)
    return browser
