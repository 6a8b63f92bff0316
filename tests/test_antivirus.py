"""Uploads scanned by a real clamd, started here with a signature database the test makes (EICAR)."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from davportal.core.models import AuditEvent, Notice
from tests.conftest import CLIENT, TEAM

# The EICAR test file: harmless, and recognised by every antivirus as "infected".
EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
SIGNATURE = "Davportal.Test.EICAR"


@pytest.fixture(scope="module")
def clamd(tmp_path_factory):
    binary = shutil.which("clamd") or "/usr/sbin/clamd"
    if not Path(binary).exists():
        pytest.fail("clamd is not installed: `apt-get install clamav-daemon` (.ci/run does this)", pytrace=False)
    folder = tmp_path_factory.mktemp("clamd")
    (folder / "db").mkdir()
    # The public signature database cannot be downloaded here: one signature of our own.
    (folder / "db" / "davportal.ndb").write_text(f"{SIGNATURE}:0:*:{EICAR.hex()}\n")
    socket_path = folder / "clamd.sock"
    (folder / "clamd.conf").write_text(
        f"Foreground yes\nLocalSocket {socket_path}\nDatabaseDirectory {folder / 'db'}\n"
        f"LogFile {folder / 'clamd.log'}\nTemporaryDirectory {folder}\nStreamMaxLength 200M\nUser root\n"
    )
    process = subprocess.Popen([binary, f"--config-file={folder / 'clamd.conf'}"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        deadline = time.monotonic() + 120  # a busy machine starts clamd later, never too late
        while not socket_path.exists():
            if process.poll() is not None:
                pytest.fail(f"clamd did not start: {(folder / 'clamd.log').read_text()}")
            if time.monotonic() > deadline:
                pytest.fail(f"clamd did not listen within 120 s: {(folder / 'clamd.log').read_text()}")
            time.sleep(0.1)
        yield str(socket_path)
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture
def scanned(fresh_portal, clamd):
    def start(**antivirus):
        running = fresh_portal(antivirus={"clamd_socket": clamd, **antivirus},
                               notifications={"staff_address": "office@firm.example"})  # fmt: skip
        running.add_staff("sam")
        running.add_client("acme")
        running.add_contact("alice", "acme")
        return running

    return start


def test_eicar_is_refused_with_the_signature_named_and_a_clean_file_goes_through(scanned):
    portal = scanned()
    alice = portal.as_user("alice")
    assert alice.put(f"/acme/{CLIENT}/clean.pdf", b"%PDF-1.4 a clean file").status_code == 201
    assert alice.put(f"/acme/{CLIENT}/invoice.pdf", b"%PDF version 1").status_code == 201
    response = alice.put(f"/acme/{CLIENT}/invoice.pdf", b"%PDF " + EICAR)
    assert response.status_code == 403
    assert SIGNATURE in response.text and "was not stored" in response.text
    assert alice.request("GET", f"/acme/{CLIENT}/invoice.pdf").content == b"%PDF version 1"  # the old one stays
    assert portal.portal.scanner.scans == 3  # every upload was scanned
    with portal.portal.sessions() as session:
        virus = session.scalars(select(AuditEvent).where(AuditEvent.action == "VIRUS")).all()
        notices = session.scalars(select(Notice).where(Notice.kind == "infected")).all()
    assert [(e.login, e.path, e.detail, e.status) for e in virus] == [
        ("alice", f"{CLIENT}/invoice.pdf", f"{SIGNATURE}.UNOFFICIAL", 403)]  # fmt: skip
    assert [n.recipient for n in notices] == ["office@firm.example"]
    leftovers = [p for p in portal.portal.storage.root.rglob(".davportal-*.part")]  # a temporary upload left behind
    assert leftovers == []


def test_staff_uploads_and_web_uploads_are_scanned_too(scanned):
    portal = scanned()
    assert portal.as_user("sam").put(f"/acme/{TEAM}/x.pdf", EICAR).status_code == 403
    assert portal.as_user("sam").request("HEAD", f"/acme/{TEAM}/x.pdf").status_code == 404


def test_quarantine_keeps_the_file_apart(scanned):
    portal = scanned(on_infected="quarantine")
    assert portal.as_user("alice").put(f"/acme/{CLIENT}/bad.pdf", EICAR).status_code == 403
    quarantined = list((portal.portal.storage.root / ".davportal-quarantine").iterdir())
    assert len(quarantined) == 1 and quarantined[0].name.endswith("-bad.pdf")
    assert quarantined[0].read_bytes() == EICAR
    assert "bad.pdf" not in portal.as_user("sam").names(f"/acme/{CLIENT}/")


@pytest.mark.parametrize("policy, expected", [("refuse", 503), ("accept", 201)])
def test_an_unreachable_scanner(fresh_portal, tmp_path, policy, expected):
    portal = fresh_portal(antivirus={"clamd_socket": str(tmp_path / "nobody-listens.sock"), "when_unavailable": policy})
    portal.add_client("acme")
    portal.add_contact("alice", "acme")
    response = portal.as_user("alice").put(f"/acme/{CLIENT}/x.pdf", b"%PDF")
    assert response.status_code == expected
    if expected == 503:
        assert "virus scanner is not available" in response.text and response.headers["Retry-After"] == "60"
