"""The Imports, Runs and Quarantine pages through Streamlit's AppTest (same process, same store)."""

from __future__ import annotations

import dataclasses
import re
import tempfile
from concurrent.futures import ThreadPoolExecutor

import anyio
import pytest
from streamlit import config as streamlit_config
from streamlit.testing.v1 import AppTest

from salesboard.store import open_store, set_current_store

CSV = b"source_key,sold_at,quantity,unit_price,sku\na,2024-01-01,2,5,NEW-1\nb,2024-01-02,0,5,NEW-2\n"


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


@pytest.fixture
def upload_tmp(tmp_path, monkeypatch):
    """Where the page may put uploads: checked empty after each run."""
    folder = tmp_path / "uploads"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def test_upload_preview_import_and_summary(store, upload_tmp):
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
    assert at.warning[1].value == ("Warning: 1 unknown product created from the file's SKUs; set "
                                   'unknown_products = "reject" in the mapping to quarantine such rows instead.')
    assert store.query("SELECT sku FROM products") == [("NEW-1",)]
    assert list(upload_tmp.iterdir()) == []  # the upload lived for one script run only
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


@pytest.mark.parametrize(("name", "content", "why"), [
    ("old.xlsx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(512),  # an .xls renamed
     re.escape("this is an old binary Excel file (.xls); save it as .xlsx or CSV and import that")),
    ("empty.csv", b"", re.escape("empty.csv: the file is empty")),
    ("noise.csv", bytes(range(256)) * 8, re.escape("noise.csv: cannot read as CSV (") + ".+"),
])
def test_unreadable_upload_is_rejected_and_leaves_only_an_audit_entry(store, upload_tmp, name, content, why):
    at = AppTest.from_function(_imports_page, default_timeout=60).run()
    at.file_uploader(key="import_file").set_value((name, content, "text/csv")).run()
    assert not at.exception
    (shown,) = [e.value for e in at.error]
    assert re.fullmatch(why, shown) and "salesboard-upload-" not in shown
    at.run()  # a rerun (any click) neither audits again nor leaves a file
    assert store.query("SELECT action, target, success, detail->>'rejected' FROM audit_log") == [
        ("import.upload", name, False, shown)]
    assert list(upload_tmp.iterdir()) == []
    for table in ("sales", "sync_runs", "quarantine", "products"):
        assert store.query_one(f"SELECT count(*) FROM {table}")[0] == 0


def test_serve_sets_streamlits_upload_cap_from_the_setting(settings, monkeypatch):
    from salesboard import server

    for name, value in {"DB": str(settings.db), "ENV": "test", "MAX_UPLOAD_MB": "300",
                        "SCHEDULER_ENABLED": "false"}.items():
        monkeypatch.setenv(f"SALESBOARD_{name}", value)
    monkeypatch.setattr(server, "configure_logging", lambda _settings: None)
    before = streamlit_config.get_option("server.maxUploadSize")

    async def cap_while_serving():
        async with server.lifespan(None):
            return streamlit_config.get_option("server.maxUploadSize")

    try:
        # In a thread of its own: earlier tests (browser, AppTest) may leave an event loop in this one.
        with ThreadPoolExecutor(1) as pool:
            cap = pool.submit(anyio.run, cap_while_serving).result()
        assert cap == 600  # twice ours: a file up to 600 MB meets our audited check
    finally:
        streamlit_config.set_option("server.maxUploadSize", before)


def test_each_mapping_tried_on_a_refused_file_is_audited_once(store, upload_tmp):
    at = AppTest.from_function(_imports_page, default_timeout=60).run()
    at.file_uploader(key="import_file").set_value(("xy.csv", b"x,y\n1,2\n", "text/csv")).run()
    at.selectbox(key="import_mapping").set_value("canonical").run()
    at.run()
    assert [why.split(";")[0] for (why,) in store.query("SELECT detail->>'rejected' FROM audit_log ORDER BY seq")] == [
        "no built-in mapping fits the columns x, y",
        "mapping canonical needs column(s) 'source_key', 'sold_at', 'quantity' that the file lacks"]
    assert list(upload_tmp.iterdir()) == []
