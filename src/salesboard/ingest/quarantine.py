"""Quarantined rows: written by a run beside its loaded rows; listed, shown, replayed or discarded later.

Each row keeps the source row as it was (JSON object of column -> text) and
every reason in words. Replay rebuilds a staging table from those objects
and runs them through the current mapping and rules as a new run; the old
rows are then marked `replayed` (rows that fail again are quarantined anew
under the replay's run id). Discard marks rows `discarded`; nothing is deleted.
"""

from __future__ import annotations

from datetime import datetime

import duckdb

from ..auth import audit
from ..clock import utcnow
from ..errors import NotFound, ValidationError
from .transform import SRC, ident, raw_json, row_number
from .validation import DUPLICATE_REASON

READER_LINE = "_csv_line"  # raw key of a line the CSV reader could not split (cannot be re-mapped)



def insert_invalid(cur: duckdb.DuckDBPyConnection, typed: str, *, run_id: str, source: str, mapping: str,
                   now: datetime, first_rowid: int) -> None:
    """Quarantine the rows of `typed` that have reasons, with their raw source row (`__raw`)."""
    cur.execute(
        f"""INSERT INTO quarantine (run_id, source, mapping, row_number, source_key, raw, reasons, created_at)
            SELECT $run, $source, $mapping, {row_number(first_rowid)}, source_key, __raw, reasons, $now
            FROM {typed} WHERE len(reasons) > 0 ORDER BY 4""",
        {"run": run_id, "source": source, "mapping": mapping, "now": now},
    )


def fill_raw(cur: duckdb.DuckDBPyConnection, typed: str, staged, *, first_rowid: int,
             stage_table: str = "__restage") -> None:
    """Raw rows for rows that got a reason after the typed pass (duplicates): read the source once more.

    The typed pass builds a raw row only for rows with reasons then; this rare
    path pays one more read of the source rather than every import keeping
    every raw row.
    """
    staged.materialize(cur, stage_table)
    first = cur.execute(f"SELECT coalesce(min(rowid), 0) FROM {stage_table}").fetchone()[0]
    cur.execute(
        f"""UPDATE {typed} SET __raw = s.__raw FROM (SELECT rowid - {first} + 1 AS __row, {raw_json(staged.columns)} AS __raw
                FROM (SELECT {", ".join(f"{ident(c)} AS {SRC}{i}" for i, c in enumerate(staged.columns))}, rowid
                      FROM {stage_table})) s
            WHERE {row_number(first_rowid, typed)} = s.__row
              AND {typed}.__raw IS NULL AND len({typed}.reasons) > 0""")
    cur.execute(f"DROP TABLE {stage_table}")


def insert_rejects(cur: duckdb.DuckDBPyConnection, rejects_table: str, *, run_id: str, source: str, mapping: str,
                   now: datetime) -> None:
    """Quarantine the lines the CSV reader rejected (too many/few columns, bad quoting, bad UTF-8)."""
    cur.execute(
        f"""INSERT INTO quarantine (run_id, source, mapping, row_number, source_key, raw, reasons, created_at)
            SELECT $run, $source, $mapping, NULL, NULL,
                   json_object('{READER_LINE}', trim(any_value(csv_line), chr(13) || chr(10))),
                   list('record ' || line::VARCHAR || ' (the header is record 1): ' || error_message ORDER BY column_idx), $now
            FROM (SELECT *, min(column_idx) OVER w AS lo, max(column_idx) OVER w AS hi FROM {rejects_table}
                  WHERE scan_id = (SELECT min(scan_id) FROM {rejects_table})  -- a re-read adds copies
                  WINDOW w AS (PARTITION BY line, error_type))
            -- the reader reports a short line once per missing column ("Found: 1", "Found: 2", ...) and a long
            -- one once per extra column: keep the one with the line's true field count
            WHERE CASE error_type::VARCHAR WHEN 'MISSING COLUMNS' THEN column_idx = lo
                                           WHEN 'TOO MANY COLUMNS' THEN column_idx = hi ELSE true END
            GROUP BY line ORDER BY line""",
        {"run": run_id, "source": source, "mapping": mapping, "now": now},
    )


SUPERSEDED = "superseded"  # resolved_by of rows closed because a newer row of their key exists (status 'discarded')


