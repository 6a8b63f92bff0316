"""argon2 password hashes."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from davportal.core.errors import BadRequest

_hasher = PasswordHasher()
MIN_LENGTH = 8
# Verified against when the login is unknown, so that both cases cost one argon2 verification.
UNKNOWN_LOGIN_HASH = _hasher.hash("no such login: this hash only spends the same time")


def hash_password(password: str) -> str:
    if len(password) < MIN_LENGTH:
        raise BadRequest(f"The password is too short: use at least {MIN_LENGTH} characters.")
    return _hasher.hash(password)


def hash_secret(secret: str) -> str:
    """argon2 of a generated secret (an app password, a recovery code): no length rule to apply."""
    return _hasher.hash(secret)


def verify(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or UNKNOWN_LOGIN_HASH, password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False
