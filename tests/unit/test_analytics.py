"""Dashboard figures against independent computations on the demo fixture, per role."""

import io
from datetime import date, timedelta
from decimal import Decimal

import pandas as pd
import pytest

from salesboard.analytics import explorer
from salesboard.analytics.filters import Filters, preset_range, validate_against
from salesboard.analytics.options import filter_options
from salesboard.analytics.overview import compute_overview, overview
from salesboard.auth.accounts import get_user
from salesboard.errors import ValidationError

TODAY = date.today()


@pytest.fixture
def raw(demo_store):
    """Every sale line with its product and rep team, read plainly for the independent checks."""
    return demo_store.cursor().execute(
        """SELECT s.*, s.sold_at::DATE AS day, p.category, u.team AS rep_team
           FROM sales s LEFT JOIN products p ON p.id = s.product_id LEFT JOIN users u ON u.id = s.rep_id"""
    ).df()


def principal(store, username):
    return get_user(store, username).principal()


def visible(raw, p):
    if p.role == "user":
        return raw[raw.rep_id == p.user_id]
    if p.role == "manager" and p.team:
        return raw[raw.rep_team == p.team]
    return raw


def expected(raw, start, end, **dims):
    rows = raw[(raw.day >= pd.Timestamp(start)) & (raw.day <= pd.Timestamp(end)) & (raw.status == "completed")]
    for col, values in dims.items():
        rows = rows[rows[col].isin(values)]
    return {
        "revenue": Decimal(str(round(sum(rows.net_amount_base), 2))),
        "orders": rows.order_id.nunique(),
        "units": int(rows.quantity.sum()),
        "customers": rows.customer_id.nunique(),
        # None, not 0, when no line in the period has a known cost
        "gross_profit": Decimal(str(round(sum(rows.net_amount_base[rows.cost_base.notna()])
                                          - sum(rows.cost_base.dropna()), 2))) if rows.cost_base.notna().any() else None,
    }


@pytest.mark.parametrize("username", ["admin", "manager", "user"])
@pytest.mark.parametrize("preset", ["7d", "30d", "90d", "last_month", "ytd"])
def test_kpis_match_independent_computation(demo_store, raw, username, preset):
    p = principal(demo_store, username)
    start, end = preset_range(preset, TODAY)
    f = Filters(start, end)
    data = compute_overview(demo_store, p, f)
    mine = visible(raw, p)
    exp, prev = expected(mine, start, end), expected(mine, f.previous().start, f.previous().end)
    for name in exp:
        assert data["kpis"][name].value == exp[name], name
        assert data["kpis"][name].previous == prev[name], name
    if exp["orders"]:
        assert float(data["kpis"]["aov"].value) == pytest.approx(float(exp["revenue"]) / exp["orders"])
    assert sum(data["trend"].revenue) == pytest.approx(float(exp["revenue"]), abs=0.01)
    assert sum(data["trend"].previous_revenue) == pytest.approx(float(prev["revenue"]), abs=0.01)


def test_breakdowns_match_with_a_filter(demo_store, raw):
    p = principal(demo_store, "admin")
    start, end = preset_range("90d", TODAY)
    f = Filters(start, end, regions=("East", "West"), channels=("online",), grain="month")
    data = compute_overview(demo_store, p, f)
    rows = raw[(raw.day >= pd.Timestamp(start)) & (raw.day <= pd.Timestamp(end)) & (raw.status == "completed")
               & raw.region.isin(["East", "West"]) & (raw.channel == "online")]
    by_region = rows.groupby("region").net_amount_base.sum().astype(float).round(2).to_dict()
    assert dict(zip(data["by_region"].region, data["by_region"].revenue.round(2))) == by_region
    by_cat = rows.groupby("category").net_amount_base.sum().astype(float).round(2).to_dict()
    assert dict(zip(data["by_category"].category, data["by_category"].revenue.round(2))) == by_cat
    assert list(data["by_channel"].channel) == ["online"]
    top = rows.groupby("customer_id").net_amount_base.sum().astype(float).sort_values(ascending=False)
    assert data["top_customers"].revenue.iloc[0] == pytest.approx(top.iloc[0])
    assert data["kpis"]["units"].value == rows.quantity.sum()


