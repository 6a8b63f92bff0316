"""Two senders reading the same due messages at once: each message is claimed by one of them.

PostgreSQL locks what one sender reads (the other skips it); SQLite locks no row when reading, so
both read the same messages and the claim itself must take only what is still unclaimed.
"""

from __future__ import annotations

import threading

from sqlalchemy import event

from davportal.core.models import OutboxMessage, utcnow
from davportal.core.settings import Mail
from davportal.notifications.outbox import claim_due
from davportal.services.portal import Portal
from tests.conftest import portal_config, start_portal


def test_two_senders_reading_the_same_messages_claim_each_once(tmp_path):
    running = start_portal(portal_config(f"sqlite:///{tmp_path}/portal.db", tmp_path / "storage"))
    other = Portal(running.portal.settings)  # a second process on the same database
    try:
        now = utcnow()
        with running.portal.sessions.begin() as session:
            session.add_all(OutboxMessage(recipient=f"r{n}@example.com", message_id=f"<{n}@example.com>", raw="x",
                                          next_attempt_at=now) for n in range(5))  # fmt: skip
        barrier = threading.Barrier(2, timeout=60)
        claimed: list[list[int]] = []

        def claim(portal: Portal) -> None:
            def hold(conn, cursor, sql, parameters, context, executemany):
                if sql.lstrip().upper().startswith("UPDATE OUTBOX_MESSAGE"):
                    barrier.wait()  # both have read the same five due messages

            event.listen(portal.engine, "before_cursor_execute", hold)
            try:
                claimed.append([row[0] for row in claim_due(portal.sessions, Mail(), now)])
            finally:
                event.remove(portal.engine, "before_cursor_execute", hold)

        threads = [threading.Thread(target=claim, args=(portal,)) for portal in (running.portal, other)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(len(ids) for ids in claimed) == [0, 5]
    finally:
        other.engine.dispose()
        running.server.stop()
        running.portal.engine.dispose()
