"""The commands for contacts, staff and clients over their life: exit codes, and what goes where."""

from __future__ import annotations

import json
import os
import re
import select
import subprocess
import sys

import pytest

from tests.test_cli import cli  # noqa: F401 (the fixture)

PASSWORD = "a long password\n"


@pytest.fixture
def firm(cli):  # noqa: F811
    """sam (admin), acme and beta, alice in both, bob in beta."""
    assert cli("staff", "add", "sam", "--admin", "--password-stdin", input=PASSWORD).exit_code == 0
    for client_id, name in (("acme", "Acme Ltd"), ("beta", "Beta LLP")):
        assert cli("client", "add", client_id, "--name", name).exit_code == 0
    for login, client_id in (("alice", "acme"), ("alice", "beta"), ("bob", "beta")):
        result = cli("contact", "add", login, "--client", client_id, "--password-stdin", input=PASSWORD)
        assert result.exit_code == 0, result.output
    return cli


def test_contact_remove(firm):
    result = firm("contact", "remove", "alice", "--client", "beta")
    assert result.exit_code == 0 and result.stdout == "alice no longer belongs to beta.\n"
    assert "alice\tacme\t-" in firm("contact", "list").stdout
    again = firm("contact", "remove", "alice", "--client", "beta")
    assert again.exit_code == 1 and again.stderr == "davportal: 'alice' does not belong to client 'beta'.\n"
    assert firm("contact", "remove", "alice").exit_code == 2  # --client is required


def test_user_disable_enable(firm):
    assert firm("user", "disable", "bob").stdout == "bob is now disabled.\n"
    assert firm("user", "enable", "bob").stdout == "bob is enabled again.\n"
    assert firm("user", "enable", "bob").stdout == "bob was not disabled.\n"
    missing = firm("user", "enable", "ghost")
    assert missing.exit_code == 1 and "no login 'ghost'" in missing.stderr


def test_user_unblock_says_a_disabled_login_is_still_disabled(firm):
    assert firm("user", "unblock", "bob").stdout == "bob may sign in again (0 network(s) were waiting).\n"
    firm("user", "disable", "bob")
    result = firm("user", "unblock", "bob")
    assert result.exit_code == 0 and "still disabled" in result.stdout and "user enable bob" in result.stdout


def test_client_archive_unarchive_and_list(firm):
    assert firm("client", "archive", "acme").stdout == "acme is now archived.\n"
    assert firm("client", "archive", "acme").stdout == "acme was already archived.\n"
    assert firm("client", "list").stdout == "beta\tBeta LLP\t-\t2 contact(s)\n"
    assert firm("client", "list", "--archived").stdout == "acme\tAcme Ltd\t-\t1 contact(s)\tarchived\n"
    assert firm("client", "list", "--all").stdout.splitlines() == [
        "acme\tAcme Ltd\t-\t1 contact(s)\tarchived", "beta\tBeta LLP\t-\t2 contact(s)"]  # fmt: skip
    assert firm("client", "list", "--all", "--search", "LTD").stdout.startswith("acme\t")
    assert firm("client", "list", "--search", "ltd").stdout == ""
    both = firm("client", "list", "--all", "--archived")
    assert both.exit_code == 2 and "cannot be used together" in both.stderr
    assert firm("client", "unarchive", "acme").stdout == "acme is no longer archived.\n"
    assert firm("client", "unarchive", "acme").stdout == "acme was not archived.\n"
    missing = firm("client", "archive", "nope")
    assert missing.exit_code == 1 and missing.stderr == "davportal: There is no client 'nope'.\n"


def test_client_assign(firm):
    assert firm("client", "assign", "acme", "sam").stdout == "sam is assigned to acme.\n"
    assert firm("client", "assign", "acme", "--none").stdout == "Nobody is assigned to acme.\n"
    assert firm("client", "assign", "acme").exit_code == 2
    assert firm("client", "assign", "acme", "sam", "--none").exit_code == 2
    contact = firm("client", "assign", "acme", "alice")
    assert contact.exit_code == 1 and "no staff login 'alice'" in contact.stderr
    actions = [row["detail"] for row in json.loads(firm("audit", "--action", "assign", "--format", "json").stdout)]
    assert actions == ["assigned to sam", "assigned to nobody"]


def test_staff_set_admin(firm):
    last = firm("staff", "set-admin", "sam", "--off")
    assert last.exit_code == 1 and "last enabled admin" in last.stderr
    last = firm("user", "disable", "sam")
    assert last.exit_code == 1 and "'sam' is the last enabled admin" in last.stderr
    contact = firm("staff", "set-admin", "alice")
    assert contact.exit_code == 1 and "only staff can be made admin" in contact.stderr
    firm("staff", "add", "tess", "--password-stdin", input=PASSWORD)
    assert firm("staff", "set-admin", "tess").stdout == "tess is now admin.\n"
    assert firm("staff", "set-admin", "tess").stdout == "tess is now admin (already so).\n"
    assert firm("staff", "set-admin", "sam", "--off").stdout == "sam is no longer admin.\n"
    assert firm("staff", "list").stdout.splitlines() == ["sam", "tess\tadmin"]


