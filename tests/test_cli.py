"""The admin commands: exit codes, messages on the right stream, idempotence."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from davportal.cli import main


@pytest.fixture
def cli(fresh_database_url, tmp_path, monkeypatch):
    config = tmp_path / "davportal.yaml"
    config.write_text(yaml.safe_dump({"davportal": {
        "database_url": fresh_database_url, "storage_root": str(tmp_path / "files")}}))  # fmt: skip
    monkeypatch.setenv("DAVPORTAL_CONFIG", str(config))
    runner = CliRunner()

    def run(*args, input=None):
        return runner.invoke(main, list(args), input=input)

    run.storage = tmp_path / "files"
    return run


def test_help_lists_the_commands():
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for name in ("serve", "init", "staff", "client", "contact", "passwd", "user"):
        assert name in result.stdout


def test_a_firm_from_scratch(cli):
    assert cli("init").exit_code == 0
    result = cli("staff", "add", "sam", "--admin", "--password-stdin", input="a long password\n")
    assert result.exit_code == 0, result.output
    result = cli("client", "add", "acme", "--name", "Acme Ltd")
    assert result.exit_code == 0
    assert "Team's shared" in result.stdout and "Client's shared" in result.stdout
    assert (cli.storage / "acme" / "Team's shared").is_dir()
    assert (cli.storage / "acme" / "Client's shared").is_dir()
    result = cli("contact", "add", "alice", "--client", "acme", "--email", "alice@example.com",
                 "--password-stdin", input="another long password\n")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert cli("client", "list").stdout.splitlines() == ["acme\tAcme Ltd\t-\t1 contact(s)"]
    assert cli("staff", "list").stdout.splitlines() == ["sam\tadmin"]
    assert cli("contact", "list").stdout.splitlines() == ["alice\tacme\talice@example.com"]


def test_client_add_is_idempotent_and_restores_missing_folders(cli):
    assert cli("client", "add", "acme", "--name", "Acme Ltd").exit_code == 0
    (cli.storage / "acme" / "Client's shared").rmdir()
    result = cli("client", "add", "acme", "--name", "Acme Ltd")
    assert result.exit_code == 0
    assert "Client's shared" in result.stdout
    assert "already there" in cli("client", "add", "acme", "--name", "Acme Ltd").stdout


@pytest.mark.parametrize("args, message", [
    (["client", "add", "Bad Id", "--name", "X"], "not a valid client id"),
    (["client", "add", "acme", "--name", "Someone Else"], "already exists"),
    (["contact", "add", "zed", "--client", "nope", "--password-stdin"], "no client 'nope'"),
    (["staff", "add", "alice", "--password-stdin"], "already taken"),
    (["staff", "add", "has space", "--password-stdin"], "not a valid login"),
    (["passwd", "ghost", "--password-stdin"], "no login 'ghost'"),
    (["user", "disable", "ghost"], "no login 'ghost'"),
    (["staff", "add", "shorty", "--password-stdin"], "too short"),
])  # fmt: skip
def test_refusals_exit_1_with_the_reason_on_stderr(cli, args, message):
    cli("client", "add", "acme", "--name", "Acme Ltd")
    cli("contact", "add", "alice", "--client", "acme", "--password-stdin", input="a long password\n")
    result = cli(*args, input="short\n" if "shorty" in args else "a long password\n")
    assert result.exit_code == 1
    assert message in result.stderr
    assert result.stdout == ""


def test_a_password_needs_a_terminal_or_stdin(cli):
    result = cli("staff", "add", "sam")
    assert result.exit_code == 2
    assert "--password-stdin" in result.stderr


def test_passwd_and_disable(cli):
    cli("staff", "add", "sam", "--password-stdin", input="a long password\n")
    assert cli("passwd", "sam", "--password-stdin", input="a newer long password\n").exit_code == 0
    assert "is now disabled" in cli("user", "disable", "sam").stdout
    assert "already disabled" in cli("user", "disable", "sam").stdout
    assert cli("staff", "list").stdout.strip() == "sam\tdisabled"


def test_a_contact_of_several_clients(cli):
    cli("client", "add", "acme", "--name", "Acme Ltd")
    cli("client", "add", "beta", "--name", "Beta LLP")
    cli("contact", "add", "acct", "--client", "acme", "--password-stdin", input="a long password\n")
    assert cli("contact", "add", "acct", "--client", "beta").exit_code == 0
    assert cli("contact", "list").stdout.splitlines() == ["acct\tacme, beta\t-"]


def test_an_unknown_config_key_names_the_file_and_key(tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text(yaml.safe_dump({"davportal": {"uploads": {"max_byte": 10}}}))
    result = CliRunner().invoke(main, ["client", "list", "--config", str(config)])
    assert result.exit_code == 1
    assert str(config) in result.stderr and "davportal.uploads.max_byte" in result.stderr


def test_a_missing_config_file_is_a_clear_error(tmp_path):
    result = CliRunner().invoke(main, ["init", "--config", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 1
    assert "cannot read the config file" in result.stderr


def test_describe_share_seen_audit_and_trash_commands(cli):
    import json

    cli("client", "add", "acme", "--name", "Acme Ltd")
    letter = cli.storage / "acme" / "Matter" / "Letter.pdf"
    letter.parent.mkdir()
    letter.write_bytes(b"%PDF")
    (cli.storage / "acme" / "Team's shared" / "Public.pdf").write_bytes(b"%PDF")

    assert cli("describe", "acme", "Matter/Letter.pdf", "Signed copy").exit_code == 0
    assert "shared with the client." in cli("share", "acme", "Matter/Letter.pdf").stdout
    assert "(it already was)" in cli("share", "acme", "Matter/Letter.pdf").stdout
    assert "no longer shared" in cli("share", "acme", "Matter/Letter.pdf", "--off").stdout
    refused = cli("share", "acme", "Team's shared/Public.pdf")
    assert refused.exit_code == 1 and "already visible" in refused.stderr
    assert "at most 500" in cli("describe", "acme", "Matter/Letter.pdf", "x" * 501).stderr
    assert "There is no 'Matter/Nope.pdf'" in cli("share", "acme", "Matter/Nope.pdf").stderr

    assert "No contact has downloaded" in cli("seen", "acme", "Matter/Letter.pdf").stdout
    rows = json.loads(cli("audit", "--client", "acme", "--format", "json").stdout)
    assert [r["action"] for r in rows] == ["ADD-CLIENT", "DESCRIBE", "SHARE", "UNSHARE"]
    assert all(r["login"].startswith("cli:") for r in rows) and {r["path"] for r in rows[1:]} == {"Matter/Letter.pdf"}
    csv_lines = cli("audit", "--format", "csv", "--since", "2000-01-01").stdout.strip().splitlines()
    assert csv_lines[0].startswith("at,login,name,role,action") and len(csv_lines) == 5
    assert "DESCRIBE" in cli("audit").stdout
    assert cli("audit", "--user", "nobody").stdout.count("\n") == 1  # the header only

    assert cli("trash", "list").stdout == ""
    assert "Purged 0 item(s)" in cli("trash", "purge").stdout
    assert "no item 42" in cli("trash", "restore", "42").stderr


# --- what an admin reads when the portal cannot use something: one line, exit 1 ----------------


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # nothing listens there once the socket is closed


@pytest.fixture
def no_database(tmp_path, monkeypatch):
    """A config whose database (with a password in its URL) is on a port where nothing listens."""
    port = _closed_port()
    config = tmp_path / "davportal.yaml"
    config.write_text(yaml.safe_dump({"davportal": {
        "database_url": f"postgresql+psycopg://portal:s3cret-pw@127.0.0.1:{port}/portal",
        "storage_root": str(tmp_path / "files")}}))  # fmt: skip
    monkeypatch.setenv("DAVPORTAL_CONFIG", str(config))
    monkeypatch.delenv("DAVPORTAL_DATABASE_URL", raising=False)
    return port


@pytest.mark.parametrize("args", [
    ["init"], ["serve"], ["client", "list"], ["staff", "list"], ["contact", "list"], ["trash", "list"],
    ["audit"], ["notify", "status"], ["versions", "purge", "--dry-run"], ["user", "unblock", "sam"],
])  # fmt: skip
def test_an_unreachable_database_is_one_line_naming_it(no_database, args):
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1
    assert result.stderr == f"davportal: cannot reach the database at 127.0.0.1:{no_database} (connection refused)\n"
    assert result.stdout == ""


def test_debug_adds_the_traceback_and_never_the_password(no_database):
    result = CliRunner().invoke(main, ["--debug", "client", "list"])
    assert result.exit_code == 1
    assert "Traceback (most recent call last)" in result.stderr
    assert result.stderr.splitlines()[-1] == f"davportal: cannot reach the database at 127.0.0.1:{no_database} " \
                                              "(connection refused)"  # fmt: skip
    assert "s3cret-pw" not in result.stderr


def test_a_port_out_of_range_is_one_line(tmp_path, monkeypatch):
    config = tmp_path / "davportal.yaml"
    config.write_text(yaml.safe_dump({"port": 70000, "davportal": {
        "database_url": f"sqlite:///{tmp_path}/portal.db", "storage_root": str(tmp_path / "files")}}))  # fmt: skip
    monkeypatch.setenv("DAVPORTAL_CONFIG", str(config))
    result = CliRunner().invoke(main, ["serve", "--port", "70000"])
    assert (result.exit_code, result.stderr) == (1, "davportal: --port 70000 is out of range (0 to 65535).\n")
    result = CliRunner().invoke(main, ["serve"])
    assert (result.exit_code, result.stderr) == (1, f"davportal: {config}: port 70000 is out of range (0 to 65535).\n")


def test_a_storage_folder_that_cannot_be_made_is_one_line(tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the storage's parent should be")
    config = tmp_path / "davportal.yaml"
    config.write_text(yaml.safe_dump({"davportal": {
        "database_url": f"sqlite:///{tmp_path}/portal.db", "storage_root": str(blocker / "files")}}))  # fmt: skip
    monkeypatch.setenv("DAVPORTAL_CONFIG", str(config))
    result = CliRunner().invoke(main, ["client", "list"])
    assert result.exit_code == 1
    assert result.stderr == f"davportal: cannot use the storage folder {blocker / 'files'} (not a directory)\n"


def test_a_misconfigured_redis_url_is_one_line(tmp_path):
    config = tmp_path / "davportal.yaml"
    config.write_text(yaml.safe_dump({"davportal": {"redis_url": "redis://:pw@127.0.0.1:99999/0"}}))
    result = CliRunner().invoke(main, ["serve", "--config", str(config)])
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and "davportal.redis_url" in result.stderr and "pw@" not in result.stderr


def test_a_mail_server_that_cannot_be_reached_is_one_line_and_the_email_waits(cli, tmp_path, monkeypatch):
    from davportal.core.models import OutboxMessage
    from davportal.core.settings import load_config, settings_of
    from davportal.services.portal import Portal

    port = _closed_port()
    config_path = tmp_path / "davportal.yaml"
    config = yaml.safe_load(config_path.read_text())
    config["davportal"]["mail"] = {"host": "127.0.0.1", "port": port, "security": "none"}
    config_path.write_text(yaml.safe_dump(config))
    portal = Portal(settings_of(*load_config(config_path)))
    with portal.sessions.begin() as session:
        session.add(OutboxMessage(recipient="alice@example.com", message_id="<m1@portal>", raw="Subject: x\n\nx\n"))
    portal.engine.dispose()
    result = cli("notify", "run", "--once")
    assert result.exit_code == 1
    assert result.stderr == (f"davportal: cannot reach the mail server at 127.0.0.1:{port} "
                             "(connection refused); the emails wait in the outbox.\n")  # fmt: skip
    assert "1 pending" in cli("notify", "status").stdout


# --- `davportal serve` as a process: what the admin sees when it cannot start ---------------------


def davportal(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    script = Path(sys.executable).parent / "davportal"
    return subprocess.run([str(script if script.exists() else shutil.which("davportal")), *args],
                          cwd=cwd, capture_output=True, text=True, timeout=180,
                          env={**os.environ, "DAVPORTAL_CONFIG": "", "DAVPORTAL_DATABASE_URL": ""})  # fmt: skip


def test_a_port_in_use_is_one_line(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = davportal("serve", "--port", str(port), cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == f"davportal: cannot listen on 127.0.0.1:{port} (address already in use)"
    assert "Traceback" not in result.stderr


def test_serve_with_the_database_on_a_closed_port_is_one_line(tmp_path):
    closed = _closed_port()
    config = tmp_path / "davportal.yaml"
    config.write_text(f"davportal:\n  database_url: postgresql+psycopg://portal:s3cret@127.0.0.1:{closed}/portal\n")
    result = davportal("serve", "--config", str(config), cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr == f"davportal: cannot reach the database at 127.0.0.1:{closed} (connection refused)\n"
    assert result.stdout == ""
    debug = davportal("--debug", "serve", "--config", str(config), cwd=tmp_path)
    assert debug.returncode == 1 and "Traceback" in debug.stderr
    assert debug.stderr.splitlines()[-1] == result.stderr.strip()
    assert "s3cret" not in debug.stderr


def test_a_frozen_database_at_start_is_one_line(tmp_path):
    listener = socket.socket()  # accepts, never answers
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    config = tmp_path / "davportal.yaml"
    config.write_text(f"davportal:\n  database_url: postgresql+psycopg://portal@127.0.0.1:{port}/portal\n"
                      "  database_timeout_seconds: 2\n")  # fmt: skip
    try:
        result = davportal("client", "list", "--config", str(config), cwd=tmp_path)
    finally:
        listener.close()
    assert result.returncode == 1
    assert result.stderr == f"davportal: cannot reach the database at 127.0.0.1:{port} (connection timeout expired)\n"


def test_trash_and_email_commands_say_what_they_would_do_and_audit_who_asked(cli):
    import json

    from davportal.core.paths import ref_url
    from davportal.core.settings import load_config, settings_of
    from davportal.services import trash
    from davportal.services.portal import Portal

    assert cli("client", "add", "acme", "--name", "Acme Ltd").exit_code == 0
    (cli.storage / "acme" / "Team's shared" / "a.pdf").write_bytes(b"a")
    portal = Portal(settings_of(*load_config(os.environ["DAVPORTAL_CONFIG"])))
    path = "Team's shared/a.pdf"
    with portal.sessions.begin() as session:
        item = trash.put_in_trash(session, portal.storage, client_id="acme", path=path, is_folder=False,
                                  deleted_by="alice", property_url=ref_url("acme", path, is_folder=False))  # fmt: skip
        item_id = item.id
    portal.engine.dispose()
    dry = cli("trash", "purge", "--item", str(item_id), "--dry-run")
    assert dry.exit_code == 0 and dry.stdout == "Would purge acme/Team's shared/a.pdf for good.\n"
    assert cli("trash", "purge", "--dry-run").stdout == "Would purge 0 item(s) deleted more than 30 day(s) ago.\n"
    assert cli("trash", "purge", "--item", str(item_id), "--older-than", "1").exit_code == 2
    assert cli("trash", "restore", str(item_id)).stdout == "Restored to acme/Team's shared/a.pdf.\n"
    assert (cli.storage / "acme" / "Team's shared" / "a.pdf").read_bytes() == b"a"
    assert "no item" in cli("trash", "purge", "--item", str(item_id)).stderr

    assert cli("notify", "retry").exit_code == 2
    assert cli("notify", "retry", "1", "--all-failed").exit_code == 2
    assert cli("notify", "retry", "--all-failed").stdout == "0 failed email(s) will be sent again.\n"
    rows = json.loads(cli("audit", "--format", "json").stdout)
    assert [r["action"] for r in rows] == ["ADD-CLIENT", "TRASH-RESTORE", "EMAIL-RETRY"]
    assert all(r["login"].startswith("cli:") for r in rows)
