"""Local accounts: registration, login with throttling and lockout, and user administration.

Every outcome a user can cause is audited; a failed action writes nothing else.
"""

from __future__ import annotations

import re
import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta

from ..clock import utcnow
from ..errors import AuthError, NotFound, PermissionDenied, ValidationError
from ..store import Store
from . import audit
from .passwords import check_policy, hash_password, verify_password
from .roles import ROLES, Principal

USERNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{2,31}$")
LOGIN_FAILED = "Invalid username or password."
USERNAME_TAKEN = "Username {!r} is already taken; choose another."  # usernames are unique ignoring case
THROTTLE_AFTER = 3            # consecutive failures before sign-in attempts are spaced out
THROTTLE_MAX_SECONDS = 900    # the delay doubles per further failure, up to this


def check_username(username: str) -> str:
    username = (username or "").strip()
    if not USERNAME_RE.match(username):
        raise ValidationError(
            "Username must be 3-32 characters: letters, digits, '.', '_' or '-', starting with a letter or digit."
        )
    return username


@dataclass
class UserRow:
    id: int
    username: str
    display_name: str | None
    email: str | None
    role: str
    team: str | None
    region: str | None
    is_active: bool
    is_demo: bool
    locked_until: datetime | None
    last_login_at: datetime | None
    created_at: datetime

    def as_dict(self) -> dict:
        return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in self.__dict__.items()}

    def principal(self) -> Principal:
        return Principal(self.id, self.username, self.role, self.team, self.region, self.display_name)


_USER_COLS = "id, username, display_name, email, role, team, region, is_active, is_demo, locked_until, last_login_at, created_at"


def get_user(store: Store, username: str) -> UserRow:
    row = store.query_one(f"SELECT {_USER_COLS} FROM users WHERE username = ?", [username])
    if row is None:
        raise NotFound(f"No user named {username!r}; `salesboard users list` shows who exists.")
    return UserRow(*row)


def get_user_by_id(store: Store, user_id: int) -> UserRow | None:
    row = store.query_one(f"SELECT {_USER_COLS} FROM users WHERE id = ?", [user_id])
    return UserRow(*row) if row else None


def list_users(store: Store) -> list[UserRow]:
    return [UserRow(*r) for r in store.query(f"SELECT {_USER_COLS} FROM users ORDER BY id")]


def _fail_audit(store: Store, action: str, actor: str | None, target: str | None, reason: str, ip: str | None = None):
    with store.write() as cur:
        audit.record(cur, action, actor=actor, target=target, success=False, detail={"reason": reason}, ip=ip)


# -- login ---------------------------------------------------------------
class LoginThrottle:
    """Consecutive failed sign-ins per (database, username tried), in this process's memory.

    Every name gets the same bookkeeping, whether or not an account has it, so being throttled
    says nothing about which accounts exist. After THROTTLE_AFTER failures in a row, an attempt
    sooner than 2^(n - THROTTLE_AFTER) seconds after the previous one is refused unchecked.
    An attempt counts as failed from the moment it is let through until it succeeds, so parallel
    attempts cannot all slip through one window. The stored lockout (users.locked_until) is the
    limit that survives a restart.
    """

    MAX_NAMES = 10_000  # a spray of made-up names evicts the longest-idle entries instead of growing memory

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._attempts: OrderedDict[tuple[str, str], tuple[int, datetime]] = OrderedDict()

    def admit(self, key: tuple[str, str], now: datetime) -> bool:
        """Whether an attempt may be checked now; an admitted one is counted (as failed until `clear`)."""
        with self._lock:
            count, last = self._attempts.get(key, (0, now))
            if count >= THROTTLE_AFTER and now < last + self.delay(count):
                return False
            self._attempts.pop(key, None)
            self._attempts[key] = (count + 1, now)  # appended last: the dict stays ordered by last attempt
            while len(self._attempts) > self.MAX_NAMES:
                self._attempts.popitem(last=False)
            return True

    @staticmethod
    def delay(failures: int) -> timedelta:
        return timedelta(seconds=min(2 ** (failures - THROTTLE_AFTER), THROTTLE_MAX_SECONDS))

    def clear(self, key: tuple[str, str]) -> None:
        with self._lock:
            self._attempts.pop(key, None)


_throttle = LoginThrottle()


def _throttle_key(store: Store, username: str) -> tuple[str, str]:
    return str(store.path), username


