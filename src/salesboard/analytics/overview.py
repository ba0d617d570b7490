"""The Overview page's figures: KPIs against the previous period, trend, breakdowns, top lists.

One statement per page, on the `sales_daily` order-line rollup (integer
order/customer keys, rows in day order): the rows of both periods that pass
the filters are read once into a materialized CTE, and every figure is
aggregated from it; a second scan, limited to the top customers' keys, adds
their names and order counts. All sums and distinct counts are exact.
Results are cached per data version (`overview`); bench/overview.py
measures the uncached path against bare DuckDB and pandas.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import pandas as pd

from ..auth.roles import Principal
from ..ops.metrics import timed
from ..store import Store
from .cache import CACHE
from .filters import Filters, dimension_sql
from .options import name_maps, scope_key


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


_SQL = """
WITH w AS MATERIALIZED (
    -- current period: everything the page shows is aggregated from these rows
    SELECT day, order_key, customer_key, product_id, region, channel, rep_id, units, revenue, cost, cost_revenue
    FROM sales_daily
    WHERE day BETWEEN $start AND $end AND status = 'completed' AND {dims}
), p AS MATERIALIZED (
    -- previous period: only what its KPIs and trend need (fewer columns to read)
    SELECT day, order_key, customer_key, units, revenue, cost, cost_revenue
    FROM sales_daily
    WHERE day BETWEEN $prev_start AND $start - 1 AND status = 'completed' AND {dims}
), cust AS MATERIALIZED (
    SELECT customer_key, sum(revenue) AS revenue FROM w WHERE customer_key IS NOT NULL GROUP BY customer_key
), top AS (
    -- the ten best customers, plus any tied with the tenth (ties are broken by customer id in Python);
    -- a top-N and a filter cost far less than rank() over every customer
    SELECT customer_key, revenue FROM cust
    WHERE revenue >= (SELECT min(revenue) FROM (SELECT revenue FROM cust ORDER BY revenue DESC LIMIT 10))
)
SELECT 'total' AS part, TRUE AS cur, sum(revenue) AS revenue, sum(units)::BIGINT AS units,
       sum(cost_revenue) - sum(cost) AS profit, sum(cost_revenue) AS cost_revenue,
       (SELECT count(*) FROM (SELECT order_key FROM w GROUP BY order_key)) AS orders,
       (SELECT count(*) FROM cust) AS customers
FROM w HAVING count(*) > 0
UNION ALL BY NAME
SELECT 'total' AS part, FALSE AS cur, sum(revenue) AS revenue, sum(units)::BIGINT AS units,
       sum(cost_revenue) - sum(cost) AS profit, sum(cost_revenue) AS cost_revenue,
       (SELECT count(*) FROM (SELECT order_key FROM p GROUP BY order_key)) AS orders,
       (SELECT count(*) FROM (SELECT customer_key FROM p WHERE customer_key IS NOT NULL GROUP BY customer_key))
           AS customers
FROM p HAVING count(*) > 0
UNION ALL BY NAME
-- previous-period days are shifted forward by the period length to share the current buckets
SELECT 'trend' AS part, cur, date_trunc($grain, CASE WHEN cur THEN day ELSE day + $shift::INTEGER END) AS bucket,
       sum(revenue) AS revenue
FROM (SELECT TRUE AS cur, day, sum(revenue) AS revenue FROM w GROUP BY day
      UNION ALL SELECT FALSE, day, sum(revenue) FROM p GROUP BY day)
