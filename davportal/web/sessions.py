"""Browser sessions: a random token in an HttpOnly cookie, its hash in the database."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.orm import Session

from davportal.core.models import Account, WebSession, utcnow

COOKIE = "davportal_session"


@dataclass(frozen=True)
class Signed:
    login: str
    csrf: str
    pending: str | None  # "code" or "enrol" (policy.pages.SecondStep) until the second factor is done
    password_fingerprint: str = ""  # of the password signed in with: a new password ends the session


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
    """The session, if it has not expired: one read of its row, none of the account.

    Whether its account still lets it in is `still_good`'s to say, from the account the
    sign-in reads anyway for the actor.
    """
    row = session.get(WebSession, _hash(token))
    if row is None:
        return None
    now = now or utcnow()
    expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=now.tzinfo)
    if expires < now:
        return None
    return Signed(row.login, row.csrf, row.pending, row.password_fingerprint)


def still_good(signed: Signed, account: Account | None) -> bool:
    """The account is there, not disabled, and its password is the one signed in with."""
    return (account is not None and not account.disabled
            and secrets.compare_digest(signed.password_fingerprint, fingerprint(account.password_hash)))  # fmt: skip


def keep_only(session: Session, token: str, login: str, password_hash: str | None) -> None:
    """After the login's own password change: this browser stays signed in, every other one is
    signed out (they would be refused anyway: their fingerprint is of the old password)."""
    session.execute(delete(WebSession).where(WebSession.login == login, WebSession.token_hash != _hash(token)))
    row = session.get(WebSession, _hash(token))
    if row is not None:
        row.password_fingerprint = fingerprint(password_hash)


def end(session: Session, token: str) -> None:
    session.execute(delete(WebSession).where(WebSession.token_hash == _hash(token)))
