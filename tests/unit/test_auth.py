"""Accounts, login throttling, sessions, audit: every outcome and its audit entry."""

from datetime import datetime, timedelta

import pytest

from salesboard.auth import accounts, audit, sessions
from salesboard.auth.roles import LOCAL_ADMIN
from salesboard.errors import AuthError, PermissionDenied, ValidationError

GOOD = "correct-horse-42"


def actions(store):
    return [r[0] for r in store.query("SELECT action || ':' || success::VARCHAR FROM audit_log ORDER BY seq")]


def table_counts(store):
    return {t: store.query_one(f"SELECT count(*) FROM {t}")[0] for t in ("users", "sessions", "sales")}


def test_register_then_login(store):
    user = accounts.register(store, "dana", GOOD, display_name="Dana")
    assert user.role == "user" and user.is_active
    logged = accounts.authenticate(store, "dana", GOOD)
    assert logged.id == user.id
    assert actions(store) == ["register:true", "login.success:true"]


@pytest.mark.parametrize("username,password,message", [
    ("dana", "short", "Password too short: use at least 10 characters."),
    ("dana", "password123", "Password too easy to guess: do not use a common word or your username."),
    ("dana", "dana-is-great-123", "Password too easy to guess: do not use a common word or your username."),
    ("dana", "aaaaaaaaaaaa", "Password too repetitive: use at least 5 different characters."),
    ("d", GOOD, "Username must be 3-32 characters"),
    ("x" * 40, GOOD, "Username must be 3-32 characters"),
    ("robert'); DROP TABLE users;--", GOOD, "Username must be 3-32 characters"),
])
def test_bad_registration_writes_only_audit(store, username, password, message):
    before = table_counts(store)
    with pytest.raises(ValidationError) as exc:
        accounts.register(store, username, password)
    assert str(exc.value).startswith(message)
    assert table_counts(store) == before
    assert actions(store) == ["register:false"]


def test_duplicate_registration_case_insensitive(store):
    accounts.register(store, "dana", GOOD)
    with pytest.raises(ValidationError, match="Username 'Dana' is already taken; choose another."):
        accounts.register(store, "Dana", GOOD)
    assert store.query_one("SELECT count(*) FROM users")[0] == 1


def test_registration_can_be_switched_off(tmp_path):
    from salesboard.config import Settings
    from salesboard.store import open_store

    s = open_store(Settings(db=tmp_path / "x.duckdb", allow_registration=False))
    with pytest.raises(PermissionDenied, match="Self-registration is switched off"):
        accounts.register(s, "dana", GOOD)
    assert s.query_one("SELECT count(*) FROM users")[0] == 0
    s.close()


def test_same_message_for_unknown_user_and_wrong_password(store):
    accounts.register(store, "dana", GOOD)
    with pytest.raises(AuthError) as wrong:
        accounts.authenticate(store, "dana", "not-the-password")
    with pytest.raises(AuthError) as unknown:
        accounts.authenticate(store, "nobody", "not-the-password")
    assert str(wrong.value) == str(unknown.value) == accounts.LOGIN_FAILED
    reasons = [r[0] for r in store.query(
        "SELECT detail->>'reason' FROM audit_log WHERE action = 'login.failure' ORDER BY seq")]
    assert reasons == ["wrong password", "unknown user"]


def test_lockout_after_threshold_then_correct_password_refused(store):
    # conftest sets lockout_threshold=3
    accounts.register(store, "dana", GOOD)
    for _ in range(3):
        with pytest.raises(AuthError):
            accounts.authenticate(store, "dana", "wrong-password-x")
    with pytest.raises(AuthError, match="Invalid username or password."):
        accounts.authenticate(store, "dana", GOOD)
    assert "login.lockout:false" in actions(store)
    locked = store.query_one("SELECT locked_until FROM users WHERE username = 'dana'")[0]
    assert locked > datetime.utcnow() + timedelta(minutes=14)
    # an admin reactivation clears the lock
    accounts.set_active(store, LOCAL_ADMIN, "dana", True)
    assert accounts.authenticate(store, "dana", GOOD).username == "dana"


def test_deactivated_user_cannot_log_in_and_loses_sessions(store):
    u = accounts.register(store, "dana", GOOD)
    token = sessions.create_session(store, u.id)
    accounts.set_active(store, LOCAL_ADMIN, "dana", False)
    assert sessions.resolve_session(store, token) is None
    with pytest.raises(AuthError):
        accounts.authenticate(store, "dana", GOOD)


