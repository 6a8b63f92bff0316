"""Browser sessions: a random token in an HttpOnly cookie, its hash in the database."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from davportal.models import Account, WebSession, utcnow

COOKIE = "davportal_session"


@dataclass(frozen=True)
class Signed:
    login: str
    csrf: str
    pending: str | None  # "code" or "enrol" until the second factor is done


def fingerprint(password_hash: str | None) -> str:
    return hashlib.sha256((password_hash or "").encode()).hexdigest()


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start(session: Session, login: str, password_hash: str | None, lifetime: timedelta, *,
          pending: str | None = None) -> tuple[str, str]:  # fmt: skip
    """A new session; returns (cookie token, CSRF token)."""
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
    session.add(WebSession(token_hash=_hash(token), login=login, csrf=csrf, expires_at=utcnow() + lifetime,
                           password_fingerprint=fingerprint(password_hash), pending=pending))  # fmt: skip
    return token, csrf


def complete(session: Session, token: str) -> None:
    """The second factor is done: the session is a full one now."""
    row = session.get(WebSession, _hash(token))
    if row is not None:
        row.pending = None


def find(session: Session, token: str, now: datetime | None = None) -> Signed | None:
    """The session's login, if it is still good: not expired, not disabled, same password."""
    row = session.execute(
        select(WebSession.login, WebSession.csrf, WebSession.password_fingerprint, WebSession.expires_at,
               WebSession.pending, Account.password_hash, Account.disabled)
        .join(Account, Account.login == WebSession.login)
        .where(WebSession.token_hash == _hash(token))
    ).first()  # fmt: skip
    if row is None:
        return None
    expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=(now or utcnow()).tzinfo)
    if row.disabled or expires < (now or utcnow()) or row.password_fingerprint != fingerprint(row.password_hash):
        return None
    return Signed(row.login, row.csrf, row.pending)


def end(session: Session, token: str) -> None:
    session.execute(delete(WebSession).where(WebSession.token_hash == _hash(token)))
