"""A slow or hostile client cannot stall `davportal serve` (davportal.server.build_server, as served).

Slow clients here send a byte a second: request heads, upload bodies, TLS handshakes. Two
portals run: a patient one, whose limits keep the slow connections open for the whole test (so
"answered while they are open" is a fact checked afterwards, not a race), and a strict one, whose
short limits close them. What the tests wait for are events, each with a generous limit: an
answer arrives, a socket sees the server close it, the workers are all busy.
"""

from __future__ import annotations

import select
import socket
import threading
import time
from urllib.parse import quote, urlsplit

import pytest
import requests
import trustme

from davportal.app import portal_of
from davportal.core.errors import ConfigError
from davportal.server import build_server
from davportal.web import health
from tests.conftest import PASSWORD, TEAM, Running, basic_auth, new_database, portal_config, seed_firm

WORKERS = 4  # fewer than the slow clients, so that ten of them could take every one
PATIENT = {"header_seconds": 300, "keepalive_seconds": 300, "body_grace_seconds": 300}
STRICT = {"header_seconds": 2, "keepalive_seconds": 2, "body_grace_seconds": 1, "min_body_bytes_per_second": 1024}
LIMIT = 60  # seconds: the most any awaited event may take before the test fails

# A head that takes minutes at a byte a second: it never completes while a test runs.
SLOW_HEAD = ("PROPFIND /acme/ HTTP/1.1\r\nHost: portal\r\nDepth: 1\r\nX-Padding: " + "p" * 300 + "\r\n\r\n").encode()


def _start(backend: str, folder, limits: dict, *, tls: trustme.CA | None = None):
    with new_database(backend, folder) as url:
        config = {**portal_config(url, folder / "files", limits=limits), "host": "127.0.0.1", "port": 0,
                  "server_args": {"numthreads": WORKERS}}  # fmt: skip
        if tls:
            tls.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(str(folder / "portal.pem"))
            config.update(ssl_certificate=str(folder / "portal.pem"), ssl_private_key=str(folder / "portal.pem"))
        server = build_server(config)
        server.prepare()
        serving = threading.Thread(target=server.serve, daemon=True)
        serving.start()
        scheme = "https" if tls else "http"
        running = Running(f"{scheme}://127.0.0.1:{server.bind_addr[1]}", portal_of(server.wsgi_app), server)
        try:
            yield seed_firm(running)
        finally:
            server.stop()
            serving.join(LIMIT)
            running.portal.engine.dispose()


@pytest.fixture(scope="module")
def patient(backend, tmp_path_factory):
    yield from _start(backend, tmp_path_factory.mktemp("patient"), PATIENT)


@pytest.fixture(scope="module")
def strict(backend, tmp_path_factory):
    yield from _start(backend, tmp_path_factory.mktemp("strict"), STRICT)


@pytest.fixture(scope="module")
def ca():
    return trustme.CA(organization_name="davportal test CA")


@pytest.fixture(scope="module")
def patient_tls(backend, tmp_path_factory, ca):
    yield from _start(backend, tmp_path_factory.mktemp("patient-tls"), PATIENT, tls=ca)


@pytest.fixture(scope="module")
def strict_tls(backend, tmp_path_factory, ca):
    yield from _start(backend, tmp_path_factory.mktemp("strict-tls"), STRICT, tls=ca)


class SlowClients:
    """One connection per (at once, trickled) pair: each sends its first part at once, then its
    second one byte a second."""

    def __init__(self, base_url: str, messages: list[tuple[bytes, bytes]]):
        url = urlsplit(base_url)
        self.socks = [socket.create_connection((url.hostname, url.port), timeout=LIMIT) for _ in messages]
        for sock, (at_once, _) in zip(self.socks, messages):
            sock.sendall(at_once)
        self._trickled = [trickled for _, trickled in messages]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._trickle, daemon=True)
        self._thread.start()

    @classmethod
    def heads(cls, base_url: str, count: int, head: bytes) -> SlowClients:
        return cls(base_url, [(head[:1], head[1:])] * count)

    def _trickle(self):
        for i in range(max(len(data) for data in self._trickled)):
            if self._stop.wait(1):
                return
            for sock, data in zip(self.socks, self._trickled):
                try:
                    sock.send(data[i : i + 1])
                except OSError:
                    pass  # closed by the server: what the strict tests wait for

    def all_open(self) -> bool:
        """No connection has been closed (or answered) by the server: none has anything to read."""
        poller = select.poll()
        for sock in self.socks:
            poller.register(sock, select.POLLIN)
        return not poller.poll(0)

    def until_closed(self) -> list[bytes]:
        """Read every connection until the server closes it; what each received before that."""
        received = []
        for sock in self.socks:
            data = b""
            try:
                while chunk := sock.recv(65536):
                    data += chunk
            except ConnectionResetError:
                pass  # closed with a byte of ours still unread: a close all the same
            received.append(data)
        return received

    def close(self):
        self._stop.set()
        self._thread.join(LIMIT)
        for sock in self.socks:
            sock.close()


def wait_for(condition, what: str):
    for _ in range(LIMIT * 20):
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"not within {LIMIT} s: {what}")


