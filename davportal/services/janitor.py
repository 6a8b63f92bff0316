"""The janitor: the trash, old versions and unfinished uploads are purged on a schedule.

It runs in one process per node (see `davportal.services.housekeeping`).
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from davportal.core.outages import log_failure
from davportal.services import trash, versions

_logger = logging.getLogger("davportal.janitor")


class Janitor(threading.Thread):
    def __init__(self, portal):
        super().__init__(name="davportal-janitor", daemon=True)
        self.portal = portal
        self._stopped = threading.Event()

    def run(self) -> None:
        while not self._stopped.wait(self.portal.settings.trash.purge_every_seconds):
            self.purge()

    def purge(self) -> None:
        """One round: each part is tried again next round if it fails, and never stops the others."""
        settings, kept = self.portal.settings.trash, self.portal.settings.versions
        retention = versions.Retention(kept.keep, kept.keep_days)
        try:
            with self.portal.sessions.begin() as session:
                # The retention period's own purge: no admin asked for it, so no audit row.
                purged = trash.purge(session, self.portal.storage, older_than=timedelta(days=settings.retention_days),
                                     actor=None)  # fmt: skip
                old = versions.purge(session, self.portal.storage, retention)
            if purged or old:
                _logger.info("Purged %d item(s) from the trash and %d earlier version(s).", purged, old)
        except Exception as exc:
            log_failure(_logger, exc, "Purging the trash and old versions failed; it will be tried again.")
        try:
            # Uploads a crashed or killed server left half-written; those still arriving (on this
            # node or another sharing the storage) keep being written to, and are left alone.
            self.portal.sweep()
        except Exception as exc:
            log_failure(_logger, exc, "Removing unfinished uploads failed; it will be tried again.")

    def stop(self) -> None:
        self._stopped.set()
