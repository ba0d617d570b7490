"""Who is using this Streamlit session: login, registration, logout, and the cookie hand-off.

The session token lives server-side; the browser keeps it in an HttpOnly
cookie so a reload stays logged in. Streamlit cannot set cookies, so after
a login the page runs one fetch to POST /auth/session with a one-time
ticket, and that route sets the cookie.
"""

from __future__ import annotations

import json

import streamlit as st

from ..auth import accounts, passwords, sessions
from ..auth.roles import Principal
from ..errors import SalesboardError
from ..store import Store

TOKEN_KEY = "sb_token"
TICKET_KEY = "sb_ticket"
LOGGED_OUT_KEY = "sb_logged_out"


def _client_ip() -> str | None:
    try:
        ip = st.context.ip_address
    except Exception:  # noqa: BLE001 - not available in every runtime (AppTest)
        return None
    return ip if isinstance(ip, str) else None


def _cookie_token() -> str | None:
    if st.session_state.get(LOGGED_OUT_KEY):
        return None  # the cookie may linger until the clearing fetch has run
    try:
        token = st.context.cookies.get(sessions.COOKIE_NAME)
    except Exception:  # noqa: BLE001 - no cookies outside a browser session (AppTest)
        return None
    return token if isinstance(token, str) else None


def current_principal(store: Store) -> Principal | None:
    token = st.session_state.get(TOKEN_KEY) or _cookie_token()
    principal = sessions.resolve_session(store, token)
    if principal is None:
        st.session_state.pop(TOKEN_KEY, None)
    else:
        st.session_state[TOKEN_KEY] = token
    return principal


def hand_off_cookie() -> None:
    """After a login, ask the browser (once) to store the session cookie via the /auth/session route."""
    ticket = st.session_state.pop(TICKET_KEY, None)
    if ticket:
        st.html(
            # The ticket goes in the body, not the URL, so it never reaches an access log.
            f"<script>fetch('/auth/session', {{method: 'POST', credentials: 'same-origin',"
            f" body: {json.dumps(ticket)}}});</script>",
            unsafe_allow_javascript=True,
        )


def _clear_cookie() -> None:
    st.html("<script>fetch('/auth/logout', {method: 'POST', credentials: 'same-origin'});</script>",
            unsafe_allow_javascript=True)


def logout(store: Store, principal: Principal) -> None:
    sessions.end_session(store, st.session_state.pop(TOKEN_KEY, None), actor=principal.username, ip=_client_ip())
    st.session_state[LOGGED_OUT_KEY] = True
    st.rerun()


def login_page(store: Store) -> None:
    st.title("Salesboard")
    if st.session_state.get(LOGGED_OUT_KEY):
        _clear_cookie()
        st.info("You are signed out.")
    tabs = ["Sign in"] + (["Create account"] if store.settings.allow_registration else [])
    tab_objs = st.tabs(tabs)
    with tab_objs[0]:
        with st.form("login"):
            username = st.text_input("Username", max_chars=64)
            password = st.text_input("Password", type="password", max_chars=128)
            submitted = st.form_submit_button("Sign in", type="primary")
        if submitted:
            try:
                user = accounts.authenticate(store, username, password, ip=_client_ip())
            except SalesboardError as exc:
                st.error(str(exc))
            else:
                token = sessions.create_session(store, user.id, ip=_client_ip())
                st.session_state[TOKEN_KEY] = token
                st.session_state[TICKET_KEY] = sessions.issue_ticket(store, token)
                st.session_state.pop(LOGGED_OUT_KEY, None)
                st.rerun()
        if store.settings.env != "production":
            st.caption("Demo: admin / admin-demo-pass, manager / manager-demo-pass, user / user-demo-pass")
    if len(tab_objs) > 1:
        with tab_objs[1]:
            _register_form(store)


def _register_form(store: Store) -> None:
    with st.form("register", clear_on_submit=False):
        username = st.text_input("Choose a username", max_chars=32, key="reg_username")
        name = st.text_input("Your name (optional)", max_chars=100, key="reg_name")
        password = st.text_input("Password (at least 10 characters)", type="password", max_chars=128,
                                 key="reg_password", help=passwords.HINT)
        confirm = st.text_input("Repeat password", type="password", max_chars=128, key="reg_confirm")
        submitted = st.form_submit_button("Create account")
    if submitted:
        if password != confirm:
            st.error("The two passwords differ; type the same password twice.")
            return
        try:
            accounts.register(store, username, password, display_name=name or None, ip=_client_ip())
        except SalesboardError as exc:
            st.error(str(exc))
        else:
            st.success(f"Account {username.strip()} created. Sign in on the first tab.")