GROUP BY ALL
UNION ALL BY NAME
-- four plain GROUP BYs: cheaper than one GROUPING SETS over the same rows
SELECT 'product' AS part, product_id, sum(revenue) AS revenue, sum(units)::BIGINT AS units FROM w GROUP BY product_id
UNION ALL BY NAME
SELECT 'region' AS part, region, sum(revenue) AS revenue, sum(units)::BIGINT AS units FROM w GROUP BY region
UNION ALL BY NAME
SELECT 'channel' AS part, channel, sum(revenue) AS revenue, sum(units)::BIGINT AS units FROM w GROUP BY channel
UNION ALL BY NAME
SELECT 'rep' AS part, rep_id, sum(revenue) AS revenue, sum(units)::BIGINT AS units FROM w GROUP BY rep_id
UNION ALL BY NAME
-- the top customers' orders (their ids and names are looked up afterwards, see _customer_names)
SELECT 'customer' AS part, top.customer_key, top.revenue, count(DISTINCT w.order_key) AS orders
FROM top JOIN w USING (customer_key)
GROUP BY ALL
"""

_BREAKDOWNS = ("product", "region", "channel", "rep")


def compute_overview(store: Store, principal: Principal, f: Filters) -> dict:
    prev = f.previous()
    dims, dim_params = dimension_sql(f, principal)
    names, categories, reps = name_maps(store)
    # Named parameters: the dimension predicate's positional `?` become $d0, $d1, ...
    parts = dims.split("?")
    dims = parts[0] + "".join(f"$d{i}{part}" for i, part in enumerate(parts[1:]))
    params = {"start": f.start, "end": f.end, "prev_start": prev.start, "grain": f.grain, "shift": f.days,
              **{f"d{i}": v for i, v in enumerate(dim_params)}}
    with timed("overview"):
        cur = store.cursor().execute(_SQL.format(dims=dims), params)
        cols = [d[0] for d in cur.description]
        rows = [dict(zip(cols, r)) for r in cur.fetchall()]

    totals = {p: {"revenue": Decimal(0), "units": 0, "profit": None, "cost_revenue": None, "orders": 0,
                  "customers": 0} for p in ("cur", "prev")}
    trend: dict = {}
    breakdowns: dict = {kind: [] for kind in _BREAKDOWNS}
    customers = []
    for r in rows:
        part = r["part"]
        if part == "total":
            totals["cur" if r["cur"] else "prev"] = r
        elif part == "trend":
            trend.setdefault(r["bucket"], {True: None, False: None})[r["cur"]] = r["revenue"]
        elif part in breakdowns:
            breakdowns[part].append(r)
        else:
            customers.append(r)

    def kpis_for(p: str) -> dict:
        t = totals[p]
        return {
            "revenue": t["revenue"],
            "orders": t["orders"],
            "units": t["units"],
            "aov": (t["revenue"] / t["orders"]) if t["orders"] else None,
            "gross_profit": t["profit"],
            "customers": t["customers"],
        }

    cur_k, prev_k = kpis_for("cur"), kpis_for("prev")
    kpis = {name: Kpi(cur_k[name], prev_k[name]) for name in cur_k}
    revenue, cost_rev = totals["cur"]["revenue"], totals["cur"]["cost_revenue"]
    kpis_meta = {"cost_coverage": float(cost_rev / revenue) if cost_rev and revenue else 0.0}

    trend_df = pd.DataFrame(
        [(b, float(v[True] or 0), float(v[False] or 0)) for b, v in sorted(trend.items())],
        columns=["period", "revenue", "previous_revenue"],
    )
    for r, (customer_id, name) in zip(customers, _customer_names(store, f, [r["customer_key"] for r in customers])):
        r["customer_id"], r["customer"] = customer_id, name
    customers.sort(key=lambda r: (-r["revenue"], r["customer_id"]))
    top_customers = pd.DataFrame(
        [(r["customer"], r["customer_id"], float(r["revenue"]), r["orders"]) for r in customers[:10]],
        columns=["customer", "customer_id", "revenue", "orders"],
    )
    return {
        "kpis": kpis,
        "meta": kpis_meta,
        "trend": trend_df,
        **_breakdown_frames(breakdowns, names, categories, reps),
        "top_customers": top_customers,
        "filters": f,
    }


def _customer_names(store: Store, f: Filters, keys: list[int]) -> list[tuple[str, str]]:
    """(customer_id, display name) per key, from the first row with a name in the period.

    A key maps to exactly one customer_id, so one row is enough; LIMIT 1 per key stops the scan
    early (top customers have rows everywhere), unlike an aggregate over all of their rows.
    """
    if not keys:
        return []
    one = ("(SELECT customer_key, customer_id, customer_name FROM sales_daily"
           " WHERE day BETWEEN ? AND ? AND customer_key = ? AND customer_name IS NOT NULL LIMIT 1)")
    found = {k: (cid, name) for k, cid, name in store.cursor().execute(
        " UNION ALL ".join([one] * len(keys)), [v for k in keys for v in (f.start, f.end, k)]).fetchall()}
    missing = [k for k in keys if k not in found]
    if missing:  # customers without any name in the period are shown by id
        found.update({k: (cid, cid) for k, cid in store.cursor().execute(
            "SELECT customer_key, any_value(customer_id) FROM sales_daily WHERE day BETWEEN ? AND ?"
            " AND list_contains(?::BIGINT[], customer_key) GROUP BY customer_key", [f.start, f.end, missing]).fetchall()})
    return [found[k] for k in keys]


def _ranked(rows: list[tuple], columns: list[str]) -> pd.DataFrame:
    """Rows (label..., revenue, units) by revenue descending, then label; revenue as float."""
    rows = sorted(rows, key=lambda r: (-r[-2], r[0]))
    return pd.DataFrame([(*r[:-2], float(r[-2]), r[-1]) for r in rows], columns=columns)


def _breakdown_frames(by: dict, names: dict, categories: dict, reps: dict) -> dict:
    products = [(names.get(r["product_id"], "(unknown product)"), categories.get(r["product_id"], "Uncategorized"),
                 r["revenue"], r["units"]) for r in by["product"]]
    per_category: dict = {}
    for _name, category, revenue, units in products:
        acc = per_category.setdefault(category, [Decimal(0), 0])
        acc[0] += revenue
        acc[1] += units
    by_product = _ranked(products, ["product", "category", "revenue", "units"])

    def simple(kind: str, col: str, label_of=lambda v: v) -> pd.DataFrame:
        labels = [None if r[col] is None else label_of(r[col]) for r in by[kind]]
        rows = [("(none)" if label is None else str(label), r["revenue"], r["units"]) for label, r in zip(labels, by[kind])]
        return _ranked(rows, [kind, "revenue", "units"])

    return {
        "by_product": by_product,
        "by_category": _ranked([(c, rev, units) for c, (rev, units) in per_category.items()],
                               ["category", "revenue", "units"]),
        "by_region": simple("region", "region"),
        "by_channel": simple("channel", "channel"),
        "by_rep": simple("rep", "rep_id", lambda v: reps.get(v)),
        "top_products": by_product.head(10).reset_index(drop=True),
    }
