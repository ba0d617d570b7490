"""The `sales_daily` order-line rollup, kept in step with `sales` by every writer.

Writers call `refresh_days(cur, first, last)` (or `refresh_for_load`) inside
the transaction that changed sales on those days, so the rollup can never
disagree with the sales table it summarizes.

One row per (day, order, product, region, channel, rep, customer, status):
additive measures sum exactly, and distinct orders/customers count exactly on
integer keys. An order or customer keeps its key while any of its rows lies
outside the refreshed days (found by id among the rows that stay); the others
get fresh keys above the current maximum. Keys only need to be one-to-one with
ids at any moment, never stable forever.
Rows are inserted in day order so date windows skip whole row groups.
"""

from __future__ import annotations

from datetime import date

import duckdb

# {where} restricts `sales`; keys of orders/customers already in the rollup are reused.
_INSERT = """
INSERT INTO sales_daily (day, product_id, region, channel, rep_id, status, order_key, customer_key,
                         order_id, customer_id, customer_name, lines, units, revenue, cost, cost_revenue)
WITH g AS (
    SELECT sold_at::DATE AS day, product_id, region, channel, rep_id, status, order_id, customer_id, customer_name,
           count(*) AS lines, sum(quantity) AS units, sum(net_amount_base) AS revenue,
           sum(cost_base) AS cost, sum(net_amount_base) FILTER (WHERE cost_base IS NOT NULL) AS cost_revenue
    FROM sales WHERE {where}
    GROUP BY ALL
), known_orders AS (
    SELECT DISTINCT order_id, order_key FROM sales_daily WHERE order_id IN (SELECT order_id FROM g)
), new_orders AS (
    SELECT order_id, (SELECT coalesce(max(order_key), 0) FROM sales_daily)
                     + row_number() OVER (ORDER BY first_day, order_id) AS order_key
    FROM (SELECT order_id, min(day) AS first_day FROM g GROUP BY order_id)
    WHERE order_id NOT IN (SELECT order_id FROM known_orders)
), known_customers AS (
    SELECT DISTINCT customer_id, customer_key FROM sales_daily
    WHERE customer_id IN (SELECT customer_id FROM g WHERE customer_id IS NOT NULL)
), new_customers AS (
    SELECT customer_id, (SELECT coalesce(max(customer_key), 0) FROM sales_daily)
                        + row_number() OVER (ORDER BY first_day, customer_id) AS customer_key
    FROM (SELECT customer_id, min(day) AS first_day FROM g WHERE customer_id IS NOT NULL GROUP BY customer_id)
    WHERE customer_id NOT IN (SELECT customer_id FROM known_customers)
)
SELECT g.day, g.product_id, g.region, g.channel, g.rep_id, g.status, o.order_key, c.customer_key,
       g.order_id, g.customer_id, g.customer_name, g.lines, g.units, g.revenue, g.cost, g.cost_revenue
FROM g
JOIN (SELECT * FROM known_orders UNION ALL SELECT * FROM new_orders) o ON o.order_id = g.order_id
LEFT JOIN (SELECT * FROM known_customers UNION ALL SELECT * FROM new_customers) c ON c.customer_id = g.customer_id
ORDER BY g.day, o.order_key
"""


def refresh_days(cur: duckdb.DuckDBPyConnection, first: date, last: date) -> None:
    """Recompute the rollup for days first..last (inclusive) from `sales`."""
    cur.execute("DELETE FROM sales_daily WHERE day BETWEEN ? AND ?", [first, last])
    cur.execute(
        _INSERT.format(where="sold_at >= ?::DATE AND sold_at < ?::DATE + INTERVAL 1 DAY"), [first, last]
    )


def rebuild(cur: duckdb.DuckDBPyConnection) -> None:
    cur.execute("DELETE FROM sales_daily")
    cur.execute(_INSERT.format(where="TRUE"))


def refresh_for_load(cur: duckdb.DuckDBPyConnection, load_id: str) -> None:
    """Refresh the days touched by a load (every row it wrote carries its load id)."""
    span = cur.execute(
        "SELECT min(sold_at)::DATE, max(sold_at)::DATE FROM sales WHERE load_id = ?", [load_id]
    ).fetchone()
    if span and span[0] is not None:
        refresh_days(cur, span[0], span[1])
