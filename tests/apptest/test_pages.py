"""Every page under each role, through Streamlit's AppTest (same process, real store)."""

from datetime import date, timedelta
from pathlib import Path

import pytest
from conftest import DEMO_SCOPE_SQL
from streamlit.testing.v1 import AppTest

from salesboard.auth import accounts, sessions

APP = str(Path(__file__).parents[2] / "src" / "salesboard" / "ui" / "app.py")


def view_script(module: str, username: str) -> None:
    import importlib

    from salesboard.auth.accounts import get_user
    from salesboard.store import current_store

    store = current_store()
    view = importlib.import_module(f"salesboard.ui.views.{module}")
    view.render(get_user(store, username).principal(), store)


def run_view(module: str, username: str) -> AppTest:
    at = AppTest.from_function(view_script, args=(module, username), default_timeout=30)
    return at.run()


def texts(at: AppTest) -> str:
    parts = [e.value for e in at.markdown] + [e.value for e in at.caption] + [e.value for e in at.error]
    parts += [e.value for e in at.info] + [e.value for e in at.title] + [e.value for e in at.success]
    return "\n".join(map(str, parts))


def expected_revenue(store, username, days=30):
    start = date.today() - timedelta(days=days - 1)
    rls = DEMO_SCOPE_SQL[username]
    return store.query_one(
        f"SELECT sum(net_amount_base) FROM sales WHERE status = 'completed' AND sold_at >= ? AND {rls}", [start])[0]


@pytest.mark.parametrize("username", ["admin", "manager", "user"])
def test_overview_each_role(demo_store, username):
    at = run_view("overview", username)
    assert not at.exception
    revenue = next(m for m in at.metric if m.label == "Revenue")
    assert revenue.value == f"USD {float(expected_revenue(demo_store, username)):,.2f}"
    labels = [m.label for m in at.metric]
    assert labels == ["Revenue", "Orders", "Units", "Avg order value", "Gross profit", "Active customers"]
    filter_labels = [w.label for w in at.sidebar.multiselect]
    assert ("Sales rep" in filter_labels) == (username != "user")


def test_overview_filter_changes_numbers(demo_store):
    at = run_view("overview", "admin")
    at.sidebar.multiselect(key="f_region").select("East").run()
    east = demo_store.query_one(
        "SELECT sum(net_amount_base) FROM sales WHERE status = 'completed' AND region = 'East' AND sold_at >= ?",
        [date.today() - timedelta(days=29)])[0]
    assert next(m for m in at.metric if m.label == "Revenue").value == f"USD {float(east):,.2f}"


@pytest.mark.parametrize("username", ["admin", "manager", "user"])
def test_explorer_each_role_and_export(demo_store, username):
    at = run_view("explorer", username)
    assert not at.exception
    start = date.today() - timedelta(days=29)
    rls = DEMO_SCOPE_SQL[username]
    n = demo_store.query_one(f"SELECT count(*) FROM sales WHERE sold_at >= ? AND {rls}", [start])[0]
    assert f"{n:,} sale lines · page 1 of" in texts(at)
    at.button(key="x_export").click().run()
    assert f"Export of {n:,} rows is ready." in texts(at)
    assert demo_store.query_one("SELECT count(*) FROM audit_log WHERE action = 'data.export' AND actor = ?",
                                [username])[0] == 1


def test_explorer_export_is_dropped_when_the_query_changes(demo_store):
    def offered(at):
        return [e.proto.label for e in at.get("download_button")] == ["Download CSV"]

    at = run_view("explorer", "admin")
    start = date.today() - timedelta(days=29)
    n_all = demo_store.query_one("SELECT count(*) FROM sales WHERE sold_at >= ?", [start])[0]
    at.button(key="x_export").click().run()
    assert offered(at) and f"Export of {n_all:,} rows is ready." in texts(at)
    at.button(key="x_next").click().run()  # paging shows the same query: the file stays
    assert offered(at)
    changes = [
        lambda: at.text_input(key="x_search").input("Laptop"),
        lambda: at.selectbox(key="x_sort").select("net_amount"),
        lambda: at.toggle(key="x_desc").set_value(False),
        lambda: at.sidebar.multiselect(key="f_region").select("East"),
    ]
    for change in changes:
        change().run()
        assert not offered(at) and "rows is ready" not in texts(at)
        at.button(key="x_export").click().run()
        assert offered(at)
    # the file offered last is the query on screen: East, search "Laptop", cheapest first
    n_east_laptop = demo_store.query_one(
        "SELECT count(*) FROM sales s JOIN products p ON p.id = s.product_id WHERE sold_at >= ? AND region = 'East' "
        "AND p.name ILIKE '%laptop%'", [start])[0]
    assert f"Export of {n_east_laptop:,} rows is ready." in texts(at)
    assert 0 < n_east_laptop < n_all
    assert demo_store.query_one("SELECT count(*) FROM audit_log WHERE action = 'data.export'")[0] == 5


