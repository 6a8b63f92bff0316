"""Starting, probing and stopping the portal and plain WsgiDAV, each in its own process (or processes)."""

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
from bench import dataset, processes
from bench.errors import BenchError
from davportal.app import WSGIDAV_WIRING

HOST = "127.0.0.1"
LOGIN = "bench"
PASSWORD = "harbour lantern 1"  # not containing the login: the password rules refuse that
CONTACT_LOGIN = "benchcontact"
CONTACT_PASSWORD = "quiet meadow 2"
WSGIDAV_BLOCK_SIZE = WSGIDAV_WIRING["block_size"]  # the portal's block size, for a fair GET and PUT
STARTUP_SECONDS = 120  # a busy machine starts a server later: only the wait grows
STOP_SECONDS = 10
LOG_TAIL_LINES = 20


@dataclass
class Server:
    name: str  # the key in the JSON results and for --servers: "wsgidav", "portal", "portal-n", or a peer's name
    process: subprocess.Popen
    base_url: str
    auth: tuple[str, str] | None
    log_path: Path
    database: str | None = None  # the portal's: "sqlite" or "postgresql"
    contact_auth: tuple[str, str] | None = None  # the portal's contact; other servers list anonymously

    @property
    def label(self) -> str:
        return f"{self.name} ({self.database})" if self.database else self.name

    def session(self, as_contact: bool = False) -> requests.Session:
        session = requests.Session()
        session.auth = self.contact_auth if as_contact and self.contact_auth else self.auth
        return session

    def url(self, path: str) -> str:
        return self.base_url + path.lstrip("/")

    def cpu_seconds(self) -> float:
        return processes.cpu_seconds(self.process.pid)

    def memory(self, field: str) -> processes.Memory:
        """VmRSS (now) or VmHWM (the most since start, or since reset) over the server's processes."""
        memory = processes.memory(self.process.pid, field)
        if not memory.processes:
            raise BenchError(f"{self.label}: no {field} in /proc/{self.process.pid}/status")
        return memory

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


def portal_config(workdir: Path, label: str, database_url: str, threads: int) -> Path:
    """Write a portal's config, its storage in workdir/LABEL-files; return its path."""
    config_path = workdir / f"{label}.yaml"
    config = {
        "davportal": {
            "database_url": database_url,
            "storage_root": str(workdir / f"{label}-files"),
            "uploads": {"allowed_extensions": ["*"]},
        },
        "server_args": {"numthreads": threads},
    }
    config_path.write_text(yaml.safe_dump(config))
    return config_path


def provision_portal(config_path: Path) -> None:
    """Create the portal's database and storage, the staff login, the client and its contact, as an admin would."""
    options = ["--config", str(config_path)]
    _run_setup(["init", *options])
    _run_setup(["staff", "add", LOGIN, "--password-stdin", *options], stdin=f"{PASSWORD}\n")
    _run_setup(["client", "add", dataset.CLIENT, "--name", "Bench", *options])
    _run_setup(["contact", "add", CONTACT_LOGIN, "--client", dataset.CLIENT, "--password-stdin", *options],
               stdin=f"{CONTACT_PASSWORD}\n")  # fmt: skip


def portal_storage(config_path: Path) -> Path:
    return Path(yaml.safe_load(config_path.read_text())["davportal"]["storage_root"])


def start_portal(workdir: Path, config_path: Path, name: str, database: str, workers: int) -> Server:
    port = free_port()
    command = _console_script("davportal", "serve", "--config", str(config_path), "--host", HOST,
                              "--port", str(port), "--workers", str(workers))  # fmt: skip
    server = start_process(name, command, port, (LOGIN, PASSWORD), workdir, log_name=config_path.stem)
    server.database = database
    server.contact_auth = (CONTACT_LOGIN, CONTACT_PASSWORD)
    return server


def start_wsgidav(workdir: Path, root: Path, threads: int) -> Server:
    """Plain WsgiDAV in its fair configuration: anonymous, on the same cheroot and thread count as the portal.

    lxml (installed) builds its XML; logging is off; properties and locks are kept in memory, as a
    small deployment would; and it reads and writes bodies in blocks as large as the portal's
    (WsgiDAV's own default is 8 KiB), so the large transfers compare the servers, not the block size.
    """
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
        "verbose": 1,
        "logging": {"enable": False},
        "property_manager": True,
        "lock_storage": True,
        "block_size": WSGIDAV_BLOCK_SIZE,
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


def start_process(name: str, command: list[str], port: int, auth, workdir: Path,
                  log_name: str | None = None) -> Server:  # fmt: skip
    """Start a server with its output in workdir/NAME.log; return once it answers PROPFIND."""
    log_path = workdir / f"{log_name or name}.log"
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
    name = server.log_path.stem
    with server.session() as session:
        while True:
            if server.process.poll() is not None:
                raise BenchError(
                    f"{name} exited with status {server.process.returncode} while starting:\n{server.log_tail()}"
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
                    f"{name} answered PROPFIND / with {response.status_code} while starting:\n{response.text[:500]}"
                )
            if time.monotonic() > deadline:
                raise BenchError(f"{name} did not answer within {STARTUP_SECONDS} s:\n{server.log_tail()}")
            time.sleep(0.1)
