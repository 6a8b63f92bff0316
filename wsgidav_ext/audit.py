"""The audit trail: one event per read of content, change and failed login, with its outcome.

Outermost in the stack, so it sees every final status, refusals included. It also ends the
request's database session: the change a request made and its audit event commit together.
"""

from __future__ import annotations

import logging
from urllib.parse import unquote

from wsgidav.mw.base_mw import BaseMiddleware

from davportal.models import AuditEvent
from wsgidav_ext.audit_keys import AUDIT_PATH_KEY, EVENTS_KEY, TARGET_KEY
from wsgidav_ext.authentication import printable
from wsgidav_ext.domain_controller import ACTOR_KEY, ATTEMPTED_LOGIN_KEY
from wsgidav_ext.paths import split_path
from wsgidav_ext.runtime import SESSION_KEY, Portal

_logger = logging.getLogger("davportal.audit")
AUDITED = frozenset({"GET", "PUT", "DELETE", "MOVE", "COPY", "MKCOL", "PROPPATCH"})


def add_event(environ: dict, action: str, path: str, detail: str) -> None:
    """Record something a request did besides its method (audited with the request's outcome)."""
    environ.setdefault(EVENTS_KEY, []).append((action, path, detail))


class AuditTrail(BaseMiddleware):
    def __init__(self, wsgidav_app, next_app, config):
        super().__init__(wsgidav_app, next_app, config)
        self.portal = Portal.of(config)

    def __call__(self, environ, start_response):
        finished = []

        def finishing(status, headers, exc_info=None):
            # Committed before the status goes out: a client that has the answer finds the
            # change and its event in the database, and no transaction stays open while a
            # large GET streams.
            self._finish(environ, int(status.split(" ", 1)[0]))
            finished.append(True)
            return start_response(status, headers, exc_info)

        app_iter = self.next_app(environ, finishing)
        try:
            yield from app_iter
        finally:
            if hasattr(app_iter, "close"):
                app_iter.close()
            if not finished:
                self._finish(environ, 500)

    def _finish(self, environ: dict, status: int) -> None:
        session = environ.pop(SESSION_KEY, None)
        events = self._events(environ, status)
        if session is None and not events:
            return
        session = session or self.portal.sessions()
        try:
            if status >= 400:
                session.rollback()  # a refused or failed request changes nothing
            session.add_all(events)
            session.commit()
        except Exception:
            session.rollback()
            _logger.exception("Could not write the audit trail for %s %s", environ["REQUEST_METHOD"],
                              environ.get("PATH_INFO"))  # fmt: skip
        finally:
            session.close()

    def _events(self, environ: dict, status: int) -> list[AuditEvent]:
        method = environ["REQUEST_METHOD"]
        actor = environ.get(ACTOR_KEY)
        common = {"status": status, "remote_addr": environ.get("REMOTE_ADDR")}
        if actor is None:
            attempted = environ.get(ATTEMPTED_LOGIN_KEY)
            if status in (401, 429) and attempted is not None:
                action = "LOGIN-FAILED" if status == 401 else "LOGIN-BLOCKED"
                return [AuditEvent(login=printable(attempted), role=None, action=action,
                                   **_where(environ["PATH_INFO"]), **common)]  # fmt: skip
            return []
        who = {"login": actor.login, "role": actor.role.value}
        events = []
        target = environ.get(TARGET_KEY)
        reads_content = method != "GET" or (target is not None and target.exists and not target.is_collection)
        if method in AUDITED and reads_content:
            destination = environ.get("HTTP_DESTINATION") if method in ("COPY", "MOVE") else None
            path = environ.get(AUDIT_PATH_KEY, environ["PATH_INFO"])
            events.append(AuditEvent(action=method, destination=_joined(destination), **_where(path), **who,
                                     **common))  # fmt: skip
        for action, path, detail in environ.pop(EVENTS_KEY, []):
            events.append(AuditEvent(action=action, detail=detail, **_where(path), **who, **common))
        return events


def _where(path: str) -> dict:
    parts = split_path(path)
    return {"client_id": parts[0] if parts else None, "path": "/".join(parts[1:]) or None}


def _joined(url_path: str | None) -> str | None:
    return "/".join(split_path(unquote(url_path))) if url_path else None
