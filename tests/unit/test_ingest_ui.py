"""The Imports, Runs and Quarantine pages through Streamlit's AppTest (same process, same store)."""

from __future__ import annotations

import dataclasses

from streamlit.testing.v1 import AppTest

from salesboard.store import open_store, set_current_store

CSV = b"source_key,sold_at,quantity,unit_price\na,2024-01-01,2,5\nb,2024-01-02,0,5\n"


def _imports_page():
    from salesboard.auth.roles import Principal
    from salesboard.store import current_store
    from salesboard.ui.views import imports

    imports.render(Principal(2, "manager", "manager"), current_store())


def _other_pages():
    from salesboard.auth.roles import Principal
    from salesboard.store import current_store
    from salesboard.ui.views import quarantine, runs

    who = Principal(1, "admin", "admin")
    runs.render(who, current_store())
    quarantine.render(who, current_store())


def test_upload_preview_import_and_summary(store):
    at = AppTest.from_function(_imports_page, default_timeout=60).run()
    at.file_uploader(key="import_file").set_value(("sales.csv", CSV, "text/csv")).run()
    assert not at.exception
    text = " ".join(m.value for m in at.markdown)
    assert "Mapping **canonical**, 2 rows" in text and "1 of the first 2 rows have errors" in text
    assert at.dataframe[0].value["errors"].tolist() == [
        "", "quantity: 0 is not allowed (a sale line moves at least one unit)"]
    at.button(key="import_go").click().run()
    assert not at.exception
    assert at.warning[0].value.startswith("Run import-") and "loaded 1 " in at.warning[0].value
    assert store.query_one("SELECT count(*) FROM sales")[0] == 1
    assert store.query_one("SELECT count(*) FROM quarantine")[0] == 1
    assert store.query("SELECT action, actor, target, success FROM audit_log WHERE action LIKE 'import.%' ORDER BY seq") \
        == [("import.upload", "manager", "sales.csv", True), ("import.run", "manager", "file", True)]

    pages = AppTest.from_function(_other_pages, default_timeout=60).run()
    assert not pages.exception
    assert pages.dataframe[0].value["status"].tolist() == ["partial"]
    assert pages.dataframe[1].value["reasons"].tolist() == [
        "quantity: 0 is not allowed (a sale line moves at least one unit)"]
    pages.button(key="quarantine_discard").click().run()
    assert pages.success[0].value == "Discarded 1 row(s)."


def test_too_large_upload_leaves_only_an_audit_entry(settings):
    small = open_store(dataclasses.replace(settings, max_upload_mb=0))
    set_current_store(small)
    try:
        at = AppTest.from_function(_imports_page, default_timeout=60).run()
        at.file_uploader(key="import_file").set_value(("big.csv", CSV, "text/csv")).run()
        assert "the limit is 0 MB" in at.error[0].value
        assert small.query("SELECT action, success, detail->>'rejected' FROM audit_log") == [
            ("import.upload", False, "larger than 0 MB")]
        for table in ("sales", "sync_runs", "quarantine", "products"):
            assert small.query_one(f"SELECT count(*) FROM {table}")[0] == 0
    finally:
        set_current_store(None)
        small.close()
