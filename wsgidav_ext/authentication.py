"""Basic-auth checks against the database: one SQL statement per request, argon2 only when needed."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import threading
import time
from collections import OrderedDict

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from davportal.models import Account, Membership
from davportal.passwords import verify
from davportal.settings import Auth
from policy import Actor, Role

_logger = logging.getLogger("davportal.auth")
CACHE_SIZE = 10_000


class Authenticator:
    def __init__(self, sessions: sessionmaker[Session], settings: Auth):
        self.sessions = sessions
        self.settings = settings
        self._secret = secrets.token_bytes(32)
        # key -> expiry. The key covers the stored hash, so a new password misses the cache at once.
        self._verified: OrderedDict[bytes, float] = OrderedDict()
        self._failures: dict[str, tuple[int, float]] = {}
        self._lock = threading.Lock()
        self.hashes_verified = 0  # argon2 verifications done: the cache keeps this low

    def authenticate(self, login: str, password: str, remote_addr: str = "") -> Actor | None:
        account, clients = self._load(login)
        # Unknown and disabled logins cost one argon2 verification too, so timing tells nothing.
        if self._check(account, password) and not account.disabled:
            self._failures.pop(login, None)
            return Actor(
                login=account.login,
                role=Role(account.role),
                is_admin=account.is_admin,
                clients=clients,
            )
        self._failed(login, remote_addr, disabled=account is not None and account.disabled)
        return None

    def actor_of(self, login: str) -> Actor | None:
        """The actor of a signed-in browser session (its password was checked at sign-in)."""
        account, clients = self._load(login)
        if account is None or account.disabled:
            return None
        return Actor(login=account.login, role=Role(account.role), is_admin=account.is_admin, clients=clients)

    def password_hash_of(self, login: str) -> str | None:
        account, _ = self._load(login)
        return account.password_hash if account else None

    def _load(self, login: str) -> tuple[Account | None, dict[str, str]]:
        with self.sessions() as session:
            rows = session.execute(
                select(Account, Membership.client_id, Membership.participant_type)
                .outerjoin(Membership, Membership.login == Account.login)
                .where(Account.login == login)
            ).all()
        if not rows:
            return None, {}
        clients = {client_id: ptype for _, client_id, ptype in rows if client_id is not None}
        return rows[0][0], clients

    def _check(self, account: Account | None, password: str) -> bool:
        if account is None:
            self.hashes_verified += 1
            return verify(None, password)
        key = hmac.new(
            self._secret,
            b"\0".join(s.encode() for s in (account.login, account.password_hash or "", password)),
            hashlib.sha256,
        ).digest()
        now = time.monotonic()
        with self._lock:
            expiry = self._verified.get(key)
            if expiry is not None and expiry > now:
                self._verified.move_to_end(key)
                return True
        self.hashes_verified += 1
        if not verify(account.password_hash, password):
            return False
        with self._lock:
            self._verified[key] = now + self.settings.cache_seconds
            while len(self._verified) > CACHE_SIZE:
                self._verified.popitem(last=False)
        return True

    def _failed(self, login: str, remote_addr: str, *, disabled: bool) -> None:
        with self._lock:
            count = self._failures.get(login, (0, 0.0))[0] + 1
            self._failures[login] = (count, time.monotonic())
        _logger.warning(
            "Failed login for %r from %s (%s, failure %d)",
            login, remote_addr or "?", "disabled" if disabled else "bad credentials", count,
        )  # fmt: skip
        delay = failure_delay(count, self.settings.slowdown_after, self.settings.slowdown_max_seconds)
        if delay:
            time.sleep(delay)


def failure_delay(failures: int, after: int, max_seconds: float) -> float:
    """No delay for the first few mistakes, then doubling from a quarter second to the cap."""
    if failures < after:
        return 0.0
    return min(max_seconds, 0.25 * 2 ** (failures - after))
