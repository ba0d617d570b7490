"""My account: who I am, what I can see, change my password."""

from __future__ import annotations

import streamlit as st

from ...auth import accounts, passwords
from ...auth.roles import Principal
from ...errors import SalesboardError
from ...store import Store

SCOPES = {
    "admin": "all sales",
    "manager": "your team's and region's sales (all sales if you have neither)",
    "user": "your own sales",
}


def render(principal: Principal, store: Store) -> None:
    st.title("My account")
    st.write(f"Signed in as **{principal.username}** ({principal.role}). You see {SCOPES[principal.role]}.")
    with st.form("change_password", clear_on_submit=True):
        current = st.text_input("Current password", type="password", max_chars=128)
        new = st.text_input("New password (at least 10 characters)", type="password", max_chars=128,
                            help=passwords.HINT)
        repeat = st.text_input("Repeat new password", type="password", max_chars=128)
        submitted = st.form_submit_button("Change password")
    if submitted:
        if new != repeat:
            st.error("The new passwords differ; type the same password twice.")
            return
        try:
            accounts.change_password(store, principal, current, new)
        except SalesboardError as exc:
            st.error(str(exc))
        else:
            st.success("Password changed. All your sessions have ended; sign in again.")
            st.session_state.clear()
