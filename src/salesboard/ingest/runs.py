"""Read-only views of imports: the run ledger and a mapped preview of a file (`mappings check`)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import duckdb

from . import mapping as mappings
from .pipeline import Options, options, typed_sql
from .sources import files
from .transform import Params


def list_runs(store, *, limit: int = 50, source: str | None = None) -> list[dict]:
    where, params = ("WHERE source = $source", {"source": source}) if source else ("", {})
    rows = store.query_dicts(
        f"""SELECT run_id, source, kind, status, started_at, finished_at,
                   round(epoch(finished_at - started_at), 3) AS duration_s, rows_read, rows_inserted,
                   rows_updated, rows_unchanged, rows_quarantined, error, detail::VARCHAR AS detail
            FROM sync_runs {where} ORDER BY started_at DESC LIMIT $limit""", {**params, "limit": int(limit)})
    for r in rows:
        r["detail"] = json.loads(r["detail"]) if r["detail"] else {}
    return rows


def preview(store, path: str, *, mapping: str | None = None, encoding: str | None = None,
            delimiter: str | None = None, fmt: str | None = None, limit: int = 20) -> dict:
    """The first `limit` rows mapped, each with its reasons; nothing is written (the transaction rolls back)."""
    opts: Options = options(store)
    with tempfile.TemporaryDirectory(prefix="salesboard-check-") as tmp:
        info = files.detect(Path(path), Path(tmp), encoding=encoding, delimiter=delimiter, fmt=fmt)
        cur = store.cursor().cursor()  # a private connection: its temp tables vanish with it
        try:
            cur.execute("SET TimeZone = 'UTC'")
            source = files.open_source(cur, info, "check")
            m = mappings.load(mapping) if mapping else mappings.detect(source.columns)
            resolved = mappings.resolve_columns(m, source.columns)
            try:
                total = cur.execute(f"SELECT count(*) FROM {source.relation}", source.params).fetchone()[0]
            except duckdb.Error as exc:
                raise files.reader_error(info, exc) from None
            source.count_rejects(cur)
            cur.execute(f"CREATE TEMP TABLE __head AS SELECT * FROM {source.relation} LIMIT {int(limit)}",
                        source.params)
            head = files.Staged(info=info, rows=0, columns=source.columns, relation="__head")
            p = Params()
            cur.execute(f"CREATE TEMP TABLE __preview AS {typed_sql(cur, m, resolved, head, opts, p, lean=False)}", p.values)
            rel = cur.execute("SELECT * EXCLUDE (__raw, __row) FROM __preview ORDER BY rowid")
            cols = [d[0] for d in rel.description]
            rows = [dict(zip(cols, r)) for r in rel.fetchall()]
        finally:
            cur.close()
    return {"mapping": m.origin.removeprefix("built-in:"), "columns": source.columns, "file": info.as_dict(),
            "rows_in_file": total, "rejected_lines": source.rejects, "rows": rows,
            "errors": sum(1 for r in rows if r["reasons"])}