def authenticate(store: Store, username: str, password: str, ip: str | None = None) -> UserRow:
    """Check credentials with per-account throttling and lockout. Raises AuthError with one generic message."""
    username = (username or "").strip()[:64]
    if not username or not password or len(password) > 1024:
        _fail_audit(store, "login.failure", username or None, username or None, "empty or oversized input", ip)
        raise AuthError(LOGIN_FAILED)
    key, now = _throttle_key(store, username), utcnow()
    if not _throttle.admit(key, now):
        # Refused before the account is even looked up: the same quick answer for every name.
        _fail_audit(store, "login.failure", username, username, "throttled", ip)
        raise AuthError(LOGIN_FAILED)
    user = _check_credentials(store, username, password, ip, now)  # a failure stays counted
    _throttle.clear(key)
    return user


def _check_credentials(store: Store, username: str, password: str, ip: str | None, now: datetime) -> UserRow:
    s = store.settings
    row = store.query_one(
        "SELECT id, password_hash, is_active, is_demo, failed_logins, locked_until FROM users WHERE username = ?",
        [username],
    )
    if row is None:
        verify_password(None, password)  # same cost as a real check
        _fail_audit(store, "login.failure", username, username, "unknown user", ip)
        raise AuthError(LOGIN_FAILED)
    user_id, pw_hash, active, is_demo, failed, locked_until = row
    if locked_until is not None and locked_until > now:
        verify_password(None, password)
        _fail_audit(store, "login.failure", username, username, "account locked", ip)
        raise AuthError(LOGIN_FAILED)
    ok = verify_password(pw_hash, password)
    reason = None
    if not ok:
        reason = "wrong password"
    elif not active:
        reason = "account deactivated"
    elif is_demo and s.production:
        reason = "demo account refused in production"
    if reason:
        with store.write() as cur:
            failed = (failed or 0) + 1 if reason == "wrong password" else failed
            lock = now + timedelta(minutes=s.lockout_minutes) if failed >= s.lockout_threshold else None
            cur.execute(
                "UPDATE users SET failed_logins = ?, locked_until = ? WHERE id = ?",
                [0 if lock else failed, lock, user_id],
            )
            audit.record(cur, "login.failure", actor=username, target=username, success=False,
                         detail={"reason": reason}, ip=ip)
            if lock:
                audit.record(cur, "login.lockout", actor=username, target=username, success=False,
                             detail={"until": lock.isoformat(), "failures": failed}, ip=ip)
        raise AuthError(LOGIN_FAILED)
    with store.write() as cur:
        cur.execute(
            "UPDATE users SET failed_logins = 0, locked_until = NULL, last_login_at = ? WHERE id = ?", [now, user_id]
        )
        audit.record(cur, "login.success", actor=username, target=username, ip=ip)
    return get_user(store, username)


# -- registration and administration -----------------------------------------
def register(store: Store, username: str, password: str, *, display_name: str | None = None,
             email: str | None = None, ip: str | None = None) -> UserRow:
    """Self-registration: always role `user`. Refused when SALESBOARD_ALLOW_REGISTRATION=false."""
    if not store.settings.allow_registration:
        _fail_audit(store, "register", username, username, "registration disabled", ip)
        raise PermissionDenied("Self-registration is switched off here; ask an administrator for an account.")
    try:
        user = _create(store, username, password, "user", display_name=display_name, email=email,
                       actor=None, action="register", ip=ip)
    except ValidationError as exc:
        _fail_audit(store, "register", None, (username or "")[:64], str(exc), ip)
        raise
    return user


def add_user(store: Store, actor: Principal, username: str, password: str, role: str = "user", *,
             display_name: str | None = None, email: str | None = None, team: str | None = None,
             region: str | None = None) -> UserRow:
    _require_admin(actor)
    return _create(store, username, password, role, display_name=display_name, email=email, team=team,
                   region=region, actor=actor.username, action="user.add")


def _check_text(value: str | None, field: str, limit: int = 200) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if len(value) > limit:
        raise ValidationError(f"{field} is too long: at most {limit} characters.")
    return value or None


