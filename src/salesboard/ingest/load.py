"""Load: valid rows into `sales` with one MERGE on (source, source_key), inside the run's transaction.

Each row is classified against what is stored first (insert / update /
unchanged), so the ledger counts are exact and unchanged rows are not
rewritten: they keep the load id of the run that last changed them.
"""

from __future__ import annotations

import contextlib
from datetime import datetime

import duckdb

from ..analytics import rollup

# The sales columns a load writes (besides source, source_key, load_id, updated_at).
_VALUES = {
    "order_id": "order_id",
    "sold_at": "sold_at",
    "product_id": "product_id",
    "customer_id": "customer_id",
    "customer_name": "customer_name",
    "rep_id": "rep_id",
    "region": "region",
    "country": "country",
    "channel": "channel",
    "quantity": "quantity::INTEGER",
    "unit_price": "unit_price::DECIMAL(18, 4)",
    "discount": "discount::DECIMAL(9, 4)",
    "net_amount": "net_amount::DECIMAL(18, 2)",
    "currency": "currency",
    "net_amount_base": "(net_amount * __fx_rate)::DECIMAL(18, 2)",
    "cost_base": "(cost * __fx_rate)::DECIMAL(18, 2)",
    "status": "status",
}


def merge(cur: duckdb.DuckDBPyConnection, typed: str, *, source: str, load_id: str, now: datetime,
          timings=None) -> dict:
    """MERGE the valid rows of `typed` into sales; refresh the rollup for every day touched."""
    cols = list(_VALUES)
    new = ", ".join(f"{expr} AS {name}" for name, expr in _VALUES.items())
    changed = "row(" + ", ".join(f"l.{c}" for c in cols) + ") IS DISTINCT FROM row(" + \
        ", ".join(f"s.{c}" for c in cols) + ")"
    timings = timings or (lambda step: contextlib.nullcontext())
    with timings("classify"):
        cur.execute(
            f"""CREATE TEMP TABLE __load AS
                SELECT l.*, CASE WHEN s.source_key IS NULL THEN 'insert' WHEN {changed} THEN 'update'
                                 ELSE 'unchanged' END AS __action, s.sold_at AS __old_sold_at
                FROM (SELECT $source AS source, source_key, {new} FROM {typed} WHERE len(reasons) = 0) l
                LEFT JOIN sales s ON s.source = l.source AND s.source_key = l.source_key""",
            {"source": source},
        )
    counts = dict(cur.execute("SELECT __action, count(*) FROM __load GROUP BY ALL").fetchall())
    span = cur.execute(
        "SELECT min(least(sold_at, coalesce(__old_sold_at, sold_at)))::DATE, "
        "max(greatest(sold_at, coalesce(__old_sold_at, sold_at)))::DATE FROM __load WHERE __action <> 'unchanged'"
    ).fetchone()
    if counts.get("insert") or counts.get("update"):
        sets = ", ".join(f"{c} = l.{c}" for c in cols)
        with timings("merge"):
            cur.execute(
                f"""MERGE INTO sales s USING (SELECT * FROM __load WHERE __action <> 'unchanged') l
                    ON s.source = l.source AND s.source_key = l.source_key
                    WHEN MATCHED THEN UPDATE SET {sets}, load_id = $load_id, updated_at = $now
                    WHEN NOT MATCHED THEN INSERT (source, source_key, {', '.join(cols)}, load_id, updated_at)
                        VALUES (l.source, l.source_key, {', '.join('l.' + c for c in cols)}, $load_id, $now)""",
                {"load_id": load_id, "now": now},
            )
        with timings("rollup"):
            rollup.refresh_days(cur, span[0], span[1])
    cur.execute("DROP TABLE __load")
    return {"inserted": counts.get("insert", 0), "updated": counts.get("update", 0),
            "unchanged": counts.get("unchanged", 0)}
