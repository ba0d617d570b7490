"""Admin page: scheduled jobs, their next and last runs, history, and "run now"."""

from __future__ import annotations

from datetime import datetime

import streamlit as st

from ...ops import jobs
from ...ops.scheduler import current_scheduler


def _when(iso: str | None) -> str:
    """'2026-11-29 02:00 UTC' (or UTC+01:00...) from APScheduler's ISO time, in the schedule's time zone."""
    if not iso:
        return "-"
    t = datetime.fromisoformat(iso)
    return t.strftime("%Y-%m-%d %H:%M ") + (t.tzname() or "")


def render(principal, store) -> None:
    st.title("Jobs")
    if not principal.is_admin:
        st.error("Only administrators can see scheduled jobs.")
        return
    sched = current_scheduler()
    nexts = sched.next_runs() if sched else {}
    if sched is None:
        st.warning("The scheduler is not running in this process (SALESBOARD_SCHEDULER_ENABLED=false, or no server).")
    last = jobs.last_runs(store)
    st.caption(f"Times in UTC; schedules in {store.settings.scheduler_timezone}.")
    for job in jobs.JOBS.values():
        run = last.get(job.name) or {}
        with st.container(border=True):
            left, mid, right = st.columns([3, 3, 1])
            left.markdown(f"**{job.name}**  \n{job.description}")
            mid.markdown(f"cron `{job.cron_for(store.settings)}`  \nnext: {_when(nexts.get(job.name))}  \n"
                         + (f"last: {str(run['started_at'])[:19].replace('T', ' ')} **{run['status']}**" if run.get("started_at")
                            else "last: never"))
            if run.get("error"):
                mid.caption(run["error"])
            if right.button("Run now", key=f"run-{job.name}"):
                with st.spinner(f"Running {job.name}..."):
                    result = jobs.run_job(store, job.name, trigger="manual", actor=principal.username)
                (st.success if result["status"] == "success" else st.error)(
                    f"{job.name}: {result['status']}" + (f": {result['error']}" if result["error"] else ""))
    st.subheader("History")
    rows = jobs.history(store, limit=100)
    if rows:
        st.dataframe([{k: r[k] for k in ("id", "job", "trigger", "started_at", "finished_at", "status", "attempts",
                                         "error")} for r in rows], hide_index=True, width="stretch")
    else:
        st.info("No job has run yet.")
