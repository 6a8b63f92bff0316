"""Document requests over real HTTP: a request's folders, fulfilled from a drive, reviewed by staff."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session

from davportal.core.db import create_schema, make_engine
from davportal.core.models import DocumentRequest, RequestItem
from davportal.services import audit, trash
from davportal.services import requests as document_requests
from davportal.services.request import RequestContext
from policy import Actor, Role
from tests.conftest import CLIENT, portal_config, seed_firm, start_portal

SAM = Actor("sam", Role.STAFF, is_admin=True)
FOLDER = f"/acme/{CLIENT}/Requested - 2025 tax return"


@pytest.fixture
def firm(fresh_database_url, tmp_path):
    running = start_portal(portal_config(fresh_database_url, tmp_path / "storage"))
    try:
        yield seed_firm(running)
    finally:
        running.server.stop()
        running.portal.engine.dispose()


def _do(firm, change, *args, **kwargs):
    context = RequestContext(firm.portal, actor=SAM)
    try:
        result = change(context, *args, **kwargs)
        context.session.commit()
        return result.id if hasattr(result, "id") else result
    finally:
        context.session.close()


def _items(firm, request_id):
    with firm.portal.sessions() as session:
        return {
            item.name: (item.id, item.status, item.files, item.rejected_reason)
            for item in document_requests.items_of(session, request_id)
        }


def _request(firm, request_id):
    with firm.portal.sessions() as session:
        request = session.get(DocumentRequest, request_id)
        session.expunge(request)
        return request


def _new(firm, **kwargs):
    items = [document_requests.NewItem("P60"), document_requests.NewItem("Bank statements", files_expected=2)]
    return _do(
        firm, document_requests.create, "acme", title="2025 tax return", items=items, due_on=date(2027, 1, 31), **kwargs
    )


def test_a_request_is_folders_its_contacts_fill_from_a_drive(firm):
    request_id = _new(firm)
    alice, bob = firm.as_user("alice"), firm.as_user("bob")
    assert "Requested - 2025 tax return" in alice.names(f"/acme/{CLIENT}/")
    assert alice.names(FOLDER + "/") == {"P60", "Bank statements"}
    assert bob.propfind(FOLDER + "/").status_code == 404

    assert alice.put(FOLDER + "/P60/p60.pdf", b"%PDF p60").status_code == 201
    assert _items(firm, request_id)["P60"][1:3] == ("uploaded", 1)
    assert alice.put(FOLDER + "/Bank statements/jan.pdf", b"%PDF jan").status_code == 201
    assert _items(firm, request_id)["Bank statements"][1] == "requested"  # two expected
    assert alice.put(FOLDER + "/Bank statements/feb.pdf", b"%PDF feb").status_code == 201
    assert _items(firm, request_id)["Bank statements"][1] == "uploaded"

    # Nothing straight into the request's folder; its folders are fixed.
    refused = alice.put(FOLDER + "/loose.pdf", b"%PDF")
    assert refused.status_code == 403 and "folder of the item" in refused.text
    assert alice.request("DELETE", FOLDER + "/P60/").status_code == 403
    # Staff read, and cannot write there.
    sam = firm.as_user("sam")
    assert sam.request("GET", FOLDER + "/P60/p60.pdf").content == b"%PDF p60"
    assert sam.put(FOLDER + "/P60/mine.pdf", b"%PDF").status_code == 403


def test_rejected_then_sent_again_then_accepted_completes_it(firm):
    request_id = _new(firm)
    alice = firm.as_user("alice")
    alice.put(FOLDER + "/P60/p60.pdf", b"%PDF cut off")
    p60 = _items(firm, request_id)["P60"][0]
    _do(firm, document_requests.reject, request_id, p60, "The scan is cut off on the right")
    assert _items(firm, request_id)["P60"][1:] == ("requested", 0, "The scan is cut off on the right")
    assert alice.names(FOLDER + "/P60/") == set()
    assert "Not accepted" not in alice.names(FOLDER + "/")
    sam = firm.as_user("sam")
    assert sam.request("GET", FOLDER + "/Not accepted/P60/p60.pdf").content == b"%PDF cut off"

    alice.put(FOLDER + "/P60/p60 again.pdf", b"%PDF whole")
    assert _items(firm, request_id)["P60"][1:] == ("uploaded", 1, None)
    _do(firm, document_requests.accept, request_id, p60)
    assert alice.propfind(FOLDER + "/P60/").status_code == 404  # the firm's now
    assert sam.request("GET", FOLDER + "/P60/p60 again.pdf").status_code == 200

    alice.put(FOLDER + "/Bank statements/a.pdf", b"%PDF a")
    alice.put(FOLDER + "/Bank statements/b.pdf", b"%PDF b")
    bank = _items(firm, request_id)["Bank statements"][0]
    _do(firm, document_requests.accept, request_id, bank)
    request = _request(firm, request_id)
    assert request.status == "complete" and request.next_reminder_at is None
    assert "Requested - 2025 tax return" not in alice.names(f"/acme/{CLIENT}/")


def test_a_contacts_delete_makes_the_item_wanted_again(firm):
    request_id = _new(firm)
    alice = firm.as_user("alice")
    alice.put(FOLDER + "/P60/p60.pdf", b"%PDF")
    assert alice.request("DELETE", FOLDER + "/P60/p60.pdf").status_code == 204
    assert _items(firm, request_id)["P60"][1:3] == ("requested", 0)


def test_cancelled_hides_the_folders_and_keeps_the_files(firm):
    request_id = _new(firm)
    alice = firm.as_user("alice")
    alice.put(FOLDER + "/P60/p60.pdf", b"%PDF")
    _do(firm, document_requests.cancel, request_id)
    assert alice.propfind(FOLDER + "/").status_code == 404
    assert firm.as_user("sam").request("GET", FOLDER + "/P60/p60.pdf").status_code == 200
    with firm.portal.sessions() as session:
        assert session.query(RequestItem).filter_by(request_id=request_id).count() == 2


def test_outstanding_lists_open_requests_overdue_first(firm):
    early = _new(firm)
    late = _do(
        firm,
        document_requests.create,
        "beta",
        title="Year end",
        items=[document_requests.NewItem("Ledger")],
        due_on=date(2027, 3, 1),
    )
    undated = _do(firm, document_requests.create, "beta", title="Anything", items=[document_requests.NewItem("X")])
    done = _do(
        firm,
        document_requests.create,
        "acme",
        title="Done",
        items=[document_requests.NewItem("Y")],
        due_on=date(2026, 1, 1),
    )
    _do(firm, document_requests.cancel, done)
    with firm.portal.sessions() as session:
        rows = document_requests.outstanding(session)
        assert [row.id for row in rows] == [early, late, undated]
        assert (rows[0].client_name, rows[0].items_total, rows[0].items_requested) == ("Acme Ltd", 2, 2)
        assert [row.id for row in document_requests.outstanding(session, client="beta llp")] == [late, undated]
        assert [row.id for row in document_requests.outstanding(session, overdue_on=date(2027, 2, 1))] == [early]
        assert document_requests.count_outstanding(session, client="acme") == 1


def test_word_saving_over_a_document_in_an_item_is_one_upload_in_the_trail(firm):
    """Word saves by writing a temporary file, renaming the document aside and the new one into
    its place: the item stays uploaded throughout, and the trail is not told it was wanted again."""
    request_id = _new(firm)
    alice = firm.as_user("alice")
    item = FOLDER + "/P60"
    assert alice.put(item + "/p60.docx", b"first").status_code == 201
    assert alice.put(item + "/~WRD0000.tmp", b"second").status_code == 201
    for source, dest in (("p60.docx", "~WRL0001.tmp"), ("~WRD0000.tmp", "p60.docx")):
        moved = alice.request("MOVE", f"{item}/{source}", headers={"Destination": alice.url(f"{item}/{dest}")})
        assert moved.status_code == 201, moved.text
    assert alice.request("DELETE", item + "/~WRL0001.tmp").status_code == 204
    assert _items(firm, request_id)["P60"][1:3] == ("uploaded", 1)
    with firm.portal.sessions() as session:
        trail = [
            (e["action"], e["path"].rsplit("/", 1)[-1])
            for e in audit.events(session, client_id="acme")
            if e["action"].startswith("REQUEST-UP") or e["action"] == "REQUEST-REOPEN"
        ]
    assert trail == [("REQUEST-UPLOAD", "p60.docx")]


def test_a_file_restored_from_the_trash_into_an_item_counts_again(firm):
    request_id = _new(firm)
    alice = firm.as_user("alice")
    alice.put(FOLDER + "/P60/p60.pdf", b"%PDF")
    assert alice.request("DELETE", FOLDER + "/P60/p60.pdf").status_code == 204
    assert _items(firm, request_id)["P60"][1:3] == ("requested", 0)
    with firm.portal.sessions.begin() as session:
        (deleted,) = trash.list_items(session, "acme")
        trash.restore(session, firm.portal.storage, deleted.id, actor=SAM)
    assert _items(firm, request_id)["P60"][1:3] == ("uploaded", 1)


def test_the_outstanding_list_is_read_in_order_from_its_index(tmp_path):
    """A page is read from the index in the list's order: no sort of every open request (SQLite's plan)."""
    engine = make_engine(f"sqlite:///{tmp_path}/plan.db")
    statements: list[tuple[str, tuple]] = []

    def keep(conn, cursor, sql, parameters, context, executemany):
        statements.append((sql, parameters))

    try:
        create_schema(engine)
        event.listen(engine, "before_cursor_execute", keep)
        with Session(engine) as session:
            document_requests.outstanding(session, offset=100)
        event.remove(engine, "before_cursor_execute", keep)
        ((sql, parameters),) = statements
        with engine.connect() as connection:
            plan = " / ".join(row[3] for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", parameters))
        assert "ix_request_outstanding" in plan and "TEMP B-TREE" not in plan, plan
    finally:
        engine.dispose()


def test_an_accepted_item_stays_on_its_request_and_a_message_has_a_limit(firm):
    request_id = _new(firm)
    alice = firm.as_user("alice")
    alice.put(FOLDER + "/P60/p60.pdf", b"%PDF")
    p60 = _items(firm, request_id)["P60"][0]
    _do(firm, document_requests.accept, request_id, p60)
    with pytest.raises(document_requests.RequestProblem, match="accepted"):
        _do(firm, document_requests.remove_item, request_id, p60)
    assert alice.propfind(FOLDER + "/P60/").status_code == 404  # still the firm's alone
    with pytest.raises(document_requests.RequestProblem, match="too long"):
        _do(
            firm,
            document_requests.create,
            "acme",
            title="Long",
            items=[document_requests.NewItem("X")],
            message="x" * 5001,
        )
