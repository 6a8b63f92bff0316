"""The audit trail: one event per read of content, change and failed login, with its outcome.

Outermost in the stack, so it sees every final status, refusals included. It opens the request's
context and ends its database session: the change a request made and its audit event commit
together.
"""

from __future__ import annotations

import logging
from urllib.parse import unquote

from sqlalchemy import insert
from wsgidav.mw.base_mw import BaseMiddleware

from davportal.core.models import AuditEvent, utcnow
from davportal.core.outages import outage_of
from davportal.core.paths import split_path
from davportal.services.authentication import printable
from davportal.services.portal import Portal
from davportal.services.request import RequestContext

_logger = logging.getLogger("davportal.audit")
AUDITED = frozenset({"GET", "PUT", "DELETE", "MOVE", "COPY", "MKCOL", "PROPPATCH"})


class AuditTrail(BaseMiddleware):
    def __init__(self, wsgidav_app, next_app, config):
        super().__init__(wsgidav_app, next_app, config)
        self.portal = Portal.of(config)

    def __call__(self, environ, start_response):
        context = RequestContext.begin(environ, self.portal)
        finished = []

        def finishing(status, headers, exc_info=None):
            # Committed before the status goes out: a client that has the answer finds the
            # change and its event in the database, and no transaction stays open while a
            # large GET streams.
            self._finish(environ, context, int(status.split(" ", 1)[0]))
            finished.append(True)
            return start_response(status, headers, exc_info)

        app_iter = self.next_app(environ, finishing)
        try:
            yield from app_iter
        finally:
            if hasattr(app_iter, "close"):
                app_iter.close()
            if not finished:
                self._finish(environ, context, 500)

    def _finish(self, environ: dict, context: RequestContext, status: int) -> None:
        session = context.take_session()
        # An upload's events committed with it already (audit_with_change): none to write twice.
        events = [] if context.audited else self._events(environ, context, status)
        if session is None and not events:
            return
        try:
            if session is None:
                # A read: its event alone, as one plain INSERT (no unit of work to flush).
                with self.portal.engine.begin() as connection:
                    connection.execute(_NEW_EVENT, events)
                return
            if status >= 400:
                session.rollback()  # a refused or failed request changes nothing
            if events:
                session.execute(_NEW_EVENT, events)
            session.commit()
        except Exception as exc:
            if session is not None:
                session.rollback()
            outage = outage_of(exc)
            if outage is not None:  # the database is down: one line, not a traceback per request
                _logger.warning("Could not write the audit trail for %s %s: %s", environ["REQUEST_METHOD"],
                                environ.get("PATH_INFO"), outage.line(""))  # fmt: skip
            else:
                _logger.exception("Could not write the audit trail for %s %s", environ["REQUEST_METHOD"],
                                  environ.get("PATH_INFO"))  # fmt: skip
        finally:
            if session is not None:
                session.close()

    @staticmethod
    def _events(environ: dict, context: RequestContext, status: int) -> list[dict]:
        method = environ["REQUEST_METHOD"]
        actor = context.actor
        common = {"at": utcnow(), "status": status, "remote_addr": environ.get("REMOTE_ADDR"),
                  "destination": None, "detail": None}  # fmt: skip
        if actor is None:
            attempted = context.attempted_login
            if status in (401, 429) and attempted is not None:
                action = "LOGIN-FAILED" if status == 401 else "LOGIN-BLOCKED"
                return [{**common, "login": printable(attempted), "role": None, "action": action,
                         **_where(context.parts(environ["PATH_INFO"]))}]  # fmt: skip
            return []
        who = {"login": actor.login, "role": actor.role.value}
        events = []
        target = context.target
        reads_content = method != "GET" or (target is not None and target.exists and not target.is_collection)
        if method in AUDITED and reads_content:
            destination = environ.get("HTTP_DESTINATION") if method in ("COPY", "MOVE") else None
            path = context.audit_path or environ["PATH_INFO"]
            events.append({**common, **who, "action": method, "destination": _joined(destination),
                           **_where(context.parts(path))})  # fmt: skip
        for action, path, detail in context.events:
            events.append({**common, **who, "action": action, "detail": detail, **_where(context.parts(path))})
        return events


def audit_with_change(environ: dict, context: RequestContext, status: int) -> None:
    """The request's audit events, added to the transaction of a change that commits on its own
    (an upload, holding its name's lock) as one Core statement: they commit, or not, with it.
    Once it has committed, the caller marks the request `audited`; until then a failure leaves
    them to AuditTrail, with the failure's status."""
    rows = AuditTrail._events(environ, context, status)
    if rows:
        context.session.connection().execute(_NEW_EVENT, rows)


_NEW_EVENT = insert(AuditEvent)


def _where(parts: tuple[str, ...]) -> dict:
    return {"client_id": parts[0] if parts else None, "path": "/".join(parts[1:]) or None}


def _joined(url_path: str | None) -> str | None:
    return "/".join(split_path(unquote(url_path))) if url_path else None
