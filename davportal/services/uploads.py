"""An upload that has fully arrived, before anyone can see it: scanned, refused or quarantined."""

from __future__ import annotations

import os
import uuid

from davportal.core.atomic import AtomicUpload
from davportal.notifications import events
from davportal.services.antivirus import Infected, ScannerUnavailable
from davportal.services.request import RequestContext
from policy.names import RESERVED_PREFIX

QUARANTINE_FOLDER = RESERVED_PREFIX + "quarantine"  # infected uploads kept apart, for the admin


def screen(context: RequestContext, upload: AtomicUpload, parts: tuple[str, ...], path: str) -> None:
    """Scan an upload; an infected one is refused (or quarantined), staff are told, the audit says so."""
    portal = context.portal
    scanner, settings = portal.scanner, portal.settings.antivirus
    if scanner is None or upload.size == 0:
        return
    try:
        verdict = scanner.scan(upload.temp)
    except ScannerUnavailable:
        if settings.when_unavailable == "accept":
            context.add_event("UNSCANNED", path, "stored without a virus scan: the scanner was unavailable")
            return
        upload.discard()
        raise
    if verdict.clean:
        return
    if settings.on_infected == "quarantine":
        quarantine = portal.storage.root / QUARANTINE_FOLDER
        quarantine.mkdir(exist_ok=True)
        os.replace(upload.temp, quarantine / f"{uuid.uuid4().hex}-{parts[-1]}")
    upload.discard()
    context.add_event("VIRUS", path, verdict.signature or "")
    with portal.sessions.begin() as session:  # kept even though the request is refused
        events.tell_staff(session, portal.settings.notifications, client_id=parts[0], kind=events.INFECTED,
                          path="/".join(parts[1:]), actor=context.actor.login if context.actor else "?")  # fmt: skip
    raise Infected(parts[-1], verdict.signature or "")
