"""'Data as of ...': when sales last changed and when the last successful load finished."""

from __future__ import annotations

from ..store import Store


def data_as_of(store: Store) -> dict:
    row = store.query_one(
        """SELECT (SELECT changed_at FROM data_version WHERE id = 1),
                  (SELECT max(finished_at) FROM sync_runs WHERE status IN ('success', 'partial')),
                  (SELECT max(sold_at) FROM sales)"""
    )
    return {"changed_at": row[0], "last_load_at": row[1], "latest_sale_at": row[2]}
