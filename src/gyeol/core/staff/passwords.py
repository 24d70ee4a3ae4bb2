"""Passwords (argon2id through argon2-cffi) and one-time recovery codes."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from gyeol.core.errors import DomainError

MIN_LENGTH = 10
MAX_LENGTH = 200
_hasher = PasswordHasher()
# Verified against when the account does not exist, so that a wrong e-mail costs what a wrong password does.
_DUMMY = _hasher.hash(secrets.token_urlsafe(16))


def checked(password: str) -> str:
    if not MIN_LENGTH <= len(password) <= MAX_LENGTH or not password.isprintable():
        raise DomainError("validation", "WEAK_PASSWORD",
                          f"A password is {MIN_LENGTH} to {MAX_LENGTH} printable characters.")
    return password


def hashed(password: str) -> str:
    return _hasher.hash(checked(password))


def verify(stored: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored or _DUMMY, password[:MAX_LENGTH]) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def recovery_codes(count: int = 10) -> list[str]:
    """Codes shown once: ten groups of 5+5 lowercase letters and digits."""
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    return ["-".join("".join(secrets.choice(alphabet) for _ in range(5)) for _ in range(2)) for _ in range(count)]


def code_hash(code: str) -> str:
    # The codes are random and long enough that a plain digest cannot be searched.
    return hashlib.sha256(code.strip().lower().encode()).hexdigest()


def matching_code(hashes: list[str], code: str) -> str | None:
    given = code_hash(code)
    return next((h for h in hashes if hmac.compare_digest(h, given)), None)
