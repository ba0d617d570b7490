"""The `sales_daily` pre-aggregate, kept in step with `sales` by every writer.

Writers call `refresh_days(cur, first, last)` inside the transaction that
changed sales on those days, so the rollup can never disagree with the
sales table it summarizes.
"""

from __future__ import annotations

from datetime import date

import duckdb

_SELECT = """
    SELECT sold_at::DATE AS day, product_id, region, channel, rep_id, status,
           count(*) AS lines, sum(quantity) AS units, sum(net_amount_base) AS revenue,
           sum(cost_base) AS cost,
           sum(net_amount_base) FILTER (WHERE cost_base IS NOT NULL) AS cost_revenue
    FROM sales
"""
_GROUP = " GROUP BY ALL ORDER BY day"


def refresh_days(cur: duckdb.DuckDBPyConnection, first: date, last: date) -> None:
    """Recompute the rollup for days first..last (inclusive) from `sales`."""
    cur.execute("DELETE FROM sales_daily WHERE day BETWEEN ? AND ?", [first, last])
    cur.execute(
        "INSERT INTO sales_daily " + _SELECT
        + " WHERE sold_at >= ?::DATE AND sold_at < ?::DATE + INTERVAL 1 DAY" + _GROUP,
        [first, last],
    )


def rebuild(cur: duckdb.DuckDBPyConnection) -> None:
    cur.execute("DELETE FROM sales_daily")
    cur.execute("INSERT INTO sales_daily " + _SELECT + _GROUP)


def refresh_for_load(cur: duckdb.DuckDBPyConnection, load_id: str) -> None:
    """Refresh the days touched by a load (every row it wrote carries its load id)."""
    span = cur.execute(
        "SELECT min(sold_at)::DATE, max(sold_at)::DATE FROM sales WHERE load_id = ?", [load_id]
    ).fetchone()
    if span and span[0] is not None:
        refresh_days(cur, span[0], span[1])