def test_session_idle_and_absolute_timeouts(store):
    u = accounts.register(store, "dana", GOOD)
    token = sessions.create_session(store, u.id)
    assert sessions.resolve_session(store, token).username == "dana"
    assert store.query_one("SELECT token_hash FROM sessions")[0] != token  # only the hash is stored
    with store.write() as cur:  # idle for 31 minutes
        cur.execute("UPDATE sessions SET last_seen_at = last_seen_at - INTERVAL 31 MINUTE")
    assert sessions.resolve_session(store, token) is None
    token2 = sessions.create_session(store, u.id)
    with store.write() as cur:  # absolute expiry passed although recently active
        cur.execute("UPDATE sessions SET expires_at = now()::TIMESTAMP - INTERVAL 1 SECOND")
    assert sessions.resolve_session(store, token2) is None


def test_password_change_ends_sessions(store):
    u = accounts.register(store, "dana", GOOD)
    token = sessions.create_session(store, u.id)
    with pytest.raises(AuthError, match="Current password is wrong."):
        accounts.change_password(store, u.principal(), "nope-nope-nope", "another-good-pass-9")
    assert sessions.resolve_session(store, token) is not None
    accounts.change_password(store, u.principal(), GOOD, "another-good-pass-9")
    assert sessions.resolve_session(store, token) is None
    assert accounts.authenticate(store, "dana", "another-good-pass-9")


def test_logout_ends_session(store):
    u = accounts.register(store, "dana", GOOD)
    token = sessions.create_session(store, u.id)
    sessions.end_session(store, token, actor="dana")
    assert sessions.resolve_session(store, token) is None
    assert actions(store)[-1] == "logout:true"


def test_ticket_is_one_time(store):
    u = accounts.register(store, "dana", GOOD)
    token = sessions.create_session(store, u.id)
    ticket = sessions.issue_ticket(store, token)
    assert sessions.redeem_ticket(store, ticket) == token
    assert sessions.redeem_ticket(store, ticket) is None
    assert sessions.redeem_ticket(store, "forged") is None


def test_role_change_and_last_admin_guard(store):
    admin = accounts.add_user(store, LOCAL_ADMIN, "boss", GOOD, "admin")
    accounts.add_user(store, LOCAL_ADMIN, "dana", GOOD, "user")
    with pytest.raises(ValidationError, match="boss is the last active admin; make another admin first."):
        accounts.set_role(store, admin.principal(), "boss", "user")
    accounts.set_role(store, admin.principal(), "dana", "manager")
    assert accounts.get_user(store, "dana").role == "manager"
    with pytest.raises(PermissionDenied):
        accounts.set_role(store, accounts.get_user(store, "dana").principal(), "boss", "user")
    detail = store.query_one("SELECT detail FROM audit_log WHERE action = 'user.role_change'")[0]
    assert '"to": "manager"' in detail


def test_reset_password_generates_strong_one(store):
    accounts.add_user(store, LOCAL_ADMIN, "dana", GOOD)
    _, password = accounts.reset_password(store, LOCAL_ADMIN, "dana")
    assert len(password) >= 16
    assert accounts.authenticate(store, "dana", password)


def test_demo_accounts_refused_in_production(tmp_path):
    from salesboard.config import Settings
    from salesboard.store import demo, open_store

    s = open_store(Settings(db=tmp_path / "p.duckdb"))
    demo.seed(s, n_sales=10, days=5)
    assert accounts.authenticate(s, "admin", "admin-demo-pass").role == "admin"
    s.close()
    s = open_store(Settings(db=tmp_path / "p.duckdb", env="production"))
    with pytest.raises(AuthError):
        accounts.authenticate(s, "admin", "admin-demo-pass")
    s.close()


def test_audit_chain_detects_tampering(store):
    accounts.register(store, "dana", GOOD)
    accounts.authenticate(store, "dana", GOOD)
    cur = store.cursor()
    assert audit.verify_chain(cur) == (True, None)
    with store.write() as w:
        w.execute("UPDATE audit_log SET actor = 'mallory' WHERE seq = 1")
    assert audit.verify_chain(cur) == (False, 1)
