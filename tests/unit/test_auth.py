"""Accounts, login throttling, sessions, audit: every outcome and its audit entry."""

from datetime import datetime, timedelta

import pytest

from salesboard.auth import accounts, audit, sessions
from salesboard.auth.common_passwords import WORDS
from salesboard.auth.passwords import check_policy
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
    ("dana", "password123", "Password too common: it is one of the most-used passwords or words; use several"),
    ("dana", "dana-is-great-123", "Password contains your username: leave it out."),
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


TOO_COMMON = "Password too common: it is one of the most-used passwords or words; use several unrelated words instead."
DECORATED = ("Password too easy to guess: it is a common password or word with digits or symbols added; "
             "use several unrelated words instead.")
SEQUENCE = "Password too easy to guess: it is a run of adjacent keys, letters or digits; use several unrelated words instead."


@pytest.mark.parametrize("password,message", [
    ("password1", "Password too short: use at least 10 characters."),
    ("x" * 129, "Password too long: use at most 128 characters."),
    ("password1234", TOO_COMMON),
    ("manchester", TOO_COMMON),
    ("1qaz2wsx3edc4rfv", TOO_COMMON),
    ("Password2024!", DECORATED),
    ("P@ssw0rd2024", DECORATED),
    ("$ummer2024!", DECORATED),
    ("l3tm31n2024", DECORATED),
    ("iloveyou!!2024", DECORATED),
    ("Hello World 1", DECORATED),
    ("abcdefghij12", SEQUENCE),
    ("zyxwvutsrqpo", SEQUENCE),
    ("aaaaaaaaaaaa", "Password too repetitive: use at least 5 different characters."),
    ("abcdeabcde", "Password too repetitive: do not repeat the same group of characters."),
    ("D4na-rocks-2024", "Password contains your username: leave it out."),
    ("my-Salesboard-pw", "Password contains the site's name 'salesboard': leave it out."),
])
def test_weak_password_messages(password, message):
    with pytest.raises(ValidationError) as exc:
        check_policy(password, "dana")
    assert str(exc.value) == message


@pytest.mark.parametrize("password", [GOOD, "Tr0ub4dor&3x", "blue-cat-sky-9", "horse battery staple", "9 lives of Ma"])
def test_strong_passwords_accepted(password):
    check_policy(password, "dana")


def test_common_password_list_is_bundled():
    assert len(WORDS) > 5000 and {"password", "iloveyou", "sunshine", "trustno1"} <= WORDS


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


T0 = datetime(2026, 3, 1, 12, 0, 0)


@pytest.fixture
def login(tmp_path, monkeypatch):
    """Sign-ins at chosen times (accounts' clock injected) on a store whose lockout comes late (10 failures).

    login(username, password, seconds after T0) -> 'ok', 'refused' (password checked) or 'throttled' (refused unchecked).
    """
    from salesboard.config import Settings
    from salesboard.store import open_store

    store = open_store(Settings(db=tmp_path / "t.duckdb", env="test", lockout_threshold=10))
    state = {"now": T0, "checks": 0}
    monkeypatch.setattr(accounts, "utcnow", lambda: state["now"])
    real_verify = accounts.verify_password

    def counting_verify(password_hash, password):
        state["checks"] += 1
        return real_verify(password_hash, password)

    monkeypatch.setattr(accounts, "verify_password", counting_verify)

    def attempt(username, password, at_seconds):
        state["now"], checks = T0 + timedelta(seconds=at_seconds), state["checks"]
        try:
            accounts.authenticate(store, username, password)
        except AuthError as exc:
            assert str(exc) == accounts.LOGIN_FAILED
            return "refused" if state["checks"] > checks else "throttled"
        return "ok"

    attempt.store, attempt.state = store, state
    yield attempt
    store.close()


def failure_reasons(store):
    return [r[0] for r in store.query("SELECT detail->>'reason' FROM audit_log WHERE action = 'login.failure' ORDER BY seq")]


# (password, seconds after t0): three failures, then waits of 1 s, 2 s, 4 s between checked attempts
SCHEDULE = [("wrong-pass-1", 0), ("wrong-pass-2", 0), ("wrong-pass-3", 0), (GOOD, 0.999), ("wrong-pass-4", 1),
            (GOOD, 2.999), ("wrong-pass-5", 3), (GOOD, 6.999), (GOOD, 7)]
OUTCOMES = ["refused"] * 3 + ["throttled", "refused", "throttled", "refused", "throttled"]


def test_throttle_spaces_out_attempts_after_three_failures(login):
    accounts.register(login.store, "dana", GOOD)
    assert [login("dana", pw, t) for pw, t in SCHEDULE[:-1]] == OUTCOMES
    # throttled attempts are audited like failures, but neither checked nor counted towards the lockout
    assert failure_reasons(login.store) == ["wrong password"] * 3 + ["throttled", "wrong password"] * 2 + ["throttled"]
    assert login.state["checks"] == 5
    assert login.store.query_one("SELECT failed_logins FROM users WHERE username = 'dana'")[0] == 5
    assert login("dana", *SCHEDULE[-1]) == "ok"
    # a success clears the count: the next failure is checked at once
    assert [login("dana", "wrong-pass-6", 7), login("dana", GOOD, 7)] == ["refused", "ok"]


def test_throttle_treats_unknown_names_the_same(login):
    assert [login("nobody", pw, t) for pw, t in SCHEDULE] == OUTCOMES + ["refused"]
    assert failure_reasons(login.store) == ["unknown user"] * 3 + ["throttled", "unknown user"] * 3
    assert login("nobody", GOOD, 7.5) == "throttled"  # the 6th failure asks for 8 s
    assert login("someone-else", GOOD, 7.5) == "refused"  # another name is not slowed down by it


def test_throttle_delay_doubles_up_to_a_cap_and_blocks_parallel_attempts():
    from salesboard.auth.accounts import LoginThrottle

    assert [LoginThrottle.delay(n).total_seconds() for n in (3, 4, 5, 6, 12, 13, 40)] == [1, 2, 4, 8, 512, 900, 900]
    t = LoginThrottle()
    now = datetime(2026, 3, 1)
    # four attempts arriving together: an admitted attempt counts as failed until it succeeds
    assert [t.admit(("db", "dana"), now) for _ in range(4)] == [True, True, True, False]
    t.clear(("db", "dana"))
    assert t.admit(("db", "dana"), now) is True


def test_admin_reactivation_lifts_the_throttle(login):
    accounts.register(login.store, "dana", GOOD)
    assert [login("dana", "wrong-pass-x", 0) for _ in range(3)] == ["refused"] * 3
    assert login("dana", GOOD, 0.5) == "throttled"
    accounts.set_active(login.store, LOCAL_ADMIN, "dana", True)
    assert login("dana", GOOD, 0.5) == "ok"


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
