"""The services one process shares: settings, database, storage, matter types, sign-in, scanning.

Built once by the composition root (`davportal.app`, or the CLI for a command) and handed to
WsgiDAV in its config, where every adapter finds it with `Portal.of(config)`.
"""

from __future__ import annotations

import logging
import os
import weakref
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.exc import SQLAlchemyError

from davportal.core.atomic import sweep_partial_uploads
from davportal.core.db import create_schema, make_engine, session_factory
from davportal.core.errors import ConfigError
from davportal.core.models import Client
from davportal.core.name_lock import NameLocks
from davportal.core.outages import cannot_use, database_at, outage_of
from davportal.core.recent import LOCK_TABLES, LOGIN_TABLES, Recent
from davportal.core.settings import Settings
from davportal.core.storage import Storage
from davportal.services.antivirus import Clamd
from davportal.services.authentication import Authenticator
from policy import RuleBook
from policy.names import RESERVED_PREFIX
from policy.requests import RequestFolder, folder_rules
from provisioning.matter_types import MatterTypes, MatterTypesFile

_logger = logging.getLogger("davportal")
PORTAL_KEY = "davportal.portal"  # the key of the WsgiDAV config that holds the Portal
# In the storage root: reserved, never listed. The marks of changes to logins, and to locks.
CHANGES_MARK = RESERVED_PREFIX + "changes"
NO_FOLDERS = RuleBook({})
LOCK_CHANGES_MARK = CHANGES_MARK + "-locks"


class Portal:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.engine = self._database(settings)
        _engines.add(self.engine)
        self.sessions = session_factory(self.engine)
        self.storage = Storage(settings.storage_root)
        try:
            self.storage.ensure_root()
        except OSError as exc:
            raise cannot_use("the storage folder", self.storage.root, exc) from exc
        self.name_locks = NameLocks(self.engine, self.storage.root)
        # What a request reads of logins and clients, and what a PROPFIND shows of locks and dead
        # properties: each read once a second per node, forgotten at once at a change anywhere.
        self.recent = Recent(self.storage.root / CHANGES_MARK, settings.database_cache_seconds, LOGIN_TABLES)
        self.recent_locks = Recent(self.storage.root / LOCK_CHANGES_MARK, settings.database_cache_seconds,
                                   LOCK_TABLES)  # fmt: skip
        for recent in (self.recent, self.recent_locks):
            recent.watch(self.sessions)
        self.matter_types_file = MatterTypesFile(
            settings.matter_types_file, team_shared=settings.folders.team_shared,
            client_shared=settings.folders.client_shared)  # fmt: skip
        self.authenticator = Authenticator(self.sessions, settings.auth, self.recent)
        self.scanner = Clamd(settings.antivirus) if settings.antivirus.clamd_socket else None

    @staticmethod
    def _database(settings: Settings) -> Engine:
        """The engine, its schema brought up to date; one line naming the database if it cannot be."""
        url = settings.database_url
        try:
            engine = make_engine(url, timeout_seconds=settings.database_timeout_seconds,
                                 statement_seconds=settings.database_statement_seconds)  # fmt: skip
            create_schema(engine)  # idempotent: a fresh database works at once
        except OSError as exc:  # SQLite's folder
            raise cannot_use("the database at", database_at(url), exc) from exc
        except SQLAlchemyError as exc:
            outage = outage_of(exc)
            if outage is None:
                raise
            raise outage.unreachable(database_at(url)) from exc
        return engine

    @property
    def matter_types(self) -> MatterTypes:
        """The matter types as last read: read when the portal starts, reread by `rules_for`."""
        return self.matter_types_file.types

    def rules_for(self, client_id: str | None) -> RuleBook:
        """The rules of a client's folders: its matter type's, or the two areas alone.

        The matter types file is checked first (one open and fstat, a reread only when it changed;
        503 while it is invalid), then one query (kept a second, forgotten at a change of clients):
        the client's matter type and its requests' folders. A request asks once per client,
        through its context.
        """
        if not client_id:
            return self.matter_types.default_rules  # the server root: no client, no matter type
        matter_types = self.matter_types_file.current()
        matter_type, request_rules = self.recent.get(("rules", client_id), lambda: self._client_rules(client_id))
        return matter_types.rules_of(matter_type).with_folders(request_rules)

    def _client_rules(self, client_id: str) -> tuple[str | None, RuleBook]:
        """The client's matter type, and the rules of its document requests' folders (kept with the
        row, so a request reads them ready to merge)."""
        with self.sessions() as session:
            row = session.execute(
                select(Client.matter_type, Client.request_folders).where(Client.id == client_id)
            ).first()
        if row is None:
            return None, NO_FOLDERS
        folders = [RequestFolder.from_data(data) for data in row.request_folders or ()]
        return row.matter_type, RuleBook.of(folder_rules(folders))

    def sweep(self) -> None:
        removed = sweep_partial_uploads(self.storage.root, self.settings.uploads.stale_partial_seconds)
        if removed:
            _logger.warning("Removed %d unfinished upload(s) left by a server that stopped mid-upload.", removed)

    @staticmethod
    def of(config: dict[str, Any]) -> Portal:
        """The portal the composition root put into this WsgiDAV config."""
        portal = config.get(PORTAL_KEY)
        if not isinstance(portal, Portal):
            raise ConfigError("The portal runs through `davportal serve` or davportal.wsgi:app (see the README).")
        return portal


_engines: weakref.WeakSet[Engine] = weakref.WeakSet()


def _fresh_pools_after_fork() -> None:
    # A process forked from one with a Portal (a worker of `davportal serve --workers`, a gunicorn
    # worker under --preload) opens connections of its own: a database connection used by two
    # processes mixes their conversations. The parent's are left open for the parent.
    for engine in list(_engines):
        engine.dispose(close=False)


os.register_at_fork(after_in_child=_fresh_pools_after_fork)
