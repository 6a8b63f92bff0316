"""Many processes, one portal: `davportal serve --workers 4` and the README's gunicorn recipes.

What is checked is what the operating system shows (a process's children, who holds a socket,
who holds a lock, a listening socket's queue), never anything the portal says about itself.
Nothing waits for a set time: each wait polls until what it waits for is true, with a limit
generous enough for a busy machine.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import tomllib
import uuid
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import pytest
import requests
import yaml
from sqlalchemy import create_engine, text

from davportal.core.name_lock import LOCK_FOLDER
from davportal.services.housekeeping import node_name
from davportal.services.trash import TRASH_FOLDER
from tests.conftest import PASSWORD, TEAM
from tests.test_entry_points import Process, _console
from tests.test_notifications import Inbox

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
WORKERS = 4
LIMIT = 240.0  # seconds: a wait that takes longer than this has failed, on any machine


def wait_for(what: str, check: Callable[[], object], limit: float = LIMIT):
    """Poll `check` until it returns something true, and return that."""
    deadline = time.monotonic() + limit
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {limit:g} s for {what}")
        time.sleep(0.1)


# --- what the operating system shows ---------------------------------------------------------


def children(pid: int) -> set[int]:
    """The live (not zombie) child processes of `pid`."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        state, ppid = stat[stat.rindex(")") + 2 :].split()[:2]
        if int(ppid) == pid and state != "Z":
            found.add(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def listening_inode(port: int) -> int:
    """The inode of the socket listening on 127.0.0.1:`port`."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, state, inode = fields[1], fields[3], fields[9]
        if state == "0A" and int(local.split(":")[1], 16) == port:
            return int(inode)
    raise AssertionError(f"nothing listens on port {port}")


def holds_socket(pid: int, inode: int) -> bool:
    folder = Path(f"/proc/{pid}/fd")
    for fd in folder.iterdir():
        try:
            if os.readlink(fd) == f"socket:[{inode}]":
                return True
        except OSError:
            continue
    return False


def backlog(port: int) -> int:
    """A listening socket's queue length, as `ss` shows it (Send-Q)."""
    out = subprocess.run(["ss", "-Hltn", f"sport = :{port}"], capture_output=True, text=True, check=True).stdout
    return int(out.split()[2])


def lock_holders(path: Path) -> tuple[set[int], set[int]]:
    """(holders, waiters) of the flock on `path`, from /proc/locks."""
    st = os.stat(path)
    device = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    holders, waiters = set(), set()
    for line in Path("/proc/locks").read_text().splitlines():
        fields = line.split()
        waiting = fields[1] == "->"
        kind, pid, where = fields[2 if waiting else 1], fields[5 if waiting else 4], fields[6 if waiting else 5]
        if kind == "FLOCK" and where == device:
            (waiters if waiting else holders).add(int(pid))
    return holders, waiters


# --- a firm ------------------------------------------------------------------------------------


def _provision(config: Path, env: dict[str, str] | None = None) -> None:
    def run(*args: str, stdin: str | None = None) -> None:
        subprocess.run([*_console("davportal"), *args, "--config", str(config)], input=stdin, text=True,
                       env={**os.environ, **(env or {})}, check=True, capture_output=True, timeout=LIMIT)  # fmt: skip

    run("init")
    run("staff", "add", "sam", "--password-stdin", stdin=PASSWORD + "\n")
    run("client", "add", "acme", "--name", "Acme Ltd")
    for login in ("alice", "carol"):
        run("contact", "add", login, "--client", "acme", "--email", f"{login}@acme.example", "--password-stdin",
            stdin=PASSWORD + "\n")  # fmt: skip


def _section(database_url: str, storage: Path, smtp_port: int, **extra) -> dict:
    return {
        "database_url": database_url,
        "storage_root": str(storage),
        "mail": {"host": "127.0.0.1", "port": smtp_port, "security": "none", "from_address": "portal@firm.example"},
        "notifications": {"digest_seconds": 0},
        "trash": {"retention_days": 0, "purge_every_seconds": 0.5},
        **extra,
    }


def _stop(process: Process) -> None:
    """Stop a server and make sure none of its processes is left, stopped or running."""
    workers = children(process.proc.pid)
    for pid in workers:
        os.kill(pid, signal.SIGCONT)
    process.stop()
    for pid in workers:
        if alive(pid):
            os.kill(pid, signal.SIGKILL)


def _as(login: str) -> requests.Session:
    session = requests.Session()
    session.auth = (login, PASSWORD)
    return session


class Node:
    """A running node from outside: its URL, database and storage, and its inbox."""

    def __init__(self, url: str, database_url: str, storage: Path, inbox: Inbox):
        self.url, self.storage, self.inbox = url, storage, inbox
        self.engine = create_engine(database_url)
        self.lock = storage / LOCK_FOLDER / f"housekeeping-{node_name()}"

    def get(self, path: str, login: str = "sam", method: str = "GET", **kwargs) -> requests.Response:
        # A new connection each time: whichever worker accepts it answers.
        return _as(login).request(method, self.url + quote(path), timeout=LIMIT, **kwargs)

    def scalar(self, sql: str) -> int:
        with self.engine.connect() as conn:
            return conn.execute(text(sql)).scalar_one()

    def healthy(self) -> bool:
        try:
            return requests.get(self.url + "/.davportal-web/health", timeout=5).text == "ok\n"
        except requests.RequestException:
            return False

    def leader(self, among: set[int]) -> int:
        """The one process of `among` that holds the housekeeping lock, once there is one."""

        def one_holder():
            if not self.lock.exists():
                return None
            holders, _ = lock_holders(self.lock)
            return holders if holders and holders <= among else None

        (holder,) = wait_for("one process to hold the housekeeping lock", one_holder)
        return holder

    def emails_for(self, documents: list[str]) -> None:
        """Upload `documents` as staff; every email goes out, each document once to each contact."""
        for name in documents:
            assert self.get(f"/acme/{TEAM}/{name}", method="PUT", data=b"%PDF").status_code == 201
        wait_for("every notice composed and sent", lambda: self.scalar(
            "SELECT count(*) FROM notice WHERE message_id IS NULL") == 0 and self.scalar(
            "SELECT count(*) FROM outbox_message WHERE status <> 'sent'") == 0 and self.inbox.messages)  # fmt: skip
        # Each email is sent before it is marked sent: every one sent is in the inbox by now.
        ids = [message["Message-ID"] for message in self.inbox.messages]
        assert len(ids) == len(set(ids))
        for address in ("alice@acme.example", "carol@acme.example"):
            lines = [line for m in self.inbox.to(address) for line in m.get_body(("plain",)).get_content().splitlines()]
            assert all(sum(line.startswith(f"- {name} (") for line in lines) == 1 for name in documents), lines
        self.inbox.messages.clear()

    def purges_and_sweeps(self) -> None:
        """The trash is purged, and a stale half-written upload removed; one still arriving is kept."""
        name = f"to-delete-{uuid.uuid4().hex[:6]}.pdf"
        assert self.get(f"/acme/{TEAM}/{name}", method="PUT", data=b"x").status_code == 201
        assert self.get(f"/acme/{TEAM}/{name}", method="DELETE").status_code == 204
        folder = self.storage / "acme" / TEAM
        stale, arriving = folder / f".davportal-{uuid.uuid4().hex[:16]}.part", folder / ".davportal-arriving.part"
        stale.write_bytes(b"left by a crash")
        os.utime(stale, (time.time() - 3600, time.time() - 3600))
        arriving.write_bytes(b"still arriving")
        wait_for("the trash purged", lambda: self.scalar("SELECT count(*) FROM trash_item") == 0
                 and not any((self.storage / TRASH_FOLDER).iterdir()))  # fmt: skip
        wait_for("the stale upload swept", lambda: not stale.exists())
        assert arriving.exists()  # idle for less than uploads.stale_partial_seconds
        arriving.unlink()


# --- davportal serve --workers 4 ---------------------------------------------------------------


@pytest.fixture
def serve_workers(fresh_database_url, tmp_path, inbox):
    """`davportal serve --workers 4` on a provisioned firm: (process, portal)."""
    config = tmp_path / "davportal.yaml"
    section = _section(fresh_database_url, tmp_path / "files", inbox.port,
                       limits={"listen_backlog": 77})  # fmt: skip
    config.write_text(yaml.safe_dump({"port": 0, "davportal": section}))
    _provision(config)
    process = Process([*_console("davportal"), "serve", "--workers", str(WORKERS), "--config", str(config)],
                      cwd=tmp_path)  # fmt: skip
    try:
        url = process.served_url()
        yield process, Node(url, fresh_database_url, tmp_path / "files", inbox)
    finally:
        _stop(process)


def test_four_worker_processes_each_serve_the_one_port(serve_workers):
    process, portal = serve_workers
    parent = process.proc.pid
    workers = wait_for("four workers", lambda: (found := children(parent)) and len(found) == WORKERS and found)
    port = int(portal.url.rsplit(":", 1)[1])
    inode = listening_inode(port)
    assert all(holds_socket(pid, inode) for pid in workers)  # one socket, bound once, in every worker
    assert backlog(port) == 77  # limits.listen_backlog
    # Each worker answers on its own: the others are stopped while it is asked.
    for serving in workers:
        for pid in workers - {serving}:
            os.kill(pid, signal.SIGSTOP)
        try:
            listing = portal.get("/acme/", login="alice", method="PROPFIND", headers={"Depth": "1"})
            assert listing.status_code == 207 and TEAM.replace("'", "%27").replace(" ", "%20") in listing.text
        finally:
            for pid in workers - {serving}:
                os.kill(pid, signal.SIGCONT)
    # The parent killed outright, its workers stop on their own: nothing keeps holding the port.
    process.proc.kill()
    process.proc.wait(timeout=LIMIT)
    wait_for("the orphaned workers to stop", lambda: not any(alive(pid) for pid in workers))


def test_one_worker_sends_and_purges_another_takes_over_and_sigterm_stops_all(serve_workers):
    process, portal = serve_workers
    parent = process.proc.pid
    workers = wait_for("four workers", lambda: (found := children(parent)) and len(found) == WORKERS and found)
    leader = portal.leader(workers)
    wait_for("the other workers waiting for the lock", lambda: lock_holders(portal.lock)[1] == workers - {leader})
    portal.emails_for(["Engagement letter.pdf", "Invoice.pdf", "Statement.pdf"])
    portal.purges_and_sweeps()

    os.kill(leader, signal.SIGKILL)  # the housekeeper dies: another worker takes over, and it is replaced
    successor = portal.leader(workers - {leader})
    replaced = wait_for("a new worker in place of the killed one",
                        lambda: (found := children(parent)) and len(found) == WORKERS and leader not in found
                        and found)  # fmt: skip
    assert successor in replaced
    portal.emails_for(["After the takeover.pdf"])
    portal.purges_and_sweeps()

    process.proc.send_signal(signal.SIGTERM)
    assert process.proc.wait(timeout=LIMIT) == 0
    assert not any(alive(pid) for pid in replaced)  # the parent ends after its workers
    assert "Stopping the 4 worker(s)." in process.read_until(lambda line: "Stopping the 4 worker(s)." in line)


def test_one_worker_serves_in_the_process_itself(fresh_database_url, tmp_path, inbox):
    config = tmp_path / "davportal.yaml"
    config.write_text(yaml.safe_dump({"port": 0, "davportal": _section(fresh_database_url, tmp_path / "files",
                                                                       inbox.port)}))  # fmt: skip
    _provision(config)
    process = Process([*_console("davportal"), "serve", "--workers", "1", "--config", str(tmp_path / "davportal.yaml")],
                      cwd=tmp_path)  # fmt: skip
    try:
        portal = Node(process.served_url(), fresh_database_url, tmp_path / "files", inbox)
        assert children(process.proc.pid) == set()
        assert portal.leader({process.proc.pid}) == process.proc.pid
        assert backlog(int(portal.url.rsplit(":", 1)[1])) == 128  # the default
        portal.emails_for(["Engagement letter.pdf"])
        portal.purges_and_sweeps()
        process.proc.send_signal(signal.SIGTERM)
        assert process.proc.wait(timeout=LIMIT) == 0  # stopped as on Ctrl-C
    finally:
        _stop(process)


def test_serve_runs_a_worker_per_core_by_default(fresh_database_url, tmp_path, inbox):
    config = tmp_path / "davportal.yaml"
    config.write_text(yaml.safe_dump({"port": 0, "davportal": _section(fresh_database_url, tmp_path / "files",
                                                                       inbox.port)}))  # fmt: skip
    _provision(config)
    process = Process([*_console("davportal"), "serve", "--config", str(config)], cwd=tmp_path)
    try:
        process.served_url()
        cores = len(os.sched_getaffinity(0))
        assert len(children(process.proc.pid)) == (cores if cores > 1 else 0)
    finally:
        _stop(process)


def test_a_port_in_use_is_one_line_with_workers_too(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run([*_console("davportal"), "serve", "--workers", "4", "--port", str(port)], cwd=tmp_path,
                                env={**os.environ, "DAVPORTAL_CONFIG": "", "DAVPORTAL_DATABASE_URL": ""},
                                capture_output=True, text=True, timeout=LIMIT)  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == f"davportal: cannot listen on 127.0.0.1:{port} (address already in use)"
    assert "Worker" not in result.stderr  # none was started


def test_the_listen_backlog_is_one_setting(tmp_path):
    from davportal.core.errors import ConfigError
    from davportal.core.settings import Settings
    from davportal.server import build_server

    assert Settings().limits.listen_backlog == 128
    config = {"host": "127.0.0.1", "port": 0, "server_args": {"request_queue_size": 5},
              "davportal": {"database_url": f"sqlite:///{tmp_path}/db", "storage_root": str(tmp_path)}}  # fmt: skip
    with pytest.raises(ConfigError, match=r"server_args.request_queue_size: set davportal.limits.listen_backlog"):
        build_server(config, "test.yaml")


# --- gunicorn, as the README runs it ---------------------------------------------------------


def test_gunicorn_is_installed_with_the_portal():
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert any(re.match(r"gunicorn\b", dependency) for dependency in dependencies)


def _running_at_scale() -> str:
    readme = README.read_text()
    start = readme.index("\n## Running at scale\n")
    end = readme.find("\n## ", start + 1)
    return readme[start : end if end > 0 else None]


def _blocks(section: str, language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", section, re.DOTALL | re.MULTILINE)


def readme_gunicorn_sh() -> tuple[dict[str, str], list[str], list[str]]:
    """(environment, command, environment files) of the README's gunicorn command."""
    (block,) = [b for b in _blocks(_running_at_scale(), "sh") if "gunicorn" in b]
    words = shlex.split(block.replace("\\\n", " "), comments=True)
    env = {}
    while "=" in words[0] and not words[0].startswith("-"):
        key, _, value = words.pop(0).partition("=")
        env[key] = value
    return env, words, []


def readme_systemd_unit() -> tuple[dict[str, str], list[str], list[str]]:
    """(environment, ExecStart, environment files) of the README's systemd unit, read as systemd reads it."""
    (block,) = [b for b in _blocks(_running_at_scale(), "ini") if "[Service]" in b]
    service: dict[str, list[str]] = {}
    section = None
    for line in block.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue  # systemd's comments are whole lines: a "#" after a value is part of the value
        if line.startswith("["):
            section = line
        elif section == "[Service]":
            key, _, value = line.partition("=")
            service.setdefault(key, []).append(value)
    assert service["Type"] == ["notify"]  # gunicorn tells systemd when it serves: checked below
    env = dict(item.partition("=")[::2] for value in service.get("Environment", []) for item in shlex.split(value))
    files = service.get("EnvironmentFile", [])
    assert all(len(shlex.split(value)) == 1 for value in files), files  # one path each, no comment after it
    (exec_start,) = service["ExecStart"]
    return env, shlex.split(exec_start), files


def _as_here(command: list[str], bind: str) -> list[str]:
    """The README's command, run here: the gunicorn of this environment, on a free port."""
    assert Path(command[0]).name == "gunicorn"
    assert command[command.index("--workers") + 1] == str(WORKERS)
    assert command[-1] == "davportal.wsgi:app"
    here = [str(Path(sys.executable).parent / "gunicorn"), *command[1:]]
    here[here.index("--bind") + 1] = bind
    return here


@pytest.mark.parametrize("recipe", [readme_gunicorn_sh, readme_systemd_unit])
def test_the_readme_gunicorn_recipe_serves_sends_once_and_purges(recipe, fresh_database_url, tmp_path, inbox):
    env, command, env_files = recipe()
    config = tmp_path / "davportal.yaml"
    section = _section(fresh_database_url, tmp_path / "files", inbox.port)
    # The README's config path is this test's; gunicorn's control socket goes in the test's folder.
    run_env = {**env, "DAVPORTAL_CONFIG": str(config), "XDG_RUNTIME_DIR": str(tmp_path)}
    if env_files:
        # As in the secrets file the unit reads: the database URL from the environment, not the config.
        del section["database_url"]
        run_env["DAVPORTAL_DATABASE_URL"] = fresh_database_url
    config.write_text(yaml.safe_dump({"davportal": section}))
    _provision(config, {"DAVPORTAL_DATABASE_URL": fresh_database_url})
    notify = None
    if env_files:
        notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        notify.bind(str(tmp_path / "notify"))
        notify.settimeout(LIMIT)
        run_env["NOTIFY_SOCKET"] = str(tmp_path / "notify")
    process = Process(_as_here(command, "127.0.0.1:0"), cwd=tmp_path, env=run_env)
    try:
        line = process.read_until(lambda line: "Listening at: http://" in line).splitlines()[-1]
        url = re.search(r"Listening at: (http://\S+)", line)[1]
        if notify:
            assert b"READY=1" in notify.recv(4096)
        portal = Node(url, fresh_database_url, tmp_path / "files", inbox)
        master = process.proc.pid
        workers = wait_for("four workers", lambda: (found := children(master)) and len(found) == WORKERS and found)
        wait_for("the portal to answer", portal.healthy)
        listing = portal.get("/acme/", login="alice", method="PROPFIND", headers={"Depth": "1"})
        assert listing.status_code == 207
        leader = portal.leader(workers)
        portal.emails_for(["Engagement letter.pdf", "Invoice.pdf"])
        portal.purges_and_sweeps()
        # The worker that runs them killed: another takes over (and gunicorn replaces it).
        os.kill(leader, signal.SIGKILL)
        portal.leader(children(master) - {leader})
        portal.emails_for(["After the takeover.pdf"])
    finally:
        _stop(process)
        if notify:
            notify.close()
