"""Participant types in the shipped matter types, checked over HTTP against a running portal."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from provisioning import accounts, clients
from tests.conftest import ADMIN, PASSWORD, portal_config, start_portal

EXAMPLES = Path(__file__).resolve().parents[1] / "config" / "matter-types.yaml"
OK = "ok"
SHARE = ("<D:propertyupdate xmlns:D='DAV:' xmlns:p='urn:davportal'><D:set><D:prop><p:shared>true</p:shared>"
         "</D:prop></D:set></D:propertyupdate>")  # fmt: skip


@pytest.fixture(scope="module")
def practice(database_url, tmp_path_factory):
    """Smith (family law): jane the client, eve her expert. Acme (tax): olga the owner, bo the
    bookkeeper. Max is expert for Smith and bookkeeper for Acme at once."""
    running = start_portal(portal_config(database_url, tmp_path_factory.mktemp("storage"),
                                         matter_types_file=str(EXAMPLES)))  # fmt: skip
    try:
        running.add_staff("sam")
        types = running.portal.matter_types

        with running.portal.sessions.begin() as session:
            for client_id, name, type_id in (("smith", "Jane Smith", "family-law"),
                                             ("acme", "Acme", "annual-tax-return")):  # fmt: skip
                clients.add_client(session, running.portal.storage, client_id, name=name, matter_type=types[type_id],
                                   folders=("Team's shared", "Client's shared"), actor=ADMIN)  # fmt: skip
            for login, client_id, kind in (("jane", "smith", "client"), ("eve", "smith", "expert"),
                                           ("olga", "acme", "client"), ("bo", "acme", "bookkeeper"),
                                           ("max", "smith", "expert"), ("max", "acme", "bookkeeper")):  # fmt: skip
                accounts.add_contact(session, login, client_id=client_id, password=PASSWORD,
                                     participant_type=kind, actor=ADMIN)  # fmt: skip
        yield running
    finally:
        running.server.stop()
        running.portal.engine.dispose()


# who, client, folder, (read, upload, delete own upload)   -- from config/matter-types.yaml
MATRIX = [
    ("jane", "smith", "Expert reports", (OK, 403, None)),
    ("eve", "smith", "Expert reports", (OK, OK, OK)),
    ("max", "smith", "Expert reports", (OK, OK, OK)),
    ("eve", "smith", "Team's shared/Court orders", (OK, 403, None)),
    ("eve", "smith", "Client's shared/Financial disclosure", (OK, OK, OK)),
    ("jane", "smith", "Client's shared/Identity documents", (OK, OK, 403)),  # kept once sent
    ("eve", "smith", "Correspondence", (404, 404, None)),
    ("jane", "smith", "Contracts", (404, 404, None)),
    ("olga", "acme", "Medical expenses", (OK, OK, OK)),
    ("bo", "acme", "Medical expenses", (404, 404, None)),
    ("max", "acme", "Medical expenses", (404, 404, None)),
    ("bo", "acme", "Payroll", (OK, OK, OK)),
    ("olga", "acme", "Payroll", (OK, 403, None)),
    ("bo", "acme", "Team's shared/Tax returns", (OK, 403, None)),
    ("bo", "acme", "Working papers", (404, 404, None)),
    ("bo", "acme", "Engagement", (404, 404, None)),
    ("max", "acme", "Payroll", (OK, OK, OK)),
]  # fmt: skip


@pytest.mark.parametrize("who, client_id, folder, expected", MATRIX)
def test_participant_permissions(practice, who, client_id, folder, expected):
    read, upload, delete_own = expected
    dav = practice.as_user(who)
    sam = practice.as_user("sam")
    staff_file = f"/{client_id}/{folder}/staff-{uuid.uuid4().hex[:6]}.pdf"
    assert sam.put(staff_file, b"from the firm").status_code == 201 or "Client's shared" in folder
    listed = dav.propfind(f"/{client_id}/{folder}/")
    assert listed.status_code == (207 if read == OK else read)
    mine = f"/{client_id}/{folder}/{who}-{uuid.uuid4().hex[:6]}.pdf"
    put = dav.put(mine, b"from the contact")
    assert put.status_code == (201 if upload == OK else upload), put.text
    if delete_own is not None:
        assert dav.request("DELETE", mine).status_code == (204 if delete_own == OK else delete_own)


@pytest.mark.parametrize("who, expected", [
    ("jane", {"Team's shared", "Client's shared", "Expert reports"}),
    ("eve", {"Team's shared", "Client's shared", "Expert reports"}),
    ("olga", {"Team's shared", "Client's shared", "Medical expenses", "Payroll"}),
    ("bo", {"Team's shared", "Client's shared", "Payroll"}),
])  # fmt: skip
def test_each_participant_lists_only_their_folders(practice, who, expected):
    client_id = "smith" if who in ("jane", "eve") else "acme"
    assert practice.as_user(who).names(f"/{client_id}/") == expected


def test_a_contact_of_several_clients_sees_each_by_its_own_rules(practice):
    max_ = practice.as_user("max")
    assert max_.names("/") == {"acme", "smith"}
    assert "Payroll" in max_.names("/acme/") and "Expert reports" in max_.names("/smith/")


@pytest.mark.parametrize("folder, expected", [("Contracts", 403), ("Correspondence", 207), ("Engagement", 403)])
def test_not_shareable_folders_refuse_the_share_toggle(practice, folder, expected):
    client_id = "acme" if folder == "Engagement" else "smith"
    sam = practice.as_user("sam")
    path = f"/{client_id}/{folder}/share-{uuid.uuid4().hex[:6]}.pdf"
    assert sam.put(path, b"x").status_code == 201
    response = sam.request("PROPPATCH", path, data=SHARE)
    assert response.status_code == 207
    if expected == 403:
        assert "403" in response.text and "may not be shared" in response.text
    else:
        assert "200 OK" in response.text
