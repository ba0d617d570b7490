"""The sales_daily order-line rollup: exact against `sales`, and order/customer keys stable across refreshes."""

from datetime import timedelta

from salesboard.analytics import rollup

SUMS = """SELECT count(*), sum(quantity), sum(net_amount_base), sum(cost_base),
                 count(DISTINCT order_id), count(DISTINCT customer_id) FROM sales"""
ROLLUP_SUMS = """SELECT sum(lines), sum(units), sum(revenue), sum(cost),
                        count(DISTINCT order_key), count(DISTINCT customer_key) FROM sales_daily"""
# Every order_id has exactly one key and every key one order_id (same for customers).
KEY_CLASHES = """SELECT
    (SELECT count(*) FROM (SELECT order_id FROM sales_daily GROUP BY 1 HAVING count(DISTINCT order_key) > 1)),
    (SELECT count(*) FROM (SELECT order_key FROM sales_daily GROUP BY 1 HAVING count(DISTINCT order_id) > 1)),
    (SELECT count(*) FROM (SELECT customer_id FROM sales_daily GROUP BY 1 HAVING count(DISTINCT customer_key) > 1)),
    (SELECT count(*) FROM (SELECT customer_key FROM sales_daily GROUP BY 1 HAVING count(DISTINCT customer_id) > 1))"""


def test_rebuild_matches_sales_exactly(demo_store):
    q = demo_store.query_one
    assert q(ROLLUP_SUMS) == q(SUMS)
    assert q(ROLLUP_SUMS)[0] == 3000
    assert q(KEY_CLASHES) == (0, 0, 0, 0)
    per_day = "SELECT sold_at::DATE, status, sum(net_amount_base) FROM sales GROUP BY ALL ORDER BY ALL"
    assert demo_store.query(per_day) == demo_store.query(
        "SELECT day, status, sum(revenue) FROM sales_daily GROUP BY ALL ORDER BY ALL")
    days = [r[0] for r in demo_store.query("SELECT day FROM sales_daily")]
    assert days == sorted(days)  # inserted in day order: date windows skip row groups


def test_refresh_keeps_keys_of_orders_spanning_days(demo_store):
    q = demo_store.query_one
    order_id, key, day = q("SELECT order_id, order_key, day FROM sales_daily ORDER BY day, order_id LIMIT 1")
    max_key = q("SELECT max(order_key) FROM sales_daily")[0]
    later = day + timedelta(days=3)
    with demo_store.write() as cur:
        # a line of the same order three days later, and a brand-new order of a brand-new customer
        cur.execute("""INSERT INTO sales SELECT * REPLACE ('late-1' AS source_key, sold_at + INTERVAL 3 DAY AS sold_at)
                       FROM sales WHERE order_id = ? LIMIT 1""", [order_id])
        cur.execute("""INSERT INTO sales SELECT * REPLACE ('new-1' AS source_key, 'NEW-ORDER' AS order_id,
                              'NEW-CUST' AS customer_id, sold_at + INTERVAL 3 DAY AS sold_at)
                       FROM sales WHERE order_id = ? LIMIT 1""", [order_id])
        rollup.refresh_days(cur, later, later)
    assert q("SELECT DISTINCT order_key FROM sales_daily WHERE order_id = ? AND day = ?", [order_id, later]) == (key,)
    # new orders (and orders only on the refreshed day, which are re-keyed) get keys above the old maximum
    assert q("SELECT order_key FROM sales_daily WHERE order_id = 'NEW-ORDER'")[0] > max_key
    assert q("SELECT customer_key FROM sales_daily WHERE customer_id = 'NEW-CUST'")[0] > 0
    assert q(ROLLUP_SUMS) == q(SUMS)
    assert q(KEY_CLASHES) == (0, 0, 0, 0)
    # refreshing the original day again keeps the order's key (found in the later day's rows)
    with demo_store.write() as cur:
        rollup.refresh_days(cur, day, day)
    assert q("SELECT count(DISTINCT order_key), min(order_key) FROM sales_daily WHERE order_id = ?", [order_id]) == (1, key)
    assert q(ROLLUP_SUMS) == q(SUMS)


def test_refresh_for_load_after_deleting_a_day(demo_store):
    q = demo_store.query_one
    day = q("SELECT max(sold_at)::DATE FROM sales")[0]
    with demo_store.write() as cur:
        cur.execute("DELETE FROM sales WHERE sold_at::DATE = ?", [day])
        rollup.refresh_days(cur, day, day)
    assert q("SELECT count(*) FROM sales_daily WHERE day = ?", [day]) == (0,)
    assert q(ROLLUP_SUMS) == q(SUMS)