def healthy(running: Running, **kwargs) -> bool:
    response = requests.get(running.url + health.PATH, timeout=LIMIT, **kwargs)
    return response.status_code == 200 and response.text == "ok\n"


def listed(running: Running, **kwargs) -> bool:
    response = requests.request("PROPFIND", running.url + "/acme/", auth=("sam", PASSWORD), headers={"Depth": "1"},
                                timeout=LIMIT, **kwargs)  # fmt: skip
    return response.status_code == 207


def slow_uploads(running: Running, count: int) -> tuple[SlowClients, list[str]]:
    """Uploads by staff, each with a 5,000-byte body: the head at once, the body a byte a second."""
    assert listed(running)  # sam's password is checked now and cached, not by ten requests at once
    paths = [f"/acme/{TEAM}/slow-{i}-{time.monotonic_ns()}.pdf" for i in range(count)]
    host = urlsplit(running.url).netloc
    heads = [(f"PUT {quote(path)} HTTP/1.1\r\nHost: {host}\r\nAuthorization: {basic_auth('sam')}\r\n"
              f"Content-Length: 5000\r\n\r\n").encode() for path in paths]  # fmt: skip
    return SlowClients(running.url, [(head + b"%", b"%" * 4999) for head in heads]), paths


# --- request heads one byte a second ---------------------------------------------------------------


@pytest.mark.parametrize("count", [10, 100])
def test_slow_heads_take_no_worker(patient, count):
    slow = SlowClients.heads(patient.url, count, SLOW_HEAD)
    try:
        assert healthy(patient)
        assert listed(patient)
        wait_for(lambda: patient.server.requests.idle == WORKERS, "every worker idle while the heads trickle in")
        assert slow.all_open()
    finally:
        slow.close()


@pytest.mark.parametrize("count", [10, 100])
def test_slow_heads_are_closed(strict, count):
    slow = SlowClients.heads(strict.url, count, SLOW_HEAD)
    try:
        received = slow.until_closed()
        # A request had begun: the server says why it ends (408), or the close says it alone.
        assert all(data in (b"", b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
                   for data in received), received  # fmt: skip
        assert healthy(strict)
        assert listed(strict)
    finally:
        slow.close()


def test_a_kept_alive_connection_is_closed_when_idle(strict):
    url = urlsplit(strict.url)
    with socket.create_connection((url.hostname, url.port), timeout=LIMIT) as sock:
        sock.sendall(f"GET {health.PATH} HTTP/1.1\r\nHost: {url.netloc}\r\n\r\n".encode())
        data = b""
        while not data.endswith(b"ok\n") and (chunk := sock.recv(65536)):
            data += chunk
        assert data.startswith(b"HTTP/1.1 200 ") and b"connection: close" not in data.lower()  # kept alive
        assert sock.recv(65536) == b""  # then closed by the server, once idle for keepalive_seconds


# --- request bodies one byte a second --------------------------------------------------------------


def test_slow_bodies_leave_the_health_check_answered(patient):
    slow, _ = slow_uploads(patient, 10)
    try:
        wait_for(lambda: patient.server.requests.idle == 0, "every worker reading a slow upload")
        assert healthy(patient)
        assert patient.server.requests.idle == 0 and slow.all_open()
    finally:
        slow.close()


def test_slow_bodies_are_closed(strict):
    slow, paths = slow_uploads(strict, 10)
    try:
        assert healthy(strict)
        assert listed(strict)  # answered once the slow bodies fall behind and free the workers
        received = slow.until_closed()
        assert all(data == b"" or data.startswith(b"HTTP/1.1 400 ") for data in received), received
    finally:
        slow.close()
    sam = strict.as_user("sam")
    assert all(sam.request("HEAD", path).status_code == 404 for path in paths)  # nothing half-stored


# --- TLS handshakes one byte a second --------------------------------------------------------------

HANDSHAKE = b"\x16\x03\x01\x02\x00" + bytes(512)  # a TLS handshake record of 512 bytes: minutes at a byte a second


def test_slow_handshakes_take_no_worker_and_stall_nothing(patient_tls, ca, tmp_path):
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    slow = SlowClients.heads(patient_tls.url, 10, HANDSHAKE)
    try:
        assert healthy(patient_tls, verify=str(tmp_path / "ca.pem"))
        assert listed(patient_tls, verify=str(tmp_path / "ca.pem"))
        assert slow.all_open()
    finally:
        slow.close()


def test_slow_handshakes_are_closed(strict_tls, ca, tmp_path):
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    slow = SlowClients.heads(strict_tls.url, 10, HANDSHAKE)
    try:
        assert slow.until_closed() == [b""] * 10
        assert healthy(strict_tls, verify=str(tmp_path / "ca.pem"))
        assert listed(strict_tls, verify=str(tmp_path / "ca.pem"))
    finally:
        slow.close()


def test_tls_is_python_ssl_only():
    """The handshake runs step by step beside every other connection: another adapter is refused."""
    with pytest.raises(ConfigError, match="ssl_adapter must be builtin"):
        build_server({"ssl_certificate": "portal.pem", "ssl_private_key": "portal.pem", "ssl_adapter": "pyopenssl"})
