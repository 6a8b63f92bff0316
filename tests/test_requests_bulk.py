"""A request from a template for every client of a matter type: what it writes is what
`from_template` writes for one client, a client that has one is skipped, a dry run writes
nothing, and an interrupted run leaves whole requests that a second run completes."""

from __future__ import annotations

import os
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select

from davportal.core.models import (
    AuditEvent,
    Client,
    Document,
    DocumentRequest,
    Notice,
    RequestContact,
    RequestItem,
)
from davportal.core.settings import settings_of
from davportal.services import requests as document_requests
from davportal.services.portal import Portal
from davportal.services.request import RequestContext
from policy import Actor, Role
from provisioning import accounts, clients
from tests.conftest import ADMIN, CLIENT, portal_config
from tests.test_query_counts import StatementCounter

SAM = Actor("sam", Role.STAFF, is_admin=True)
NOW = datetime(2026, 12, 1, 8, 0, tzinfo=timezone.utc)
TYPES = {"matter_types": {
    "tax": {"name": "Annual tax return", "requests": {"year-end": {
        "title": "2025 tax return", "message": "What we need this year.", "due_in_days": 30,
        "participants": ["client"], "reminders": {"before_due_days": [7], "every_days_after": 3},
        "items": [{"name": "P60", "note": "From your employer."}, {"name": "Bank statements", "files": 3},
                  {"name": "Receipts: travel/other"}]}}},
    "law": {"name": "Family law", "requests": {"disclosure": {"title": "Disclosure", "items": [{"name": "ID"}]}}},
}}  # fmt: skip


@pytest.fixture
def portal(fresh_database_url, tmp_path):
    types = tmp_path / "types.yaml"
    types.write_text(yaml.safe_dump(TYPES))
    config = portal_config(fresh_database_url, tmp_path / "storage", matter_types_file=str(types))
    portal = Portal(settings_of(config))
    yield portal
    portal.engine.dispose()


def _client(portal: Portal, client_id: str, *, matter_type: str = "tax", contacts=(("client", True),)) -> None:
    """A client with contacts `<client>-<n>` of the given participant types (with an email or not)."""
    folders = portal.settings.folders
    with portal.sessions.begin() as session:
        clients.add_client(session, portal.storage, client_id, name=f"{client_id.title()} Ltd",
                           folders=(folders.team_shared, folders.client_shared),
                           matter_type=portal.matter_types[matter_type], actor=ADMIN)  # fmt: skip
        for n, (kind, email) in enumerate(contacts):
            login = f"{client_id}-{n}"
            accounts.add_contact(session, login, client_id=client_id, password=None, participant_type=kind,
                                 email=f"{login}@example.com" if email else None, actor=ADMIN)  # fmt: skip


def _snapshot(portal: Portal, client_id: str) -> dict:
    """Everything a request writes for a client, with the client's id and its request's id made neutral."""
    with portal.sessions() as session:
        (request,) = session.scalars(select(DocumentRequest).where(DocumentRequest.client_id == client_id)).all()

        def neutral(value):
            if isinstance(value, str):
                return value.replace(client_id, "C").replace(f"request {request.id} ", "request N ")
            return value

        def row(obj, leave=("id", "client_id", "request_id")):
            return {key: neutral(getattr(obj, key)) for key in obj.__table__.columns.keys() if key not in leave}

        items = [row(item) for item in session.scalars(select(RequestItem).where(RequestItem.request_id == request.id)
                                                       .order_by(RequestItem.position))]  # fmt: skip
        contacts = [
            neutral(c.login)
            for c in session.scalars(
                select(RequestContact).where(RequestContact.request_id == request.id).order_by(RequestContact.login)
            )
        ]
        notices = sorted((n.recipient.replace(client_id, "C"), n.recipient_name.replace(client_id, "C"), n.kind,
                          n.path, n.actor, n.to_staff, n.request_id == request.id, n.message_id)
                         for n in session.scalars(select(Notice).where(Notice.client_id == client_id)))  # fmt: skip
        folders = sorted(
            (d.path, d.is_folder, d.uploaded_by, d.shared)
            for d in session.scalars(
                select(Document).where(Document.client_id == client_id, Document.path.startswith(CLIENT + "/"))
            )
        )
        trail = [(e.action, e.login, e.path, neutral(e.detail), e.status) for e in session.scalars(
            select(AuditEvent).where(AuditEvent.client_id == client_id, AuditEvent.action.startswith("REQUEST"))
            .order_by(AuditEvent.id))]  # fmt: skip
        rules = session.get(Client, client_id).request_folders
        # created_at and sent_at are NOW in both: the same moment is given.
        return {"request": row(request), "items": items, "contacts": contacts, "notices": notices,
                "documents": folders, "audit": trail, "request_folders": rules,
                "disk": _tree(portal.storage.path_of((client_id, CLIENT)))}  # fmt: skip


