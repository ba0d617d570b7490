"""Admin page: backups with their verification state, the last recovery drill, back up / verify now."""

from __future__ import annotations

import streamlit as st

from ...backup import BackupError
from ...backup.operations import list_backups, make_backup, status, verify_named


def render(principal, store) -> None:
    st.title("Backups")
    if not principal.is_admin:
        st.error("Only administrators can see backups.")
        return
    if st.button("Back up now", type="primary"):  # before the figures, so they include the new backup
        with st.spinner("Backing up and verifying..."):
            try:
                r = make_backup(store, actor=principal.username)
                st.success(f"{r['name']} created and verified" + (" and uploaded" if r["uploaded"] else ""))
            except BackupError as exc:
                st.error(str(exc))
    info = status(store)
    c1, c2, c3 = st.columns(3)
    c1.metric("Newest verified backup", info["newest_verified"] or "none",
              f"{info['age_hours']} h old" if info["age_hours"] is not None else None, delta_color="off")
    fresh = "first one due" if info["first_backup_pending"] else "yes" if info["fresh"] else "NO"
    c2.metric("Fresh", fresh, f"limit {info['max_age_hours']} h", delta_color="off")
    drill = info["last_drill"]
    c3.metric("Last DR drill", drill["status"] if drill else "never",
              f"{drill['rto_seconds']:.1f} s, {drill['source']}" if drill else None, delta_color="off")
    if info["first_backup_pending"]:
        st.info(f"No backup yet: this database is new. The daily-backup job makes the first one, "
                f"or run one now; it must exist within {info['max_age_hours']} h of creation.")
    elif not info["fresh"]:
        st.warning("No recent verified backup. Run one now, and check the daily-backup job on the Jobs page.")
    try:
        rows = list_backups(store)
    except BackupError as exc:  # S3 unreachable: still show the local ones
        st.error(str(exc))
        rows = list_backups(store, include_s3=False)
    if not rows:
        if not info["first_backup_pending"]:  # else the note above already says so
            st.info("No backups yet.")
        return
    st.dataframe([{"name": r["name"], "created (UTC)": r["created_at"], "size MB": round((r["size"] or 0) / 2**20, 1),
                   "local": r["local"] or "-", "S3": r["s3"] or "-", "last verified": r["verified_at"],
                   "verify error": r["verify_error"]} for r in reversed(rows)], hide_index=True, width="stretch")
    local = [r["name"] for r in reversed(rows) if r["local"] in ("good", "bad")]
    if local:
        choice = st.selectbox("Verify a backup", local)
        if st.button("Verify now"):
            with st.spinner(f"Restoring {choice} into scratch and comparing..."):
                r = verify_named(store, choice)
            (st.success if r["ok"] else st.error)(f"{choice}: " + ("good" if r["ok"] else "; ".join(r["errors"])))
    st.caption("Restores are done with `salesboard restore` (see docs/restore-runbook.md).")
