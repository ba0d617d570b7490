"""The admin Backups and Jobs pages (Streamlit AppTest): what they show, and their buttons."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest


def _app(db_path: str, role: str):
    import streamlit as st

    from salesboard.auth.roles import Principal
    from salesboard.config import Settings
    from salesboard.store import open_store
    from salesboard.ui.views import backups, jobs

    if "store" not in st.session_state:
        st.session_state.store = open_store(Settings(db=__import__("pathlib").Path(db_path), env="test"))
    principal = Principal(1, "admin" if role == "admin" else "user", role)
    backups.render(principal, st.session_state.store)
    jobs.render(principal, st.session_state.store)


def _run(settings, role="admin") -> AppTest:
    return AppTest.from_function(_app, args=(str(settings.db), role), default_timeout=60).run()


def _close(at):
    at.session_state["store"].close()


def test_pages_show_backups_and_run_jobs(demo_store, settings):
    demo_store.close()  # the page opens the file itself
    at = _run(settings)
    try:
        assert [m.value for m in at.metric] == ["none", "first one due", "never"]
        assert at.info[0].value.startswith("No backup yet: this database is new.")
        assert [i.value for i in at.info][1:] == ["No job has run yet."]  # no second "no backups" note
        [b for b in at.button if b.label == "Back up now"][0].click().run()
        assert at.success[0].value.endswith("created and verified")
        table = at.dataframe[0].value
        assert list(table["local"]) == ["good"] and list(table["S3"]) == ["-"]
        assert at.metric[1].value == "yes"
        [b for b in at.button if b.label == "Verify now"][0].click().run()
        assert any(s.value.endswith(": good") for s in at.success)
        [b for b in at.button if b.key == "run-daily-sync"][0].click().run()
        assert "daily-sync: success" in [s.value for s in at.success]
        history = at.dataframe[1].value
        assert list(history["job"]) == ["daily-sync"] and list(history["status"]) == ["success"]
        assert not at.exception
    finally:
        _close(at)


def test_pages_are_admin_only(store, settings):
    store.close()
    at = _run(settings, role="user")
    try:
        assert [e.value for e in at.error] == ["Only administrators can see backups.",
                                               "Only administrators can see scheduled jobs."]
        assert not at.button and not at.dataframe
    finally:
        _close(at)
