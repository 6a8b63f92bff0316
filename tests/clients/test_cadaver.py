"""cadaver (neon) scripted through whole sessions, as staff and as a contact."""

from __future__ import annotations

import os
import re
import subprocess

import pytest

from tests.clients.conftest import require

# netrc cannot hold a password with spaces: these logins get one without.
PASSWORDS = {"cad-sam": "cadaver-staff-1", "cad-alice": "cadaver-contact-1"}


@pytest.fixture(scope="module")
def cadaver(firm, tmp_path_factory):
    binary = require("cadaver")
    firm.add_staff("cad-sam", password=PASSWORDS["cad-sam"])
    firm.add_contact("cad-alice", "acme", password=PASSWORDS["cad-alice"])
    assert firm.as_user("sam").request("MKCOL", "/acme/Internal/").status_code in (201, 405)
    home = tmp_path_factory.mktemp("cadaver-home")

    def session(login: str, url_path: str, script: str) -> list[tuple[str, str]]:
        netrc = home / ".netrc"
        netrc.write_text(f"machine 127.0.0.1 login {login} password {PASSWORDS[login]}\n")
        os.chmod(netrc, 0o600)
        (home / "report.pdf").write_bytes(b"%PDF-1.4 report\n")
        result = subprocess.run([binary, f"{firm.url}{url_path}"], input=script + "\nquit\n", cwd=home,
                                env={"HOME": str(home), "PATH": "/usr/bin:/bin"}, capture_output=True,
                                text=True, timeout=60)  # fmt: skip
        # Each prompt "dav:/path/> command" is followed by what that command printed.
        steps = re.split(r"^dav:[^>]*> ", result.stdout, flags=re.MULTILINE)[1:]
        return [(step.split("\n", 1)[0], step.split("\n", 1)[1] if "\n" in step else "") for step in steps]

    session.home = home
    return session


def _outcome(output: str) -> str:
    """ "ok" or the status code of a refusal (cd prints nothing when it works)."""
    status = re.search(r"\b([45]\d\d) ", output)
    return status.group(1) if status and "succeeded" not in output else "ok"


def _run(cadaver, login: str, script: list[tuple[str, str]]) -> list[tuple[str, str]]:
    steps = cadaver(login, "/acme/", "\n".join(command for command, _ in script))
    assert [command for command, _ in steps[: len(script)]] == [command for command, _ in script], steps
    return steps


CONTACT = [
    ("ls", "ok"),
    ('cd "Client\'s shared"', "ok"),
    ("put report.pdf", "ok"),
    ("get report.pdf back.pdf", "ok"),
    ("mkcol Batch", "ok"),
    ("move report.pdf Batch/report.pdf", "ok"),
    ("lock Batch/report.pdf", "ok"),
    ("unlock Batch/report.pdf", "ok"),
    ('cd "../Team\'s shared"', "ok"),
    ("put report.pdf", "403"),
    ("mkcol Nope", "403"),
    ("cd ../Internal", "404"),  # private: not there, as far as a contact can tell
]
STAFF = [
    ("ls", "ok"),
    ("cd Internal", "ok"),
    ("mkcol Drafts", "ok"),
    ("put report.pdf", "ok"),
    ("get report.pdf back.pdf", "ok"),
    ("move report.pdf Drafts/report.pdf", "ok"),
    ("lock Drafts/report.pdf", "ok"),
    ("unlock Drafts/report.pdf", "ok"),
    ('cd "../Client\'s shared"', "ok"),
    ("put report.pdf", "403"),  # the client's uploads: staff read and copy, not write
    ("mkcol Nope", "403"),
]


def test_contact_session(cadaver):
    steps = _run(cadaver, "cad-alice", CONTACT)
    assert [(command, _outcome(out)) for command, out in steps[: len(CONTACT)]] == CONTACT
    listing = steps[0][1]
    assert "Client's shared" in listing and "Team's shared" in listing and "Internal" not in listing
    assert (cadaver.home / "back.pdf").read_bytes() == b"%PDF-1.4 report\n"


def test_staff_session(cadaver):
    steps = _run(cadaver, "cad-sam", STAFF)
    assert [(command, _outcome(out)) for command, out in steps[: len(STAFF)]] == STAFF
    assert "Internal" in steps[0][1]