def test_user_sees_only_own_sales_and_manager_only_team(demo_store, raw):
    start, end = preset_range("90d", TODAY)
    f = Filters(start, end)
    user = principal(demo_store, "user")
    assert list(compute_overview(demo_store, user, f)["by_rep"].rep) == ["Uma User"]
    manager = principal(demo_store, "manager")
    assert sorted(compute_overview(demo_store, manager, f)["by_rep"].rep) == ["Alice Adams", "Uma User"]
    admin = principal(demo_store, "admin")
    assert len(compute_overview(demo_store, admin, f)["by_rep"]) == 4
    # options never offer other reps to a user
    assert [r["name"] for r in filter_options(demo_store, user)["reps"]] == ["Uma User"]
    # a user filtering on someone else's rep id gets nothing of theirs
    bob = get_user(demo_store, "bob").id
    f_bob = Filters(start, end, rep_ids=(bob,))
    assert compute_overview(demo_store, user, f_bob)["kpis"]["revenue"].value == 0


def test_manager_scoped_by_region(demo_store, raw):
    with demo_store.write() as cur:
        cur.execute("UPDATE users SET team = NULL, region = 'East' WHERE username = 'manager'")
    p = principal(demo_store, "manager")
    start, end = preset_range("30d", TODAY)
    data = compute_overview(demo_store, p, Filters(start, end))
    assert list(data["by_region"].region) == ["East"]
    assert data["kpis"]["revenue"].value == expected(raw[raw.region == "East"], start, end)["revenue"]


def test_unknown_filter_values_rejected(demo_store):
    p = principal(demo_store, "admin")
    opts = filter_options(demo_store, p)
    start, end = preset_range("30d", TODAY)
    with pytest.raises(ValidationError, match="Unknown region Atlantis; pick from the list shown in the filter."):
        validate_against(Filters(start, end, regions=("Atlantis",)), opts)
    with pytest.raises(ValidationError, match="Unknown product 999"):
        validate_against(Filters(start, end, product_ids=(999,)), opts)
    with pytest.raises(ValidationError, match="end date is before the start date"):
        Filters(end, start)
    with pytest.raises(ValidationError, match="Unknown date preset"):
        preset_range("forever", TODAY)
    with pytest.raises(ValidationError, match="Too many regions"):
        Filters(start, end, regions=tuple(str(i) for i in range(201)))


def test_injection_attempt_is_just_a_value(demo_store):
    p = principal(demo_store, "admin")
    start, end = preset_range("30d", TODAY)
    f = Filters(start, end, regions=("East'; DROP TABLE sales; --",))
    assert compute_overview(demo_store, p, f)["kpis"]["orders"].value == 0
    df, total = explorer.page(demo_store, p, Filters(start, end), search="%' OR 1=1 --")
    assert total == 0
    assert demo_store.query_one("SELECT count(*) FROM sales")[0] == 3000


def test_presets():
    t = date(2026, 5, 15)
    assert preset_range("7d", t) == (date(2026, 5, 9), t)
    assert preset_range("last_month", t) == (date(2026, 4, 1), date(2026, 4, 30))
    assert preset_range("this_quarter", t) == (date(2026, 4, 1), t)
    assert preset_range("ytd", t) == (date(2026, 1, 1), t)
    assert preset_range("last_month", date(2026, 1, 10)) == (date(2025, 12, 1), date(2025, 12, 31))
    assert Filters(date(2026, 3, 1), date(2026, 3, 31)).previous() == Filters(date(2026, 1, 29), date(2026, 2, 28))


