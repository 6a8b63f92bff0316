"""Describing and sharing documents: one use case for PROPPATCH, the web page and the CLI."""

from __future__ import annotations

from sqlalchemy.orm import Session

from davportal.core.errors import refusal
from davportal.core.settings import Settings
from davportal.notifications.events import tell_shared
from davportal.services import documents
from policy import Actor, RuleBook, Target
from policy.model import Decision
from policy.properties import DESCRIPTION, SHARED, decide_property


def describe(session: Session, rules: RuleBook, actor: Actor, target: Target, text: str | None) -> None:
    """Staff's words about a document, which the client sees; None or "" removes them."""
    _check(decide_property(actor, DESCRIPTION, text, target, rules))
    documents.describe(session, target.parts[0], _below(target), text, is_folder=target.is_collection)


def share(session: Session, settings: Settings, rules: RuleBook, actor: Actor, target: Target, on: bool) -> bool:
    """Turn the share toggle; the contacts hear of a file newly shared. Returns whether it changed."""
    _check(decide_property(actor, SHARED, "true" if on else "false", target, rules))
    client_id, path = target.parts[0], _below(target)
    changed = documents.share(session, client_id, path, on)
    if changed and on:
        tell_shared(session, settings, rules, client_id, path, actor=actor.login)
    return changed


def _below(target: Target) -> str:
    return "/".join(target.parts[1:])


def _check(decision: Decision) -> None:
    if not decision.allowed:
        raise refusal(decision.status if decision.status in (403, 404, 409) else 403, decision.reason,
                      condition=decision.condition)  # fmt: skip
