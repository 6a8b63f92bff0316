"""HTTPS, as Windows needs for Basic auth: the portal's own TLS config, with rclone and cadaver."""

from __future__ import annotations

import os
import select
import subprocess
import threading
import time

import pytest
import requests
import trustme

from davportal.app import portal_of
from davportal.server import build_server
from davportal.services.portal import Portal
from tests.clients.conftest import require
from tests.conftest import ADMIN, CLIENT, PASSWORD, portal_config

LIMIT = 120  # seconds: the most an awaited answer or prompt may take on a busy machine


@pytest.fixture(scope="module")
def tls_portal(database_url, tmp_path_factory):
    folder = tmp_path_factory.mktemp("tls")
    ca = trustme.CA(organization_name="davportal test CA")
    certificate = ca.issue_cert("127.0.0.1", "localhost")
    certificate.private_key_and_cert_chain_pem.write_to_path(str(folder / "portal.pem"))
    ca.cert_pem.write_to_path(str(folder / "ca.pem"))
    config = portal_config(database_url, folder / "files")
    config.update(host="127.0.0.1", port=0, ssl_certificate=str(folder / "portal.pem"),
                  ssl_private_key=str(folder / "portal.pem"))  # fmt: skip
    server = build_server(config)
    server.prepare()
    threading.Thread(target=server.serve, daemon=True).start()
    portal: Portal = portal_of(server.wsgi_app)
    from provisioning import accounts, clients

    with portal.sessions.begin() as session:
        clients.add_client(session, portal.storage, "acme", name="Acme Ltd",
                           folders=("Team's shared", CLIENT), actor=ADMIN)  # fmt: skip
        accounts.add_contact(session, "alice", client_id="acme", password=PASSWORD, actor=ADMIN)
        accounts.add_contact(session, "tls-alice", client_id="acme", password="cadaver-tls-1", actor=ADMIN)
    try:
        yield f"https://127.0.0.1:{server.bind_addr[1]}", folder
    finally:
        server.stop()
        portal.engine.dispose()


def test_https_answers_with_the_configured_certificate(tls_portal):
    url, folder = tls_portal
    response = requests.request("PROPFIND", url + "/acme/", auth=("alice", PASSWORD), headers={"Depth": "1"},
                                verify=str(folder / "ca.pem"), timeout=LIMIT)  # fmt: skip
    assert response.status_code == 207
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(url + "/", timeout=LIMIT)  # not trusted without the firm's CA


def test_rclone_over_https(tls_portal, tmp_path):
    url, folder = tls_portal
    rclone = require("rclone")
    obscured = subprocess.run([rclone, "obscure", PASSWORD], capture_output=True, text=True, check=True)
    config = tmp_path / "rclone.conf"
    config.write_text(f"[portal]\ntype = webdav\nurl = {url}/\nvendor = owncloud\nuser = alice\n"
                      f"pass = {obscured.stdout.strip()}\n")  # fmt: skip
    (tmp_path / "send").mkdir()
    (tmp_path / "send" / "Statement.pdf").write_bytes(os.urandom(50_000))

    def run(*args):
        return subprocess.run([rclone, "--config", str(config), "--ca-cert", str(folder / "ca.pem"), *args],
                              capture_output=True, text=True, timeout=120)  # fmt: skip

    assert run("copy", str(tmp_path / "send"), f"portal:acme/{CLIENT}/tls").returncode == 0
    check = run("check", str(tmp_path / "send"), f"portal:acme/{CLIENT}/tls")
    assert check.returncode == 0 and "0 differences found" in check.stderr
    assert run("lsf", "portal:acme/").stdout.splitlines() == [f"{CLIENT}/", "Team's shared/"]


def test_cadaver_over_https(tls_portal, tmp_path):
    url, _ = tls_portal
    cadaver = require("cadaver")
    (tmp_path / ".netrc").write_text("machine 127.0.0.1 login tls-alice password cadaver-tls-1\n")
    os.chmod(tmp_path / ".netrc", 0o600)
    # neon trusts only the system's CAs and asks about any other certificate, on a terminal
    # only: the test gives it one, checks who issued the certificate, then says yes.
    terminal = Terminal([cadaver, url + "/acme/"], cwd=tmp_path, env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"})
    try:
        shown = terminal.read_until("(y/n)")
        assert "Issued by:" in shown and "davportal test CA" in shown
        terminal.send("y")
        terminal.read_until("dav:/acme/> ")
        terminal.send("ls")
        listing = terminal.read_until("dav:/acme/> ")
        assert "Listing collection `/acme/': succeeded." in listing and CLIENT in listing
        terminal.send("quit")
    finally:
        terminal.close()


class Terminal:
    """A program on a pseudo-terminal: what it prints is read until an expected prompt."""

    def __init__(self, args, *, cwd, env):
        self.master, slave = os.openpty()
        self.proc = subprocess.Popen(args, stdin=slave, stdout=slave, stderr=slave, cwd=cwd, env=env)
        os.close(slave)
        self.seen = ""

    def read_until(self, marker: str, seconds: float = LIMIT) -> str:
        deadline = time.monotonic() + seconds
        while marker not in self.seen and time.monotonic() < deadline:
            ready, _, _ = select.select([self.master], [], [], 0.1)
            if ready:
                try:
                    self.seen += os.read(self.master, 65536).decode(errors="replace")
                except OSError:
                    break  # the program ended
        if marker not in self.seen:
            raise AssertionError(f"no {marker!r} in: {self.seen}")
        before, _, self.seen = self.seen.partition(marker)
        return before

    def send(self, line: str) -> None:
        os.write(self.master, line.encode() + b"\n")

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=10)
        os.close(self.master)
