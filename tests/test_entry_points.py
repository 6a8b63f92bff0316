"""The shipped config runs under `davportal serve`; the demo works; a clear-text start beyond loopback is refused."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
import yaml

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "config" / "davportal.yaml"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _console(name: str) -> list[str]:
    """The installed console script (`davportal`, `wsgidav`) beside this interpreter."""
    script = Path(sys.executable).parent / name
    return [str(script if script.exists() else shutil.which(name))]


class Process:
    def __init__(self, args, cwd, env=None):
        self.proc = subprocess.Popen(args, cwd=cwd, env={**os.environ, **(env or {})},
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
        self.output = ""

    def wait_for_port(self, port: int, seconds: float = 30) -> None:
        for _ in range(int(seconds * 10)):
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited: {self.proc.stdout.read()}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.1)
        raise AssertionError("server did not start")

    def stop(self) -> str:
        self.proc.terminate()
        try:
            out, _ = self.proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, _ = self.proc.communicate()
        return out


@pytest.fixture
def example_config(tmp_path, fresh_database_url):
    """config/davportal.yaml as shipped, pointed at this test's database, storage and port."""
    config = yaml.safe_load(EXAMPLE.read_text())
    port = _free_port()
    config["port"] = port
    config["davportal"]["database_url"] = fresh_database_url
    config["davportal"]["storage_root"] = str(tmp_path / "files")
    config["davportal"]["matter_types_file"] = str(ROOT / "config" / "matter-types.yaml")
    path = tmp_path / "davportal.yaml"
    path.write_text(yaml.safe_dump(config))
    return path, port


def _provision(config: Path, cwd: Path) -> None:
    def run(*args, stdin=None):
        subprocess.run([*_console("davportal"), *args, "--config", str(config)], cwd=cwd,
                       input=stdin, text=True, check=True, capture_output=True)  # fmt: skip

    run("init")
    run("client", "add", "acme", "--name", "Acme Ltd")
    run("client", "add", "beta", "--name", "Beta LLP")
    run("contact", "add", "alice", "--client", "acme", "--password-stdin", stdin="alice's password\n")


def test_the_example_config_serves_the_portal(example_config, tmp_path):
    config, port = example_config
    _provision(config, tmp_path)
    process = Process([*_console("davportal"), "serve", "--config", str(config)], cwd=tmp_path)
    try:
        process.wait_for_port(port)
        auth = ("alice", "alice's password")
        response = requests.request("PROPFIND", f"http://127.0.0.1:{port}/", auth=auth,
                                    headers={"Depth": "1"}, timeout=10)  # fmt: skip
        assert response.status_code == 207
        assert "/acme/" in response.text and "beta" not in response.text
        response = requests.put(f"http://127.0.0.1:{port}/acme/Team's shared/x.pdf", data=b"x",
                                auth=auth, timeout=10)  # fmt: skip
        assert response.status_code == 403
        assert "read and download" in response.text
    finally:
        process.stop()


def test_demo_prints_logins_that_work(tmp_path):
    port = _free_port()
    process = Process([*_console("davportal"), "serve", "--demo", "--port", str(port)], cwd=tmp_path,
                      env={"DAVPORTAL_CONFIG": "", "DAVPORTAL_DATABASE_URL": ""})  # fmt: skip
    try:
        process.wait_for_port(port)
        lines = []
        while not any(line.lstrip().startswith("bob") for line in lines):
            lines.append(process.proc.stdout.readline())
        text = "".join(lines)
        assert f"http://127.0.0.1:{port}/" in text
        logins = dict(re.findall(r"^\s+(\w+)\s+password (\S+)", text, re.MULTILINE))
        assert set(logins) == {"sam", "alice", "bob"}
        alice = requests.request("PROPFIND", f"http://127.0.0.1:{port}/acme/", auth=("alice", logins["alice"]),
                                 headers={"Depth": "1"}, timeout=10)  # fmt: skip
        assert alice.status_code == 207 and "Matter%20notes" not in alice.text
        sam = requests.request("PROPFIND", f"http://127.0.0.1:{port}/acme/", auth=("sam", logins["sam"]),
                               headers={"Depth": "1"}, timeout=10)  # fmt: skip
        assert "Matter%20notes" in sam.text
        assert (tmp_path / "davportal-data" / "davportal.db").exists()
    finally:
        process.stop()


def test_serving_passwords_in_clear_text_beyond_this_machine_is_refused(tmp_path):
    port = _free_port()
    result = subprocess.run([*_console("davportal"), "serve", "--host", "0.0.0.0", "--port", str(port)],
                            cwd=tmp_path, capture_output=True, text=True, timeout=60,
                            env={**os.environ, "DAVPORTAL_CONFIG": "", "DAVPORTAL_DATABASE_URL": ""})  # fmt: skip
    assert result.returncode == 1
    assert "Refusing to serve passwords in clear text on 0.0.0.0" in result.stderr
