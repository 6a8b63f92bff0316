"""Starting, probing and stopping the portal and plain WsgiDAV, each in its own process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import sysconfig
import time
from dataclasses import dataclass
from pathlib import Path

import requests
import yaml

import davportal.core.settings as portal_settings
from bench.errors import BenchError

HOST = "127.0.0.1"
LOGIN = "bench"
PASSWORD = "benchpass1"
STARTUP_SECONDS = 120  # a busy machine starts a server later: only the wait grows
STOP_SECONDS = 10
LOG_TAIL_LINES = 20


@dataclass
class Server:
    name: str  # the key in the JSON results: "portal", "wsgidav", or a peer's name
    process: subprocess.Popen
    base_url: str
    auth: tuple[str, str] | None
    log_path: Path

    def session(self) -> requests.Session:
        session = requests.Session()
        session.auth = self.auth
        return session

    def url(self, path: str) -> str:
        return self.base_url + path.lstrip("/")

    def peak_rss_kib(self) -> int:
        """VmHWM: the most resident memory the server process held since it started (or since reset), in KiB."""
        return self.memory_kib("VmHWM")

    def memory_kib(self, field: str) -> int:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        for line in status.splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
        raise BenchError(f"{self.name}: no {field} in /proc/{self.process.pid}/status")

    def log_tail(self) -> str:
        lines = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(lines[-LOG_TAIL_LINES:])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(STOP_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def provision_portal(workdir: Path, storage_root: Path, threads: int) -> Path:
    """Write the portal's config, create its database, the staff login and the client; return the config."""
    config_path = workdir / "portal.yaml"
    config = {
        "davportal": {
            "database_url": f"sqlite:///{workdir / 'portal.db'}",
            "storage_root": str(storage_root),
            "uploads": {"allowed_extensions": ["*"]},
        },
        "server_args": {"numthreads": threads},
    }
    config_path.write_text(yaml.safe_dump(config))
    options = ["--config", str(config_path)]
    _run_setup(["init", *options])
    _run_setup(["staff", "add", LOGIN, "--password-stdin", *options], stdin=f"{PASSWORD}\n")
    _run_setup(["client", "add", LOGIN, "--name", "Bench", *options])
    return config_path


def start_portal(workdir: Path, config_path: Path) -> Server:
    port = free_port()
    command = _console_script("davportal", "serve", "--config", str(config_path), "--host", HOST, "--port", str(port))
    return start_process("portal", command, port, (LOGIN, PASSWORD), workdir)


def start_wsgidav(workdir: Path, root: Path, threads: int) -> Server:
    """Plain WsgiDAV on the same backend (cheroot) and thread count, anonymous access."""
    port = free_port()
    config_path = workdir / "wsgidav.yaml"
    config = {
        "host": HOST,
        "port": port,
        "provider_mapping": {"/": str(root)},
        "http_authenticator": {
            "domain_controller": None,
            "accept_basic": True,
            "accept_digest": False,
            "default_to_digest": False,
        },
        "simple_dc": {"user_mapping": {"*": True}},
        "server": "cheroot",
        "server_args": {"numthreads": threads},
        "verbose": 2,
        "logging": {"enable": True},
        "dir_browser": {"enable": False},
    }
    config_path.write_text(yaml.safe_dump(config))
    command = _console_script("wsgidav", "--config", str(config_path))
    return start_process("wsgidav", command, port, None, workdir)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _console_script(name: str, *args: str) -> list[str]:
    # Run the installed script with this interpreter: no shim or wrapper process in between,
    # so the Popen pid is the server itself (its /proc status is the server's memory).
    script = Path(sysconfig.get_path("scripts")) / name
    if not script.is_file():
        raise BenchError(f"{script} not found: is davportal installed (pip install -e .[test])?")
    return [sys.executable, str(script), *args]


def _clean_env() -> dict[str, str]:
    # A developer's own portal settings must never point the bench at their database.
    env = dict(os.environ)
    for key in (portal_settings.CONFIG_ENV, portal_settings.DATABASE_URL_ENV):
        env.pop(key, None)
    return env


def _run_setup(args: list[str], stdin: str | None = None) -> None:
    command = _console_script("davportal", *args)
    done = subprocess.run(command, input=stdin, capture_output=True, text=True, env=_clean_env())
    if done.returncode != 0:
        raise BenchError(f"portal setup failed: davportal {' '.join(args)}\n{done.stderr.strip()}")


def start_process(name: str, command: list[str], port: int, auth, workdir: Path) -> Server:
    """Start a server with its output in workdir/NAME.log; return once it answers PROPFIND."""
    log_path = workdir / f"{name}.log"
    # The log goes to a file, not a pipe: a pipe nobody reads would fill and stall the server.
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            cwd=workdir, env=_clean_env(),
        )  # fmt: skip
    server = Server(name, process, f"http://{HOST}:{port}/", auth, log_path)
    try:
        _wait_ready(server)
    except BaseException:
        server.stop()
        raise
    return server


def _wait_ready(server: Server) -> None:
    """Poll until an authenticated PROPFIND answers: the portal has then also cached the login."""
    deadline = time.monotonic() + STARTUP_SECONDS
    with server.session() as session:
        while True:
            if server.process.poll() is not None:
                raise BenchError(
                    f"{server.name} exited with status {server.process.returncode} while starting:\n{server.log_tail()}"
                )
            try:
                # The first login hashes a password: on a busy machine that alone can take seconds.
                response = session.request("PROPFIND", server.base_url, headers={"Depth": "0"}, timeout=STARTUP_SECONDS)
            except requests.ConnectionError:
                response = None  # not listening yet
            if response is not None:
                if response.status_code == 207:
                    return
                raise BenchError(
                    f"{server.name} answered PROPFIND / with {response.status_code} while starting:\n"
                    f"{response.text[:500]}"
                )
            if time.monotonic() > deadline:
                raise BenchError(f"{server.name} did not answer within {STARTUP_SECONDS} s:\n{server.log_tail()}")
            time.sleep(0.1)
