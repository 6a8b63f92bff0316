"""Three real nodes sharing one PostgreSQL database and one storage folder."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
import requests
import yaml
from sqlalchemy import create_engine, text

from davportal.core.settings import settings_of
from davportal.services import requests as document_requests
from davportal.services.portal import Portal
from davportal.services.request import RequestContext
from davportal.services.requests import NewItem
from provisioning import clients
from tests.conftest import ADMIN, CLIENT, PASSWORD, POSTGRES_ENV, TEAM, basic_auth, new_database
from tests.test_notifications import Inbox, _start_smtp

pytestmark = [
    pytest.mark.skipif(not os.environ.get(POSTGRES_ENV), reason="several nodes need PostgreSQL"),
    pytest.mark.xdist_group("several-nodes"),  # one cluster, on one worker
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _davportal(*args, config: Path, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(Path(sys.executable).parent / "davportal"), *args, "--config", str(config)],
                          input=stdin, capture_output=True, text=True, timeout=120)  # fmt: skip


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cluster")
    inbox = Inbox()
    smtp = _start_smtp(inbox, _free_port())
    with new_database("postgresql", folder) as database_url:
        config = folder / "davportal.yaml"
        config.write_text(yaml.safe_dump({
            "davportal": {
                "database_url": database_url, "storage_root": str(folder / "files"),
                "mail": {"host": "127.0.0.1", "port": smtp.port, "security": "none", "claim_seconds": 60},
                "notifications": {"digest_seconds": 0, "send_in_serve": False},
            },
        }))  # fmt: skip
        assert _davportal("init", config=config).returncode == 0
        _davportal("staff", "add", "sam", "--password-stdin", config=config, stdin=PASSWORD + "\n")
        _davportal("client", "add", "acme", "--name", "Acme", config=config)
        for login in ("alice", "carol"):
            _davportal("contact", "add", login, "--client", "acme", "--email", f"{login}@acme.example",
                       "--password-stdin", config=config, stdin=PASSWORD + "\n")  # fmt: skip
        nodes = {}
        try:
            for name in "ABC":
                port = _free_port()
                nodes[name] = (subprocess.Popen([str(Path(sys.executable).parent / "davportal"), "serve", "--config",
                                                 str(config), "--port", str(port)], cwd=folder,
                                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
                               f"http://127.0.0.1:{port}")  # fmt: skip
            for process, url in nodes.values():
                _wait_until_healthy(process, url)
            yield {"nodes": nodes, "config": config, "inbox": inbox, "database_url": database_url,
                   "storage": folder / "files"}  # fmt: skip
        finally:
            for process, _ in nodes.values():
                if process.poll() is None:
                    process.terminate()
                    process.wait(timeout=30)
            smtp.stop()


def _wait_until_healthy(process: subprocess.Popen, url: str, seconds: float = 120) -> None:
    """Until the node answers its health check: a busy machine starts it later, never too late."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, f"the node for {url} ended (exit {process.returncode}) before it served"
        try:
            if requests.get(url + "/.davportal-web/health", timeout=seconds).text == "ok\n":
                return
        except requests.ConnectionError:
            pass  # not listening yet
        time.sleep(0.1)
    raise AssertionError(f"node at {url} did not start within {seconds} s")


def _url(cluster, node: str, path: str) -> str:
    return cluster["nodes"][node][1] + quote(path)


def _as(login: str, password: str = PASSWORD) -> requests.Session:
    session = requests.Session()
    session.auth = (login, password)
    return session


LOCK = ("<D:lockinfo xmlns:D='DAV:'><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype>"
        "</D:lockinfo>")  # fmt: skip


def test_a_lock_taken_on_one_node_holds_on_another(cluster):
    sam = _as("sam")
    path = f"/acme/{TEAM}/locked-{uuid.uuid4().hex[:6]}.pdf"
    assert sam.put(_url(cluster, "A", path), data=b"v1").status_code == 201
    lock = sam.request("LOCK", _url(cluster, "A", path), data=LOCK, headers={"Timeout": "Second-60"})
    assert lock.status_code == 200
    token = lock.headers["Lock-Token"].strip("<>")
    engine = create_engine(cluster["database_url"])
    with engine.connect() as conn:  # kept where every node sees it
        assert conn.execute(text("SELECT principal FROM dav_lock WHERE token = :t"), {"t": token}).scalar() == "sam"
    engine.dispose()
    assert sam.put(_url(cluster, "B", path), data=b"v2").status_code == 423
    unlock = sam.request("UNLOCK", _url(cluster, "C", path), headers={"Lock-Token": lock.headers["Lock-Token"]})
    assert unlock.status_code == 204
    assert sam.put(_url(cluster, "B", path), data=b"v2").status_code == 204