def supersede(cur: duckdb.DuckDBPyConnection, typed: str, *, source: str, run_id: str, now: datetime,
              keep: list[int] | None = None) -> int:
    """Close open rows of earlier runs that this run has a newer row for (same source and key, or the same
    unparsable line): re-importing a file never doubles its quarantine, and a corrected re-import closes it.
    `keep`: rows this run is replaying (they are marked replayed instead)."""
    if not cur.execute("SELECT count(*) FROM quarantine WHERE status = 'open' AND source = $source AND run_id <> $run",
                       {"source": source, "run": run_id}).fetchone()[0]:
        return 0  # the common case: nothing to close, no need to look up this run's keys
    return cur.execute(
        f"""UPDATE quarantine SET status = 'discarded', resolved_at = $now, resolved_by = '{SUPERSEDED}',
                   resolved_run_id = $run
            WHERE status = 'open' AND source = $source AND run_id <> $run AND NOT list_contains($keep, id)
              AND (source_key IN (SELECT source_key FROM {typed} WHERE source_key IS NOT NULL)
                   OR (source_key IS NULL AND raw::VARCHAR IN (
                       SELECT raw::VARCHAR FROM quarantine WHERE run_id = $run AND source_key IS NULL)))""",
        {"now": now, "run": run_id, "source": source, "keep": keep or []}).fetchone()[0]


def close_stale(store, ids: list[int], *, actor: str) -> list[int]:
    """Of rows about to be replayed, close those that must not overwrite what is loaded now; return the rest.

    Stale: a duplicate that lost to a later row of the same file (replaying it would undo the winner), or a
    row whose key was written to `sales` at or after the row was quarantined (a newer version is loaded)."""
    with store.write() as cur:
        stale = [r[0] for r in cur.execute(
            f"""SELECT q.id FROM quarantine q WHERE list_contains($ids, q.id) AND (
                    list_contains(list_transform(q.reasons, r -> contains(r, '{DUPLICATE_REASON}')), true)
                    OR EXISTS (SELECT 1 FROM sales s WHERE s.source = q.source AND s.source_key = q.source_key
                               AND s.updated_at >= q.created_at))""", {"ids": ids}).fetchall()]
        if stale:
            cur.execute(f"UPDATE quarantine SET status = 'discarded', resolved_at = $now, resolved_by = '{SUPERSEDED}' "
                        "WHERE list_contains($ids, id)", {"now": utcnow(), "ids": stale})
            audit.record(cur, "quarantine.superseded", actor=actor, target="rows",
                         detail={"rows": len(stale), "ids": stale[:100]})
    return [i for i in ids if i not in set(stale)]


# -- the operator's commands ------------------------------------------------
_LIST_COLS = "id, run_id, source, mapping, row_number, source_key, reasons, status, created_at"


def list_rows(store, *, run_id: str | None = None, status: str | None = "open", limit: int = 100,
              offset: int = 0) -> dict:
    where, params = ["TRUE"], {}
    if run_id:
        where.append("run_id = $run")
        params["run"] = run_id
    if status and status != "all":
        if status not in ("open", "replayed", "discarded"):
            raise ValidationError("status must be open, replayed, discarded or all")
        where.append("status = $status")
        params["status"] = status
    cond = " AND ".join(where)
    total = store.query_one(f"SELECT count(*) FROM quarantine WHERE {cond}", params)[0]
    rows = store.query_dicts(
        f"SELECT {_LIST_COLS}, raw::VARCHAR AS raw FROM quarantine WHERE {cond} ORDER BY id LIMIT $lim OFFSET $off",
        {**params, "lim": int(limit), "off": int(offset)},
    )
    return {"total": total, "rows": rows}


def show(store, qid: int) -> dict:
    rows = store.query_dicts(f"SELECT {_LIST_COLS}, raw::VARCHAR AS raw, resolved_at, resolved_by, resolved_run_id "
                             "FROM quarantine WHERE id = $id", {"id": int(qid)})
    if not rows:
        raise NotFound(f"no quarantined row {qid}; see `salesboard quarantine list`")
    return rows[0]


