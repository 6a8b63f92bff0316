"""Names as desktops write them: what may be created, case clashes, Unicode forms, Finder's and Office's own files."""

from __future__ import annotations

import unicodedata
import uuid

import pytest

from policy.names import check_new_name
from tests.conftest import CLIENT, TEAM

RTL_OVERRIDE = "\u202e"


@pytest.mark.parametrize("name, refused_because", [
    ("Report.pdf", None),
    ("Rapport d'été.pdf", None),
    ("עברית.pdf", None),  # right-to-left text itself is fine: only the invisible direction marks are not
    ("a:b", "Windows cannot store them"),
    ("end.", "end with a space or a dot"),
    (".davportal-x", "reserved"),
    ("x" * 256, "too long"),
    # Windows device names, in any case, with or without an extension
    ("CON", "Windows keeps the name CON"),
    ("prn", "Windows keeps the name PRN"),
    ("Aux.docx", "Windows keeps the name AUX"),
    ("NUL.pdf", "Windows keeps the name NUL"),
    ("nul.tar.gz", "Windows keeps the name NUL"),
    ("NUL .txt", "Windows keeps the name NUL"),
    ("com1.txt", "Windows keeps the name COM1"),
    ("COM9", "Windows keeps the name COM9"),
    ("lpt1", "Windows keeps the name LPT1"),
    ("LPT9.pdf", "Windows keeps the name LPT9"),
    ("COM²", "Windows keeps the name COM²"),
    # Near misses stay allowed
    ("CONTRACT.pdf", None),
    ("Console", None),
    ("COM10.txt", None),
    ("LPT.pdf", None),
    ("report.con", None),
    ("my nul.pdf", None),
    # Bidirectional controls: each one, anywhere in the name
    *[(f"invoice{chr(code)}fdp.exe", "reverse the reading direction")
      for code in (0x202A, 0x202B, 0x202C, 0x202D, 0x202E, 0x2066, 0x2067, 0x2068, 0x2069, 0x200E, 0x200F, 0x061C)],
    (RTL_OVERRIDE + "Report.pdf", "reverse the reading direction"),
])  # fmt: skip
def test_new_names(name, refused_because):
    decision = check_new_name(name)
    if refused_because is None:
        assert decision.allowed, decision.reason
    else:
        assert (decision.allowed, decision.status) == (False, 400)
        assert refused_because in decision.reason


@pytest.fixture
def folder(firm):
    path = f"/acme/{TEAM}/names-{uuid.uuid4().hex[:6]}/"
    assert firm.as_user("sam").request("MKCOL", path).status_code == 201
    return path


@pytest.mark.parametrize("method", ["PUT", "MKCOL", "COPY", "MOVE", "LOCK"])
def test_names_differing_only_in_case_are_refused(firm, folder, method):
    sam = firm.as_user("sam")
    assert sam.put(folder + "Report.pdf", b"original").status_code == 201
    assert sam.put(folder + "other.pdf", b"other").status_code == 201
    target = folder + ("REPORT.PDF" if method != "MKCOL" else "report.pdf")
    if method in ("COPY", "MOVE"):
        response = sam.request(method, folder + "other.pdf", headers={"Destination": sam.url(target)})
    elif method == "LOCK":
        response = sam.request("LOCK", target, data="<D:lockinfo xmlns:D='DAV:'><D:lockscope><D:exclusive/>"
                               "</D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>")  # fmt: skip
    else:
        response = sam.request(method, target, data=b"x" if method == "PUT" else None)
    assert response.status_code == 409
    assert "'Report.pdf' is already here" in response.text
    assert sam.request("GET", folder + "Report.pdf").content == b"original"


def test_renaming_a_file_to_another_case_of_its_own_name_works(firm, folder):
    sam = firm.as_user("sam")
    sam.put(folder + "minutes.pdf", b"m")
    response = sam.request("MOVE", folder + "minutes.pdf", headers={"Destination": sam.url(folder + "Minutes.pdf")})
    assert response.status_code == 201
    assert sam.names(folder) == {"Minutes.pdf"}


def test_nfd_names_from_a_mac_are_stored_and_found_as_nfc(firm, folder):
    sam = firm.as_user("sam")
    name = "Résumé – été.pdf"
    assert sam.put(folder + unicodedata.normalize("NFD", name), b"cv").status_code == 201
    assert sam.request("GET", folder + unicodedata.normalize("NFC", name)).content == b"cv"
    assert sam.names(folder) == {unicodedata.normalize("NFC", name)}
    assert firm.as_user("alice").request("GET", folder + name).content == b"cv"


def test_desktop_files_stay_with_the_side_that_wrote_them(firm, folder):
    sam, alice = firm.as_user("sam"), firm.as_user("alice")
    for name in (".DS_Store", "._Report.pdf", "~$Report.docx", "~WRL0001.tmp", "Thumbs.db", "desktop.ini"):
        assert sam.put(folder + name, b"junk").status_code == 201
        assert sam.request("GET", folder + name).status_code == 200
        assert alice.request("GET", folder + name).status_code == 404
    sam.put(folder + "Report.docx", b"real")
    assert alice.names(folder) == {"Report.docx"}
    assert len(sam.names(folder)) == 7

    mine = f"/acme/{CLIENT}/mac-{uuid.uuid4().hex[:6]}/"
    assert alice.request("MKCOL", mine).status_code == 201
    assert alice.put(mine + "._scan.pdf", b"appledouble").status_code == 201
    assert alice.put(mine + "scan.pdf", b"scan").status_code == 201
    assert alice.names(mine) == {"._scan.pdf", "scan.pdf"}
    assert sam.names(mine) == {"scan.pdf"}
    assert sam.request("GET", mine + "._scan.pdf").status_code == 404
