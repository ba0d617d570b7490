"""Admin: list users, change a role, deactivate, reactivate, reset a password."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ...auth import accounts
from ...auth.roles import ROLES, Principal
from ...errors import SalesboardError
from ...store import Store
from ..components import require


def render(principal: Principal, store: Store) -> None:
    require(principal, "admin")
    st.title("Users")
    users = accounts.list_users(store)
    st.dataframe(
        pd.DataFrame([{k: u.as_dict()[k] for k in ("id", "username", "display_name", "role", "team", "region",
                                                   "is_active", "last_login_at")} for u in users]),
        hide_index=True, width="stretch",
    )
    names = [u.username for u in users]
    st.subheader("Change a user")
    target = st.selectbox("User", names, key="adm_user")
    user = next(u for u in users if u.username == target)
    c1, c2, c3 = st.columns(3)
    with c1:
        role = st.selectbox("Role", ROLES, index=ROLES.index(user.role), key="adm_role")
        if st.button("Save role", key="adm_save_role", disabled=role == user.role):
            _act(lambda: accounts.set_role(store, principal, target, role), f"{target} is now {role}.")
    with c2:
        if user.is_active:
            if st.button("Deactivate", key="adm_deactivate"):
                _act(lambda: accounts.set_active(store, principal, target, False), f"{target} deactivated.")
        elif st.button("Reactivate", key="adm_reactivate"):
            _act(lambda: accounts.set_active(store, principal, target, True), f"{target} reactivated.")
    with c3:
        if st.button("Reset password", key="adm_reset"):
            try:
                _, password = accounts.reset_password(store, principal, target)
            except SalesboardError as exc:
                st.error(str(exc))
            else:
                st.session_state["adm_flash"] = ("success", f"New password for {target}: {password} "
                                                 "(shown once; their sessions were ended)")
                st.rerun()
    st.subheader("Add a user")
    with st.form("adm_add", clear_on_submit=True):
        a1, a2, a3 = st.columns(3)
        username = a1.text_input("Username", max_chars=32)
        new_role = a2.selectbox("Role", ROLES, index=2)
        team = a3.text_input("Team (optional)", max_chars=100)
        password = st.text_input("Initial password (at least 10 characters)", type="password", max_chars=128)
        if st.form_submit_button("Add user"):
            _act(lambda: accounts.add_user(store, principal, username, password, new_role, team=team or None),
                 f"User {username} added.")
    flash = st.session_state.pop("adm_flash", None)
    if flash:
        getattr(st, flash[0])(flash[1])


def _act(fn, message: str) -> None:
    try:
        fn()
    except SalesboardError as exc:
        st.session_state["adm_flash"] = ("error", str(exc))
    else:
        st.session_state["adm_flash"] = ("success", message)
    st.rerun()
