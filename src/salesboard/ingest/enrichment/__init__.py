"""Enrichment: product ids, reps, regions and the base-currency rate, joined onto typed rows in one pass."""

from __future__ import annotations

from ..mapping import Mapping
from ..transform import Params
from . import fx, products


def enrich_select(typed_sql: str, m: Mapping, p: Params, *, base_currency: str, fx_max_age_days: int,
                  have_rates: bool) -> str:
    """Typed rows plus product_id, rep_id and __fx_rate (regions are filled afterwards: regions.fill).

    Joins a mapping cannot need are left out (no rep column: no user lookup; no
    rates stored: only the base currency converts), which keeps big imports fast.
    """
    joins = [products.JOIN]
    rep = "NULL::INTEGER"
    if m.defines("rep"):
        joins.append("LEFT JOIN users __u ON __u.username = t.rep")
        rep = "__u.id"
    if have_rates:
        joins.append(fx.join(p, base_currency))
        rate = fx.rate_expr(p, base_currency, fx_max_age_days)
    else:
        rate = f"CASE WHEN t.currency = {p(base_currency.upper())} THEN 1::DECIMAL(20, 10) END"
    return (f"SELECT t.*, {products.PRODUCT_ID_EXPR} AS product_id, "
            f"{rep} AS rep_id, {rate} AS __fx_rate FROM ({typed_sql}) t {' '.join(joins)}")
