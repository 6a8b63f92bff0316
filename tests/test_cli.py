"""The admin commands: exit codes, messages on the right stream, idempotence."""

from __future__ import annotations

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
    assert [r["action"] for r in rows] == ["DESCRIBE", "SHARE", "UNSHARE"]
    assert all(r["login"].startswith("cli:") and r["path"] == "Matter/Letter.pdf" for r in rows)
    csv_lines = cli("audit", "--format", "csv", "--since", "2000-01-01").stdout.strip().splitlines()
    assert csv_lines[0].startswith("at,login,role,action") and len(csv_lines) == 4
    assert "DESCRIBE" in cli("audit").stdout
    assert cli("audit", "--user", "nobody").stdout.count("\n") == 1  # the header only

    assert cli("trash", "list").stdout == ""
    assert "Purged 0 item(s)" in cli("trash", "purge").stdout
    assert "no item 42" in cli("trash", "restore", "42").stderr
