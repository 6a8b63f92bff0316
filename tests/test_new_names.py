"""Windows device names and invisible direction marks are refused however a name is made."""

from __future__ import annotations

import uuid

import pytest

from tests.conftest import TEAM

REFUSED = [
    ("NUL.pdf", "Windows keeps the name NUL"),
    ("com1.txt", "Windows keeps the name COM1"),
    ("Lpt9", "Windows keeps the name LPT9"),
    ("invoice\u202efdp.pdf", "reverse the reading direction"),
    ("\u2067Report.pdf", "reverse the reading direction"),
]


@pytest.fixture
def folder(firm):
    path = f"/acme/{TEAM}/new-names-{uuid.uuid4().hex[:6]}/"
    assert firm.as_user("sam").request("MKCOL", path).status_code == 201
    return path


@pytest.mark.parametrize("name, reason", REFUSED)
def test_upload_with_such_a_name_is_refused(firm, folder, name, reason):
    sam = firm.as_user("sam")
    response = sam.put(folder + name, b"%PDF-1.4\n")
    assert response.status_code == 400
    assert reason in response.text
    assert sam.names(folder) == set()


@pytest.mark.parametrize("name, reason", REFUSED)
def test_folder_with_such_a_name_is_refused(firm, folder, name, reason):
    sam = firm.as_user("sam")
    response = sam.request("MKCOL", folder + name.removesuffix(".pdf").removesuffix(".txt"))
    assert response.status_code == 400
    assert reason in response.text
    assert sam.names(folder) == set()


@pytest.mark.parametrize("method", ["MOVE", "COPY"])
@pytest.mark.parametrize("name, reason", REFUSED)
def test_renaming_or_copying_to_such_a_name_is_refused(firm, folder, method, name, reason):
    sam = firm.as_user("sam")
    assert sam.put(folder + "Report.pdf", b"%PDF-1.4\n").status_code == 201
    response = sam.request(method, folder + "Report.pdf", headers={"Destination": sam.url(folder + name)})
    assert response.status_code == 400
    assert reason in response.text
    assert sam.names(folder) == {"Report.pdf"}


def test_names_that_only_look_alike_are_accepted(firm, folder):
    sam = firm.as_user("sam")
    for name in ("CONTRACT.pdf", "Console notes.txt", "COM10.txt", "report.con.pdf"):
        assert sam.put(folder + name, b"x").status_code == 201, name
    assert sam.request("MKCOL", folder + "Auxiliary").status_code == 201
