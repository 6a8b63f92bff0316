"""Document requests over a client's life: erased with the client, a contact taken off a client is
no longer on its requests, archiving leaves them as they are."""

from __future__ import annotations

from sqlalchemy import delete, func, select

from davportal.core.models import Client, DocumentRequest, RequestContact, RequestItem
from davportal.services import requests as document_requests
from provisioning import accounts, clients, erasure
from tests.conftest import ADMIN
from tests.test_requests_bulk import _client, _from_template, portal  # noqa: F401 (the fixture)


def _count(portal, table, *where) -> int:  # noqa: F811
    with portal.sessions() as session:
        return session.scalar(select(func.count()).select_from(table).where(*where)) or 0


def _contacts(portal, request_id: int) -> list[str]:  # noqa: F811
    with portal.sessions() as session:
        return document_requests.contacts_of(session, request_id)


def _shared_contact(portal) -> None:  # noqa: F811
    """acme (acme-0) and beta (beta-0), and dana, a contact of both."""
    _client(portal, "acme")
    _client(portal, "beta")
    with portal.sessions.begin() as session:
        for client_id in ("acme", "beta"):
            accounts.add_contact(session, "dana", client_id=client_id, password=None, email="dana@example.com",
                                 actor=ADMIN)  # fmt: skip


def test_erasing_a_client_removes_its_requests_and_the_plan_says_so(portal):  # noqa: F811
    _shared_contact(portal)
    acme_requests = [_from_template(portal, "acme"), _from_template(portal, "acme", template="year-end", send=False)]
    beta_request = _from_template(portal, "beta")
    with portal.sessions() as session:
        found = erasure.plan(session, portal.storage, "acme")
    assert (found.requests, found.request_items) == (2, 6)
    assert "2 document request(s) with 6 item(s)" in found.lines()

    done = erasure.erase(portal.sessions, portal.storage, "acme", actor=ADMIN)

    assert done.contacts_erased == ("acme-0",) and done.contacts_kept == ("dana",)
    in_acme = DocumentRequest.id.in_(acme_requests)
    assert _count(portal, DocumentRequest, in_acme) == 0
    assert _count(portal, RequestItem, RequestItem.request_id.in_(acme_requests)) == 0
    assert _count(portal, RequestContact, RequestContact.request_id.in_(acme_requests)) == 0
    # The other client's request is whole, dana still on it.
    assert _count(portal, RequestItem, RequestItem.request_id == beta_request) == 3
    assert _contacts(portal, beta_request) == ["beta-0", "dana"]


def test_the_database_cascades_from_a_client_to_its_requests(portal):  # noqa: F811
    """What erasure says it deletes, the schema would delete too (SQLite with its foreign keys on, PostgreSQL)."""
    _client(portal, "acme")
    request_id = _from_template(portal, "acme")
    with portal.sessions.begin() as session:
        session.execute(delete(Client).where(Client.id == "acme"))
    assert _count(portal, DocumentRequest) == 0
    assert _count(portal, RequestItem, RequestItem.request_id == request_id) == 0
    assert _count(portal, RequestContact, RequestContact.request_id == request_id) == 0


def test_a_contact_taken_off_a_client_is_no_longer_on_its_requests(portal):  # noqa: F811
    _shared_contact(portal)
    acme_request, beta_request = _from_template(portal, "acme"), _from_template(portal, "beta")
    assert _contacts(portal, acme_request) == ["acme-0", "dana"]

    with portal.sessions.begin() as session:
        accounts.remove_from_client(session, "dana", "acme", actor=ADMIN)

    assert _contacts(portal, acme_request) == ["acme-0"]
    assert _contacts(portal, beta_request) == ["beta-0", "dana"]  # the other client's stays


def test_archiving_leaves_requests_as_they_are(portal):  # noqa: F811
    _client(portal, "acme")
    request_id = _from_template(portal, "acme")

    def state():
        with portal.sessions() as session:
            request = document_requests.find(session, request_id)
            items = [(i.folder, i.status) for i in document_requests.items_of(session, request_id)]
            outstanding = [row.id for row in document_requests.outstanding(session)]
            return (request.status, request.folder, request.next_reminder_at, request.due_on, items,
                    document_requests.contacts_of(session, request_id), session.get(Client, "acme").request_folders,
                    outstanding)  # fmt: skip

    before = state()
    with portal.sessions.begin() as session:
        clients.archive(session, "acme", actor=ADMIN)
    archived = state()
    # Out of the list of what is outstanding while archived; otherwise untouched.
    assert archived[-1] == [] and archived[:-1] == before[:-1]
    with portal.sessions.begin() as session:
        clients.unarchive(session, "acme", actor=ADMIN)
    assert state() == before
