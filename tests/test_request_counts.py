"""A request resolves its path, its rules and its owner rows once, however many layers read them."""

from __future__ import annotations

from collections import Counter

import pytest

from davportal.core import paths
from tests.conftest import CLIENT, TEAM
from tests.test_query_counts import StatementCounter


@pytest.fixture
def counted(firm, monkeypatch):
    """Counts of split_path per path and of rules_for per client, while the test runs."""
    splits: Counter[str] = Counter()
    rules: Counter[str | None] = Counter()
    split_path, rules_for = paths.split_path, firm.portal.rules_for

    def counting_split(path):
        splits[path] += 1
        return split_path(path)

    def counting_rules(client_id):
        rules[client_id] += 1
        return rules_for(client_id)

    monkeypatch.setattr(paths, "split_path", counting_split)
    monkeypatch.setattr(firm.portal, "rules_for", counting_rules)
    return splits, rules


def _once_each(counter: Counter) -> None:
    assert counter, "nothing was counted: the request did not go through the request context"
    assert max(counter.values()) == 1, counter.most_common(3)


def test_a_new_file_put_splits_its_path_and_reads_its_rules_once(firm, counted):
    splits, rules = counted
    sam = firm.as_user("sam")
    assert sam.put(f"/acme/{TEAM}/counted-new.txt", b"new").status_code == 201
    _once_each(splits)
    _once_each(rules)
    assert f"/acme/{TEAM}/counted-new.txt" in splits


def test_a_contacts_listing_splits_each_path_and_reads_the_rules_once(firm, counted):
    alice = firm.as_user("alice")
    for i in range(7):
        assert alice.put(f"/acme/{CLIENT}/listed-{i}.txt", b"x").status_code in (201, 204)
    splits, rules = counted
    splits.clear()
    rules.clear()
    response = alice.propfind(f"/acme/{CLIENT}/", "1")
    assert response.status_code == 207
    _once_each(splits)
    assert rules == Counter({"acme": 1})


@pytest.mark.parametrize("login", ["alice", "sam"])
def test_an_overwrite_reads_the_owner_row_once_at_the_gate_and_once_in_place(firm, login):
    dav = firm.as_user(login)
    folder = CLIENT if login == "alice" else TEAM
    path = f"/acme/{folder}/owned-by-{login}.txt"
    assert dav.put(path, b"first").status_code in (201, 204)
    with StatementCounter(firm.portal.engine) as counter:
        assert dav.put(path, b"second").status_code == 204
    owner_reads = [s for s in counter.statements if s.lstrip().startswith("SELECT") and "FROM document" in s]
    # A contact may change only their own uploads: the gate reads whose it is before the body
    # comes. Putting it in place reads the record once more, under the name's lock: whose it is
    # now (it may have changed meanwhile), and who wrote the version about to be kept.
    assert len(owner_reads) == (2 if login == "alice" else 1), owner_reads


def test_a_put_beside_a_clients_open_requests_costs_what_it_costs_without_them(firm, still):
    """The rules of a client's request folders come with its row, read once a second per node
    with its matter type: a file put anywhere else costs no statement more, and reads no request."""
    from datetime import date

    from davportal.services import requests as document_requests
    from davportal.services.request import RequestContext
    from tests.conftest import ADMIN

    context = RequestContext(firm.portal, actor=ADMIN)
    try:
        document_requests.create(context, "acme", title="Counted", due_on=date(2027, 1, 31),
                                 items=[document_requests.NewItem("Bank statements", files_expected=2)])  # fmt: skip
        context.session.commit()
    finally:
        context.session.close()
    still(firm)
    statements = {}
    for login, client in (("alice", "acme"), ("bob", "beta")):
        dav = firm.as_user(login)
        assert dav.put(f"/{client}/{CLIENT}/warm-{login}.txt", b"x").status_code == 201  # the login, the rules
        with StatementCounter(firm.portal.engine) as counter:
            assert dav.put(f"/{client}/{CLIENT}/counted-{login}.txt", b"x").status_code == 201
        statements[client] = counter.statements
    assert len(statements["acme"]) == len(statements["beta"]), statements
    assert not [s for s in statements["acme"] if "request" in s.lower()], statements["acme"]
    # Into an item's folder: its item read (locked) and its count written, two statements more;
    # the request's own counts only when the item's status changes (here: one of two files).
    with StatementCounter(firm.portal.engine) as counter:
        put = firm.as_user("alice").put(f"/acme/{CLIENT}/Requested - Counted/Bank statements/jan.pdf", b"%PDF")
        assert put.status_code == 201
    assert len(counter.statements) == len(statements["acme"]) + 2, counter.statements
    assert [s.split()[0] for s in counter.statements if "request" in s.lower()] == ["SELECT", "UPDATE"]
