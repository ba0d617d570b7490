"""Server-side sessions with idle and absolute timeouts.

The browser holds a random token in an HttpOnly cookie; the database holds
only its sha256. A login made inside the Streamlit page is handed to the
cookie through a one-time ticket redeemed by the /auth/session route.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from ..clock import utcnow
from ..store import Store
from . import audit
from .accounts import get_user_by_id
from .roles import Principal

COOKIE_NAME = "salesboard_session"
TICKET_TTL = timedelta(seconds=60)
_TOUCH_EVERY = timedelta(seconds=60)



def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_session(store: Store, user_id: int, ip: str | None = None, user_agent: str | None = None) -> str:
    token = secrets.token_urlsafe(32)
    now = utcnow()
    expires = now + timedelta(hours=store.settings.session_absolute_hours)
    with store.write() as cur:
        cur.execute(
            "INSERT INTO sessions VALUES (?, ?, ?, ?, ?, ?, ?)",
            [_digest(token), user_id, now, now, expires, ip, (user_agent or "")[:300]],
        )
    return token


def resolve_session(store: Store, token: str | None) -> Principal | None:
    """The session's user, or None when the token is unknown, expired (idle or absolute) or the user inactive."""
    if not isinstance(token, str) or not token or len(token) > 200:
        return None
    digest = _digest(token)
    row = store.query_one("SELECT user_id, last_seen_at, expires_at FROM sessions WHERE token_hash = ?", [digest])
    if row is None:
        return None
    user_id, last_seen, expires = row
    now = utcnow()
    idle_limit = timedelta(minutes=store.settings.session_idle_minutes)
    if now >= expires or now - last_seen >= idle_limit:
        with store.write() as cur:
            cur.execute("DELETE FROM sessions WHERE token_hash = ?", [digest])
        return None
    user = get_user_by_id(store, user_id)
    if user is None or not user.is_active:
        return None
    if now - last_seen >= _TOUCH_EVERY:  # avoid a write on every rerun
        with store.write() as cur:
            cur.execute("UPDATE sessions SET last_seen_at = ? WHERE token_hash = ?", [now, digest])
    return user.principal()


def end_session(store: Store, token: str | None, actor: str | None = None, ip: str | None = None) -> None:
    if not token:
        return
    with store.write() as cur:
        cur.execute("DELETE FROM sessions WHERE token_hash = ?", [_digest(token)])
        if actor:
            audit.record(cur, "logout", actor=actor, target=actor, ip=ip)


def purge_expired(store: Store) -> int:
    now = utcnow()
    idle = now - timedelta(minutes=store.settings.session_idle_minutes)
    with store.write() as cur:
        n = cur.execute(
            "DELETE FROM sessions WHERE expires_at <= ? OR last_seen_at <= ? RETURNING 1", [now, idle]
        ).fetchall()
        cur.execute("DELETE FROM login_tickets WHERE expires_at <= ?", [now])
    return len(n)


def issue_ticket(store: Store, token: str) -> str:
    """A one-time, 60-second ticket the browser exchanges for the HttpOnly session cookie."""
    ticket = secrets.token_urlsafe(24)
    with store.write() as cur:
        cur.execute("INSERT INTO login_tickets VALUES (?, ?, ?)", [_digest(ticket), token, utcnow() + TICKET_TTL])
    return ticket


def redeem_ticket(store: Store, ticket: str | None) -> str | None:
    if not isinstance(ticket, str) or not ticket or len(ticket) > 200:
        return None
    with store.write() as cur:
        row = cur.execute(
            "DELETE FROM login_tickets WHERE ticket_hash = ? RETURNING token, expires_at", [_digest(ticket)]
        ).fetchone()
    if row is None or row[1] <= utcnow():
        return None
    return row[0]