def test_a_file_uploaded_through_one_node_is_listed_read_and_deleted_through_another(cluster):
    sam, alice = _as("sam"), _as("alice")
    path = f"/acme/{TEAM}/shared-{uuid.uuid4().hex[:6]}.pdf"
    assert sam.put(_url(cluster, "A", path), data=b"content").status_code == 201
    assert path.rsplit("/", 1)[1] in alice.request("PROPFIND", _url(cluster, "B", f"/acme/{TEAM}/"),
                                                   headers={"Depth": "1"}).text  # fmt: skip
    assert alice.get(_url(cluster, "C", path)).content == b"content"
    assert sam.delete(_url(cluster, "B", path)).status_code == 204
    assert alice.get(_url(cluster, "A", path)).status_code == 404


def test_a_disabled_login_is_refused_by_every_node_at_once(cluster):
    _davportal("contact", "add", "dora", "--client", "acme", "--password-stdin", config=cluster["config"],
               stdin=PASSWORD + "\n")  # fmt: skip
    dora = _as("dora")
    for node in "ABC":
        assert dora.request("PROPFIND", _url(cluster, node, "/acme/"), headers={"Depth": "0"}).status_code == 207
    assert _davportal("user", "disable", "dora", config=cluster["config"]).returncode == 0
    for node in "ABC":
        assert dora.request("PROPFIND", _url(cluster, node, "/acme/"), headers={"Depth": "0"}).status_code == 401


def test_a_changed_password_is_refused_by_every_node_at_once(cluster):
    _davportal("contact", "add", "erin", "--client", "acme", "--password-stdin", config=cluster["config"],
               stdin=PASSWORD + "\n")  # fmt: skip
    erin = _as("erin")
    for node in "ABC":  # each node (and its worker processes) now holds erin's row
        for _ in range(4):
            assert erin.request("PROPFIND", _url(cluster, node, "/acme/"), headers={"Depth": "0"}).status_code == 207
    new = "a new passphrase, changed"
    assert _davportal("passwd", "erin", "--password-stdin", config=cluster["config"], stdin=new + "\n").returncode == 0
    for node in "ABC":
        assert erin.request("PROPFIND", _url(cluster, node, "/acme/"), headers={"Depth": "0"}).status_code == 401
        assert _as("erin", new).request("PROPFIND", _url(cluster, node, "/acme/"),
                                        headers={"Depth": "0"}).status_code == 207  # fmt: skip


def test_a_contact_taken_off_a_client_is_refused_by_every_node_at_once(cluster):
    _davportal("contact", "add", "fay", "--client", "acme", "--password-stdin", config=cluster["config"],
               stdin=PASSWORD + "\n")  # fmt: skip
    fay = _as("fay")
    for node in "ABC":
        for _ in range(4):
            assert fay.request("PROPFIND", _url(cluster, node, "/acme/"), headers={"Depth": "0"}).status_code == 207
    assert _davportal("contact", "remove", "fay", "--client", "acme", config=cluster["config"]).returncode == 0
    for node in "ABC":
        assert fay.request("PROPFIND", _url(cluster, node, "/acme/"), headers={"Depth": "0"}).status_code == 404


def test_an_archived_client_is_closed_to_its_contacts_by_every_node_at_once(cluster):
    _davportal("contact", "add", "gus", "--client", "acme", "--password-stdin", config=cluster["config"],
               stdin=PASSWORD + "\n")  # fmt: skip
    gus = _as("gus")
    for node in "ABC":
        for _ in range(4):
            assert gus.request("PROPFIND", _url(cluster, node, "/acme/"), headers={"Depth": "0"}).status_code == 207
    # As the admin console (or any process of the portal) does it: through the portal's service.
    portal = Portal(settings_of(yaml.safe_load(cluster["config"].read_text()), "cluster"))
    try:
        with portal.sessions.begin() as session:
            clients.archive(session, "acme", actor=ADMIN)
        for node in "ABC":
            assert gus.request("PROPFIND", _url(cluster, node, "/acme/"), headers={"Depth": "0"}).status_code == 404
            assert _as("sam").request("PROPFIND", _url(cluster, node, "/acme/"),
                                      headers={"Depth": "0"}).status_code == 207  # fmt: skip
    finally:
        with portal.sessions.begin() as session:
            clients.unarchive(session, "acme", actor=ADMIN)
        portal.engine.dispose()


