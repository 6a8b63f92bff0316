"""Housekeeping that runs inside `davportal serve`: the trash and old versions are purged on a schedule."""

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
        settings, kept = self.portal.settings.trash, self.portal.settings.versions
        retention = versions.Retention(kept.keep, kept.keep_days)
        while not self._stopped.wait(settings.purge_every_seconds):
            try:
                with self.portal.sessions.begin() as session:
                    purged = trash.purge(session, self.portal.storage,
                                         older_than=timedelta(days=settings.retention_days))  # fmt: skip
                    old = versions.purge(session, self.portal.storage, retention)
                if purged or old:
                    _logger.info("Purged %d item(s) from the trash and %d earlier version(s).", purged, old)
            except Exception as exc:
                log_failure(_logger, exc, "Purging the trash and old versions failed; it will be tried again.")

    def stop(self) -> None:
        self._stopped.set()
