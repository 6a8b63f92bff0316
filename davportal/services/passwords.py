"""argon2 password hashes, and what makes a password one a person may choose."""

from __future__ import annotations

import functools
import gzip
import re
from importlib.resources import files

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from davportal.core.errors import BadRequest
from davportal.core.settings import Accounts

_hasher = PasswordHasher()
MIN_LENGTH = Accounts().password_min_length  # the setting's default, for callers without settings
MIN_OWN_LETTERS = 4  # a login or name this short ("jo") may well be part of a good password
# Verified against when the login is unknown, so that both cases cost one argon2 verification.
# Written out rather than hashed at import: hashing takes argon2's 64 MiB in every process that
# starts. The hash of a random password nobody kept, with the hasher's own parameters (a test
# checks they stay the same).
UNKNOWN_LOGIN_HASH = "$argon2id$v=19$m=65536,t=3,p=4$s1yP9ZCzQJM7e0wZLOCPQw$1mmCj4H5ujskfaHBmbWQj1nM2r7/eVgegNjikmN1gUs"


def choose(password: str, *, login: str, name: str | None = None, min_length: int = MIN_LENGTH) -> str:
    """The hash of a password someone chose (or was given), once it passes `problem`."""
    refusal = problem(password, login=login, name=name, min_length=min_length)
    if refusal:
        raise BadRequest(refusal)
    return _hasher.hash(password)


def problem(password: str, *, login: str, name: str | None = None, min_length: int = MIN_LENGTH) -> str:
    """What is wrong with a new password, in words a person acts on; "" when nothing is."""
    if len(password) < min_length:
        return f"The password is too short: use at least {min_length} characters (a few words make a good one)."
    if password.strip().lower() in common_passwords():
        return "That password is one of the most common ones, which are tried first: choose another."
    letters = _letters(password)
    owns = {_letters(own) for own in (login, login.partition("@")[0], name) if own}
    if any(own in letters for own in owns if len(own) >= MIN_OWN_LETTERS):
        return "The password must not contain your login or your name: choose another."
    return ""


def strength(password: str, *, login: str, name: str | None = None, min_length: int = MIN_LENGTH) -> str:
    """How a new password reads to its owner, in plain words."""
    refusal = problem(password, login=login, name=name, min_length=min_length)
    if refusal:
        return refusal
    return "Strong." if len(password) >= min_length + 6 else "Good enough: a longer one is stronger."


@functools.cache
def common_passwords() -> frozenset[str]:
    """The shipped list (data/README.md says where it comes from): read once, by the first chooser."""
    raw = files("davportal.services").joinpath("data", "common-passwords.txt.gz").read_bytes()
    return frozenset(gzip.decompress(raw).decode("utf-8").split("\n")) - {""}


def _letters(text: str) -> str:
    # "Alice2024!" is the login "alice" with a number and a sign: one of the first guesses.
    return re.sub(r"[\W\d_]", "", text).lower()


def hash_secret(secret: str) -> str:
    """argon2 of a generated secret (an app password, a recovery code): no length rule to apply."""
    return _hasher.hash(secret)


def verify(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or UNKNOWN_LOGIN_HASH, password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False
