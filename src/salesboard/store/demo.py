"""The zero-configuration demo: 3 users, 8 products and generated sales.

The seed runs once, on an empty database only, and generates all sales in
one DuckDB statement (deterministic: the same rows on every machine).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from ..analytics import rollup
from ..auth import audit
from ..auth.passwords import hash_password
from ..clock import utcnow
from .connection import Store

# Documented demo-only credentials (README); refused when SALESBOARD_ENV=production.
DEMO_USERS = [
    # username, password, role, team, display name
    ("admin", "admin-demo-pass", "admin", None, "Ada Admin"),
    ("manager", "manager-demo-pass", "manager", "alpha", "Max Manager"),
    ("user", "user-demo-pass", "user", "alpha", "Uma User"),
]
# Sales reps without a login: they make the rep breakdown and team scoping meaningful.
DEMO_REPS = [("alice", "alpha", "Alice Adams"), ("bob", "beta", "Bob Brown"), ("carol", "beta", "Carol Chen")]

DEMO_PRODUCTS = [
    # sku, name, category, price, cost (None: cost unknown)
    ("LAP-001", "Laptop Pro 14", "Computers", 1299.00, 910.00),
    ("MON-027", "Monitor 27in", "Displays", 329.00, 221.00),
    ("KEY-100", "Mechanical Keyboard", "Accessories", 89.00, 41.00),
    ("MOU-200", "Wireless Mouse", "Accessories", 39.00, 14.50),
    ("HDP-300", "Noise-Cancelling Headphones", "Audio", 249.00, 150.00),
    ("CAM-400", "4K Webcam", "Accessories", 129.00, None),
    ("DSK-500", "Standing Desk", "Furniture", 599.00, 380.00),
    ("CHR-600", "Ergonomic Chair", "Furniture", 449.00, 270.00),
]

REGIONS = [("North", "Canada"), ("South", "Mexico"), ("East", "Germany"), ("West", "United States")]
CHANNELS = ["online", "retail", "partner"]


def has_data(store: Store) -> bool:
    users = store.query_one("SELECT count(*) FROM users")[0]
    sales = store.query_one("SELECT count(*) FROM sales")[0]
    return users > 0 or sales > 0


def seed(store: Store, n_sales: int | None = None, days: int | None = None) -> dict:
    """Seed the demo into an empty database. Returns what was created, or {'skipped': reason}."""
    if has_data(store):
        return {"skipped": "the database already holds users or sales; the demo seed never touches real data"}
    s = store.settings
    n_sales = s.demo_sales if n_sales is None else n_sales
    days = s.demo_days if days is None else days
    run_id = f"demo-{uuid.uuid4().hex[:12]}"
    now = utcnow()
    with store.write() as cur:
        for username, password, role, team, name in DEMO_USERS:
            cur.execute(
                "INSERT INTO users (username, display_name, role, team, password_hash, is_demo, password_changed_at) "
                "VALUES (?, ?, ?, ?, ?, TRUE, ?)",
                [username, name, role, team, hash_password(password), now],
            )
        for username, team, name in DEMO_REPS:
            cur.execute(
                "INSERT INTO users (username, display_name, role, team, is_demo) VALUES (?, ?, 'user', ?, TRUE)",
                [username, name, team],
            )
        cur.executemany(
            "INSERT INTO products (sku, name, category, unit_price, unit_cost) VALUES (?, ?, ?, ?, ?)",
            DEMO_PRODUCTS,
        )
        cur.execute(
            "INSERT INTO sync_runs (run_id, source, kind, started_at, status) VALUES (?, 'demo', 'demo', ?, 'running')",
            [run_id, now],
        )
        _generate_sales(cur, run_id, n_sales, days, now, s.base_currency)
        rollup.rebuild(cur)
        Store.bump_data_version(cur)
        cur.execute(
            "UPDATE sync_runs SET finished_at = ?, status = 'success', rows_read = ?, rows_inserted = ? WHERE run_id = ?",
            [utcnow(), n_sales, n_sales, run_id],
        )
        audit.record(cur, "demo.seed", actor="system", detail={"sales": n_sales, "days": days, "run_id": run_id})
    return {"users": [u[0] for u in DEMO_USERS], "products": len(DEMO_PRODUCTS), "sales": n_sales, "run_id": run_id}


def _generate_sales(cur, run_id: str, n: int, days: int, now: datetime, currency: str) -> None:
    reps = [r[0] for r in cur.execute(
        "SELECT id FROM users WHERE username IN ('user', 'alice', 'bob', 'carol') ORDER BY id").fetchall()]
    regions = "[" + ",".join(f"{{'r': '{r}', 'c': '{c}'}}" for r, c in REGIONS) + "]"
    channels = "[" + ",".join(f"'{c}'" for c in CHANNELS) + "]"
    # Every random choice is hash(key, salt): deterministic, and lines of one order share its attributes.
    # Order volume grows over time (sqrt skews days_ago towards the recent past).
    cur.execute(
        f"""
        INSERT INTO sales (source, source_key, order_id, sold_at, product_id, customer_id, customer_name,
                           rep_id, region, country, channel, quantity, unit_price, discount, net_amount,
                           currency, net_amount_base, cost_base, status, load_id)
        WITH lines AS (
            SELECT i, (i * 3) // 5 AS ord FROM range(?) t(i)
        ), o AS (
            SELECT i, ord,
                   (hash(ord, 'd') % 1000000) / 1000000.0 AS u,
                   hash(ord, 's') % 86400 AS secs,
                   hash(ord, 'c') % 1500 AS cust,
                   (1 + hash(i, 'p') % 8)::INTEGER AS pid,
                   (1 + hash(i, 'q') % 4)::INTEGER AS qty,
                   hash(i, 'x') % 10 AS disc_roll,
                   hash(ord, 'st') % 50 AS status_roll,
                   ({regions})[(1 + hash(hash(ord, 'c') % 1500, 'reg') % 4)::BIGINT] AS geo,
                   ({channels})[(1 + hash(ord, 'ch') % 3)::BIGINT] AS channel,
                   (?::INTEGER[])[(1 + hash(ord, 'rep') % {len(reps)})::BIGINT] AS rep_id
            FROM lines
        ), priced AS (
            SELECT o.*, p.unit_price AS price, p.unit_cost AS ucost,
                   CASE WHEN disc_roll = 0 THEN 0.10 WHEN disc_roll = 1 THEN 0.05 ELSE 0 END AS discount,
                   ?::TIMESTAMP - to_days(floor(? * (1 - sqrt(u)))::INTEGER)
                       - to_seconds(secs::BIGINT) AS sold_at
            FROM o JOIN products p ON p.id = o.pid
        )
        SELECT 'demo', 'demo-' || i, 'DEMO-' || lpad(ord::VARCHAR, 7, '0'), sold_at, pid,
               'CUST-' || lpad(cust::VARCHAR, 4, '0'), 'Customer ' || cust, rep_id, geo.r, geo.c, channel, qty,
               price, discount, round(qty * price * (1 - discount), 2), ?,
               round(qty * price * (1 - discount), 2), round(qty * ucost, 2),
               CASE WHEN status_roll = 0 THEN 'refunded' WHEN status_roll = 1 THEN 'cancelled' ELSE 'completed' END,
               ?
        FROM priced
        ORDER BY sold_at
        """,
        [n, reps, now, days - 1, currency, run_id],
    )
