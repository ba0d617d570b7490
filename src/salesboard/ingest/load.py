"""Load: valid rows into `sales` with one MERGE on (source, source_key), inside the run's transaction.

Rows are counted against what is stored first (insert / update / unchanged)
so the ledger is exact; the MERGE rewrites only new and changed rows, so
unchanged rows keep the load id of the run that last changed them.
"""

from __future__ import annotations

import contextlib
from datetime import datetime

import duckdb

from ..analytics import rollup

# The sales columns a load writes (besides source, source_key, load_id, updated_at), as computed over
# enriched rows. TRY_CAST: an out-of-range value becomes NULL and its row is quarantined, not the run failed.
FINAL = {
    "order_id": "order_id",
    "sold_at": "sold_at",
    "product_id": "product_id",
    "customer_id": "customer_id",
    "customer_name": "customer_name",
    "rep_id": "rep_id",
    "region": "region",
    "country": "country",
    "channel": "channel",
    "quantity": "TRY_CAST(quantity AS INTEGER)",
    "unit_price": "unit_price",
    "discount": "TRY_CAST(discount AS DECIMAL(9, 4))",
    "net_amount": "TRY_CAST(net_amount AS DECIMAL(18, 2))",
    "currency": "currency",
    # Base-currency rows skip the wide DECIMAL product (the common case, and 3x cheaper).
    "net_amount_base": "CASE WHEN __fx_rate = 1 THEN TRY_CAST(net_amount AS DECIMAL(18, 2)) "
                       "ELSE TRY_CAST(net_amount * __fx_rate AS DECIMAL(18, 2)) END",
    "cost_base": "CASE WHEN __fx_rate = 1 THEN TRY_CAST(cost AS DECIMAL(18, 2)) "
                 "ELSE TRY_CAST(cost * __fx_rate AS DECIMAL(18, 2)) END",
    "status": "status",
}
COLS = list(FINAL)


def merge(cur: duckdb.DuckDBPyConnection, typed: str, *, source: str, load_id: str, now: datetime,
          timings=None) -> dict:
    """MERGE the valid rows of `typed` into sales; refresh the rollup for every day touched."""
    timings = timings or (lambda step: contextlib.nullcontext())
    valid = f"(SELECT $source AS source, source_key, {', '.join(COLS)} FROM {typed} WHERE len(reasons) = 0)"
    changed = ("row(" + ", ".join(f"l.{c}" for c in COLS) + ") IS DISTINCT FROM row("
               + ", ".join(f"s.{c}" for c in COLS) + ")")
    with timings("classify"):
        # Keys only first: a file of new rows (the common big import) needs no column-by-column comparison.
        valid_rows, matched, first, last = cur.execute(
            f"""SELECT count(*), count(s.source_key), min(l.sold_at), max(l.sold_at)
                FROM {valid} l LEFT JOIN (SELECT source, source_key FROM sales WHERE source = $source) s
                  ON s.source = l.source AND s.source_key = l.source_key""",
            {"source": source},
        ).fetchone()
        if matched:
            inserted, updated, unchanged, first, last = cur.execute(
                f"""SELECT count(*) FILTER (WHERE s.source_key IS NULL),
                           count(*) FILTER (WHERE s.source_key IS NOT NULL AND {changed}),
                           count(*) FILTER (WHERE s.source_key IS NOT NULL AND NOT ({changed})),
                           min(least(l.sold_at, s.sold_at)) FILTER (WHERE s.source_key IS NULL OR {changed}),
                           max(greatest(l.sold_at, s.sold_at)) FILTER (WHERE s.source_key IS NULL OR {changed})
                    FROM {valid} l LEFT JOIN sales s ON s.source = l.source AND s.source_key = l.source_key""",
                {"source": source},
            ).fetchone()
        else:
            inserted, updated, unchanged = valid_rows, 0, 0
    if inserted or updated:
        sets = ", ".join(f"{c} = l.{c}" for c in COLS)
        with timings("merge"):
            cur.execute(
                f"""MERGE INTO sales s USING {valid} l ON s.source = l.source AND s.source_key = l.source_key
                    WHEN MATCHED AND {changed} THEN UPDATE SET {sets}, load_id = $load_id, updated_at = $now
                    WHEN NOT MATCHED THEN INSERT (source, source_key, {', '.join(COLS)}, load_id, updated_at)
                        VALUES (l.source, l.source_key, {', '.join('l.' + c for c in COLS)}, $load_id, $now)""",
                {"source": source, "load_id": load_id, "now": now},
            )
        with timings("rollup"):
            # Old days of moved rows too: least/greatest above span the stored and the new sale dates.
            rollup.refresh_days(cur, first.date(), last.date())
    return {"inserted": inserted, "updated": updated, "unchanged": unchanged}
