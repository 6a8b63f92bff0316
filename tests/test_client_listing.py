"""The clients list for a console of thousands: searched and paged in a bounded number of statements;
and the audit trail, filtered and paged, with display names."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import insert

from davportal.core.db import create_schema, make_engine, session_factory
from davportal.core.models import Account, AuditEvent, Client, Membership, utcnow
from davportal.services import audit
from provisioning import clients
from tests.test_query_counts import StatementCounter


@pytest.fixture
def database(fresh_database_url):
    engine = make_engine(fresh_database_url)
    create_schema(engine)
    yield engine, session_factory(engine)
    engine.dispose()


def _clients(sessions, count: int) -> None:
    """c0000... with every 10th archived, every 7th named "Müller & Co", each with two contacts."""
    now = utcnow()
    rows = [{"id": f"c{i:04}", "name": "Müller & Co" if i % 7 == 0 else f"Client {i}",
             "archived_at": now if i % 10 == 0 else None} for i in range(count)]  # fmt: skip
    with sessions.begin() as session:
        session.execute(insert(Client), rows)
        session.execute(insert(Account), [{"login": f"p{i}", "role": "contact"} for i in range(2)])
        session.execute(insert(Membership), [{"login": f"p{j}", "client_id": row["id"], "participant_type": "client"}
                                             for row in rows for j in range(2)])  # fmt: skip


@pytest.mark.parametrize("count", [30, 300])
def test_a_page_and_the_count_take_two_statements_however_many_clients(database, count):
    engine, sessions = database
    _clients(sessions, count)
    with sessions() as session:
        session.connection()  # the connection's own set-up is not the listing's
        with StatementCounter(engine) as counter:
            page = clients.list_clients(session, search="client", offset=5, limit=20)
            total = clients.count_clients(session, search="client")
    assert counter.count == 2
    expected = [i for i in range(count) if i % 7 and i % 10]
    assert len(page) == min(20, len(expected) - 5) and all(row.contacts == 2 and not row.archived for row in page)
    assert total == len(expected) and [row.id for row in page] == [f"c{i:04}" for i in expected[5:25]]


def test_search_by_id_or_name_in_any_case_and_archived_only_when_asked(database):
    _, sessions = database
    _clients(sessions, 30)
    with sessions() as session:

        def ids(**kwargs):
            return [row.id for row in clients.list_clients(session, **kwargs)]

        assert ids(search="MÜLLER &") == ["c0007", "c0014", "c0021", "c0028"]  # and c0000, archived
        assert ids(search="c002") == [f"c00{i}" for i in range(21, 30)]
        assert ids(search="müller", include_archived=True) == ["c0000", "c0007", "c0014", "c0021", "c0028"]
        assert ids(only_archived=True) == ["c0000", "c0010", "c0020"]
        assert ids(search="100%") == [] and ids(search="_") == []  # wildcards are plain characters
        assert clients.count_clients(session, only_archived=True) == 3
        assert clients.count_clients(session, include_archived=True) == 30


def test_audit_events_filtered_paged_and_named(database):
    _, sessions = database
    start = utcnow() - timedelta(hours=1)
    with sessions.begin() as session:
        session.add(Account(login="alice", role="contact", name="Alice Martin"))
        session.execute(insert(AuditEvent), [
            {"at": start + timedelta(minutes=i), "login": login, "role": "contact", "action": action,
             "client_id": "acme", "path": path, "status": 200}
            for i, (login, action, path) in enumerate([
                ("alice", "GET", "Team's shared/A.pdf"), ("alice", "PUT", "Client's shared/B.pdf"),
                ("bob", "GET", "Team's shared/Sub/C.pdf"), ("alice", "GET", "Team's shared 2/D.pdf"),
                ("alice", "DELETE", "Client's shared/B.pdf")])
        ])  # fmt: skip
    with sessions() as session:

        def paths(**kwargs):
            return [row["path"] for row in audit.events(session, **kwargs)]

        assert paths(path="Team's shared") == ["Team's shared/A.pdf", "Team's shared/Sub/C.pdf"]
        assert paths(action="get", login="alice") == ["Team's shared/A.pdf", "Team's shared 2/D.pdf"]
        assert paths(since=start + timedelta(minutes=1), until=start + timedelta(minutes=3)) == [
            "Client's shared/B.pdf", "Team's shared/Sub/C.pdf"]  # fmt: skip
        assert paths(offset=1, limit=2) == ["Client's shared/B.pdf", "Team's shared/Sub/C.pdf"]
        assert audit.count(session, client_id="acme", login="alice") == 4
        assert audit.count(session, path="Client's shared/B.pdf", action="DELETE") == 1
        rows = audit.events(session, limit=3)
        assert [(row["login"], row["name"]) for row in rows] == [("alice", "Alice Martin"), ("alice", "Alice Martin"),
                                                                 ("bob", None)]  # fmt: skip
        assert "Alice Martin" in audit.as_csv(rows) and "Alice Martin" in audit.as_table(rows)
