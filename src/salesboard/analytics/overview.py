"""The Overview page's figures: KPIs against the previous period, trend, breakdowns, top lists.

Four queries per page: additive measures come from the `sales_daily`
rollup (one scan with GROUPING SETS for totals and trend, one for all
breakdowns); distinct counts (orders, customers) and top customers come
from `sales`, whose rows are stored in time order so DuckDB skips row
groups outside the window. Results are cached per data version.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import pandas as pd

from ..auth.roles import Principal
from ..ops.metrics import timed
from ..store import Store
from .cache import CACHE
from .filters import Filters, dimension_sql
from .options import name_maps, scope_key

COMPLETED = "status = 'completed'"


@dataclass
class Kpi:
    value: float | Decimal | int | None
    previous: float | Decimal | int | None

    @property
    def change(self) -> float | None:
        """Relative change against the previous period; None when there is no base to compare."""
        if self.value is None or not self.previous:
            return None
        return float(self.value - self.previous) / float(self.previous)


def overview(store: Store, principal: Principal, f: Filters) -> dict:
    key = ("overview", store.cache_token(), scope_key(principal), f.key())
    return CACHE.get_or_compute(key, lambda: compute_overview(store, principal, f))


def compute_overview(store: Store, principal: Principal, f: Filters) -> dict:
    cur = store.cursor()
    prev = f.previous()
    dims, dim_params = dimension_sql(f, principal)
    names, categories, reps = name_maps(store)

    # 1. Totals per period and the trend, one rollup scan. Previous-period days are shifted
    #    forward by the period length so both series share the current period's buckets.
    with timed("overview_rollup"):
        rows = cur.execute(
            f"""
            WITH d AS (
                SELECT CASE WHEN day >= ? THEN 'cur' ELSE 'prev' END AS period,
                       date_trunc(?, CASE WHEN day >= ? THEN day ELSE day + ?::INTEGER END) AS bucket,
                       revenue, units, lines, cost, cost_revenue
                FROM sales_daily
                WHERE day BETWEEN ? AND ? AND {COMPLETED} AND {dims}
            )
            SELECT period, bucket, sum(revenue), sum(units), sum(lines), sum(cost_revenue) - sum(cost),
                   sum(cost_revenue), GROUPING(bucket)
            FROM d GROUP BY GROUPING SETS ((period), (period, bucket))
            """,
            [f.start, f.grain, f.start, f.days, prev.start, f.end, *dim_params],
        ).fetchall()
    totals = {"cur": (Decimal(0), 0, 0, None, None), "prev": (Decimal(0), 0, 0, None, None)}
    trend: dict = {}
    for period, bucket, revenue, units, lines, profit, cost_rev, is_total in rows:
        if is_total:
            totals[period] = (revenue or Decimal(0), units or 0, lines or 0, profit, cost_rev)
        else:
            trend.setdefault(bucket, {"cur": None, "prev": None})[period] = revenue

    # 2. Distinct orders and customers per period (not additive: read from sales, time-ordered).
    with timed("overview_distinct"):
        counts = dict.fromkeys(("cur", "prev"), (0, 0))
        for period, orders, customers in cur.execute(
            f"""
            SELECT CASE WHEN sold_at >= ? THEN 'cur' ELSE 'prev' END AS period,
                   count(DISTINCT order_id), count(DISTINCT customer_id)
            FROM sales
            WHERE sold_at >= ? AND sold_at < ? AND {COMPLETED} AND {dims}
            GROUP BY period
            """,
            [f.start, prev.start, f.end + timedelta(days=1), *dim_params],
        ).fetchall():
            counts[period] = (orders, customers)

    # 3. Every breakdown of the current period in one rollup scan.
    with timed("overview_breakdowns"):
        breakdown = cur.execute(
            f"""
            SELECT product_id, region, channel, rep_id, GROUPING(product_id, region, channel, rep_id) AS g,
                   sum(revenue) AS revenue, sum(units) AS units, sum(lines) AS lines
            FROM sales_daily
            WHERE day BETWEEN ? AND ? AND {COMPLETED} AND {dims}
            GROUP BY GROUPING SETS ((product_id), (region), (channel), (rep_id))
            """,
            [f.start, f.end, *dim_params],
        ).df()

    # 4. Top customers of the current period.
    with timed("overview_top_customers"):
        top_customers = cur.execute(
            f"""
            SELECT coalesce(any_value(customer_name), customer_id) AS customer, customer_id,
                   sum(net_amount_base)::DOUBLE AS revenue, count(DISTINCT order_id) AS orders
            FROM sales
            WHERE sold_at >= ? AND sold_at < ? AND {COMPLETED} AND {dims} AND customer_id IS NOT NULL
            GROUP BY customer_id ORDER BY revenue DESC, customer_id LIMIT 10
            """,
            [f.start, f.end + timedelta(days=1), *dim_params],
        ).df()

    def kpis_for(p: str) -> dict:
        revenue, units, _lines, profit, _ = totals[p]
        orders, customers = counts[p]
        return {
            "revenue": revenue,
            "orders": orders,
            "units": units,
            "aov": (revenue / orders) if orders else None,
            "gross_profit": profit,
            "customers": customers,
        }

    cur_k, prev_k = kpis_for("cur"), kpis_for("prev")
    kpis = {name: Kpi(cur_k[name], prev_k[name]) for name in cur_k}
    cost_rev = totals["cur"][4]
    kpis_meta = {"cost_coverage": float(cost_rev / totals["cur"][0]) if cost_rev and totals["cur"][0] else 0.0}

    trend_df = pd.DataFrame(
        [(b, float(v["cur"] or 0), float(v["prev"] or 0)) for b, v in sorted(trend.items())],
        columns=["period", "revenue", "previous_revenue"],
    )
    return {
        "kpis": kpis,
        "meta": kpis_meta,
        "trend": trend_df,
        **_split_breakdowns(breakdown, names, categories, reps),
        "top_customers": top_customers,
        "filters": f,
    }


def _split_breakdowns(df: pd.DataFrame, names: dict, categories: dict, reps: dict) -> dict:
    df = df.assign(revenue=df["revenue"].astype(float))
    # GROUPING bitmask over (product_id, region, channel, rep_id): 0b0111 = grouped by product only, etc.
    by = {
        "product": df[df.g == 0b0111],
        "region": df[df.g == 0b1011],
        "channel": df[df.g == 0b1101],
        "rep": df[df.g == 0b1110],
    }
    prod = by["product"].assign(
        product=lambda d: d.product_id.map(names).fillna("(unknown product)"),
        category=lambda d: d.product_id.map(categories).fillna("Uncategorized"),
    )[["product", "category", "revenue", "units"]].sort_values(["revenue", "product"], ascending=[False, True])
    cat = (prod.groupby("category", as_index=False)[["revenue", "units"]].sum()
           .sort_values(["revenue", "category"], ascending=[False, True]))

    def simple(frame: pd.DataFrame, col: str, label: str, mapper=None) -> pd.DataFrame:
        values = frame[col].map(mapper) if mapper else frame[col]
        out = pd.DataFrame({label: values.fillna("(none)").astype(str), "revenue": frame.revenue,
                            "units": frame.units})
        return out.sort_values(["revenue", label], ascending=[False, True]).reset_index(drop=True)

    return {
        "by_product": prod.reset_index(drop=True),
        "by_category": cat.reset_index(drop=True),
        "by_region": simple(by["region"], "region", "region"),
        "by_channel": simple(by["channel"], "channel", "channel"),
        "by_rep": simple(by["rep"], "rep_id", "rep", reps),
        "top_products": prod.head(10).reset_index(drop=True),
    }