def test_explorer_next_page(demo_store):
    at = run_view("explorer", "admin")
    at.button(key="x_next").click().run()
    assert "page 2 of" in texts(at)


@pytest.mark.parametrize("username", ["manager", "user"])
def test_users_page_is_admin_only(demo_store, username):
    at = run_view("users", username)
    assert "You do not have access to this page." in texts(at)
    assert len(at.dataframe) == 0


def test_admin_changes_role_and_deactivates(demo_store):
    at = run_view("users", "admin")
    at.selectbox(key="adm_user").select("user").run()
    at.selectbox(key="adm_role").select("manager").run()
    at.button(key="adm_save_role").click().run()
    assert "user is now manager." in texts(at)
    assert accounts.get_user(demo_store, "user").role == "manager"
    at.button(key="adm_deactivate").click().run()
    assert accounts.get_user(demo_store, "user").is_active is False


def test_account_page_password_change_errors(demo_store):
    at = run_view("account", "user")
    assert "You see your own sales." in texts(at)
    form = at.text_input
    form[0].input("user-demo-pass")
    form[1].input("short")
    form[2].input("short")
    at.button[0].click().run()
    assert "Password too short" in texts(at)


# -- the entry script: sign-in gate and navigation --------------------------------------------
def test_login_page_wrong_then_right_password(demo_store):
    at = AppTest.from_file(APP, default_timeout=30).run()
    assert not at.exception
    at.text_input[0].input("admin")
    at.text_input[1].input("wrong-password")
    at.button[0].click().run()
    assert "Invalid username or password." in texts(at)
    at.text_input[0].input("admin")
    at.text_input[1].input("admin-demo-pass")
    at.button[0].click().run()
    assert "Ada Admin** · admin" in texts(at) or any("admin" in m.value for m in at.sidebar.markdown)
    assert [m.label for m in at.metric][:1] == ["Revenue"]


def test_registration_form_rejects_weak_and_duplicate(demo_store):
    at = AppTest.from_file(APP, default_timeout=30).run()
    at.text_input(key="reg_username").input("newbie")
    at.text_input(key="reg_password").input("weak")
    at.text_input(key="reg_confirm").input("weak")
    at.button[1].click().run()
    assert "Password too short" in texts(at)
    at.text_input(key="reg_username").input("admin")
    at.text_input(key="reg_password").input("a-strong-pass-77")
    at.text_input(key="reg_confirm").input("a-strong-pass-77")
    at.button[1].click().run()
    assert "Username 'admin' is already taken; choose another." in texts(at)
    at.text_input(key="reg_username").input("newbie")
    at.button[1].click().run()
    assert "Account newbie created." in texts(at)


@pytest.mark.parametrize("username", ["admin", "manager", "user"])
def test_session_token_opens_dashboard(demo_store, username):
    user = accounts.get_user(demo_store, username)
    at = AppTest.from_file(APP, default_timeout=30)
    at.session_state["sb_token"] = sessions.create_session(demo_store, user.id)
    at.run()
    assert not at.exception
    assert any(f"· {username if username != 'user' else 'user'}" in m.value for m in at.sidebar.markdown)
    at.sidebar.button(key="logout").click().run()
    assert "You are signed out." in texts(at)
    assert demo_store.query_one("SELECT count(*) FROM sessions WHERE user_id = ?", [user.id])[0] == 0


def test_audit_page_filters_and_verifies(demo_store):
    accounts.register(demo_store, "dana", "a-strong-pass-77")
    at = run_view("audit", "admin")
    assert not at.exception
    df = at.dataframe[0].value
    assert list(df.action)[:2] == ["register", "demo.seed"]
    at.multiselect(key="audit_actions").select("register").run()
    assert list(at.dataframe[0].value.target) == ["dana"]
    at.button(key="audit_verify").click().run()
    assert "The audit log is intact" in texts(at)
    with demo_store.write() as cur:
        cur.execute("UPDATE audit_log SET actor = 'mallory' WHERE action = 'demo.seed'")
    at.button(key="audit_verify").click().run()
    assert "The audit log was altered at entry 1" in texts(at)


@pytest.mark.parametrize("username", ["manager", "user"])
def test_audit_page_is_admin_only(demo_store, username):
    at = run_view("audit", username)
    assert "You do not have access to this page." in texts(at)