def _create(store: Store, username: str, password: str, role: str, *, display_name=None, email=None,
            team=None, region=None, actor=None, action="user.add", ip=None) -> UserRow:
    username = check_username(username)
    if role not in ROLES:
        raise ValidationError(f"Unknown role {role!r}; use one of: {', '.join(ROLES)}.")
    check_policy(password or "", username)
    display_name = _check_text(display_name, "Display name")
    email = _check_text(email, "Email")
    if email and not re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", email):
        raise ValidationError("Email address looks wrong; use the form name@example.com.")
    if store.query_one("SELECT 1 FROM users WHERE lower(username) = lower(?)", [username]):
        raise ValidationError(USERNAME_TAKEN.format(username))
    pw_hash = hash_password(password)
    with store.write() as cur:
        cur.execute(
            "INSERT INTO users (username, display_name, email, role, team, region, password_hash, password_changed_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [username, display_name, email, role, _check_text(team, "Team"), _check_text(region, "Region"),
             pw_hash, utcnow()],
        )
        audit.record(cur, action, actor=actor or username, target=username, detail={"role": role}, ip=ip)
    return get_user(store, username)


def _require_admin(actor: Principal) -> None:
    if not actor.is_admin:
        raise PermissionDenied("Only an admin can manage users.")


def set_role(store: Store, actor: Principal, username: str, role: str) -> UserRow:
    _require_admin(actor)
    if role not in ROLES:
        raise ValidationError(f"Unknown role {role!r}; use one of: {', '.join(ROLES)}.")
    user = get_user(store, username)
    if user.role == "admin" and role != "admin":
        _guard_last_admin(store, user)
    with store.write() as cur:
        cur.execute("UPDATE users SET role = ? WHERE id = ?", [role, user.id])
        audit.record(cur, "user.role_change", actor=actor.username, target=username,
                     detail={"from": user.role, "to": role})
    return get_user(store, username)


def _guard_last_admin(store: Store, user: UserRow) -> None:
    n = store.query_one("SELECT count(*) FROM users WHERE role = 'admin' AND is_active AND id <> ?", [user.id])[0]
    if n == 0:
        raise ValidationError(f"{user.username} is the last active admin; make another admin first.")


def set_active(store: Store, actor: Principal, username: str, active: bool) -> UserRow:
    _require_admin(actor)
    user = get_user(store, username)
    if not active and user.role == "admin":
        _guard_last_admin(store, user)
    with store.write() as cur:
        cur.execute("UPDATE users SET is_active = ?, failed_logins = 0, locked_until = NULL WHERE id = ?",
                    [active, user.id])
        if not active:
            cur.execute("DELETE FROM sessions WHERE user_id = ?", [user.id])
        audit.record(cur, "user.activate" if active else "user.deactivate", actor=actor.username, target=username)
    _throttle.clear(_throttle_key(store, username))  # reactivating also lifts the sign-in delay
    return get_user(store, username)


def reset_password(store: Store, actor: Principal, username: str, new_password: str | None = None) -> tuple[UserRow, str]:
    """Admin reset. Generates a strong password when none is given; ends the user's sessions."""
    _require_admin(actor)
    user = get_user(store, username)
    password = new_password or _generate_password(username)
    check_policy(password, username)
    _store_password(store, user, password, actor.username, "user.password_reset")
    return get_user(store, username), password


def _generate_password(username: str) -> str:
    """16 random URL-safe characters; drawn again in the rare case the policy refuses them (e.g. they hold the name)."""
    while True:
        password = secrets.token_urlsafe(12)
        try:
            check_policy(password, username)
        except ValidationError:
            continue
        return password


def change_password(store: Store, user: Principal, current: str, new: str) -> None:
    row = store.query_one("SELECT password_hash FROM users WHERE id = ?", [user.user_id])
    if row is None or not verify_password(row[0], current):
        _fail_audit(store, "user.password_change", user.username, user.username, "wrong current password")
        raise AuthError("Current password is wrong.")
    check_policy(new, user.username)
    _store_password(store, get_user(store, user.username), new, user.username, "user.password_change")


def _store_password(store: Store, user: UserRow, password: str, actor: str, action: str) -> None:
    pw_hash = hash_password(password)
    with store.write() as cur:
        cur.execute(
            "UPDATE users SET password_hash = ?, password_changed_at = ?, failed_logins = 0, locked_until = NULL "
            "WHERE id = ?", [pw_hash, utcnow(), user.id])
        cur.execute("DELETE FROM sessions WHERE user_id = ?", [user.id])  # password change ends sessions
        audit.record(cur, action, actor=actor, target=user.username)
    _throttle.clear(_throttle_key(store, user.username))
