"""Product lookup by SKU, and creation of the SKUs a run meets for the first time (when allowed)."""

from __future__ import annotations

import duckdb

JOIN = "LEFT JOIN products __p ON __p.sku = t.sku"
PRODUCT_ID_EXPR = "__p.id"


def create_missing(cur: duckdb.DuckDBPyConnection, table: str) -> int:
    """Insert a product for each unknown SKU of the valid rows in `table`, then fill their product_id.

    Name and category come from the last row that mentions the SKU (like the
    rows themselves: the last one wins). Returns the number created.
    """
    created = cur.execute(
        f"""INSERT INTO products (sku, name, category)
            SELECT sku, coalesce(arg_max(product_name, rowid), sku), coalesce(arg_max(category, rowid), 'Uncategorized')
            FROM {table} WHERE len(reasons) = 0 AND sku IS NOT NULL AND product_id IS NULL
            GROUP BY sku ORDER BY sku"""
    ).fetchone()[0]
    if created:
        cur.execute(
            f"UPDATE {table} SET product_id = p.id FROM products p "
            f"WHERE {table}.sku = p.sku AND {table}.product_id IS NULL AND {table}.sku IS NOT NULL"
        )
    return created
