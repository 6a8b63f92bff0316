"""One-time links by email: an invitation to choose a password, a password reset.

The link carries a random token; only its sha256 is stored. A link works once, until it expires,
and a newer link of the same login replaces it. The email goes to the outbox in the caller's
transaction: it is sent only if the link was kept.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from urllib.parse import quote

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from davportal.core.errors import BadRequest, Conflict, NotFound
from davportal.core.models import Account, AccountLink, LoginThrottle, utcnow
from davportal.core.settings import Settings
from davportal.notifications.compose import outbox_message
from davportal.services import audit, passwords
from davportal.services.authentication import aware, throttle_insert
from policy import Actor, Role, Target
from policy.throttle import delay_after, network_of

_logger = logging.getLogger("davportal.auth")
INVITE, RESET = "invite", "reset"
LINK_PATH = "/.davportal-web/link"  # the web's route (davportal.web.account) that a link opens
# Reset requests share the sign-in throttle's table, under keys no login can have (no colon).
RESET_KEY = "reset:"
ANY_NETWORK = "any"
FREE_RESETS = 3  # requests before each next one must wait, per address and per network
RESET_FIRST_WAIT_SECONDS = 60.0  # then doubling, up to the cap
RESET_WAIT_CAP_SECONDS = 3600.0
RESET_MEMORY = timedelta(hours=24)  # requests longer ago than this are forgotten
MAX_LOGINS_PER_ADDRESS = 5  # one email address may belong to several logins


class LinkNotUsable(BadRequest):
    """An unknown, expired or used link: the page says which, and what to do."""

    def __init__(self, reason: str, *, purpose: str | None = None):
        super().__init__(reason)
        self.purpose = purpose


@dataclass(frozen=True)
class OpenLink:
    """A link that still works, and whose it is: what its page shows."""

    login: str
    name: str
    purpose: str
    expires_at: datetime
    has_two_factor: bool


def invite(session: Session, settings: Settings, login: str, *, actor: Actor, now: datetime | None = None) -> None:
    """Email the login a link to choose their password; earlier links stop working (a resend)."""
    account = session.get(Account, login)
    if account is None:
        raise NotFound(f"There is no login '{login}'.")
    if account.disabled:
        raise Conflict(f"{login} is disabled: enable the login before inviting them.")
    if not account.email:
        raise BadRequest(f"{login} has no email address to send the invitation to.")
    _issue(session, settings, account, INVITE, now or utcnow())
    audit.record(session, actor, "INVITE", Target(()), f"invitation sent to {login} at {account.email}")


def request_reset(session: Session, settings: Settings, login_or_email: str, remote_addr: str, *,
                  now: datetime | None = None) -> None:  # fmt: skip
    """Email a reset link to the login, or to every login with this address. Says nothing either
    way (the page's answer is always the same), and sends nothing past the throttle."""
    now = now or utcnow()
    wanted = login_or_email.strip()
    if not wanted or len(wanted) > 320:
        return
    if not _throttle_allows(session, wanted.lower(), network_of(remote_addr), now):
        _logger.warning("Password reset for %r from %s not sent: too many requests", wanted, remote_addr or "?")
        return
    by = func.lower(Account.email) == wanted.lower() if "@" in wanted else Account.login == wanted
    found = session.scalars(select(Account).where(by, Account.disabled.is_(False), Account.email.is_not(None))
                            .order_by(Account.login).limit(MAX_LOGINS_PER_ADDRESS)).all()  # fmt: skip
    if not found and "@" in wanted:  # a login may look like an address
        found = session.scalars(select(Account).where(Account.login == wanted, Account.disabled.is_(False),
                                                      Account.email.is_not(None))).all()  # fmt: skip
    for account in found:
        _issue(session, settings, account, RESET, now)
        audit.record(session, _owner(account), "RESET-REQUESTED", Target(()),
                     f"password reset link sent to {account.email} (asked from {remote_addr or '?'})")  # fmt: skip


def look_up(session: Session, token: str, *, now: datetime | None = None) -> OpenLink:
    """The link's login and purpose, if it still works; LinkNotUsable otherwise."""
    link, account = _usable(session, token, now or utcnow())
    return OpenLink(account.login, account.name or account.login, link.purpose, aware(link.expires_at),
                    bool(account.totp_secret))  # fmt: skip


def redeem(session: Session, token: str, password: str, *, min_length: int = passwords.MIN_LENGTH,
           now: datetime | None = None) -> Account:  # fmt: skip
    """Set the password the link's owner chose and use the link up, in the caller's transaction
    (with every other link of the login): a second try finds it used."""
    now = now or utcnow()
    link, account = _usable(session, token, now, lock=True)
    account.password_hash = passwords.choose(password, login=account.login, name=account.name, min_length=min_length)
    used = session.execute(
        update(AccountLink).where(AccountLink.login == account.login, AccountLink.used_at.is_(None))
        .values(used_at=now).execution_options(synchronize_session=False)
    )  # fmt: skip
    if used.rowcount == 0:  # type: ignore[attr-defined]  # another request used it meanwhile
        raise LinkNotUsable("This link was already used.", purpose=link.purpose)
    account.last_sign_in_at = now  # the link signs them in
    how = "by invitation link" if link.purpose == INVITE else "by reset link"
    audit.record(session, _owner(account), "PASSWORD-SET", Target(()), f"password chosen {how}")
    return account


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def _issue(session: Session, settings: Settings, account: Account, purpose: str, now: datetime) -> None:
    session.execute(
        update(AccountLink).where(AccountLink.login == account.login, AccountLink.used_at.is_(None))
        .values(used_at=now).execution_options(synchronize_session=False)
    )  # fmt: skip
    hours = settings.accounts.invite_hours if purpose == INVITE else settings.accounts.reset_hours
    token = secrets.token_urlsafe(32)
    expires = now + timedelta(hours=hours)
    session.add(AccountLink(token_hash=token_hash(token), login=account.login, purpose=purpose, created_at=now,
                            expires_at=expires))  # fmt: skip
    assert account.email is not None  # checked by the callers
    link = f"{settings.notifications.public_url.rstrip('/')}{LINK_PATH}?token={quote(token)}"
    firm = settings.firm_name
    subject = f"{firm}: your invitation to the document portal" if purpose == INVITE else f"{firm}: reset your password"
    context = {"name": account.name or account.login, "login": account.login, "link": link, "invite": purpose == INVITE,
               "has_password": account.password_hash is not None, "expires": _when(expires),
               "hours": _hours(hours), "staff": account.role == Role.STAFF.value}  # fmt: skip
    session.add(outbox_message(settings, account.email, subject, "account_link", context, now))


def _usable(session: Session, token: str, now: datetime, *, lock: bool = False) -> tuple[AccountLink, Account]:
    if not token or len(token) > 200:
        raise LinkNotUsable("This link is not complete: open it from the email again, or ask for a new one.")
    query = select(AccountLink).where(AccountLink.token_hash == token_hash(token))
    link = session.scalar(query.with_for_update() if lock else query)
    if link is None:
        raise LinkNotUsable("This link is not one of ours: open it from the email again, or ask for a new one.")
    if link.used_at is not None:
        raise LinkNotUsable("This link was already used, or a newer one replaced it.", purpose=link.purpose)
    if aware(link.expires_at) <= now:
        raise LinkNotUsable("This link has expired.", purpose=link.purpose)
    account = session.get(Account, link.login)
    if account is None or account.disabled:
        raise LinkNotUsable("This link no longer works.", purpose=link.purpose)
    return link, account


def _throttle_allows(session: Session, address: str, network: str, now: datetime) -> bool:
    """One request off the address's counter and the network's; False (and neither moves) while
    either must wait. The counters are rows of the sign-in throttle's table, under their own keys."""
    counters = ((f"{RESET_KEY}{address}"[:128], ANY_NETWORK), (f"{RESET_KEY}*", network))
    # A row another request inserted meanwhile is simply there: never a duplicate key.
    session.execute(throttle_insert(session).values([
        {"login": login, "network": where, "failures": 0, "not_before": now, "last_failure_at": now}
        for login, where in counters]).on_conflict_do_nothing())  # fmt: skip
    rows = []
    for login, where in counters:
        row = session.get(LoginThrottle, (login, where), with_for_update=True, populate_existing=True)
        assert row is not None  # inserted above, or there already
        if aware(row.last_failure_at) < now - RESET_MEMORY:
            row.failures = 0
        if aware(row.not_before) > now:
            return False
        rows.append(row)
    for row in rows:
        row.failures += 1
        row.last_failure_at = now
        wait = delay_after(row.failures, free=FREE_RESETS, cap=RESET_WAIT_CAP_SECONDS, first=RESET_FIRST_WAIT_SECONDS)
        row.not_before = now + timedelta(seconds=wait)
    return True


def _owner(account: Account) -> Actor:
    """The account acting on itself, for the audit trail."""
    return Actor(account.login, Role(account.role), is_admin=account.is_admin)


def _when(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%A %d %B %Y at %H:%M UTC")


def _hours(hours: float) -> str:
    if hours >= 48 and hours % 24 == 0:
        return f"{int(hours // 24)} days"
    return f"{hours:g} hour{'s' if hours != 1 else ''}"
