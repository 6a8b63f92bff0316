"""Engine and sessions: SQLite by default, PostgreSQL by URL."""

from __future__ import annotations

import inspect
import math
import re
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy import inspect as inspect_schema
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

if TYPE_CHECKING:
    from alembic.config import Config


def make_engine(url: str, *, timeout_seconds: float = 10, statement_seconds: float = 120) -> Engine:
    """An engine that never waits for ever: a database that is down, frozen or gone fails within
    the timeouts (and the request answers 503), and the next request tries again."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        engine = create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20, pool_timeout=timeout_seconds,
                               connect_args=_libpq_timeouts(parsed, timeout_seconds))  # fmt: skip
        if parsed.get_backend_name() == "postgresql":
            if statement_seconds:
                _limit_statements(engine, statement_seconds)
            if parsed.get_driver_name() == "psycopg":
                longest = statement_seconds + timeout_seconds if statement_seconds else None
                _bound_reads(engine, timeout_seconds, longest)
        return engine
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        # WAL lets requests read while another writes; busy_timeout waits instead of failing.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    return engine


def _libpq_timeouts(url: URL, seconds: float) -> dict[str, Any]:
    """libpq's connect timeout, and TCP keepalives and a user timeout so that a server that
    vanished (host down, network cut) breaks the connection instead of leaving a read waiting.
    What the URL's own query sets wins."""
    if url.get_backend_name() != "postgresql" or url.get_driver_name() not in ("psycopg", "psycopg2"):
        return {}
    whole = max(2, math.ceil(seconds))  # libpq counts whole seconds, and at least 2
    timeouts = {
        "connect_timeout": whole,
        "keepalives": 1,
        "keepalives_idle": whole,
        "keepalives_interval": max(1, whole // 3),
        "keepalives_count": 3,
        "tcp_user_timeout": whole * 1000,
    }
    return {key: value for key, value in timeouts.items() if key not in url.query}


def _limit_statements(engine: Engine, seconds: float) -> None:
    """PostgreSQL cancels a statement that runs longer (the request then answers 503, busy).
    Set per connection rather than as a startup option, which PgBouncer refuses."""
    milliseconds = max(1, round(seconds * 1000))

    @event.listens_for(engine, "connect")
    def _statement_timeout(dbapi_connection, _record):
        autocommit = dbapi_connection.autocommit
        dbapi_connection.autocommit = True
        cursor = dbapi_connection.cursor()
        cursor.execute(f"SET statement_timeout = {milliseconds}")
        cursor.close()
        dbapi_connection.autocommit = autocommit


def _bound_reads(engine: Engine, idle_seconds: float, busy_seconds: float | None) -> None:
    """A read timeout for psycopg: a server that is frozen (its machine still acknowledging the
    bytes, so no TCP timeout fires) does not cancel its own statements either. A connection
    waiting longer than this for an answer is closed and the request answers 503.

    A pooled connection is pinged (`pool_pre_ping`) with the short timeout, so a frozen database
    fails each request within `database_timeout_seconds`; a statement may take the statement
    timeout, plus that, for the server to say it cancelled it.
    """
    import psycopg

    if "timeout" not in inspect.signature(psycopg.Connection.wait).parameters:
        return  # psycopg before 3.3: connect timeout, keepalives and statement_timeout only

    class TimedConnection(psycopg.Connection):
        read_timeout: float | None = idle_seconds

        def wait(self, gen, interval: float = 0.1, timeout: float | None = None):
            if timeout is not None or self.read_timeout is None:
                return super().wait(gen, interval, timeout)
            try:
                return super().wait(gen, interval, self.read_timeout)
            except psycopg.errors._WaitTimeout:
                self.pgconn.finish()  # mid-answer: this connection can never be used again
                raise psycopg.OperationalError(f"no answer within {self.read_timeout:g} s") from None

    @event.listens_for(engine, "do_connect")
    def _connect(_dialect, _record, cargs, cparams):
        return TimedConnection.connect(*cargs, **cparams)

    @event.listens_for(engine, "checkout")
    def _busy(dbapi_connection, _record, _proxy):
        dbapi_connection.read_timeout = busy_seconds

    @event.listens_for(engine, "checkin")
    def _idle(dbapi_connection, _record):
        if dbapi_connection is not None:
            dbapi_connection.read_timeout = idle_seconds


# Package data, found by Alembic through importlib.resources: installed or not, the same place.
MIGRATIONS = "davportal:migrations"
_ADVISORY_LOCK = 7_160_521  # any number, the same on every node: one upgrade at a time


def migration_config(connection) -> Config:
    from alembic.config import Config  # Alembic only when the schema must change

    config = Config()
    config.set_main_option("script_location", MIGRATIONS)
    config.attributes["connection"] = connection
    return config


def create_schema(engine: Engine) -> None:
    """Bring the schema up to date (Alembic); nodes starting together take turns.

    A schema already up to date costs one SELECT and Alembic is not even loaded: its ~11 MiB
    would stay in every serving process for nothing."""
    if current_revision(engine) == head_revision():
        return
    from alembic import command  # see above

    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            # A node waits for as long as another's upgrade takes, and an upgrade runs as long as it must.
            connection.execute(text("SET LOCAL statement_timeout = 0"))
            dbapi_connection = connection.connection.dbapi_connection
            if dbapi_connection is not None and hasattr(dbapi_connection, "read_timeout"):
                dbapi_connection.read_timeout = None  # until it goes back to the pool
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK})
        command.upgrade(migration_config(connection), "head")


def current_revision(engine: Engine) -> str | None:
    """The migration the database is at; None for a new database."""
    try:
        with engine.connect() as connection:
            return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except SQLAlchemyError:
        if not _has_table(engine, "alembic_version"):
            return None
        raise  # not a missing table: an outage, for the caller to report


def head_revision() -> str:
    """The newest migration shipped: the one no other names as its `down_revision`."""
    revisions, downs = set(), set()
    for script in resources.files("davportal.migrations").joinpath("versions").iterdir():
        if script.name.endswith(".py"):
            found = dict(_REVISION_LINE.findall(script.read_text(encoding="utf-8")))
            revisions.add(found["revision"])
            downs.add(found.get("down_revision"))
    (head,) = revisions - downs
    return head


_REVISION_LINE = re.compile(r"""^(revision|down_revision) = ['"]?([^'"\n]*?)['"]?$""", re.MULTILINE)


def _has_table(engine: Engine, name: str) -> bool:
    return inspect_schema(engine).has_table(name)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
