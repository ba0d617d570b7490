"""argon2id hashing (OWASP parameters) and the password policy."""

from __future__ import annotations

import re
import string

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from ..errors import ValidationError
from .common_passwords import WORDS

# OWASP Password Storage Cheat Sheet: argon2id, m=19 MiB, t=2, p=1.
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)

MIN_LENGTH = 10
MAX_LENGTH = 128
MIN_DISTINCT = 5
SITE_NAME = "salesboard"
# What check_policy asks for, for the forms that set a password.
HINT = (f"At least {MIN_LENGTH} characters; not a common password or word with digits added, not your username, "
        "not a keyboard run or repeated characters.")
# Runs of adjacent letters, digits or keys (QWERTY, QWERTZ, AZERTY rows and columns); read both ways.
_SEQUENCES = ("abcdefghijklmnopqrstuvwxyz", "01234567890", "qwertyuiop", "qwertzuiop", "azertyuiop", "asdfghjkl",
              "qsdfghjklm", "zxcvbnm", "yxcvbnm", "wxcvbn", "1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik9ol0p", "qazwsxedcrfvtgbyhnujmikolp")
_DECORATION = string.digits + string.punctuation + string.whitespace
_LEET = str.maketrans("4@8(3610$5+7!|", "aabcegiossttil")
_TOO_COMMON = "Password too common: it is one of the most-used passwords or words; use several unrelated words instead."
_DECORATED = ("Password too easy to guess: it is a common password or word with digits or symbols added; "
              "use several unrelated words instead.")
_SEQUENCE = "Password too easy to guess: it is a run of adjacent keys, letters or digits; use several unrelated words instead."
_FEW_CHARACTERS = f"Password too repetitive: use at least {MIN_DISTINCT} different characters."
_REPEATED = "Password too repetitive: do not repeat the same group of characters."

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
    lowered = password.lower()
    for name, what in ((username.lower(), "your username"), (SITE_NAME, f"the site's name {SITE_NAME!r}")):
        if name and (name in lowered or name in lowered.translate(_LEET)):
            raise ValidationError(f"Password contains {what}: leave it out.")
    if len(set(lowered)) < MIN_DISTINCT:
        raise ValidationError(_FEW_CHARACTERS)
    problem = _weakness(lowered, _TOO_COMMON)
    for stem in _stems(lowered):
        problem = problem or _weakness(stem, _DECORATED)
    if problem:
        raise ValidationError(problem)


def _weakness(text: str, common_message: str) -> str | None:
    """Why `text` (the password or its stem) is easy to guess, or None."""
    if text in WORDS:
        return common_message
    if _is_sequence(text):
        return _SEQUENCE
    if re.fullmatch(r"(.+?)\1+", text, re.DOTALL):
        return _REPEATED
    return None


def _is_sequence(text: str) -> bool:
    return len(text) >= 4 and any(text in seq or text in seq[::-1] for seq in _SEQUENCES)


def _stems(lowered: str) -> list[str]:
    """What is left of the password once digits and symbols around it are taken off, also with leetspeak undone.

    'P@ssw0rd2024!' -> 'p@ssw0rd' -> 'password'; '$ummer1!' keeps its '$' in one stem -> 'summer';
    'abc123!!!' -> 'abc123' (only symbols off); 'hello world!' -> 'helloworld' (separators out).
    """
    plain = lowered.strip(_DECORATION)
    keep_leet = lowered.strip(_DECORATION.translate(str.maketrans("", "", "@$")))
    candidates = (plain, plain.translate(_LEET), keep_leet.translate(_LEET), lowered.strip(string.punctuation + " "),
                  re.sub(r"[\s._-]+", "", plain))
    return [c for c in dict.fromkeys(candidates) if c and c != lowered]  # a fixed order: a fixed message
