"""Salesboard's Streamlit entry script: sign-in gate, role-based navigation, shared sidebar."""

from __future__ import annotations

import streamlit as st

from salesboard.store import current_store
from salesboard.ui import session
from salesboard.ui.components import freshness_caption
from salesboard.ui.pages import pages_for

st.set_page_config(page_title="Salesboard", page_icon="📊", layout="wide")

store = current_store()
principal = session.current_principal(store)
if principal is None:
    session.login_page(store)
    st.stop()

session.hand_off_cookie()
nav = st.navigation(pages_for(principal, store))
with st.sidebar:
    st.markdown(f"**{principal.display_name or principal.username}** · {principal.role}")
    if st.button("Sign out", key="logout"):
        session.logout(store, principal)
    freshness_caption(store)
nav.run()
