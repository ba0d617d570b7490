"""Log in as each role in a real browser and check what each one sees and cannot see."""

import pytest
from playwright.sync_api import expect

from .conftest import login

PASSWORDS = {"admin": "admin-demo-pass", "manager": "manager-demo-pass", "user": "user-demo-pass"}

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("role", ["admin", "manager", "user"])
def test_role_sees_its_pages_and_numbers(server, page, role):
    login(page, server.url, role, PASSWORDS[role])
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    nav = page.get_by_test_id("stSidebarNav")
    expect(nav.get_by_text("Sales explorer")).to_be_visible()
    if role == "admin":
        expect(nav.get_by_text("Users")).to_be_visible()
    else:
        expect(nav.get_by_text("Users")).to_have_count(0)
    rep_filter = page.get_by_text("Sales rep", exact=True)
    expect(rep_filter).to_have_count(0 if role == "user" else 1)
    revenue = page.get_by_test_id("stMetric").filter(has_text="Revenue").get_by_test_id("stMetricValue")
    expect(revenue).to_have_text(f"USD {float(server.expected_revenue[role]):,.2f}")


def test_session_survives_reload_and_ends_on_logout(server, page):
    login(page, server.url, "manager", PASSWORDS["manager"])
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    page.wait_for_timeout(500)  # the cookie hand-off is a fetch after the first authenticated render
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["salesboard_session"]["httpOnly"] is True
    assert cookies["salesboard_session"]["sameSite"] == "Strict"
    page.reload()
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("You are signed out.")).to_be_visible()
    page.reload()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    expect(page.get_by_role("heading", name="Overview")).to_have_count(0)


def test_wrong_password_generic_message(server, page):
    login(page, server.url, "admin", "not-the-password")
    expect(page.get_by_text("Invalid username or password.")).to_be_visible()
    login(page, server.url, "nobody-here", "not-the-password")
    expect(page.get_by_text("Invalid username or password.")).to_be_visible()


def test_user_cannot_open_admin_page_by_url(server, page):
    login(page, server.url, "user", PASSWORDS["user"])
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    page.goto(server.url + "/users")
    page.wait_for_timeout(2000)
    expect(page.get_by_role("heading", name="Users")).to_have_count(0)
    expect(page.get_by_text("Change a user")).to_have_count(0)


def test_explorer_export_in_browser(server, page):
    login(page, server.url, "user", PASSWORDS["user"])
    page.get_by_test_id("stSidebarNav").get_by_text("Sales explorer").click()
    expect(page.get_by_role("heading", name="Sales explorer")).to_be_visible()
    page.get_by_role("button", name="Prepare CSV export").click()
    with page.expect_download() as dl:
        page.get_by_role("button", name="Download CSV").click()
    content = open(dl.value.path(), encoding="utf-8").read().splitlines()
    assert content[0].startswith("sold_at,order_id,product")
    assert all(",Uma User," in line for line in content[1:])


def test_region_filter_changes_the_figures(server, page):
    login(page, server.url, "admin", PASSWORDS["admin"])
    revenue = page.get_by_test_id("stMetric").filter(has_text="Revenue").get_by_test_id("stMetricValue")
    expect(revenue).to_have_text(f"USD {float(server.expected_revenue['admin']):,.2f}")
    sidebar = page.get_by_test_id("stSidebar")
    sidebar.get_by_test_id("stMultiSelect").filter(has_text="Region").click()
    page.get_by_role("option", name="East", exact=True).click()
    page.keyboard.press("Escape")
    expect(revenue).to_have_text(f"USD {float(server.expected_revenue['admin East']):,.2f}")
