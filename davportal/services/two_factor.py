"""Two-factor sign-in (TOTP and recovery codes) and app passwords for drives."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from davportal.core.errors import BadRequest, NotFound
from davportal.core.models import Account, AppPassword, utcnow
from davportal.services.passwords import hash_secret, verify

APP_PASSWORD = re.compile(r"^app-(\d+)-([A-Za-z0-9_-]{20,})$")  # the id tells which hash to check: one only
RECOVERY_CODES = 8
MAX_APP_PASSWORDS = 20


def new_secret() -> str:
    import pyotp  # loaded by the few requests that use two-factor, not by every process

    return pyotp.random_base32()


def setup_link(secret: str, login: str, issuer: str) -> str:
    """The otpauth:// address an authenticator app opens (on the phone itself) or reads from the QR code."""
    import pyotp  # see above

    return pyotp.TOTP(secret).provisioning_uri(name=login, issuer_name=issuer)


def qr_svg(secret: str, login: str, issuer: str) -> str:
    """The enrolment QR code for an authenticator app, as an SVG data URI."""
    import segno  # see above

    return segno.make(setup_link(secret, login, issuer), error="m").svg_data_uri(scale=5)


def code_is_valid(secret: str, code: str) -> bool:
    import pyotp  # see above

    return pyotp.TOTP(secret).verify(code.replace(" ", ""), valid_window=1)


def enable(session: Session, login: str, secret: str, code: str) -> list[str]:
    """Confirm enrolment with a first code; returns the recovery codes (shown once)."""
    if not code_is_valid(secret, code):
        raise BadRequest("That code is not right: check the time on your phone and try the next one.")
    account = _account(session, login)
    account.totp_secret = secret
    return new_recovery_codes(session, login)


def new_recovery_codes(session: Session, login: str) -> list[str]:
    """Fresh recovery codes (shown once); the earlier ones stop working."""
    codes = [secrets.token_hex(5) for _ in range(RECOVERY_CODES)]
    _account(session, login).recovery_codes = [hash_secret(code) for code in codes]
    return codes


def second_factor_ok(session: Session, login: str, code: str) -> bool:
    """A current code, or an unused recovery code (which is then used up)."""
    account = _account(session, login)
    if account.totp_secret and code_is_valid(account.totp_secret, code):
        return True
    for stored in list(account.recovery_codes or []):
        if verify(stored, code.strip().lower()):
            assert account.recovery_codes is not None  # the loop runs over them
            account.recovery_codes = [c for c in account.recovery_codes if c != stored]
            return True
    return False


def reset(session: Session, login: str) -> bool:
    account = _account(session, login)
    was_on = account.totp_secret is not None
    account.totp_secret, account.recovery_codes = None, None
    return was_on


@dataclass(frozen=True)
class AppPasswordView:
    id: int
    name: str
    created_at: object
    last_used_at: object


def create_app_password(session: Session, login: str, name: str) -> str:
    """A new app password; the returned text is shown once and never stored."""
    name = name.strip()
    if not name or len(name) > 100 or any(ord(ch) < 32 for ch in name):
        raise BadRequest("Give the app password a name (at most 100 characters), e.g. 'Office laptop'.")
    if len(list_app_passwords(session, login)) >= MAX_APP_PASSWORDS:
        raise BadRequest(f"At most {MAX_APP_PASSWORDS} app passwords: revoke one you no longer use.")
    secret = secrets.token_urlsafe(24)
    row = AppPassword(login=login, name=name, secret_hash=hash_secret(secret))
    session.add(row)
    session.flush()
    return f"app-{row.id}-{secret}"


def list_app_passwords(session: Session, login: str) -> list[AppPasswordView]:
    rows = session.scalars(select(AppPassword).where(AppPassword.login == login).order_by(AppPassword.id))
    return [AppPasswordView(r.id, r.name, r.created_at, r.last_used_at) for r in rows]


def revoke_app_password(session: Session, login: str, app_id: int) -> None:
    row = session.get(AppPassword, app_id)
    if row is None or row.login != login:
        raise NotFound(f"There is no app password {app_id} for {login}.")
    session.delete(row)


def mark_used(session: Session, app_id: int) -> None:
    row = session.get(AppPassword, app_id)
    if row is not None:
        row.last_used_at = utcnow()


def _account(session: Session, login: str) -> Account:
    account = session.get(Account, login)
    if account is None:
        raise NotFound(f"There is no login '{login}'.")
    return account
