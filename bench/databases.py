"""The portal's databases for a run: a SQLite file per portal, or a fresh PostgreSQL database per portal.

On PostgreSQL the bench creates its own databases (davportal_bench_...) on the server the URL
names and drops them afterwards: it never reads or writes the tables of the URL's own database.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

POSTGRES_ENV = "DAVPORTAL_BENCH_POSTGRES_URL"
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
DATABASES = ("sqlite", "postgresql")
CONNECT_SECONDS = 5


def postgres_url() -> str:
    return os.environ.get(POSTGRES_ENV) or DEFAULT_POSTGRES_URL


def postgres_unreachable(url: str) -> str | None:
    """Why PostgreSQL at `url` cannot be used, or None."""
    try:
        engine = create_engine(url, connect_args={"connect_timeout": CONNECT_SECONDS})
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
    except (SQLAlchemyError, ImportError) as exc:
        return f"PostgreSQL at {make_url(url).render_as_string()} cannot be reached: {str(exc).splitlines()[0]}"
    return None


class Databases:
    """Hands out one fresh database URL per portal; `drop()` removes the PostgreSQL ones it made."""

    def __init__(self, workdir: Path, postgres: str):
        self.workdir = workdir
        self.postgres = postgres
        self.run_id = uuid.uuid4().hex[:8]
        self.created: list[str] = []

    def url(self, database: str, label: str, copy_of: str | None = None) -> str:
        """A new, empty database, or a copy of the one made for the label `copy_of` (idle: no portal on it)."""
        if database == "sqlite":
            path = self.workdir / f"{label}.db"
            if copy_of:
                shutil.copyfile(self.workdir / f"{copy_of}.db", path)
            return f"sqlite:///{path}"
        name = self._postgres_name(label)
        template = f' TEMPLATE "{self._postgres_name(copy_of)}"' if copy_of else ""
        with self._admin() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"{template}'))
        self.created.append(name)
        return make_url(self.postgres).set(database=name).render_as_string(hide_password=False)

    def _postgres_name(self, label: str) -> str:
        return f"davportal_bench_{self.run_id}_{label.replace('-', '_')}"

    def drop(self) -> None:
        if not self.created:
            return
        with self._admin() as connection:
            for name in self.created:
                # FORCE: a portal that did not stop cleanly may still hold a connection.
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.created.clear()

    @contextmanager
    def _admin(self) -> Iterator[Connection]:
        # CREATE and DROP DATABASE cannot run inside a transaction.
        engine = create_engine(self.postgres, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as connection:
                yield connection
        finally:
            engine.dispose()
