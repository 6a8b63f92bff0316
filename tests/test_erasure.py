"""Erasing a client: files, versions, trash, records and its own contacts go; the audit trail stays,
with those contacts pseudonymised the same way in every row; an interrupted erasure is finished by
running it again."""

from __future__ import annotations

import os
import re

import pytest
from sqlalchemy import func, select

from davportal.core.errors import NotFound
from davportal.core.models import (
    Account,
    AuditEvent,
    Client,
    DeadProperty,
    Document,
    Membership,
    Notice,
    TrashItem,
    Version,
)
from davportal.services import sharing
from davportal.services.portal import Portal
from davportal.services.trash import TRASH_FOLDER
from davportal.services.versions import VERSIONS_FOLDER
from provisioning import accounts, erasure
from tests.conftest import ADMIN, CLIENT, TEAM

NOTE = ("<D:propertyupdate xmlns:D='DAV:'><D:set><D:prop><x:note xmlns:x='urn:test'>hi</x:note></D:prop></D:set>"
        "</D:propertyupdate>")  # fmt: skip
PSEUDONYM = re.compile(r"^erased-[0-9a-f]{12}$")


class Interrupted(Exception):
    """The erasure stopped half-way (a crash, a full disk, Ctrl-C)."""


@pytest.fixture
def erasable(fresh_portal, tmp_path):
    """acme: alice (acme only) and carol (acme and beta), with files, versions, trash, properties,
    a shared file and notices; beta alongside, which must not change."""
    running = fresh_portal()
    running.add_staff("sam", admin=True)
    running.add_client("acme", "Acme Ltd")
    running.add_client("beta", "Beta LLP")
    running.add_contact("alice", "acme")
    running.add_contact("carol", "acme")
    running.add_contact("carol", "beta")
    other = Portal(running.portal.settings)  # the CLI's process
    with other.sessions.begin() as session:
        session.get(Account, "alice").email = "alice@example.com"
        accounts.disable(session, "alice", actor=ADMIN)
        accounts.enable(session, "alice", actor=ADMIN)
    sam, alice = running.as_user("sam"), running.as_user("alice")
    for text in (b"%PDF 1", b"%PDF 2", b"%PDF 3"):
        assert sam.put(f"/acme/{TEAM}/Letter.pdf", text).status_code in (201, 204)
        assert sam.put(f"/beta/{TEAM}/Beta.pdf", text).status_code in (201, 204)
    assert sam.request("PROPPATCH", f"/acme/{TEAM}/Letter.pdf", data=NOTE).status_code == 207
    assert sam.request("MKCOL", "/acme/Private/").status_code == 201
    assert sam.put("/acme/Private/Memo.pdf", b"%PDF memo").status_code == 201
    assert alice.put(f"/acme/{CLIENT}/Passport.pdf", b"%PDF passport").status_code == 201
    assert alice.put(f"/acme/{CLIENT}/Old.pdf", b"%PDF old").status_code == 201
    assert alice.request("DELETE", f"/acme/{CLIENT}/Old.pdf").status_code == 204
    assert alice.request("GET", f"/acme/{TEAM}/Letter.pdf").status_code == 200
    target = other.storage.target(("acme", "Private", "Memo.pdf"))
    with other.sessions.begin() as session:
        assert sharing.share(session, other.settings, other.rules_for("acme"), ADMIN, target, True)
    # A link to a file outside the storage root: the erasure removes the link, never the file.
    outside = tmp_path / "outside.pdf"
    outside.write_bytes(b"%PDF not the portal's")
    os.symlink(outside, other.storage.root / "acme" / "Private" / "link.pdf")
    yield running, other, outside
    other.engine.dispose()


def _rows(session, model, *where):
    return session.scalar(select(func.count()).select_from(model).where(*where))


def test_plan_lists_what_would_go_and_changes_nothing(erasable):
    _, other, _ = erasable
    with other.sessions() as session:
        found = erasure.plan(session, other.storage, "acme")
        assert _rows(session, Client, Client.id == "acme") == 1
    assert (found.versions, found.trash_items, found.shares) == (2, 1, 1)
    assert found.files == 4 and found.bytes > 0  # Letter, Memo, the link, Passport
    assert found.documents >= 4 and found.properties == 1 and found.notices >= 1
    assert found.contacts_erased == ("alice",) and found.contacts_kept == ("carol",)
    assert found.memberships == 2
    assert any("alice" in line for line in found.lines())
    with pytest.raises(NotFound, match="no client 'nope'"):
        with other.sessions() as session:
            erasure.plan(session, other.storage, "nope")


