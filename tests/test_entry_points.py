"""The shipped config runs under `davportal serve`; the demo works, on its own database only; a
clear-text start beyond loopback is refused."""

from __future__ import annotations

import os
import queue
import re
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import requests
import yaml
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "config" / "davportal.yaml"


def _console(name: str) -> list[str]:
    """The installed console script (`davportal`, `wsgidav`) beside this interpreter."""
    script = Path(sys.executable).parent / name
    return [str(script if script.exists() else shutil.which(name))]


NO_CONFIG = {"DAVPORTAL_CONFIG": "", "DAVPORTAL_DATABASE_URL": ""}  # the embedded defaults, in the cwd


class Process:
    """A command as a subprocess, its output (stdout and stderr) read as it comes.

    Nothing here waits for a set time: a busy machine starts the server when it can, and a
    server that ends before it is ready fails the test with its output.
    """

    def __init__(self, args, cwd, env=None):
        self.proc = subprocess.Popen(args, cwd=cwd, env={**os.environ, **(env or {})},
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
        self.output = ""
        self._lines: queue.Queue[str | None] = queue.Queue()
        # Read all along, so that the server never blocks on a full pipe while it logs requests.
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def read_until(self, ready) -> str:
        """The output up to the first line for which `ready(line)` is true."""
        while True:
            line = self._lines.get()
            if line is None:
                raise AssertionError(f"the command ended (exit {self.proc.wait()}) first:\n{self.output}")
            self.output += line
            if ready(line):
                return self.output

    def served_url(self) -> str:
        """The URL the server prints once it listens: port 0 lets the system pick a free port."""
        line = self.read_until(lambda line: line.startswith("davportal is serving ")).splitlines()[-1]
        return line.split()[3].rstrip("/")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def example_config(tmp_path, fresh_database_url):
    """config/davportal.yaml as shipped, pointed at this test's database and storage, on a free port."""
    config = yaml.safe_load(EXAMPLE.read_text())
    config["port"] = 0
    config["davportal"]["database_url"] = fresh_database_url
    config["davportal"]["storage_root"] = str(tmp_path / "files")
    config["davportal"]["matter_types_file"] = str(ROOT / "config" / "matter-types.yaml")
    path = tmp_path / "davportal.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _provision(config: Path, cwd: Path) -> None:
    def run(*args, stdin=None):
        subprocess.run([*_console("davportal"), *args, "--config", str(config)], cwd=cwd,
                       input=stdin, text=True, check=True, capture_output=True)  # fmt: skip

    run("init")
    run("client", "add", "acme", "--name", "Acme Ltd")
    run("client", "add", "beta", "--name", "Beta LLP")
    run("contact", "add", "alice", "--client", "acme", "--password-stdin", stdin="long acme password\n")


def test_the_example_config_serves_the_portal(example_config, tmp_path):
    _provision(example_config, tmp_path)
    process = Process([*_console("davportal"), "serve", "--config", str(example_config)], cwd=tmp_path)
    try:
        url = process.served_url()
        auth = ("alice", "long acme password")
        response = requests.request("PROPFIND", f"{url}/", auth=auth, headers={"Depth": "1"})
        assert response.status_code == 207
        assert "/acme/" in response.text and "beta" not in response.text
        response = requests.put(f"{url}/acme/Team's shared/x.pdf", data=b"x", auth=auth)
        assert response.status_code == 403
        assert "read and download" in response.text
    finally:
        process.stop()


def _start_demo(cwd: Path) -> tuple[Process, str, dict[str, str]]:
    """`davportal serve --demo` on the embedded defaults in `cwd`: the process, its URL, its logins."""
    process = Process([*_console("davportal"), "serve", "--demo", "--port", "0"], cwd=cwd, env=NO_CONFIG)
    try:
        url = process.served_url()
        output = process.read_until(lambda line: line.lstrip().startswith("bob "))
    except BaseException:
        process.stop()
        raise
    return process, url, dict(re.findall(r"^\s+(\w+)\s+password (\S+)", output, re.MULTILINE))


def _lists_acme(url: str, login: str, password: str) -> requests.Response:
    return requests.request("PROPFIND", f"{url}/acme/", auth=(login, password), headers={"Depth": "1"})


def test_demo_prints_logins_that_work_and_new_ones_at_every_start(tmp_path):
    process, url, logins = _start_demo(tmp_path)
    try:
        assert set(logins) == {"sam", "alice", "bob"}
        alice = _lists_acme(url, "alice", logins["alice"])
        assert alice.status_code == 207 and "Matter%20notes" not in alice.text
        assert "Matter%20notes" in _lists_acme(url, "sam", logins["sam"]).text
        assert (tmp_path / "davportal-data" / "davportal.db").exists()
    finally:
        process.stop()
    # Its own database, the demo knows again: it starts, with new passwords.
    process, url, again = _start_demo(tmp_path)
    try:
        assert set(again) == {"sam", "alice", "bob"} and again["alice"] != logins["alice"]
        assert _lists_acme(url, "alice", again["alice"]).status_code == 207
        assert _lists_acme(url, "alice", logins["alice"]).status_code == 401
    finally:
        process.stop()


def _accounts(database_url: str) -> dict[str, str | None]:
    engine = create_engine(database_url)
    with engine.connect() as conn:
        rows = {login: password for login, password in conn.execute(text("SELECT login, password_hash FROM account"))}
    engine.dispose()
    return rows


def test_the_demo_leaves_a_database_it_did_not_create_alone(example_config, fresh_database_url, tmp_path):
    _provision(example_config, tmp_path)  # a firm with a contact named alice, as in the demo
    before = _accounts(fresh_database_url)
    with socket.socket() as taken:
        # The port is taken: the server cannot start, and that must not matter to the answer.
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        result = subprocess.run([*_console("davportal"), "serve", "--demo", "--config", str(example_config),
                                 "--port", str(taken.getsockname()[1])],
                                cwd=tmp_path, capture_output=True, text=True)  # fmt: skip
    assert result.returncode == 1
    assert "davportal: This database already has clients or logins that the demo did not create" in result.stderr
    assert "Demo firm" not in result.stdout
    assert _accounts(fresh_database_url) == before  # alice's password as it was, and no demo login
    assert not (tmp_path / "files" / "bloggs").exists()


def test_serving_passwords_in_clear_text_beyond_this_machine_is_refused(tmp_path):
    result = subprocess.run([*_console("davportal"), "serve", "--host", "0.0.0.0", "--port", "0"],
                            cwd=tmp_path, capture_output=True, text=True, env={**os.environ, **NO_CONFIG})  # fmt: skip
    assert result.returncode == 1
    assert "Refusing to serve passwords in clear text on 0.0.0.0" in result.stderr
