"""Enrichment: product ids, reps, regions and the base-currency rate, joined onto typed rows in one pass."""

from __future__ import annotations

from ..transform import Params
from . import fx, products, regions


def enrich_select(typed_sql: str, p: Params, *, base_currency: str, fx_max_age_days: int) -> str:
    """Typed rows plus product_id, rep_id, region (filled from country/state) and __fx_rate."""
    return (
        f"SELECT t.* REPLACE ({regions.REGION_EXPR} AS region), {products.PRODUCT_ID_EXPR} AS product_id, "
        f"__u.id AS rep_id, {fx.rate_expr(p, base_currency, fx_max_age_days)} AS __fx_rate "
        f"FROM ({typed_sql}) t {products.JOIN} {regions.JOIN} "
        "LEFT JOIN users __u ON __u.username = t.rep "
        f"{fx.join(p, base_currency)}"
    )