def _select(ids: list[int] | None, run_id: str | None, every: bool) -> tuple[str, dict]:
    if ids:
        return "status = 'open' AND list_contains($ids, id)", {"ids": [int(i) for i in ids]}
    if run_id:
        return "status = 'open' AND run_id = $run", {"run": run_id}
    if every:
        return "status = 'open'", {}
    raise ValidationError("say which rows: give ids, --run RUN_ID or --all")


def discard(store, actor, *, ids: list[int] | None = None, run_id: str | None = None, every: bool = False) -> dict:
    cond, params = _select(ids, run_id, every)
    with store.write() as cur:
        n = cur.execute(
            f"UPDATE quarantine SET status = 'discarded', resolved_at = $now, resolved_by = $who WHERE {cond}",
            {**params, "now": utcnow(), "who": actor.username}).fetchone()[0]
        audit.record(cur, "quarantine.discard", actor=actor.username, target=run_id or "rows",
                     detail={"rows": n, "ids": ids, "run_id": run_id})
    return {"discarded": n}


def open_groups(store, *, ids: list[int] | None, run_id: str | None, every: bool) -> list[dict]:
    """Open rows to replay, grouped by (source, mapping); reader-rejected lines are counted apart."""
    cond, params = _select(ids, run_id, every)
    return store.query_dicts(
        f"""SELECT source, mapping, list(id ORDER BY id) FILTER (WHERE json_extract(raw, '$.{READER_LINE}') IS NULL) AS ids,
                   count(*) FILTER (WHERE json_extract(raw, '$.{READER_LINE}') IS NOT NULL) AS unparsable
            FROM quarantine WHERE {cond} GROUP BY ALL ORDER BY source, mapping""", params)


def stage_rows(cur: duckdb.DuckDBPyConnection, ids: list[int], table: str) -> list[str]:
    """Rebuild a staging table (columns as in the source, values as text) from quarantined raw rows."""
    keys = [r[0] for r in cur.execute(
        "SELECT DISTINCT unnest(json_keys(raw)) AS k FROM quarantine WHERE list_contains($ids, id) ORDER BY k",
        {"ids": ids}).fetchall()]
    params = {"ids": ids, **{f"k{i}": "$." + _json_path_key(k) for i, k in enumerate(keys)}}
    cols = ", ".join(f"json_extract_string(raw, $k{i}) AS {ident(k)}" for i, k in enumerate(keys))
    cur.execute(f"CREATE TEMP TABLE {table} AS SELECT {cols} FROM quarantine "
                "WHERE list_contains($ids, id) ORDER BY id", params)
    return keys


def export_csv(store, run_id: str) -> tuple[bytes, int]:
    """Every open row of a run as CSV: the source columns as they were, then `_quarantine_id` and `_reasons`.
    Fix the file and import it again, or fix the mapping and replay. Built by DuckDB (a DataFrame), not per row."""
    cur = store.cursor()
    where, params = "status = 'open' AND run_id = $run", {"run": run_id}
    # The source's column order (a raw row keeps it), then any key only some rows have.
    keys = [r[0] for r in cur.execute(
        f"""SELECT k FROM (SELECT unnest(json_keys(raw)) AS k, id, generate_subscripts(json_keys(raw), 1) AS pos
                           FROM quarantine WHERE {where}) GROUP BY k ORDER BY min(id), min(pos)""", params).fetchall()]
    params |= {f"k{i}": "$." + _json_path_key(k) for i, k in enumerate(keys)}
    cols = "".join(f"json_extract_string(raw, $k{i}) AS {ident(k)}, " for i, k in enumerate(keys))
    frame = cur.execute(f"SELECT {cols}id AS _quarantine_id, array_to_string(reasons, '; ') AS _reasons "
                        f"FROM quarantine WHERE {where} ORDER BY id", params).df()
    return frame.to_csv(index=False).encode("utf-8"), len(frame)


def _json_path_key(key: str) -> str:
    return '"' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'


def mark_replayed(cur: duckdb.DuckDBPyConnection, ids: list[int], *, run_id: str, actor: str) -> None:
    cur.execute("UPDATE quarantine SET status = 'replayed', resolved_at = $now, resolved_by = $who, "
                "resolved_run_id = $run WHERE list_contains($ids, id)",
                {"now": utcnow(), "who": actor, "run": run_id, "ids": ids})
