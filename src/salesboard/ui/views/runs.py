"""Run history page (managers and admins): the sync_runs ledger, newest first."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ...ingest import runs


def render(principal, store) -> None:
    st.title("Import runs")
    if not principal.can_manage:
        st.error("Run history is for managers and administrators.")
        return
    rows = runs.list_runs(store, limit=st.number_input("Show the last", 10, 1000, 100, step=50, key="runs_limit"))
    if not rows:
        st.info("No runs yet. Import a file on the Imports page or with `salesboard import FILE`.")
        return
    frame = pd.DataFrame(rows)
    frame["file"] = frame["detail"].map(lambda d: d.get("file"))
    frame["mapping"] = frame["detail"].map(lambda d: d.get("mapping"))
    # What an operator looks for first (did it load, how much) comes first; timings and errors after.
    first = ["run_id", "status", "rows_read", "rows_inserted", "rows_updated", "rows_unchanged", "rows_quarantined",
             "source", "mapping", "file", "started_at", "duration_s"]
    st.dataframe(frame[first + [c for c in frame.columns if c not in first and c != "detail"]], hide_index=True)
    failed = frame[frame["status"] == "failed"]
    if len(failed):
        st.warning(f"{len(failed)} failed run(s) shown; a failed run wrote nothing.")
