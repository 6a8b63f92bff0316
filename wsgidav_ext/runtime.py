"""What the domain controller, the middleware and the provider share: one per WsgiDAV app."""

from __future__ import annotations

import ipaddress
import logging
import os
import threading
import time
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from davportal.db import create_schema, make_engine, session_factory
from davportal.errors import ConfigError
from davportal.models import Client
from davportal.settings import Settings, settings_of
from davportal.storage import Storage
from policy import RuleBook
from policy.names import RESERVED_PREFIX
from provisioning.matter_types import load_matter_types
from wsgidav_ext.antivirus import Clamd
from wsgidav_ext.authentication import Authenticator

_logger = logging.getLogger("davportal")
_RUNTIME_KEY = "davportal.runtime"
SESSION_KEY = "davportal.session"
_MATTER_TYPES_KEY = "davportal.matter_types"
_lock = threading.Lock()


class Portal:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.engine = make_engine(settings.database_url)
        create_schema(self.engine)  # idempotent: a fresh database works at once
        self.sessions = session_factory(self.engine)
        self.storage = Storage(settings.storage_root)
        self.storage.ensure_root()
        self.matter_types = load_matter_types(settings.matter_types_file, team_shared=settings.folders.team_shared,
                                              client_shared=settings.folders.client_shared)  # fmt: skip
        self.authenticator = Authenticator(self.sessions, settings.auth)
        self.scanner = Clamd(settings.antivirus) if settings.antivirus.clamd_socket else None

    def rules_for(self, client_id: str | None, environ: dict | None = None) -> RuleBook:
        """The rules of a client's folders: its matter type's, or the two areas alone."""
        if not client_id or not self.matter_types:
            return self.matter_types.default_rules  # no matter types: no query
        cache = environ.setdefault(_MATTER_TYPES_KEY, {}) if environ is not None else {}
        if client_id not in cache:
            with self.sessions() as session:
                cache[client_id] = session.scalar(select(Client.matter_type).where(Client.id == client_id))
        return self.matter_types.rules_of(cache[client_id])

    def request_session(self, environ: dict) -> Session:
        """The request's own session: its changes and its audit event commit together at the end."""
        session = environ.get(SESSION_KEY)
        if session is None:
            session = environ[SESSION_KEY] = self.sessions()
        return session

    def sweep(self) -> None:
        removed = sweep_partial_uploads(self.storage, self.settings.uploads.stale_partial_seconds)
        if removed:
            _logger.warning("Removed %d unfinished upload(s) left by an earlier stop.", removed)

    @classmethod
    def of(cls, config: dict[str, Any]) -> Portal:
        """The portal of this WsgiDAV config; every component of one app gets the same one."""
        with _lock:
            portal = config.get(_RUNTIME_KEY)
            if portal is None:
                settings = settings_of(config)
                check_transport(config, settings)
                portal = config[_RUNTIME_KEY] = cls(settings)
            return portal


def check_transport(config: dict[str, Any], settings: Settings) -> None:
    """Passwords travel in Basic auth: beyond this machine, only over TLS (here or at a proxy)."""
    host = str(config.get("host") or "127.0.0.1")
    try:
        loopback = ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not (loopback or config.get("ssl_certificate") or settings.behind_tls_proxy):
        raise ConfigError(
            f"Refusing to serve passwords in clear text on {host}: give ssl_certificate and ssl_private_key, "
            "or set davportal.behind_tls_proxy: true when a proxy terminates TLS in front of the portal."
        )


def sweep_partial_uploads(storage: Storage, stale_seconds: float) -> int:
    """Remove temporary upload files that nobody has written to for a while.

    An upload in progress (on this node or another one sharing the storage) keeps touching its
    file, so only files idle longer than `stale_seconds` are a crash's leftovers.
    """
    cutoff = time.time() - stale_seconds
    removed = 0
    for folder, dirs, files in os.walk(storage.root):
        dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(folder, d))]
        for name in files:
            if name.startswith(RESERVED_PREFIX):
                path = os.path.join(folder, name)
                try:
                    if os.lstat(path).st_mtime < cutoff:
                        os.unlink(path)
                        removed += 1
                except FileNotFoundError:
                    pass
    return removed