def test_explorer_paging_sorting_search_and_rls(demo_store, raw):
    p = principal(demo_store, "user")
    start, end = preset_range("90d", TODAY)
    f = Filters(start, end)
    mine = visible(raw, p)
    mine = mine[(mine.day >= pd.Timestamp(start)) & (mine.day <= pd.Timestamp(end))]
    df, total = explorer.page(demo_store, p, f, sort="net_amount", descending=True, page_size=25)
    assert total == len(mine)
    assert len(df) == 25
    assert list(df.net_amount.astype(float)) == sorted(mine.net_amount.astype(float), reverse=True)[:25]
    assert set(df.rep) == {"Uma User"}
    last_page = (total - 1) // 25 + 1
    df_last, _ = explorer.page(demo_store, p, f, page_no=last_page, page_size=25)
    assert len(df_last) == total - 25 * (last_page - 1)
    order = mine.order_id.iloc[0]
    found, n = explorer.page(demo_store, p, f, search=order.lower())
    assert n == (mine.order_id == order).sum() and set(found.order_id) == {order}
    with pytest.raises(ValidationError, match="Cannot sort by 'net_amount; DROP TABLE sales'"):
        explorer.page(demo_store, p, f, sort="net_amount; DROP TABLE sales")


@pytest.mark.parametrize("search,expected", [
    ("ACME_Corp", 3), ("100%", 3), ("acme_corp 100%", 3), ("_", 3), ("%", 3), ("\\", 1), ("C:\\x", 1),
    ("ACME", 5), ("Corp 1000", 2),
])
def test_explorer_search_treats_wildcards_literally(demo_store, search, expected):
    # 3 lines of `ACME_Corp 100%`, 2 of `ACMExCorp 1000` (what the wildcards `_` and `%` would also match)
    # and 1 of `C:\x Ltd`; no order id, product or customer id holds `_`, `%` or `\`.
    names = ["ACME_Corp 100%"] * 3 + ["ACMExCorp 1000"] * 2 + ["C:\\x Ltd"]
    keys = [k for (k,) in demo_store.query("SELECT source_key FROM sales ORDER BY sold_at DESC LIMIT 6")]
    with demo_store.write() as cur:
        for key, name in zip(keys, names):
            cur.execute("UPDATE sales SET customer_name = ? WHERE source_key = ?", [name, key])
    p = principal(demo_store, "admin")
    df, total = explorer.page(demo_store, p, Filters(*preset_range("30d", TODAY)), search=search)
    assert total == expected
    assert sorted(df.customer) == sorted(n for n in names if search.lower() in n.lower())


def test_export_honours_rls_and_is_audited(demo_store, raw):
    p = principal(demo_store, "user")
    start, end = preset_range("90d", TODAY)
    data, rows = explorer.export_csv(demo_store, p, Filters(start, end))
    lines = data.decode().strip().splitlines()
    assert len(lines) == rows + 1
    assert lines[0].startswith("sold_at,order_id,product")
    mine = visible(raw, p)
    assert rows == len(mine[(mine.day >= pd.Timestamp(start)) & (mine.day <= pd.Timestamp(end))])
    entry = demo_store.query_one("SELECT actor, detail->>'rows' FROM audit_log WHERE action = 'data.export'")
    assert entry == ("user", str(rows))


def test_export_follows_the_sort_shown(demo_store):
    p = principal(demo_store, "admin")
    f = Filters(*preset_range("30d", TODAY))
    shown, total = explorer.page(demo_store, p, f, search="laptop", sort="net_amount", descending=False, page_size=250)
    data, rows = explorer.export_csv(demo_store, p, f, search="laptop", sort="net_amount", descending=False)
    exported = pd.read_csv(io.BytesIO(data))
    assert rows == total == len(exported) and 0 < total <= 250
    assert list(exported.order_id) == list(shown.order_id)
    assert list(exported.net_amount) == sorted(exported.net_amount)


def test_cache_invalidated_by_writes(demo_store):
    p = principal(demo_store, "admin")
    f = Filters(TODAY - timedelta(days=29), TODAY)
    before = overview(demo_store, p, f)["kpis"]["revenue"].value
    with demo_store.write() as cur:
        cur.execute("UPDATE sales SET net_amount_base = net_amount_base + 1 WHERE source_key = "
                    "(SELECT source_key FROM sales WHERE status = 'completed' AND sold_at >= now()::DATE - 5 LIMIT 1)")
        from salesboard.analytics import rollup
        rollup.rebuild(cur)
        demo_store.bump_data_version(cur)
    assert overview(demo_store, p, f)["kpis"]["revenue"].value == before + 1