def _tree(folder: Path) -> list[str]:
    return sorted(str(Path(here, name).relative_to(folder)) for here, dirs, _ in os.walk(folder) for name in dirs)


def _counts(portal: Portal) -> dict[str, int]:
    with portal.sessions() as session:
        return {table.__tablename__: session.scalar(select(func.count()).select_from(table)) or 0
                for table in (DocumentRequest, RequestItem, RequestContact, Notice, Document, AuditEvent)}  # fmt: skip


def _from_template(portal: Portal, client_id: str, template: str = "year-end", **kwargs) -> int:
    context = RequestContext(portal, actor=SAM)
    try:
        request = document_requests.from_template(context, client_id, template, now=NOW, **kwargs)
        context.session.commit()
        return request.id
    finally:
        context.session.close()


def test_every_request_is_what_from_template_makes_for_one_client(portal):
    mixed = (("client", True), ("client", False), ("accountant", True))  # one without email, one of another type
    for client_id in ("acme", "beta", "gamma"):
        _client(portal, client_id, contacts=mixed)
    # A folder of the same name already there: the request's takes " (2)", as for one client.
    for client_id in ("acme", "beta"):
        os.mkdir(portal.storage.path_of((client_id, CLIENT, "Requested - 2025 tax return")))
    _from_template(portal, "acme")
    heard = []

    done = document_requests.for_matter_type(portal, "tax", "year-end", actor=SAM, now=NOW, on_client=heard.append)

    assert [(o.client_id, o.skipped is None) for o in heard] == [("acme", False), ("beta", True), ("gamma", True)]
    assert "it has request" in heard[0].skipped and "year-end" in heard[0].skipped
    assert done.summary() == "3 client(s) of tax: 2 request(s) from year-end made, 1 client(s) skipped."
    one = _snapshot(portal, "acme")
    assert one["request"]["folder"] == f"{CLIENT}/Requested - 2025 tax return (2)"
    assert one["request"]["due_on"] == date(2026, 12, 31) and one["request"]["status"] == "open"
    assert one["contacts"] == ["C-0", "C-1"]  # the template is for the client type only
    assert len(one["items"]) == 3 and len(one["notices"]) == 1 and [a[0] for a in one["audit"]] == [
        "REQUEST-CREATE", "REQUEST-SEND"]  # fmt: skip
    assert _snapshot(portal, "beta") == one
    gamma = _snapshot(portal, "gamma")
    assert gamma["request"]["folder"] == f"{CLIENT}/Requested - 2025 tax return"  # no folder in the way
    assert gamma["audit"][0] == one["audit"][0]
    assert {o.client_id: o.request_id for o in done.made} == {
        client_id: _snapshot_id(portal, client_id) for client_id in ("beta", "gamma")}  # fmt: skip


def _snapshot_id(portal: Portal, client_id: str) -> int:
    with portal.sessions() as session:
        return session.scalar(select(DocumentRequest.id).where(DocumentRequest.client_id == client_id))


def test_the_request_folders_are_what_a_contact_is_given(portal):
    _client(portal, "acme")
    document_requests.for_matter_type(portal, "tax", "year-end", actor=SAM, now=NOW)
    rules = portal.rules_for("acme")
    folder = f"{CLIENT}/Requested - 2025 tax return"
    assert rules.rule_at(tuple(folder.split("/"))).area == "request"
    assert rules.rule_at((*folder.split("/"), "Receipts- travel-other")).area == "request-item"


