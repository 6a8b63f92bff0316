"""Basic-auth checks against the database: the login's row read once a second per node, argon2 only when needed."""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import re
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, cast

from sqlalchemy import CursorResult, case, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from davportal.core.errors import TooManyAttempts
from davportal.core.models import Account, AppPassword, Client, LoginThrottle, Membership, utcnow
from davportal.core.paths import has_control_characters
from davportal.core.recent import Recent
from davportal.core.settings import Auth
from davportal.services.passwords import verify
from davportal.services.two_factor import APP_PASSWORD, mark_used
from policy import Actor, Role
from policy.throttle import EVERY_LOGIN, delay_after, network_of

_logger = logging.getLogger("davportal.auth")
CACHE_SIZE = 10_000
OPEN = datetime(2000, 1, 1, tzinfo=timezone.utc)  # a window open to every try, whatever its clock reads
# argon2 takes 64 MiB a verification: one at a time keeps a process within 150 MiB, and the
# verified cache makes verifications rare (a new password, a new process, a wrong password).
MAX_PARALLEL_HASHES = 1


@dataclass(frozen=True)
class Attempt:
    """A try counted against its login and network before its password (or code) is checked."""

    login: str
    network: str
    remote_addr: str
    failures: int  # this login's from this network, this try included
    taken_at: datetime
    network_until: datetime | None  # the network's next try, if this try set a wait


