"""argon2id hashing (OWASP parameters) and the password policy."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from ..errors import ValidationError

# OWASP Password Storage Cheat Sheet: argon2id, m=19 MiB, t=2, p=1.
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)

MIN_LENGTH = 10
MAX_LENGTH = 128
_COMMON = {"password", "password1", "password123", "1234567890", "qwertyuiop", "letmein123", "welcome123"}

# A real hash to verify against when the user is unknown, so both paths cost the same time.
_DUMMY_HASH = _hasher.hash("salesboard-timing-equalizer")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def check_policy(password: str, username: str = "") -> None:
    """Raise ValidationError saying what to change if the password is too weak."""
    if len(password) < MIN_LENGTH:
        raise ValidationError(f"Password too short: use at least {MIN_LENGTH} characters.")
    if len(password) > MAX_LENGTH:
        raise ValidationError(f"Password too long: use at most {MAX_LENGTH} characters.")
    if password.lower() in _COMMON or (username and username.lower() in password.lower()):
        raise ValidationError("Password too easy to guess: do not use a common word or your username.")
    if len(set(password)) < 5:
        raise ValidationError("Password too repetitive: use at least 5 different characters.")
