"""Quarantine page (managers and admins): reasons, download, replay or discard quarantined rows."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ...errors import SalesboardError
from ...ingest import pipeline, quarantine


def render(principal, store) -> None:
    st.title("Quarantine")
    if not principal.can_manage:
        st.error("The quarantine is for managers and administrators.")
        return
    run_ids = [r[0] for r in store.query("SELECT DISTINCT run_id FROM quarantine WHERE status = 'open' ORDER BY 1 DESC")]
    if not run_ids:
        st.success("No open quarantined rows.")
        return
    run_id = st.selectbox("Run", run_ids, key="quarantine_run")
    data = quarantine.list_rows(store, run_id=run_id, limit=1000)
    st.write(f"{data['total']:,} open row(s) in {run_id}" + (" (first 1,000 shown)" if data["total"] > 1000 else ""))
    frame = pd.DataFrame(data["rows"])
    frame["reasons"] = frame["reasons"].map(lambda r: "; ".join(r))
    st.dataframe(frame[["id", "row_number", "source_key", "reasons", "raw"]], hide_index=True)
    csv, n = quarantine.export_csv(store, run_id)
    st.download_button(f"Download all {n:,} rows (CSV)", csv, file_name=f"{run_id}-quarantine.csv",
                       mime="text/csv", key="quarantine_download")
    c1, c2 = st.columns(2)
    if c1.button("Replay with the current mapping", type="primary", key="quarantine_replay"):
        try:
            r = pipeline.replay(store, principal, run_id=run_id)
            st.success(pipeline.describe_replay(r).capitalize() + ".")
        except SalesboardError as exc:
            st.error(str(exc))
    if c2.button("Discard these rows", key="quarantine_discard"):
        r = quarantine.discard(store, principal, run_id=run_id)
        st.success(f"Discarded {r['discarded']:,} row(s).")
