"""The admin Backups page in a real browser: back up now, see it verified, verify again."""

import pytest
from playwright.sync_api import expect

from .conftest import login

pytestmark = pytest.mark.e2e


def test_admin_backs_up_and_verifies_from_the_page(server, page):
    login(page, server.url, "admin", "admin-demo-pass")
    nav = page.get_by_test_id("stSidebarNav")
    nav.get_by_text("Backups", exact=True).click()
    expect(page.get_by_role("heading", name="Backups")).to_be_visible()
    expect(page.get_by_text("No backup yet: this database is new.")).to_be_visible()
    page.get_by_role("button", name="Back up now").click()
    expect(page.get_by_text("created and verified")).to_be_visible(timeout=60_000)
    name = page.get_by_text("created and verified").inner_text().split()[0]
    assert name.startswith("dashboard_backup_")
    assert (server.db.parent / "backups" / f"{name}.duckdb").exists()
    expect(page.get_by_test_id("stMetric").filter(has_text="Fresh").get_by_test_id("stMetricValue")).to_have_text("yes")
    page.get_by_role("button", name="Verify now").click()
    expect(page.get_by_text(f"{name}: good")).to_be_visible(timeout=60_000)


@pytest.mark.parametrize("role", ["manager", "user"])
def test_backups_and_jobs_hidden_from_non_admins(server, page, role):
    login(page, server.url, role, f"{role}-demo-pass")
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    nav = page.get_by_test_id("stSidebarNav")
    expect(nav.get_by_text("Backups", exact=True)).to_have_count(0)
    expect(nav.get_by_text("Jobs", exact=True)).to_have_count(0)
    expect(nav.get_by_text("Imports", exact=True)).to_have_count(1 if role == "manager" else 0)
