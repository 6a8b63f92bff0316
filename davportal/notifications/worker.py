"""The sender: composes due digests and delivers the outbox, inside `serve` or on its own."""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass
from datetime import datetime

from davportal.core.models import utcnow
from davportal.core.outages import log_failure
from davportal.notifications.digest import compose_due
from davportal.notifications.outbox import Delivery, deliver_due
from davportal.notifications.reminders import remind_due

_logger = logging.getLogger("davportal.mail")


@dataclass
class Round:
    composed: int
    delivery: Delivery
    reminded: int = 0  # requests whose contacts were reminded


async def send_round(portal, *, now: datetime | None = None) -> Round:
    """One pass: due reminders become notices, due notices emails; due emails are sent (when a
    mail server is configured)."""
    now = now or utcnow()
    with portal.sessions.begin() as session:
        reminded = remind_due(session, portal.settings, now=now)
        composed = compose_due(session, portal.settings, portal.storage, now=now)
    if portal.settings.mail.host is None:
        return Round(composed, Delivery(), reminded)
    return Round(composed, await deliver_due(portal.sessions, portal.settings.mail, now=now), reminded)


class Sender(threading.Thread):
    """Runs rounds every few seconds until stopped; never blocks a request."""

    def __init__(self, portal):
        super().__init__(name="davportal-sender", daemon=True)
        self.portal = portal
        self.tick = min(10.0, max(0.5, portal.settings.notifications.digest_seconds / 4))
        self._stopped = threading.Event()

    def run(self) -> None:
        if self.portal.settings.mail.host is None:
            _logger.warning("No mail server configured (davportal.mail.host): notifications wait in the outbox.")
        while not self._stopped.wait(self.tick):
            try:
                unreachable = asyncio.run(send_round(self.portal)).delivery.unreachable
                if unreachable:
                    mail = self.portal.settings.mail
                    _logger.warning("Cannot reach the mail server at %s:%d (%s): the emails wait in the outbox.",
                                    mail.host, mail.port, unreachable)  # fmt: skip
            except Exception as exc:
                log_failure(_logger, exc, "Sending notifications failed; they will be tried again.")

    def stop(self) -> None:
        self._stopped.set()
