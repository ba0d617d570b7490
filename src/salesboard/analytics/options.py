"""Filter choices and name lookups, from small tables and the rollup (fast), cached per data version."""

from __future__ import annotations

from ..auth.roles import Principal
from ..store import Store
from .cache import CACHE


def scope_key(principal: Principal) -> tuple:
    return (principal.role, principal.user_id, principal.team, principal.region)


def filter_options(store: Store, principal: Principal) -> dict:
    """Values the principal may filter on: only those present in the sales they can see."""
    key = ("options", store.cache_token(), scope_key(principal))
    return CACHE.get_or_compute(key, lambda: _load(store, principal))


def _load(store: Store, principal: Principal) -> dict:
    rls, params = principal.row_filter()
    cur = store.cursor()
    dims = cur.execute(
        f"""SELECT list(DISTINCT region ORDER BY region) FILTER (WHERE region IS NOT NULL),
                   list(DISTINCT channel ORDER BY channel) FILTER (WHERE channel IS NOT NULL),
                   list(DISTINCT product_id) FILTER (WHERE product_id IS NOT NULL),
                   list(DISTINCT rep_id) FILTER (WHERE rep_id IS NOT NULL),
                   min(day), max(day)
            FROM sales_daily WHERE {rls}""",
        params,
    ).fetchone()
    regions, channels, product_ids, rep_ids, first_day, last_day = dims
    products = [
        {"id": r[0], "name": r[1], "category": r[2], "sku": r[3]}
        for r in cur.execute(
            "SELECT id, name, category, sku FROM products WHERE list_contains(?::INTEGER[], id) ORDER BY name",
            [product_ids or []],
        ).fetchall()
    ]
    reps = [
        {"id": r[0], "name": r[1] or r[2]}
        for r in cur.execute(
            "SELECT id, display_name, username FROM users WHERE list_contains(?::INTEGER[], id) ORDER BY 2, 3",
            [rep_ids or []],
        ).fetchall()
    ]
    return {
        "regions": regions or [],
        "channels": channels or [],
        "categories": sorted({p["category"] for p in products}),
        "products": products,
        "reps": reps,
        "first_day": first_day,
        "last_day": last_day,
    }


def name_maps(store: Store) -> tuple[dict, dict, dict]:
    """product id -> name, product id -> category, user id -> display name (all, for labels)."""
    key = ("names", store.cache_token())

    def load():
        cur = store.cursor()
        prods = cur.execute("SELECT id, name, category FROM products").fetchall()
        users = cur.execute("SELECT id, coalesce(display_name, username) FROM users").fetchall()
        return ({p[0]: p[1] for p in prods}, {p[0]: p[2] for p in prods}, dict(users))

    return CACHE.get_or_compute(key, load)
