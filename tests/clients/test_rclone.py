"""rclone's webdav backend (vendor owncloud: file times and checksums) as a contact and as staff."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import pytest

from davportal.services import versions
from tests.clients.conftest import require
from tests.conftest import CLIENT, PASSWORD, TEAM

OLD = 1_700_000_000  # 2023-11-14: the source files' modification time, kept by the upload


@pytest.fixture(scope="module")
def rclone(firm, tmp_path_factory):
    binary = require("rclone")
    folder = tmp_path_factory.mktemp("rclone")
    obscured = subprocess.run([binary, "obscure", PASSWORD], capture_output=True, text=True, check=True)
    config = folder / "rclone.conf"
    config.write_text("".join(
        f"[{login}]\ntype = webdav\nurl = {firm.url}/\nvendor = owncloud\nuser = {login}\n"
        f"pass = {obscured.stdout.strip()}\n\n"
        for login in ("alice", "sam")
    ))  # fmt: skip

    def run(*args, check=True):
        result = subprocess.run([binary, "--config", str(config), "--retries", "1", "--low-level-retries", "1",
                                 *args], capture_output=True, text=True, timeout=120)  # fmt: skip
        if check:
            assert result.returncode == 0, result.stderr
        return result

    return run


@pytest.fixture
def mixed(tmp_path) -> Path:
    """A folder of allowed files, non-ASCII names and a subfolder, dated in the past."""
    source = tmp_path / "to send"
    (source / "2025").mkdir(parents=True)
    files = {
        "Résumé – été.pdf": b"%PDF-1.4\n" + os.urandom(40_000),
        "notes.txt": b"hello\n",
        "photo.jpg": os.urandom(300_000),
        "Quarterly figures.xlsx": os.urandom(5_000),
        "2025/Tax return 2025.docx": os.urandom(20_000),
    }
    for name, content in files.items():
        (source / name).write_bytes(content)
        os.utime(source / name, (OLD, OLD))
    return source


def _round_trip(rclone, login: str, source: Path, remote: str) -> None:
    rclone("copy", str(source), f"{login}:{remote}")
    check = rclone("check", str(source), f"{login}:{remote}")
    assert "0 differences found" in check.stderr and "could not be checked" not in check.stderr
    assert "0 differences found" in rclone("check", "--download", str(source), f"{login}:{remote}").stderr
    listing = rclone("lsl", f"{login}:{remote}").stdout
    assert listing.count("2023-11-14") == 5, listing  # file times kept (X-OC-Mtime)
    remote_sums = rclone("hashsum", "sha1", f"{login}:{remote}").stdout
    for path in source.rglob("*"):
        if path.is_file():
            assert hashlib.sha1(path.read_bytes()).hexdigest() in remote_sums


def test_contact_copies_into_clients_shared_and_checks_it(rclone, mixed):
    _round_trip(rclone, "alice", mixed, f"acme/{CLIENT}/from rclone")


def test_staff_copies_into_a_private_folder_and_checks_it(rclone, mixed):
    _round_trip(rclone, "sam", mixed, "acme/Working papers")


def test_contact_lists_only_what_is_open_to_them(rclone, firm):
    firm.as_user("sam").request("MKCOL", "/acme/Internal/")
    assert rclone("lsf", "alice:").stdout.splitlines() == ["acme/"]
    assert rclone("lsf", "alice:acme/").stdout.splitlines() == [f"{CLIENT}/", f"{TEAM}/"]
    assert "Internal/" in rclone("lsf", "sam:acme/").stdout.splitlines()


def test_contact_upload_into_team_shared_fails_with_the_reason(rclone, mixed):
    result = rclone("copyto", str(mixed / "notes.txt"), f"alice:acme/{TEAM}/notes.txt", check=False)
    assert result.returncode != 0
    assert "403 Forbidden" in result.stderr
    assert "you can read and download them, not change them" in result.stderr


def test_a_refused_type_fails_with_the_reason(rclone, tmp_path):
    program = tmp_path / "setup.exe"
    program.write_bytes(b"MZ")
    result = rclone("copyto", str(program), f"alice:acme/{CLIENT}/setup.exe", check=False)
    assert result.returncode != 0
    assert "415" in result.stderr and "'.exe' files are not accepted" in result.stderr


def test_an_overwrite_by_rclone_keeps_the_earlier_version(rclone, firm, tmp_path):
    source = tmp_path / "Ledger.xlsx"
    remote = "sam:acme/Working papers/Ledger.xlsx"
    source.write_bytes(b"first ledger")
    rclone("copyto", str(source), remote)
    source.write_bytes(b"second ledger, longer")
    rclone("copyto", str(source), remote)
    assert "0 differences found" in rclone("check", str(tmp_path), "sam:acme/Working papers",
                                           "--include", "Ledger.xlsx").stderr  # fmt: skip
    with firm.portal.sessions() as session:
        [kept] = versions.of_document(session, "acme", "Working papers/Ledger.xlsx")
    assert kept.sha1 == hashlib.sha1(b"first ledger").hexdigest() and kept.written_by == "sam"
