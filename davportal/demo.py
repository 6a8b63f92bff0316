"""`davportal serve --demo`: a small firm to try the portal with."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from davportal.core.models import Account
from davportal.services.portal import Portal
from policy import Role
from provisioning import accounts, clients

DEMO_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj 2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>"
    b"endobj 3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 612 792]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)


@dataclass(frozen=True)
class DemoLogin:
    login: str
    password: str
    who: str


def create_demo_firm(portal: Portal) -> list[DemoLogin]:
    """Create (or refresh) the demo firm; every run sets new passwords and prints them."""
    folders = portal.settings.folders
    people = [
        ("sam", Role.STAFF, None, "staff (sees every client)"),
        ("alice", Role.CONTACT, "acme", "contact of Acme Ltd"),
        ("bob", Role.CONTACT, "bloggs", "contact of Joe Bloggs"),
    ]
    logins = []
    client_id: str | None  # a staff member in `people` has no client
    with portal.sessions.begin() as session:
        for client_id, name in (("acme", "Acme Ltd"), ("bloggs", "Joe Bloggs")):
            clients.add_client(session, portal.storage, client_id, name=name,
                               folders=(folders.team_shared, folders.client_shared))  # fmt: skip
        for login, role, client_id, who in people:
            password = secrets.token_urlsafe(9)
            if session.get(Account, login) is None:
                if role is Role.STAFF:
                    accounts.add_staff(session, login, password=password, admin=True)
                else:
                    assert client_id is not None  # every contact in `people` has one
                    accounts.add_contact(session, login, client_id=client_id, password=password,
                                         email=f"{login}@example.com")  # fmt: skip
            else:
                accounts.set_password(session, login, password)
            logins.append(DemoLogin(login, password, who))
    for client_id in ("acme", "bloggs"):
        _file(portal, (client_id, folders.team_shared, "Welcome to your portal.txt"),
              b"Documents from the firm appear in this folder.\n")  # fmt: skip
        _file(portal, (client_id, folders.team_shared, "Engagement letter.pdf"), DEMO_PDF)
        _file(portal, (client_id, folders.client_shared, "Upload your documents here.txt"),
              b"Put the documents you send us in this folder.\n")  # fmt: skip
        _file(portal, (client_id, "Matter notes", "Internal notes.txt"),
              b"Private to the firm: the client never sees this folder.\n")  # fmt: skip
    return logins


def _file(portal: Portal, parts: tuple[str, ...], content: bytes) -> None:
    path = portal.storage.path_of(parts)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
