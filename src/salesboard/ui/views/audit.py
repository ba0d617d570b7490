"""Admin: the audit log, newest first, with a check of its hash chain."""

from __future__ import annotations

import streamlit as st

from ...auth import audit
from ...auth.roles import Principal
from ...store import Store
from ..components import require

LIMITS = (100, 500, 2000)


def render(principal: Principal, store: Store) -> None:
    require(principal, "admin")
    st.title("Audit log")
    actions = [r[0] for r in store.query("SELECT DISTINCT action FROM audit_log ORDER BY 1")]
    c1, c2, c3 = st.columns([2, 2, 1])
    chosen = c1.multiselect("Action", actions, key="audit_actions")
    actor = c2.text_input("Actor or target contains", max_chars=64, key="audit_actor").strip()
    limit = c3.selectbox("Rows", LIMITS, key="audit_limit")
    where, params = ["TRUE"], []
    if chosen:
        where.append("list_contains(?::VARCHAR[], action)")
        params.append(chosen)
    if actor:
        where.append("(actor ILIKE ? OR target ILIKE ?)")
        params += [f"%{actor}%"] * 2
    rows = store.cursor().execute(
        "SELECT seq, logged_at, actor, action, target, success, detail::VARCHAR AS detail, ip FROM audit_log "
        f"WHERE {' AND '.join(where)} ORDER BY seq DESC LIMIT ?", [*params, limit]).df()
    st.dataframe(rows, hide_index=True, width="stretch")
    if st.button("Verify the hash chain", key="audit_verify"):
        ok, bad = audit.verify_chain(store.cursor())
        if ok:
            st.success("The audit log is intact: every entry matches its hash.")
        else:
            st.error(f"The audit log was altered at entry {bad}: it and every later entry no longer match.")