class Authenticator:
    def __init__(self, sessions: sessionmaker[Session], settings: Auth, recent: Recent, *,
                 clock: Callable[[], datetime] = utcnow):  # fmt: skip
        self.sessions = sessions
        self.settings = settings
        self.recent = recent
        # The throttle's time: wall time, since nodes share it through the database; tests advance it.
        self.clock = clock
        self._secret = secrets.token_bytes(32)
        # key -> expiry of a verified (login, stored hash, password)
        self._verified: OrderedDict[bytes, float] = OrderedDict()
        self._lock = threading.Lock()
        self._hashing = threading.BoundedSemaphore(MAX_PARALLEL_HASHES)
        self._turns = [threading.Lock() for _ in range(64)]  # by login: a fixed set, never growing
        self.hashes_verified = 0  # argon2 verifications done: the cache keeps this low

    def authenticate(self, login: str, password: str, remote_addr: str = "", *, web: bool = False) -> Actor | None:
        """The actor, or None for a wrong login; TooManyAttempts while this login and network wait.

        With two-factor sign-in on, a drive (WebDAV) must use an app password: the main password
        only opens the web sign-in, which then asks for the code.
        """
        if not plausible_login(login) or "\0" in password:
            # No such login can exist (and PostgreSQL cannot even look one up): the same one hash.
            self._verify(login, None, password)
            return None
        app = APP_PASSWORD.match(password)
        app_id = int(app.group(1)) if app else None
        account, clients, app_hash = self._load(login, app_id)
        usable = account is not None and not account.disabled
        stored, secret = self._checked_against(account, app_hash, app, password, web)
        if usable and stored and self._cached(login, stored, secret):
            assert account is not None  # usable
            return self._actor(account, clients)
        # Tries of one login on this node take turns. A drive mapped with a new password opens
        # several connections at once: the first verifies it, the others find it remembered
        # instead of spending tries (and being refused for want of them).
        with self._turns[hash(login) % len(self._turns)]:
            if usable and stored and self._cached(login, stored, secret):
                assert account is not None  # usable
                return self._actor(account, clients)
            # The row as it is now: a password changed a moment ago on another node is no failure.
            account, clients, app_hash = self._load(login, app_id, fresh=True)
            usable = account is not None and not account.disabled
            stored, secret = self._checked_against(account, app_hash, app, password, web)
            attempt = self.reserve_try(login, remote_addr)
            # Unknown and disabled logins cost one argon2 verification too, so timing tells nothing.
            if self._verify(login, stored, secret) and usable:
                assert account is not None  # usable
                self.succeeded(attempt, used_app=app_id if app_hash else None)
                return self._actor(account, clients)
            self.failed(attempt, disabled=account is not None and account.disabled)
            return None

    @staticmethod
    def _checked_against(account: Account | None, app_hash: str | None, app: re.Match[str] | None, password: str,
                         web: bool) -> tuple[str | None, str]:  # fmt: skip
        """The stored hash and the secret to check against it: an app password's, or the account's own."""
        if app_hash is not None:
            assert app is not None  # an app password's hash is loaded only for one
            return app_hash, app.group(2)
        if account is not None and not account.disabled and account.totp_secret and not web:
            return None, password  # the main password does not open WebDAV any more
        return (account.password_hash if account else None), password

    @staticmethod
    def _actor(account: Account, clients: dict[str, str]) -> Actor:
        return Actor(login=account.login, role=Role(account.role), is_admin=account.is_admin, clients=clients,
                     name=account.name)  # fmt: skip

    def actor_of(self, login: str) -> Actor | None:
        """The actor of a signed-in browser session (its password was checked at sign-in)."""
        account, clients, _ = self._load(login)
        if account is None or account.disabled:
            return None
        return self._actor(account, clients)

    def account_of(self, login: str) -> Account | None:
        return self._load(login)[0]

    def load(self, login: str) -> tuple[Account | None, Actor | None]:
        """The account and its actor (None when disabled), in one statement: a browser session
        checks the account (its password, two-factor) and acts as the actor."""
        account, clients, _ = self._load(login)
        if account is None or account.disabled:
            return account, None
        return account, self._actor(account, clients)

    def _load(self, login: str, app_id: int | None = None, *,
              fresh: bool = False) -> tuple[Account | None, dict[str, str], str | None]:  # fmt: skip
        """The account, its clients and (if one is named) an app password's hash: one statement,
        at most once a second per node and login (`fresh`: now)."""
        return self.recent.get(("login", login, app_id), lambda: self._read(login, app_id), fresh=fresh)

    def _read(self, login: str, app_id: int | None) -> tuple[Account | None, dict[str, str], str | None]:
        with self.sessions() as session:
            rows = session.execute(
                select(Account, Membership.client_id, Membership.participant_type, AppPassword.secret_hash)
                .select_from(Account)
                # An archived client's contacts have no access to it (a contact of two keeps the other).
                .outerjoin(Membership, (Membership.login == Account.login) & Membership.client_id.in_(
                    select(Client.id).where(Client.archived_at.is_(None))))
                .outerjoin(AppPassword, (AppPassword.login == Account.login) & (AppPassword.id == (app_id or -1)))
                .where(Account.login == login)
            ).all()  # fmt: skip
        if not rows:
            return None, {}, None
        clients = {client_id: ptype for _, client_id, ptype, _ in rows if client_id is not None}
        return rows[0][0], clients, rows[0][3]

    def _key(self, login: str, stored: str, secret: str) -> bytes:
        # The key covers the stored hash, so a new password (or a revoked app password) misses at once.
        material = b"\0".join(s.encode() for s in (login, stored, secret))
        return hmac.new(self._secret, material, hashlib.sha256).digest()

    def _cached(self, login: str, stored: str, secret: str) -> bool:
        key = self._key(login, stored, secret)
        with self._lock:
            expiry = self._verified.get(key)
            if expiry is not None and expiry > time.monotonic():
                self._verified.move_to_end(key)
                return True
        return False

    def _verify(self, login: str, stored: str | None, secret: str) -> bool:
        # One at a time (MAX_PARALLEL_HASHES): a flood of logins cannot run the server out of memory.
        with self._hashing:
            with self._lock:  # two verify at once: += alone could lose a count
                self.hashes_verified += 1
            ok = verify(stored, secret)
        if ok:
            assert stored is not None  # nothing verifies without a hash
            with self._lock:
                self._verified[self._key(login, stored, secret)] = time.monotonic() + self.settings.cache_seconds
                while len(self._verified) > CACHE_SIZE:
                    self._verified.popitem(last=False)
        return ok

    def reserve_try(self, login: str, remote_addr: str) -> Attempt:
        """Count a try against the login and its network before its password (or code) is
        checked; TooManyAttempts while either waits.

        Each counter is taken by one conditional UPDATE of its row, in one transaction: tries sent
        together, to any node, queue on the row, and once a try closes the window the others find
        it closed. So N guesses at once cost N tries, and at most one is checked per window.
        """
        network, now, auth = network_of(remote_addr), self.clock(), self.settings
        counters = ((login, auth.slowdown_after), (EVERY_LOGIN, auth.network_slowdown_after))
        fresh = [{"login": who, "network": network, "failures": 0, "not_before": OPEN, "last_failure_at": now}
                 for who, _ in counters]  # fmt: skip
        with self.sessions() as session:
            # A row another request inserted meanwhile is simply there: never a duplicate key.
            session.execute(throttle_insert(session).values(fresh).on_conflict_do_nothing())
            taken: list[tuple[int, datetime | None]] = []
            for who, free in counters:
                turn = self._take(session, who, network, free, now)
                if turn is None:
                    break
                taken.append(turn)
            else:
                session.commit()
                (failures, _), (_, network_until) = taken
                return Attempt(login, network, remote_addr, failures, now, network_until)
            session.rollback()  # neither counter moves for a try that is refused
            waits = session.scalars(select(LoginThrottle.not_before).where(
                LoginThrottle.network == network, LoginThrottle.login.in_((login, EVERY_LOGIN)))).all()  # fmt: skip
        latest = max((aware(w) for w in waits), default=now)
        seconds = max(1, math.ceil((latest - now).total_seconds()))
        _logger.warning("Login %r from %s refused for %d s after repeated failures", login, network, seconds)
        raise TooManyAttempts(f"Too many failed sign-ins: please wait {seconds} seconds and try again.",
                              headers=(("Retry-After", str(seconds)),))  # fmt: skip

    def _take(self, session: Session, who: str, network: str, free: int,
              now: datetime) -> tuple[int, datetime | None] | None:  # fmt: skip
        """One try off a counter whose window is open: its failures with this try, and its next window."""
        row = (LoginThrottle.login == who) & (LoginThrottle.network == network)
        failures = session.scalar(
            update(LoginThrottle).where(row, LoginThrottle.not_before <= now)
            .values(failures=LoginThrottle.failures + 1, last_failure_at=now)
            .returning(LoginThrottle.failures).execution_options(synchronize_session=False)
        )  # fmt: skip
        if failures is None:
            return None
        # The row stays locked until the commit (on SQLite, the whole database): no other try
        # reads it between the count and the window the count sets.
        delay = delay_after(failures, free=free, cap=self.settings.slowdown_max_seconds)
        if not delay:
            # Still a free try: the window stays open. Set to "now", it would shut out a try
            # whose clock reads a moment earlier (another thread, another node).
            return failures, None
        until = now + timedelta(seconds=delay)
        session.execute(update(LoginThrottle).where(row).values(not_before=until)
                        .execution_options(synchronize_session=False))  # fmt: skip
        return failures, until

    def succeeded(self, attempt: Attempt, *, used_app: int | None = None) -> None:
        """A right password (or code) forgets the login's failures from its network, and gives
        back the try it took from the network: sign-ins that work never slow a network down."""
        network = attempt.network
        with self.sessions.begin() as session:
            session.execute(delete(LoginThrottle).where(LoginThrottle.login == attempt.login,
                                                        LoginThrottle.network == network))  # fmt: skip
            # Open again, unless another try has come since and set a window of its own.
            reopened = case((LoginThrottle.not_before == attempt.network_until, OPEN), else_=LoginThrottle.not_before)
            session.execute(
                update(LoginThrottle)
                .where(LoginThrottle.login == EVERY_LOGIN, LoginThrottle.network == network, LoginThrottle.failures > 0)
                .values(failures=LoginThrottle.failures - 1,
                        not_before=LoginThrottle.not_before if attempt.network_until is None else reopened)
                .execution_options(synchronize_session=False)
            )  # fmt: skip
            record_sign_in(session, attempt.login, attempt.taken_at)
            if used_app is not None:
                mark_used(session, used_app)  # "last used", shown to the user

    def failed(self, attempt: Attempt, *, disabled: bool = False) -> None:
        """The try was counted when it was reserved: a failure only goes to the log."""
        _logger.warning("Failed login for %r from %s (%s, failure %d)", attempt.login, attempt.remote_addr or "?",
                        "disabled" if disabled else "bad credentials", attempt.failures)  # fmt: skip


def record_sign_in(session: Session, login: str, at: datetime) -> None:
    """The login's last sign-in, shown to admins. Core, not the ORM: the time of a sign-in changes
    nothing the per-node caches keep, so it must not make every process read every login again
    (as an ORM write to the account table does)."""
    session.connection().execute(update(Account).where(Account.login == login).values(last_sign_in_at=at))


def plausible_login(login: str) -> bool:
    return 0 < len(login) <= 128 and not has_control_characters(login)


def printable(text: str, limit: int = 128) -> str:
    """For the log and the audit trail: control characters (NUL included) shown as '?'."""
    return "".join("?" if ord(ch) < 32 or ord(ch) == 127 else ch for ch in text[:limit])


def unblock(session: Session, login: str) -> int:
    """Forget a login's failures (every network); returns how many networks were waiting."""
    result = cast("CursorResult[Any]", session.execute(delete(LoginThrottle).where(LoginThrottle.login == login)))
    return result.rowcount


def throttle_insert(session: Session) -> postgresql.Insert | sqlite.Insert:
    """The dialect's INSERT, which has ON CONFLICT (SQLite 3.24 and later, PostgreSQL)."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(LoginThrottle)
    return sqlite.insert(LoginThrottle)


def aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)  # SQLite keeps no zone
