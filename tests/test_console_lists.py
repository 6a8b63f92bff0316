"""The console's lists stay usable at 10,000 clients and contacts: a page of them costs the same
few SQL statements whichever page it is, searched or not."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import insert

from davportal.core.models import Account, Client, Membership
from tests.conftest import signed_in
from tests.test_query_counts import StatementCounter

CONSOLE = "/.davportal-web/admin"
MANY = 10_000
MOST_STATEMENTS = 6  # the browser's session, then the page: a count and one page of rows


@pytest.fixture
def crowded(fresh_portal, still):
    running = fresh_portal()
    running.add_staff("sam", admin=True)
    with running.portal.sessions.begin() as session:
        session.execute(insert(Client), [
            {"id": f"client-{i:05}", "name": f"Client {i}", "archived_at": None} for i in range(MANY)
        ])  # fmt: skip
        session.execute(insert(Account), [
            {"login": f"person-{i:05}", "role": "contact", "email": f"p{i}@example.com", "is_admin": False,
             "disabled": False} for i in range(MANY)
        ])  # fmt: skip
        session.execute(insert(Membership), [
            {"login": f"person-{i:05}", "client_id": f"client-{i:05}", "participant_type": "client"}
            for i in range(MANY)
        ])  # fmt: skip
    still(running)
    return running


@pytest.mark.parametrize(
    "section, query, first_on_page",
    [
        ("clients", "", "client-00000"),
        ("clients", "?page=2", "client-00050"),
        ("clients", "?page=200", "client-09950"),
        ("clients", "?q=client-0995&archived=1", "client-09950"),
        ("contacts", "", "person-00000"),
        ("contacts", "?page=200", "person-09950"),
        ("contacts", "?q=P9999%40example", "person-09999"),
    ],
)
def test_a_page_of_ten_thousand_costs_a_few_statements(crowded, section, query, first_on_page):
    admin = signed_in(crowded.url, "sam")
    admin.get(f"{crowded.url}{CONSOLE}/{section}")  # the session's row read once, as on any page
    with StatementCounter(crowded.portal.engine) as counter:
        page = admin.get(f"{crowded.url}{CONSOLE}/{section}{query}")
    assert page.ok
    shown = re.findall(rf'href="{CONSOLE}/{section}/((?:client|person)-[^"]+)"', page.text)
    assert shown[0] == first_on_page and len(shown) <= 50
    assert counter.count <= MOST_STATEMENTS, counter.statements
