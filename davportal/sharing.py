"""Describing and sharing documents from the command line, under the same policy as PROPPATCH."""

from __future__ import annotations

import getpass

from sqlalchemy.orm import Session

from davportal import documents
from davportal.errors import NotFound, refusal
from davportal.models import AuditEvent
from davportal.storage import Storage
from notifications.events import tell_shared
from policy import Actor, Role, RuleBook, Target
from policy.properties import DESCRIPTION, SHARED, decide_property


def command_line_actor() -> Actor:
    """The admin at the command line: staff, named after the system user, in the audit trail."""
    return Actor(f"cli:{getpass.getuser()}", Role.STAFF, is_admin=True)


def describe(session: Session, storage: Storage, rules: RuleBook, client_id: str, path: str, text: str) -> None:
    target = _target(storage, client_id, path)
    _check(decide_property(command_line_actor(), DESCRIPTION, text, target, rules))
    documents.describe(session, client_id, _below(path), text, is_folder=target.is_collection)
    _audit(session, "DESCRIBE", client_id, path, "description set" if text else "description removed")


def share(session: Session, portal, client_id: str, path: str, on: bool) -> bool:
    """Returns whether the toggle changed."""
    target = _target(portal.storage, client_id, path)
    _check(decide_property(command_line_actor(), SHARED, "true" if on else "false", target,
                           portal.rules_for(client_id)))  # fmt: skip
    changed = documents.share(session, client_id, _below(path), on)
    if changed:
        _audit(session, "SHARE" if on else "UNSHARE", client_id, path, "share toggle")
        if on:
            tell_shared(session, portal, client_id, _below(path), actor=command_line_actor().login)
    return changed


def _target(storage: Storage, client_id: str, path: str) -> Target:
    parts = (client_id, *_below(path).split("/"))
    disk = storage.path_of(parts)
    if not disk.exists() or disk.is_symlink():
        raise NotFound(f"There is no '{_below(path)}' in client '{client_id}'.")
    return Target(parts, exists=True, is_collection=disk.is_dir())


def _below(path: str) -> str:
    return "/".join(p for p in path.split("/") if p)


def _check(decision) -> None:
    if not decision.allowed:
        raise refusal(decision.status if decision.status in (403, 404, 409) else 403, decision.reason)


def _audit(session: Session, action: str, client_id: str, path: str, detail: str) -> None:
    session.add(AuditEvent(login=command_line_actor().login, role="admin", action=action, client_id=client_id,
                           path=_below(path), status=200, detail=detail))  # fmt: skip
