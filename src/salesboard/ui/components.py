"""Small pieces every page shares: role guard, money formatting, the 'data as of' line."""

from __future__ import annotations

from datetime import datetime

import streamlit as st

from ..analytics.freshness import data_as_of
from ..auth.roles import Principal
from ..clock import utcnow
from ..store import Store


def require(principal: Principal, *roles: str) -> None:
    """Server-side page guard: stops the script for anyone without one of the roles."""
    if principal.role not in roles:
        st.error("You do not have access to this page.")
        st.stop()


def money(value, currency: str) -> str:
    if value is None:
        return "–"
    return f"{currency} {float(value):,.2f}"


def _ago(ts: datetime) -> str:
    delta = utcnow() - ts
    minutes = int(delta.total_seconds() // 60)
    if minutes < 1:
        return "just now"
    if minutes < 60:
        return f"{minutes} min ago"
    if minutes < 48 * 60:
        return f"{minutes // 60} h ago"
    return f"{minutes // 1440} days ago"


def freshness_caption(store: Store) -> None:
    info = data_as_of(store)
    ts = info["last_load_at"] or info["changed_at"]
    if ts is None:
        st.caption("No data loaded yet.")
        return
    st.caption(f"Data as of {ts:%Y-%m-%d %H:%M} UTC ({_ago(ts)})")
