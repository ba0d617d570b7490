"""Upload a file on the Imports page in a real browser: preview, import, summary, then the run in Run history."""

import re

import pytest
from playwright.sync_api import expect

from .conftest import login

pytestmark = pytest.mark.e2e

ROWS = """source_key,sold_at,sku,product_name,quantity,unit_price,currency
web-1,2024-03-01,E2E-1,Browser Widget,2,10.50,USD
web-2,2024-03-02,E2E-1,Browser Widget,1,10.50,USD
web-3,2024-03-03,E2E-2,Browser Gadget,0,99.00,USD
"""


def test_manager_uploads_previews_and_imports(server, page, tmp_path):
    upload = tmp_path / "browser-sales.csv"
    upload.write_text(ROWS, encoding="utf-8")
    login(page, server.url, "manager", "manager-demo-pass")
    nav = page.get_by_test_id("stSidebarNav")
    nav.get_by_text("Imports", exact=True).click()
    expect(page.get_by_role("heading", name="Imports")).to_be_visible()

    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(upload))
    # The preview: mapping detected from the columns, the bad row counted.
    expect(page.get_by_text(re.compile(r"Mapping canonical, 3 rows \(csv, utf-8\)\. 1 of the first 3 rows have errors"))) \
        .to_be_visible(timeout=30_000)
    expect(page.get_by_test_id("stDataFrame")).to_be_visible()

    page.get_by_role("button", name="Import", exact=True).click()
    summary = page.get_by_test_id("stAlert").filter(has_text="quarantined 1.")
    expect(summary).to_contain_text(re.compile(
        r"Run import-\d{14}-[0-9a-f]{6}: read 3, loaded 2 \(inserted 2, updated 0, unchanged 0\), quarantined 1\."),
        timeout=60_000)
    run_id = re.search(r"import-\d{14}-[0-9a-f]{6}", summary.inner_text()).group(0)
    metric = page.get_by_test_id("stMetric")
    expect(metric.filter(has_text="Rows read").get_by_test_id("stMetricValue")).to_have_text("3")
    expect(metric.filter(has_text="Loaded").get_by_test_id("stMetricValue")).to_have_text("2")
    expect(metric.filter(has_text="Quarantined").get_by_test_id("stMetricValue")).to_have_text("1")

    # Run history lists the run with its counts. The grid is drawn on a canvas; its cells are also in an
    # accessible table inside the canvas (not "visible" to Playwright, hence CSS locators and textContent).
    nav.get_by_text("Run history", exact=True).click()
    expect(page.get_by_role("heading", name="Import runs")).to_be_visible()
    table = page.get_by_test_id("stDataFrame").locator("table[role=grid]")
    row = table.locator("tr").filter(has_text=run_id)
    expect(row).to_have_count(1, timeout=30_000)
    header = [h.strip() for h in table.locator("th").all_text_contents()]
    record = dict(zip(header, (c.strip() for c in row.locator("td").all_text_contents())))
    # (Only the columns in view are in that table: the counts come first on the page.)
    assert {k: record.get(k) for k in ("run_id", "status", "rows_read", "rows_inserted", "rows_updated",
                                       "rows_unchanged", "rows_quarantined")} == {
        "run_id": run_id, "status": "partial", "rows_read": "3", "rows_inserted": "2", "rows_updated": "0",
        "rows_unchanged": "0", "rows_quarantined": "1"}

    # The quarantined row is on the Quarantine page with its reason.
    nav.get_by_text("Quarantine", exact=True).click()
    expect(page.get_by_text(f"1 open row(s) in {run_id}")).to_be_visible()
    cells = page.get_by_test_id("stDataFrame").locator("table[role=grid] td")
    expect(cells.filter(has_text="quantity: 0 is not allowed")).to_have_count(1, timeout=30_000)