def test_client_erase(firm):
    (firm.storage / "acme" / "Private").mkdir()
    (firm.storage / "acme" / "Private" / "Memo.pdf").write_bytes(b"%PDF")
    dry = firm("client", "erase", "acme", "--dry-run")
    assert dry.exit_code == 0 and "Would erase acme:" in dry.stdout and "1 file(s)" in dry.stdout
    assert "contacts kept (another client too): alice" in dry.stdout
    assert (firm.storage / "acme" / "Private" / "Memo.pdf").exists()
    # No terminal to type the client's id on, and no --yes: nothing happens.
    refused = firm("client", "erase", "acme")
    assert refused.exit_code == 2 and "pass --yes" in refused.stderr
    assert (firm.storage / "acme").exists()
    done = firm("client", "erase", "acme", "--yes")
    assert done.exit_code == 0 and done.stdout.startswith("Erased acme: 1 file(s)"), done.output
    assert not (firm.storage / "acme").exists()
    assert firm("client", "list", "--all").stdout.startswith("beta\t")
    assert "alice\tbeta" in firm("contact", "list").stdout  # she belongs to beta too: kept
    again = firm("client", "erase", "acme", "--yes")
    assert again.exit_code == 1 and again.stderr == "davportal: There is no client 'acme'.\n"
    bad = firm("client", "erase", ".trash", "--dry-run")
    assert bad.exit_code == 1 and "not a valid client id" in bad.stderr
    erased = json.loads(firm("audit", "--action", "ERASE", "--format", "json").stdout)
    assert len(erased) == 1 and erased[0]["client_id"] == "acme" and erased[0]["login"].startswith("cli:")


def test_client_erase_pseudonymises_the_contacts_it_erases(firm):
    firm("user", "disable", "bob")
    done = firm("client", "erase", "beta", "--yes")
    assert done.exit_code == 0 and "1 contact(s) erased (named by a pseudonym" in done.stdout
    assert "bob" not in done.stdout  # nothing ties the login to its pseudonym, not even the answer
    details = [row["detail"] for row in json.loads(firm("audit", "--action", "DISABLE", "--format", "json").stdout)]
    assert len(details) == 1 and re.fullmatch(r"erased-[0-9a-f]{12} disabled", details[0])
    assert "bob" not in firm("contact", "list").stdout


def test_audit_filters(firm):
    (firm.storage / "acme" / "Matter").mkdir()
    for name in ("Matter/A.pdf", "Matter/B.pdf", "Other.pdf"):
        (firm.storage / "acme" / name).write_bytes(b"%PDF")
        assert firm("describe", "acme", name, "note").exit_code == 0
    firm("share", "acme", "Matter/A.pdf")

    def rows(*args):
        result = firm("audit", "--format", "json", *args)
        assert result.exit_code == 0, result.output
        return [(row["action"], row["path"]) for row in json.loads(result.stdout)]

    assert rows("--path", "Matter") == [("DESCRIBE", "Matter/A.pdf"), ("DESCRIBE", "Matter/B.pdf"),
                                        ("SHARE", "Matter/A.pdf")]  # fmt: skip
    assert rows("--path", "/Matter/A.pdf", "--action", "share") == [("SHARE", "Matter/A.pdf")]
    assert rows("--path", "Matt") == []  # a folder's name, whole
    everything = rows()  # the firm's set-up is audited too
    assert ("SHARE", "Matter/A.pdf") in everything
    assert rows("--until", "2999-01-01") == everything and rows("--until", "2000-01-01") == []
    assert rows("--since", "2999-01-01T00:00") == []
    bad = firm("audit", "--until", "yesterday")
    assert bad.exit_code == 2 and "not a date" in bad.stderr
    assert "name" in json.loads(firm("audit", "--format", "json").stdout)[0]


def test_seen_on_a_document_that_is_not_there_says_so(firm):
    missing = firm("seen", "acme", "Nope.pdf")
    assert missing.exit_code == 1 and missing.stderr == "davportal: There is no 'Nope.pdf' in client 'acme'.\n"
    (firm.storage / "acme" / "Here.pdf").write_bytes(b"%PDF")
    assert firm("seen", "acme", "Here.pdf").stdout == "No contact has downloaded acme/Here.pdf yet.\n"


def _on_a_terminal(args: list[str], typed: str) -> tuple[int, str]:
    """Run a command with its standard input and output on a terminal, type a line at its prompt."""
    primary, secondary = os.openpty()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    command = [sys.executable, "-c", "from davportal.cli import main; main()", *args]
    process = subprocess.Popen(command, stdin=secondary, stdout=secondary, stderr=secondary, env=env)
    os.close(secondary)
    seen = b""
    try:
        while b"to erase it" not in seen:
            ready, _, _ = select.select([primary], [], [], 120)
            assert ready, seen  # no prompt after two minutes: something else is wrong
            seen += os.read(primary, 4096)
        os.write(primary, typed.encode() + b"\n")
        while True:
            try:
                chunk = os.read(primary, 4096)
            except OSError:  # the terminal closed with the process
                break
            if not chunk:
                break
            seen += chunk
        return process.wait(timeout=120), seen.decode(errors="replace")
    finally:
        os.close(primary)
        if process.poll() is None:
            process.kill()


@pytest.mark.parametrize("typed, erased", [("beta", False), ("acme", True)])
def test_client_erase_on_a_terminal_asks_for_the_client_s_id(firm, typed, erased):
    code, shown = _on_a_terminal(["client", "erase", "acme"], typed)
    assert "contacts kept (another client too): alice" in shown
    assert (code, (firm.storage / "acme").exists()) == ((0, False) if erased else (1, True)), shown
    if not erased:
        assert "nothing was erased" in shown