def test_who_is_skipped_and_who_is_not(portal):
    _client(portal, "acme")
    _client(portal, "beta")
    _client(portal, "gone")
    _client(portal, "draft")
    _client(portal, "other", matter_type="law")
    _client(portal, "nofolder")
    with portal.sessions.begin() as session:
        clients.archive(session, "gone", actor=ADMIN)
    cancelled = _from_template(portal, "beta")
    context = RequestContext(portal, actor=SAM)
    document_requests.cancel(context, cancelled)
    context.session.commit()
    context.session.close()
    _from_template(portal, "draft", send=False)
    portal.storage.path_of(("nofolder", CLIENT)).rename(portal.storage.path_of(("nofolder", "moved")))

    done = document_requests.for_matter_type(portal, "tax", "year-end", actor=SAM, now=NOW)

    assert [o.client_id for o in done.made] == ["acme", "beta"]  # a cancelled request is no reason to skip
    skipped = {o.client_id: o.skipped for o in done.skipped}
    assert set(skipped) == {"draft", "nofolder"}  # archived and other types are not even looked at
    assert "open or draft" in skipped["draft"] and "missing" in skipped["nofolder"]


def test_a_template_of_another_matter_type_is_refused(portal):
    _client(portal, "acme")
    with pytest.raises(document_requests.RequestProblem, match="belongs to the matter type 'law'"):
        document_requests.for_matter_type(portal, "tax", "disclosure", actor=SAM, now=NOW)
    assert _counts(portal)["document_request"] == 0


def test_a_dry_run_writes_nothing_and_says_what_would_happen(portal):
    for client_id in ("acme", "beta"):
        _client(portal, client_id)
    _from_template(portal, "acme")
    before, disk = _counts(portal), _tree(portal.storage.root)
    heard = []

    done = document_requests.for_matter_type(portal, "tax", "year-end", actor=SAM, now=NOW, dry_run=True,
                                             on_client=heard.append)  # fmt: skip

    assert _counts(portal) == before and _tree(portal.storage.root) == disk
    assert [o.line(dry_run=True) for o in heard] == [
        "acme: skipped, it has request 1 from year-end already, open or draft",
        f"beta: would get '{CLIENT}/Requested - 2025 tax return', for beta-0",
    ]
    assert done.summary() == "2 client(s) of tax: 1 request(s) from year-end would be made, 1 client(s) skipped."


class Interrupted(Exception):
    pass


def test_an_interrupted_run_leaves_whole_requests_and_a_second_run_finishes(portal):
    names = [f"c{n}" for n in range(7)]
    for client_id in names:
        _client(portal, client_id)
    seen = []

    def stop_in_the_second_batch(outcome):
        seen.append(outcome.client_id)
        if outcome.client_id == "c4":
            raise Interrupted

    with pytest.raises(Interrupted):
        document_requests.for_matter_type(portal, "tax", "year-end", actor=SAM, now=NOW, batch=3,
                                          on_client=stop_in_the_second_batch)  # fmt: skip

    # The first batch is whole; of the second, nothing is left: no row, no folder.
    counts = _counts(portal)
    assert (counts["document_request"], counts["request_item"], counts["request_contact"]) == (3, 9, 3)
    for client_id in names:
        has = [name for name in os.listdir(portal.storage.path_of((client_id, CLIENT))) if name.startswith("Req")]
        assert has == (["Requested - 2025 tax return"] if client_id in names[:3] else [])

    done = document_requests.for_matter_type(portal, "tax", "year-end", actor=SAM, now=NOW, batch=3)

    assert [o.client_id for o in done.skipped] == names[:3]
    assert [o.client_id for o in done.made] == names[3:]
    counts = _counts(portal)
    assert (counts["document_request"], counts["request_item"], counts["request_contact"]) == (7, 21, 7)
    assert _snapshot(portal, "c5") == _snapshot(portal, "c0")


@pytest.mark.parametrize("filters", [{}, {"client": "acme"}, {"matter_type": "tax", "overdue_on": date(2027, 1, 1)},
                                     {"staff": "sam", "due_before": date(2027, 1, 1)}, {"offset": 5}])  # fmt: skip
def test_a_page_of_the_outstanding_list_is_one_statement_however_many_requests(portal, filters):
    counted = []
    for client_id in ("acme", "beta", "gamma"):
        _client(portal, client_id)
    for many in (False, True):
        if many:
            for n in range(30):
                _client(portal, f"more{n:02}")
        document_requests.for_matter_type(portal, "tax", "year-end", actor=SAM, now=NOW)
        with portal.sessions() as session, StatementCounter(portal.engine) as counter:
            document_requests.outstanding(session, **filters)
            document_requests.count_outstanding(session, **{k: v for k, v in filters.items() if k != "offset"})
        counted.append(counter.count)
    assert counted == [2, 2]  # the page, and its count