def test_two_senders_deliver_every_message_exactly_once(cluster):
    sam = _as("sam")
    for n in range(10):
        assert sam.put(_url(cluster, "ABC"[n % 3], f"/acme/{TEAM}/notice-{n}.pdf"), data=b"x").status_code == 201
    cluster["inbox"].messages.clear()
    run_once = {"target": _davportal, "args": ("notify", "run", "--once"), "kwargs": {"config": cluster["config"]}}
    senders = [threading.Thread(**run_once) for _ in range(2)]
    for sender in senders:
        sender.start()
    for sender in senders:
        sender.join()
    _davportal("notify", "run", "--once", config=cluster["config"])  # anything the two left (claimed, not sent)
    received = cluster["inbox"].messages
    ids = [m["Message-ID"] for m in received]
    assert len(ids) == len(set(ids))  # nothing twice
    assert sorted(m["To"] for m in received) == ["alice@acme.example", "carol@acme.example"]


def test_a_request_sent_or_cancelled_through_one_process_shows_on_every_node_at_once(cluster):
    """A request's folders are rules of its client, kept a second per node with the client's row:
    sending it (from the console, the CLI or another node) and cancelling it move the mark every
    node looks at, so none serves the old rules."""
    alice, shared = _as("alice"), f"/acme/{CLIENT}/"
    for node in "ABC":  # each node now holds acme's rules
        for _ in range(4):
            assert alice.request("PROPFIND", _url(cluster, node, shared), headers={"Depth": "1"}).status_code == 207
    title = f"Year end {uuid.uuid4().hex[:6]}"
    portal = Portal(settings_of(yaml.safe_load(cluster["config"].read_text()), "cluster"))
    try:
        context = RequestContext(portal, actor=ADMIN)
        try:
            request = document_requests.create(context, "acme", title=title, items=[NewItem("P60")])
            request_id, folder = request.id, f"/acme/{request.folder}"
            context.session.commit()
        finally:
            context.session.close()
        for node in "ABC":
            listing = alice.request("PROPFIND", _url(cluster, node, shared), headers={"Depth": "1"})
            assert quote(f"Requested - {title}") in listing.text, node
        assert alice.put(_url(cluster, "B", f"{folder}/P60/p60.pdf"), data=b"%PDF p60").status_code == 201
        context = RequestContext(portal, actor=ADMIN)
        try:
            document_requests.cancel(context, request_id)
            context.session.commit()
        finally:
            context.session.close()
        for node in "ABC":
            gone = alice.request("PROPFIND", _url(cluster, node, f"{folder}/P60/"), headers={"Depth": "0"})
            assert gone.status_code == 404, node
            assert _as("sam").get(_url(cluster, node, f"{folder}/P60/p60.pdf")).content == b"%PDF p60"
    finally:
        portal.engine.dispose()


def test_a_node_killed_mid_upload_leaves_nothing_and_another_node_takes_the_retry(cluster):
    path = f"/acme/{TEAM}/big-{uuid.uuid4().hex[:6]}.zip"
    process, url = cluster["nodes"]["A"]
    size = 50 * 1024 * 1024
    head = (f"PUT {quote(path)} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {size}\r\n"
            f"Authorization: {basic_auth('sam')}\r\n\r\n")  # fmt: skip
    with socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1]))) as sock:
        sock.sendall(head.encode())
        sock.sendall(b"z" * (10 * 1024 * 1024))
        _wait_until_writing(cluster["storage"] / "acme" / TEAM)
        process.send_signal(signal.SIGKILL)  # the node dies mid-upload, its temporary file part-written
        process.wait(timeout=30)
    sam = _as("sam")
    assert sam.head(_url(cluster, "B", path)).status_code == 404  # nothing half-written is visible
    body = os.urandom(1024) * (size // 1024)
    assert sam.put(_url(cluster, "B", path), data=body).status_code == 201
    assert sam.get(_url(cluster, "C", path)).content == body


def _wait_until_writing(folder, seconds: float = 60) -> None:
    """Until an upload's temporary file in `folder` holds bytes: the kill then lands mid-upload."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if any(p.stat().st_size > 0 for p in folder.glob(".davportal-*.part")):
            return
        time.sleep(0.05)
    raise AssertionError("the upload never started writing")


def test_the_health_endpoint_reveals_nothing_else(cluster):
    response = requests.get(_url(cluster, "B", "/.davportal-web/health"))
    assert response.status_code == 200 and response.text == "ok\n"
    engine = create_engine(cluster["database_url"])
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM client")).scalar() == 1
    engine.dispose()
