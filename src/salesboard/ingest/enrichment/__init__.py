"""Enrichment: product ids, reps, regions and the base-currency rate, looked up onto typed rows in one pass.

The lookups are scalar expressions, not joins: a join (hash or ASOF) lets DuckDB reorder rows, and the
typed table must keep the source order (its rowids number the rows: the last duplicate wins, quarantined
rows are reported by row number). Each lookup is a temporary ENUM of the keys (casting to it is a
vectorized hash lookup) and a list of the values indexed by the enum code. Measured on 2M rows: order kept,
1.1 s against 1.7 s for the hash + ASOF joins, which put 1M rows out of order.
"""

from __future__ import annotations

import duckdb

from ..mapping import Mapping
from ..transform import Params
from . import fx


def lookup(cur: duckdb.DuckDBPyConnection, p: Params, name: str, pairs_sql: str, key: str, cast: str) -> str:
    """`key` looked up in `pairs_sql` (unique text column k, value column v) as a scalar expression of type
    `cast`, NULL when absent. The ENUM is a temp type of this private connection."""
    cur.execute(f"CREATE OR REPLACE TEMP TYPE {name} AS ENUM (SELECT k FROM ({pairs_sql}) ORDER BY k)")
    values = [r[0] for r in cur.execute(f"SELECT v FROM ({pairs_sql}) ORDER BY k").fetchall()]
    return f"({p(values)}::{cast}[])[enum_code(TRY_CAST({key} AS {name})) + 1]"


def enrich_select(cur: duckdb.DuckDBPyConnection, typed_sql: str, m: Mapping, p: Params, *, base_currency: str,
                  fx_max_age_days: int) -> str:
    """Typed rows plus product_id, rep_id and __fx_rate (regions are filled afterwards: regions.fill).

    Lookups a mapping cannot need are left out (no rep column: no user lookup; no rates stored: only the
    base currency converts), which keeps big imports fast.
    """
    product = lookup(cur, p, "__sku_enum", "SELECT sku AS k, id AS v FROM products", "t.sku", "INTEGER")
    rep = "NULL::INTEGER"
    if m.defines("rep"):
        rep = lookup(cur, p, "__rep_enum", "SELECT username AS k, id AS v FROM users", "t.rep", "INTEGER")
    base = p(base_currency.upper())
    rate = f"CASE WHEN t.currency = {base} THEN 1::DECIMAL(20, 10) END"
    daily = fx.daily_rates_sql(base_currency, fx_max_age_days)
    if cur.execute(f"SELECT count(*) > 0 FROM ({daily})").fetchone()[0]:
        found = lookup(cur, p, "__fx_enum", daily, "t.currency || '|' || t.sold_at::DATE::VARCHAR", "DECIMAL(20, 10)")
        rate = f"CASE WHEN t.currency = {base} THEN 1::DECIMAL(20, 10) ELSE {found} END"
    return f"SELECT t.*, {product} AS product_id, {rep} AS rep_id, {rate} AS __fx_rate FROM ({typed_sql}) t"
