"""`davportal serve --demo`: a small firm to try the portal with.

The demo sets the passwords of its own logins (sam, alice, bob) at every start, so it runs only on
a database it made: an empty one, which it then marks, or one it marked before. Any other is left
untouched and the command refused, so that no firm's logins are ever reset by a stray --demo.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from davportal.core.errors import Conflict
from davportal.core.models import Account, AuditEvent, Client, utcnow
from davportal.services import requests as document_requests
from davportal.services.portal import Portal
from davportal.services.request import RequestContext
from davportal.services.requests import NewItem
from policy import Actor, Role
from provisioning import accounts, clients

# The mark of a demo database: an audit event, written with the demo firm. It is in the database
# itself, the thing to recognise (a file beside the data would not travel with a PostgreSQL
# database), it needs no change to the schema, the audit trail keeps its rows, and no command but
# the demo writes this action.
DEMO_MARK = "DEMO-FIRM"
DEMO_ACTOR = Actor("cli:demo", Role.STAFF, is_admin=True)  # who the audit trail says made the demo firm

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
    """Create (or refresh) the demo firm; every run sets new passwords and prints them.

    Refused, before anything is written, on a database the demo did not make.
    """
    folders = portal.settings.folders
    people = [
        ("sam", Role.STAFF, None, "staff (sees every client)"),
        ("alice", Role.CONTACT, "acme", "contact of Acme Ltd"),
        ("bob", Role.CONTACT, "bloggs", "contact of Joe Bloggs"),
    ]
    logins = []
    client_id: str | None  # a staff member in `people` has no client
    with portal.sessions.begin() as session:
        _claim_for_the_demo(session)
        for client_id, name in (("acme", "Acme Ltd"), ("bloggs", "Joe Bloggs")):
            clients.add_client(session, portal.storage, client_id, name=name,
                               folders=(folders.team_shared, folders.client_shared), actor=DEMO_ACTOR)  # fmt: skip
        for login, role, client_id, who in people:
            password = secrets.token_urlsafe(9)
            if session.get(Account, login) is None:
                if role is Role.STAFF:
                    accounts.add_staff(session, login, password=password, admin=True, actor=DEMO_ACTOR)
                else:
                    assert client_id is not None  # every contact in `people` has one
                    accounts.add_contact(session, login, client_id=client_id, password=password,
                                         email=f"{login}@example.com", actor=DEMO_ACTOR)  # fmt: skip
            else:
                accounts.set_password(session, login, password, actor=DEMO_ACTOR)
            logins.append(DemoLogin(login, password, who))
    for client_id in ("acme", "bloggs"):
        _file(portal, (client_id, folders.team_shared, "Welcome to your portal.txt"),
              b"Documents from the firm appear in this folder.\n")  # fmt: skip
        _file(portal, (client_id, folders.team_shared, "Engagement letter.pdf"), DEMO_PDF)
        _file(portal, (client_id, folders.client_shared, "Upload your documents here.txt"),
              b"Put the documents you send us in this folder.\n")  # fmt: skip
        _file(portal, (client_id, "Matter notes", "Internal notes.txt"),
              b"Private to the firm: the client never sees this folder.\n")  # fmt: skip
    _ask_for_documents(portal)
    return logins


def _ask_for_documents(portal: Portal) -> None:
    """Acme is asked for its year-end papers, once: alice sees the request first."""
    context = RequestContext(portal, actor=DEMO_ACTOR)
    try:
        if document_requests.of_client(context.session, "acme"):
            return
        due = (utcnow() + timedelta(days=30)).date()
        items = [NewItem("Bank statements", "The last three months, every account.", 3), NewItem("P60"),
                 NewItem("Receipts for expenses")]  # fmt: skip
        document_requests.create(context, "acme", title="Year-end papers", items=items, due_on=due,
                                 message="Please send us these for your year-end accounts.")  # fmt: skip
        context.session.commit()
    finally:
        context.session.close()


def _claim_for_the_demo(session: Session) -> None:
    if session.scalar(select(AuditEvent.id).where(AuditEvent.action == DEMO_MARK).limit(1)) is not None:
        return
    if session.scalar(select(Account.login).limit(1)) or session.scalar(select(Client.id).limit(1)):
        raise Conflict(
            "This database already has clients or logins that the demo did not create, so --demo leaves it "
            "alone (it would reset the passwords of logins named like the demo's). Try the demo in an empty "
            "folder, or give it a new database."
        )
    session.add(AuditEvent(login=DEMO_ACTOR.login, role=DEMO_ACTOR.role.value, action=DEMO_MARK, status=200,
                           detail="demo firm created by davportal serve --demo"))  # fmt: skip


def _file(portal: Portal, parts: tuple[str, ...], content: bytes) -> None:
    path = portal.storage.path_of(parts)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