def test_an_interrupted_erasure_is_finished_by_running_it_again(erasable):
    running, other, outside = erasable
    storage = other.storage
    with other.sessions() as session:
        alice_events = set(session.scalars(select(AuditEvent.id).where(AuditEvent.login == "alice")))
        acme_events = _rows(session, AuditEvent, AuditEvent.client_id == "acme")
        stored = dict(session.execute(select(Version.stored_as, Version.client_id)).all())
        acme_files = [storage.root / VERSIONS_FOLDER / s for s, client_id in stored.items() if client_id == "acme"]
        acme_files += [storage.root / TRASH_FOLDER / s for s in session.scalars(select(TrashItem.stored_as))]
        beta_files = [storage.root / VERSIONS_FOLDER / s for s, client_id in stored.items() if client_id == "beta"]
    assert alice_events and all(path.exists() for path in acme_files + beta_files)

    steps = []

    def crash_on_the_third(line: str) -> None:
        steps.append(line)
        if len(steps) == 3:
            raise Interrupted(line)

    with pytest.raises(Interrupted):
        erasure.erase(other.sessions, storage, "acme", actor=ADMIN, on_step=crash_on_the_third)
    with other.sessions() as session:
        # Half-way: the client and its rows are all there (archived: alice has lost access) ...
        assert session.get(Client, "acme").archived_at is not None
        assert session.get(Account, "alice") is not None
        assert _rows(session, AuditEvent, AuditEvent.login == "alice") == len(alice_events)
    assert running.as_user("alice").propfind(f"/acme/{CLIENT}/").status_code == 404

    done = erasure.erase(other.sessions, storage, "acme", actor=ADMIN)  # ... and the second run finishes
    assert not (storage.root / "acme").exists()
    assert not any(path.exists() for path in acme_files)
    assert all(path.exists() for path in beta_files) and outside.read_bytes() == b"%PDF not the portal's"
    with other.sessions() as session:
        for model, where in ((Client, Client.id == "acme"), (Document, Document.client_id == "acme"),
                             (Version, Version.client_id == "acme"), (TrashItem, TrashItem.client_id == "acme"),
                             (Notice, Notice.client_id == "acme"), (Membership, Membership.client_id == "acme"),
                             (DeadProperty, DeadProperty.url.startswith("/acme/")),
                             (Account, Account.login == "alice")):  # fmt: skip
            assert _rows(session, model, where) == 0, model.__name__
        assert session.scalars(select(Membership.client_id).where(Membership.login == "carol")).all() == ["beta"]
        assert _rows(session, Document, Document.client_id == "beta") == 1  # Beta.pdf

        # The audit trail keeps every row, alice's under one pseudonym, and says who erased acme.
        events = session.execute(select(AuditEvent.id, AuditEvent.login, AuditEvent.detail)).all()
        aliases = {login for event_id, login, _ in events if event_id in alice_events}
        assert len(aliases) == 1 and PSEUDONYM.match(alias := aliases.pop())
        assert done.pseudonyms == {"alice": alias}
        assert not [row for row in events if row.login == "alice" or re.search(r"\balice\b", row.detail or "")]
        assert {row.detail for row in events if row.login == ADMIN.login} >= {f"{alias} disabled",
                                                                             f"{alias} enabled"}  # fmt: skip
        erased = session.execute(select(AuditEvent.login, AuditEvent.detail).where(AuditEvent.action == "ERASE")).all()
        assert len(erased) == 1 and erased[0].login == ADMIN.login and "1 contact(s) erased" in erased[0].detail
        # Its rows, the archiving and the erasure.
        assert _rows(session, AuditEvent, AuditEvent.client_id == "acme") == acme_events + 2
    assert running.as_user("alice").propfind("/").status_code == 401
    assert running.as_user("carol").names("/") == {"beta"}
    with pytest.raises(NotFound, match="no client 'acme'"):
        erasure.erase(other.sessions, storage, "acme", actor=ADMIN)


def test_a_folder_left_after_the_rows_went_is_erased_on_the_next_run(erasable):
    _, other, _ = erasable
    erasure.erase(other.sessions, other.storage, "acme", actor=ADMIN)
    # As if the last sweep had not run: a document written meanwhile on another node.
    (other.storage.root / "acme" / "Late").mkdir(parents=True)
    (other.storage.root / "acme" / "Late" / "x.pdf").write_bytes(b"%PDF")
    with other.sessions() as session:
        assert erasure.plan(session, other.storage, "acme").files == 1
    erasure.erase(other.sessions, other.storage, "acme", actor=ADMIN)
    assert not (other.storage.root / "acme").exists()


@pytest.mark.parametrize("client_id", [".trash", "..", "Acme/../x"])
def test_nothing_outside_a_client_can_be_named(erasable, client_id):
    _, other, _ = erasable
    with other.sessions() as session, pytest.raises(Exception, match="not a valid client id"):
        erasure.plan(session, other.storage, client_id)
