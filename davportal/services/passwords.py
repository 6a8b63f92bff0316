"""argon2 password hashes."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from davportal.core.errors import BadRequest

_hasher = PasswordHasher()
MIN_LENGTH = 8
# Verified against when the login is unknown, so that both cases cost one argon2 verification.
# Written out rather than hashed at import: hashing takes argon2's 64 MiB in every process that
# starts. The hash of a random password nobody kept, with the hasher's own parameters (a test
# checks they stay the same).
UNKNOWN_LOGIN_HASH = "$argon2id$v=19$m=65536,t=3,p=4$s1yP9ZCzQJM7e0wZLOCPQw$1mmCj4H5ujskfaHBmbWQj1nM2r7/eVgegNjikmN1gUs"


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
