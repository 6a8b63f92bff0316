"""When the database cannot be reached, or is too busy: what that means, in one line.

A request that meets an outage answers 503 with a plain reason and `Retry-After`
(`wsgidav_ext.error_pages`); a command, and the start of `davportal serve`, says one line naming
what and where (`davportal.cli`). Both read the exception through `outage_of`, so the two never
disagree on what counts as an outage. Hosts and causes go to the log and the command line, never
to a client; passwords go nowhere.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import sqlite3
from dataclasses import dataclass
from http import HTTPStatus

from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url

from davportal.core.errors import PortalError

RETRY_AFTER_SECONDS = 60  # what a 503 tells the client; "in a minute", as its reason says
DATABASE = "the database"

# PostgreSQL's SQLSTATEs (class or code) of a server that is there but cannot answer now.
_BUSY_SQLSTATES = ("57014", "55P03", "40", "53")  # statement timeout, lock wait, rollback, resources
_DOWN_SQLSTATES = ("08", "57P")  # connection failures; shutting down, starting up
_SQLITE_BUSY = {"SQLITE_BUSY", "SQLITE_LOCKED"}
_SQLITE_DOWN = {"SQLITE_CANTOPEN"}
_CREDENTIALS = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^/\s:@]*):[^@\s/]*@")


class Unavailable(PortalError):
    status = HTTPStatus.SERVICE_UNAVAILABLE


class Unreachable(PortalError):
    """At start, or in a command: the reason is the admin's one line, naming what and where."""

    status = HTTPStatus.SERVICE_UNAVAILABLE


@dataclass(frozen=True)
class Outage:
    service: str  # DATABASE: the one service the portal cannot do without
    busy: bool  # there, but did not answer in time (vs. not reachable at all)
    cause: str  # "connection refused", "connection timeout expired"…: for the log and the command line

    @property
    def reason(self) -> str:
        """What a client reads."""
        if self.busy:
            return "The portal's database is too busy to answer for the moment; please try again in a minute."
        return "The portal cannot reach its database for the moment; please try again in a minute."

    def line(self, where: str) -> str:
        """What an admin reads: `cannot reach the database at 127.0.0.1:5433 (connection refused)`."""
        at = f" at {where}" if where else ""
        if self.busy and self.service == DATABASE:
            return without_secrets(f"{self.service}{at} did not answer in time ({self.cause})")
        return without_secrets(f"cannot reach {self.service}{at} ({self.cause})")

    def unreachable(self, where: str) -> Unreachable:
        return Unreachable(self.line(where))

    def error(self, where: str = "") -> Unavailable:
        return Unavailable(self.reason, detail=self.line(where), headers=(("Retry-After", str(RETRY_AFTER_SECONDS)),))


def outage_of(exc: BaseException) -> Outage | None:
    """The outage an exception (or what it wraps) stands for; None for anything else, a bug included."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        found = _outage(current)
        if found is not None:
            return found
        wrapped = getattr(current, "src_exception", None)  # WsgiDAV's DAVError wraps what its handlers met
        current = wrapped if isinstance(wrapped, BaseException) else (current.__cause__ or current.__context__)
    return None


def _outage(exc: BaseException) -> Outage | None:
    if isinstance(exc, sa_exc.TimeoutError):  # every pooled connection in use for the whole wait
        return Outage(DATABASE, True, "no free connection in the pool")
    if not isinstance(exc, sa_exc.DBAPIError):
        return None
    orig = exc.orig
    if isinstance(orig, sqlite3.Error):
        name = getattr(orig, "sqlite_errorname", "")
        if name in _SQLITE_BUSY:
            return Outage(DATABASE, True, str(orig))
        if name in _SQLITE_DOWN or name.startswith("SQLITE_IOERR"):
            return Outage(DATABASE, False, str(orig))
        return None
    sqlstate = getattr(orig, "sqlstate", None)
    if sqlstate and sqlstate.startswith(_BUSY_SQLSTATES):
        return Outage(DATABASE, True, _database_cause(str(orig)))
    if exc.connection_invalidated or (
        isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError)
        and (sqlstate is None or sqlstate.startswith(_DOWN_SQLSTATES))
    ):
        return Outage(DATABASE, False, _database_cause(str(orig)))
    return None


def _database_cause(message: str) -> str:
    """libpq's message, shortened: `connection to server at "…", port 5433 failed: Connection
    refused` → `connection refused`."""
    first = message.strip().splitlines()[0] if message.strip() else "no answer"
    first = first.rsplit(" failed: ", 1)[-1]
    first = re.sub(r"^(FATAL|ERROR):\s*", "", first)
    return _plain(first)


def cause_of(exc: BaseException) -> str:
    """A network error's cause in a few words: `connection refused`, `name or service not known`."""
    current: BaseException | None = exc
    while current is not None:
        if isinstance(current, socket.gaierror) and current.strerror:
            return _plain(current.strerror)
        if isinstance(current, OSError) and current.errno and current.errno > 0:
            return _plain(os.strerror(current.errno))
        current = current.__cause__ or current.__context__
    return _plain(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)


def _plain(text: str) -> str:
    text = re.sub(r"\[Errno -?\d+\]\s*", "", text).strip()
    if text[:1].isupper() and text[1:2].islower():
        text = text[0].lower() + text[1:]
    return text or "no answer"


def log_failure(logger: logging.Logger, exc: BaseException, message: str) -> None:
    """A background task's failure: one line for an outage (it says so every round while it lasts),
    the traceback for anything else."""
    outage = outage_of(exc)
    if outage is None:
        logger.error(message, exc_info=exc)
    else:
        logger.warning("%s (%s).", message.rstrip("."), outage.line(""))


def database_at(url: str) -> str:
    """Where the database is, without credentials: `host:port`, or the SQLite file."""
    try:
        parsed = make_url(url)
    except (sa_exc.ArgumentError, ValueError):
        return "the configured URL"
    if parsed.get_backend_name() == "sqlite":
        return parsed.database or "memory"
    default_ports = {"postgresql": 5432, "mysql": 3306, "mariadb": 3306}
    port = parsed.port or default_ports.get(parsed.get_backend_name())
    host = parsed.host or "the local socket"
    return f"{host}:{port}" if port and parsed.host else host


def cannot_use(what: str, where: object, exc: OSError) -> Unreachable:
    """`cannot use the storage folder /srv/files (permission denied)`."""
    return Unreachable(without_secrets(f"cannot use {what} {where} ({_plain(exc.strerror or str(exc))})"))


def without_secrets(text: str, *secrets: str | None) -> str:
    """The text with any URL's password, and these secrets, blanked out."""
    text = _CREDENTIALS.sub(r"\1:***@", text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text
