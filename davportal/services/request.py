"""One request, resolved once: who acts, the path's parts, the rules, the target, the session.

The audit trail opens it for every request; sign-in, the gate, the provider, the properties
and the pages fill and read it, so nothing is split, looked up or read twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from davportal.core import paths
from davportal.core.models import Version
from davportal.services.documents import Facts
from davportal.services.locks import HeldLock
from davportal.services.portal import Portal
from policy import Actor, RuleBook, Target

REQUEST_KEY = "davportal.request"  # the one environ key the portal keeps per request


@dataclass
class RequestContext:
    portal: Portal
    actor: Actor | None = None  # set by sign-in (a browser's session) or Basic auth
    attempted_login: str | None = None  # for the audit, should the login fail or be refused
    csrf: str | None = None  # the browser session's token, for the page's forms
    target: Target | None = None  # the gate's view of the request target
    destination: Target | None = None  # and of a COPY's or MOVE's Destination
    audit_path: str | None = None  # the document actually read, when not the URL's (a shared file)
    events: list[tuple[str, str, str]] = field(default_factory=list)  # (action, path, detail) besides the method
    audited: bool = False  # the request's events committed with its change (an upload)
    _session: Session | None = None
    _parts: dict[str, tuple[str, ...]] = field(default_factory=dict)
    _rules: dict[str | None, RuleBook] = field(default_factory=dict)
    resources: dict[str, Any] = field(default_factory=dict)  # by URL path, for requests that change nothing
    # What listings read once per folder (or client), by folder parts below the client.
    facts: dict[tuple[str, ...], dict[str, Facts]] = field(default_factory=dict)
    seen: dict[tuple[str, ...], dict[str, list[tuple[str, datetime]]]] = field(default_factory=dict)
    shared_views: dict[str, dict[str, str]] = field(default_factory=dict)
    dead_properties: dict[str, dict[str, str]] = field(default_factory=dict)
    locks: dict[str, list[HeldLock]] = field(default_factory=dict)  # WebDAV locks on a listing's URLs
    versions: dict[tuple[str, ...], dict[str, list[Version]]] = field(default_factory=dict)

    @classmethod
    def begin(cls, environ: dict[str, Any], portal: Portal) -> RequestContext:
        context = environ[REQUEST_KEY] = cls(portal)
        return context

    @staticmethod
    def of(environ: dict[str, Any]) -> RequestContext:
        return environ[REQUEST_KEY]

    def parts(self, path: str) -> tuple[str, ...]:
        """A URL path's segments, in NFC: split once per path and request."""
        parts = self._parts.get(path)
        if parts is None:
            parts = self._parts[path] = paths.split_path(path)
        return parts

    def rules(self, client_id: str | None) -> RuleBook:
        """The client's rules: looked up once per client and request."""
        rules = self._rules.get(client_id)
        if rules is None:
            rules = self._rules[client_id] = self.portal.rules_for(client_id)
        return rules

    @property
    def session(self) -> Session:
        """The request's own session: its changes and its audit events commit together at the end."""
        if self._session is None:
            self._session = self.portal.sessions()
        return self._session

    def add_event(self, action: str, path: str, detail: str) -> None:
        """Something the request did besides its method (audited with the request's outcome)."""
        self.events.append((action, path, detail))

    def take_session(self) -> Session | None:
        """The session, if the request opened one, for the audit trail to commit or roll back."""
        session, self._session = self._session, None
        return session
