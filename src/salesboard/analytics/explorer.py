"""The sales explorer: filtered, searched, sorted, paginated sale lines, and their CSV export.

Sort columns come from an allowlist (identifiers are never taken from
input); every value is a bound parameter; row-level security always applies.
"""

from __future__ import annotations

import io
from datetime import timedelta

import pandas as pd

from ..auth import audit
from ..auth.roles import Principal
from ..errors import ValidationError
from ..ops.metrics import timed
from ..store import Store
from .filters import Filters, dimension_sql

# label -> SQL expression over the joined row
COLUMNS = {
    "sold_at": "s.sold_at",
    "order_id": "s.order_id",
    "product": "p.name",
    "category": "p.category",
    "customer": "s.customer_name",
    "rep": "coalesce(u.display_name, u.username)",
    "region": "s.region",
    "country": "s.country",
    "channel": "s.channel",
    "quantity": "s.quantity",
    "unit_price": "s.unit_price",
    "discount": "s.discount",
    "net_amount": "s.net_amount",
    "currency": "s.currency",
    "net_amount_base": "s.net_amount_base",
    "cost_base": "s.cost_base",
    "status": "s.status",
    "source": "s.source",
}
PAGE_SIZES = (25, 50, 100, 250)
MAX_SEARCH = 100
_SEARCHED = ("s.order_id", "s.customer_name", "p.name", "s.customer_id")


def _base(f: Filters, principal: Principal, search: str | None) -> tuple[str, list]:
    # The shared predicate uses unqualified columns: apply it inside a subquery over sales.
    dims, params = dimension_sql(f, principal)
    sql = (
        " FROM (SELECT * FROM sales WHERE sold_at >= ? AND sold_at < ? AND " + dims + ") s"
        " LEFT JOIN products p ON p.id = s.product_id LEFT JOIN users u ON u.id = s.rep_id"
    )
    params = [f.start, f.end + timedelta(days=1), *params]
    if search:
        search = search.strip()
        if len(search) > MAX_SEARCH:
            raise ValidationError(f"Search text too long: at most {MAX_SEARCH} characters.")
        # Search text is literal: its wildcards are escaped, and DuckDB needs the ESCAPE clause to honour that.
        sql += " WHERE (" + " OR ".join(f"{col} ILIKE ? ESCAPE '\\'" for col in _SEARCHED) + ")"
        like = "%" + search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        params += [like] * len(_SEARCHED)
    return sql, params


def _select() -> str:
    return "SELECT " + ", ".join(f"{expr} AS {label}" for label, expr in COLUMNS.items())


def _order_by(sort: str, descending: bool) -> str:
    if sort not in COLUMNS:
        raise ValidationError(f"Cannot sort by {sort!r}; choose one of: {', '.join(COLUMNS)}.")
    # the natural key breaks ties, so pages and exports have one stable order
    return f" ORDER BY {COLUMNS[sort]} {'DESC' if descending else 'ASC'} NULLS LAST, s.source, s.source_key"


def page(store: Store, principal: Principal, f: Filters, *, search: str | None = None, sort: str = "sold_at",
         descending: bool = True, page_no: int = 1, page_size: int = 50) -> tuple[pd.DataFrame, int]:
    """One page of rows and the total number of matching rows."""
    order = _order_by(sort, descending)
    if page_size not in PAGE_SIZES:
        raise ValidationError(f"Page size must be one of {PAGE_SIZES}.")
    if page_no < 1:
        raise ValidationError("Page number starts at 1.")
    base, params = _base(f, principal, search)
    cur = store.cursor()
    with timed("explorer_count"):
        total = cur.execute("SELECT count(*)" + base, params).fetchone()[0]
    with timed("explorer_page"):
        df = cur.execute(
            _select() + base + order + " LIMIT ? OFFSET ?",
            [*params, page_size, (page_no - 1) * page_size],
        ).df()
    return df, total


def export_csv(store: Store, principal: Principal, f: Filters, *, search: str | None = None, sort: str = "sold_at",
               descending: bool = False, ip: str | None = None) -> tuple[bytes, int]:
    """All matching rows as CSV in the given order (row-level security applied), audited. Refuses oversized exports."""
    order = _order_by(sort, descending)
    base, params = _base(f, principal, search)
    cur = store.cursor()
    total = cur.execute("SELECT count(*)" + base, params).fetchone()[0]
    limit = store.settings.export_max_rows
    if total > limit:
        raise ValidationError(f"Export of {total:,} rows exceeds the limit of {limit:,}; narrow the filters.")
    with timed("explorer_export"):
        df = cur.execute(_select() + base + order, params).df()
    buf = io.StringIO()
    df.to_csv(buf, index=False)
    with store.write() as wcur:
        audit.record(wcur, "data.export", actor=principal.username, target="sales",
                     detail={"rows": total, "start": str(f.start), "end": str(f.end), "search": search or ""}, ip=ip)
    return buf.getvalue().encode("utf-8"), total
