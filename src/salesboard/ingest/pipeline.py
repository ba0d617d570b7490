"""The pipeline: stage -> map -> validate -> enrich -> load, as ONE transaction per run.

Everything a run writes (sales rows, new products, quarantined rows, the
`sync_runs` ledger row, the rollup, the audit entry) commits together or not
at all: a run killed at any point leaves the database as it was. A run that
fails writes only a `failed` ledger row and an audit entry, in a second,
small transaction.
"""

from __future__ import annotations

import json
import tempfile
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import duckdb

from ..auth import audit
from ..clock import utcnow
from ..errors import SalesboardError
from ..store.connection import Store
from . import load, quarantine
from . import mapping as mappings
from .enrichment import enrich_select, products, regions
from .mapping import Mapping
from .sources import files
from .transform import Params, raw_json, typed_select
from .validation import known_currency_sql, mark_duplicates, reasons_sql

# CLI exit codes of an import (docs/imports.md).
EXIT_OK, EXIT_PARTIAL, EXIT_FAILED = 0, 5, 6
STAGE, TYPED = "__stage", "__typed"


class ImportFailed(SalesboardError):
    """The run failed and wrote nothing (only its `failed` ledger row and audit entry)."""

    exit_code = EXIT_FAILED


class _DryRun(Exception):
    def __init__(self, summary: dict):
        self.summary = summary


@dataclass
class Options:
    base_currency: str
    future_days: int
    fx_max_age_days: int



def new_run_id(kind: str) -> str:
    return f"{kind}-{datetime.now(timezone.utc):%Y%m%d%H%M%S}-{uuid.uuid4().hex[:6]}"


def options(store: Store) -> Options:
    s = store.settings
    return Options(s.base_currency.upper(), s.import_future_days, s.fx_max_age_days)


def first_rowid(cur, table: str = TYPED) -> int:
    """Rows are numbered from rowids (transform.row_number); inside a transaction rowids start at 2**55."""
    return cur.execute(f"SELECT coalesce(min(rowid), 0) FROM {table}").fetchone()[0]


def typed_sql(cur, m: Mapping, resolved: dict[str, str], staged: files.Staged, opts: Options, p: Params, *,
              lean: bool = True) -> str:
    """The one pass over the source: final sales columns, the product fields, every reason (duplicates aside)
    and, for rows with a reason, the source row as it was (`__raw`).

    lean: product name/category only for SKUs not known yet and state only for rows without a region (what
    the later steps use); NULL elsewhere keeps the temp table of a big import small. A preview shows them all.
    """
    p.values.update(staged.params)
    enriched = enrich_select(cur, typed_select(m, resolved, staged.columns, opts.base_currency, p, staged.relation),
                             m, p, base_currency=opts.base_currency, fx_max_age_days=opts.fx_max_age_days)
    reasons = reasons_sql(m, p, base_currency=opts.base_currency, future_days=opts.future_days,
                          fx_max_age_days=opts.fx_max_age_days)
    final = ", ".join(f"{expr} AS {name}" for name, expr in load.FINAL.items())
    extra = ("CASE WHEN region IS NULL THEN state END AS state, sku, "
             "CASE WHEN product_id IS NULL THEN product_name END AS product_name, "
             "CASE WHEN product_id IS NULL THEN category END AS category") if lean else \
        "state, sku, product_name, category"
    return (f"SELECT source_key, {final}, {extra}, reasons, NULL::BIGINT AS __row, "
            f"CASE WHEN len(reasons) > 0 THEN {raw_json(staged.columns)} END AS __raw "
            f"FROM (SELECT *, {reasons} AS reasons FROM (SELECT *, {known_currency_sql()} FROM ({enriched})))")


@contextmanager
def private_cursor(store: Store):
    """A connection of our own: its temp (staging) tables are invisible to others and vanish with it."""
    cur = store.cursor().cursor()
    try:
        cur.execute("SET TimeZone = 'UTC'")
        yield cur
    finally:
        cur.close()


_budget_lock = threading.Lock()
_budget_users = 0
_budget_saved: str | None = None


@contextmanager
def memory_budget(store: Store, cur):
    """DuckDB's memory_limit (one per database) at SALESBOARD_IMPORT_MEMORY_LIMIT while any import runs.

    Without it DuckDB may take 80% of RAM: a 10M-row import peaked at 6.6 GB RSS. With it, temp tables
    spill to disk. The previous limit comes back when the last concurrent import ends.
    """
    global _budget_users, _budget_saved
    limit = store.settings.import_memory_limit
    if not limit:
        yield
        return
    with _budget_lock:
        if _budget_users == 0:
            _budget_saved = cur.execute("SELECT current_setting('memory_limit')").fetchone()[0]
            try:
                cur.execute("SET memory_limit = $limit", {"limit": limit})
            except duckdb.Error as exc:
                raise SalesboardError(f"SALESBOARD_IMPORT_MEMORY_LIMIT={limit!r} is not a memory size DuckDB "
                                      f"accepts (e.g. 1GB, 512MB): {str(exc).splitlines()[0]}") from None
        _budget_users += 1
    try:
        yield
    finally:
        with _budget_lock:
            _budget_users -= 1
            if _budget_users == 0 and _budget_saved:
                # RESET gives the default exactly; the saved text is rounded (18.8 GiB), so it is only
                # used when someone had set another limit.
                cur.execute("RESET memory_limit")
                if cur.execute("SELECT current_setting('memory_limit')").fetchone()[0] != _budget_saved:
                    cur.execute("SET memory_limit = $limit", {"limit": _budget_saved})


def process(store: Store, cur, m: Mapping, staged: files.Staged, *, source: str, run_id: str, opts: Options,
            progress, finish, replaying: list[int] | None = None) -> dict:
    """Map, validate and enrich the source rows, then load them and call finish(cur, counts) in ONE transaction.

    The typed pass (read, map, validate, enrich) fills a temp table of this
    private connection before the transaction (DuckDB scans temp tables
    created inside a transaction 4x slower) and holds no lock.
    """
    resolved = mappings.resolve_columns(m, staged.columns)
    p = Params()
    timings = progress.timings
    with timings("read_validate"):
        try:
            cur.execute(f"CREATE OR REPLACE TEMP TABLE {TYPED} AS {typed_sql(cur, m, resolved, staged, opts, p)}",
                        p.values)
        except duckdb.Error as exc:
            raise files.reader_error(staged.info, exc) from None
        staged.rows = cur.execute(f"SELECT count(*) FROM {TYPED}").fetchone()[0]
        staged.count_rejects(cur)
    progress("validating")
    with timings("duplicates"):
        first = first_rowid(cur)
        dups = mark_duplicates(cur, TYPED, first)
        if dups:
            quarantine.fill_raw(cur, TYPED, staged, first_rowid=first)
    with store.write(cur):
        counts = _load(cur, m, staged, source=source, run_id=run_id, progress=progress, dups=dups, first=first,
                       replaying=replaying)
        finish(cur, counts)
    return counts


def _load(cur, m: Mapping, staged: files.Staged, *, source: str, run_id: str, progress, dups: int,
          first: int, replaying: list[int] | None) -> dict:
    timings = progress.timings
    with timings("products"):
        created = products.create_missing(cur, TYPED) if m.unknown_products == "create" else 0
        if m.defines("country"):
            regions.fill(cur, TYPED)
    now = utcnow()
    mapping_ref = m.origin.removeprefix("built-in:")
    with timings("quarantine"):
        bad = cur.execute(f"SELECT count(*) FROM {TYPED} WHERE len(reasons) > 0").fetchone()[0]
        if bad:
            quarantine.insert_invalid(cur, TYPED, run_id=run_id, source=source, mapping=mapping_ref, now=now,
                                      first_rowid=first)
        if staged.rejects:
            quarantine.insert_rejects(cur, staged.rejects_table, run_id=run_id, source=source,
                                      mapping=mapping_ref, now=now)
        superseded = quarantine.supersede(cur, TYPED, source=source, run_id=run_id, now=now, keep=replaying)
    progress("loading")
    with timings("load"):
        counts = load.merge(cur, TYPED, source=source, load_id=run_id, now=now, timings=timings)
        if counts["inserted"] or counts["updated"]:
            Store.bump_data_version(cur)
    return {**counts, "rows_read": staged.rows + staged.rejects, "quarantined": bad + staged.rejects,
            "duplicates": dups, "rejected_lines": staged.rejects, "products_created": created,
            "quarantine_superseded": superseded}


def _ledger(cur, run_id: str, *, source: str, kind: str, started: datetime, status: str, counts: dict,
            error: str | None, detail: dict) -> None:
    cur.execute(
        """INSERT INTO sync_runs (run_id, source, kind, started_at, finished_at, status, rows_read, rows_inserted,
               rows_updated, rows_unchanged, rows_quarantined, error, detail)
           VALUES ($run, $source, $kind, $started, $finished, $status, $read, $ins, $upd, $unch, $q, $err, $detail)""",
        {"run": run_id, "source": source, "kind": kind, "started": started, "finished": utcnow(), "status": status,
         "read": counts.get("rows_read", 0), "ins": counts.get("inserted", 0), "upd": counts.get("updated", 0),
         "unch": counts.get("unchanged", 0), "q": counts.get("quarantined", 0), "err": error,
         "detail": json.dumps(detail, default=str)},
    )


class _Progress:
    """Turns DuckDB's per-statement progress into rows done and rows/s for the caller's progress bar."""

    _WEIGHTS = {"reading": (0.0, 0.6), "validating": (0.6, 0.65), "loading": (0.65, 1.0)}

    def __init__(self, report, total: int | None):
        self.report, self.total, self.started = report, total, time.monotonic()
        self.stage = "reading"
        self._done = 0
        self._stop = threading.Event()
        self.seconds: dict[str, float] = {}

    @contextmanager
    def timings(self, step: str):
        """Seconds per step, kept in the run's ledger detail (where an import spends its time)."""
        t0 = time.monotonic()
        try:
            yield
        finally:
            self.seconds[step] = round(self.seconds.get(step, 0.0) + time.monotonic() - t0, 3)

    def __call__(self, stage: str) -> None:
        self.stage = stage
        self.emit(0.0)

    def emit(self, pct: float) -> None:
        lo, hi = self._WEIGHTS.get(self.stage, (0.0, 1.0))
        frac = lo + (hi - lo) * max(0.0, min(pct, 100.0)) / 100.0
        done = int(frac * self.total) if self.total else None
        if done is not None:  # each statement of a stage reports from 0% again: never step the bar back
            done = self._done = max(done, self._done)
        elapsed = max(time.monotonic() - self.started, 1e-6)
        self.report({"stage": self.stage, "done": done, "total": self.total,
                     "rate": (done / elapsed) if done else None})

    @contextmanager
    def polling(self, cur):
        def poll():
            while not self._stop.wait(0.25):
                try:
                    pct = cur.query_progress()
                except duckdb.Error:
                    continue
                if pct >= 0:
                    self.emit(pct)

        cur.execute("SET enable_progress_bar = true")
        cur.execute("SET enable_progress_bar_print = false")
        thread = threading.Thread(target=poll, name="import-progress", daemon=True)
        thread.start()
        try:
            yield
        finally:
            self._stop.set()
            thread.join()

    def done(self, rows: int) -> None:
        elapsed = max(time.monotonic() - self.started, 1e-6)
        self.report({"stage": "done", "done": rows, "total": rows, "rate": rows / elapsed})


def _estimate_rows(path: Path) -> int | None:
    try:
        size = path.stat().st_size
        with path.open("rb") as fh:
            head = fh.read(256 * 1024)
    except OSError:
        return None
    lines = head.count(b"\n")
    if not lines or path.suffix.lower() in (".gz", ".zip", ".parquet", ".xlsx"):
        return None
    return max(1, int(size / (len(head) / lines)) - 1) if len(head) < size else max(1, lines - 1)


def run_file(store: Store, actor, path: str, *, mapping: str | None = None, source: str | None = None,
             encoding: str | None = None, delimiter: str | None = None, fmt: str | None = None,
             dry_run: bool = False, progress=None, kind: str = "file") -> dict:
    """Import one file as one run; returns the summary (raises ImportFailed after recording a failed run)."""
    report = progress or (lambda _: None)
    run_id = new_run_id("import")
    started, t0 = utcnow(), time.monotonic()
    file = Path(path)
    track = _Progress(report, _estimate_rows(file) if file.is_file() else None)
    detail: dict = {"file": str(file), "mapping": mapping, "dry_run": dry_run}
    run_source = source or "file"
    opts = options(store)
    try:
        with tempfile.TemporaryDirectory(prefix="salesboard-import-") as tmp:
            info = files.detect(file, Path(tmp), encoding=encoding, delimiter=delimiter, fmt=fmt)
            detail.update(info.as_dict())
            with private_cursor(store) as cur, memory_budget(store, cur), track.polling(cur):
                staged = files.open_source(cur, info, run_id.replace("-", "_"))
                m = mappings.load(mapping) if mapping else mappings.detect(staged.columns)
                run_source = source or m.source or "file"
                detail["mapping"] = m.origin.removeprefix("built-in:")

                def finish(cur, counts):
                    nonlocal summary
                    detail["timings"] = track.seconds
                    summary = _summary(run_id, run_source, counts, detail, t0)
                    if dry_run:
                        raise _DryRun(summary)  # rolls the transaction back
                    _ledger(cur, run_id, source=run_source, kind=kind, started=started, status=summary["status"],
                            counts=counts, error=None, detail={**detail, **_extra(counts)})
                    audit.record(cur, "import.run", actor=actor.username, target=run_source,
                                 detail={"run_id": run_id, "file": file.name, **counts, "status": summary["status"]})

                summary = None
                process(store, cur, m, staged, source=run_source, run_id=run_id, opts=opts, progress=track,
                        finish=finish)
    except _DryRun as dry:
        track.done(dry.summary["rows_read"])
        return dry.summary
    except BaseException as exc:  # noqa: BLE001 - recorded, then re-raised as the user's one-line error
        if not dry_run:  # a dry run writes nothing, not even its failure
            _record_failure(store, actor, run_id, run_source, kind, started, detail, exc)
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        what = "dry run failed" if dry_run else f"import failed, nothing was written (run {run_id})"
        raise ImportFailed(_printable(f"{what}: {_message(exc)}")) from None
    track.done(summary["rows_read"])
    return summary


def _printable(text: str) -> str:
    """One line without control characters: a message can quote bytes of a broken file (NULs, line breaks)."""
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text)


def products_warning(s: dict) -> str | None:
    """The warning for SKUs a run created (mapping `unknown_products = "create"`), for the CLI and the Imports page."""
    n = s.get("products_created") or 0
    if not n:
        return None
    verb = "would be created" if s.get("dry_run") else "created"
    return (f"{n:,} unknown product{'s' if n > 1 else ''} {verb} from the file's SKUs; set "
            'unknown_products = "reject" in the mapping to quarantine such rows instead')


def _message(exc: BaseException) -> str:
    if isinstance(exc, SalesboardError):
        return str(exc)
    return f"{type(exc).__name__}: {str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ''}"


def _record_failure(store, actor, run_id, source, kind, started, detail, exc) -> None:
    try:
        with store.write() as cur:
            _ledger(cur, run_id, source=source, kind=kind, started=started, status="failed", counts={},
                    error=_message(exc), detail=detail)
            audit.record(cur, "import.failed", actor=actor.username, target=source, success=False,
                         detail={"run_id": run_id, "error": _message(exc), "file": detail.get("file")})
    except Exception:  # noqa: BLE001 - the original error is the one to report
        pass


def _extra(counts: dict) -> dict:
    return {k: counts[k] for k in ("duplicates", "rejected_lines", "products_created", "quarantine_superseded")}


def _summary(run_id: str, source: str, counts: dict, detail: dict, t0: float) -> dict:
    loaded = counts["inserted"] + counts["updated"] + counts["unchanged"]
    status = "partial" if counts["quarantined"] else "success"
    if detail.get("dry_run"):
        status = "dry-run " + status
    return {
        "run_id": run_id, "status": status, "source": source, "file": detail.get("file"),
        "mapping": detail.get("mapping"), "format": detail.get("format"), "encoding": detail.get("encoding"),
        "rows_read": counts["rows_read"], "loaded": loaded, "inserted": counts["inserted"],
        "updated": counts["updated"], "unchanged": counts["unchanged"], "quarantined": counts["quarantined"],
        **_extra(counts), "dry_run": bool(detail.get("dry_run")), "duration_s": round(time.monotonic() - t0, 3),
        "exit_code": EXIT_PARTIAL if counts["quarantined"] else EXIT_OK, "timings": detail.get("timings", {}),
    }


def describe_replay(r: dict) -> str:
    """One line for the CLI and the Quarantine page."""
    return (f"replayed {r['replayed']:,} rows: {r['loaded']:,} loaded, {r['quarantined']:,} quarantined again"
            + (f"; {r['superseded']:,} closed as superseded (a later row of their key is loaded)" if r["superseded"] else "")
            + (f"; {r['unparsable']} unparsable lines need a fixed file" if r["unparsable"] else ""))


def replay(store: Store, actor, *, ids: list[int] | None = None, run_id: str | None = None, every: bool = False,
           mapping: str | None = None, progress=None) -> dict:
    """Re-run open quarantined rows through the current mapping and rules: one run per (source, mapping)."""
    report = progress or (lambda _: None)
    opts = options(store)
    runs, unparsable, stale = [], 0, 0
    for group in quarantine.open_groups(store, ids=ids, run_id=run_id, every=every):
        unparsable += group["unparsable"]
        ids = group["ids"] or []  # NULL when the group holds only unparsable lines
        fresh = quarantine.close_stale(store, ids, actor=actor.username) if ids else []
        stale += len(ids) - len(fresh)
        group["ids"] = fresh
        if not group["ids"]:
            continue
        new_run, started, t0 = new_run_id("replay"), utcnow(), time.monotonic()
        track = _Progress(report, len(group["ids"]))
        detail = {"replay_of": run_id, "rows": len(group["ids"]), "mapping": mapping or group["mapping"]}
        try:
            with private_cursor(store) as cur:
                columns = quarantine.stage_rows(cur, group["ids"], STAGE)
                m = mappings.load(mapping or group["mapping"])
                staged = files.Staged(info=None, rows=len(group["ids"]), columns=columns, relation=STAGE)

                def finish(cur, counts, group=group, new_run=new_run, started=started, t0=t0, detail=detail):
                    nonlocal summary
                    quarantine.mark_replayed(cur, group["ids"], run_id=new_run, actor=actor.username)
                    detail["timings"] = track.seconds
                    summary = _summary(new_run, group["source"], counts, detail, t0)
                    _ledger(cur, new_run, source=group["source"], kind="replay", started=started,
                            status=summary["status"], counts=counts, error=None, detail={**detail, **_extra(counts)})
                    audit.record(cur, "quarantine.replay", actor=actor.username, target=group["source"],
                                 detail={"run_id": new_run, **counts, "status": summary["status"]})

                summary = None
                process(store, cur, m, staged, source=group["source"], run_id=new_run, opts=opts, progress=track,
                        finish=finish, replaying=group["ids"])
        except BaseException as exc:  # noqa: BLE001 - recorded, then re-raised as one line
            _record_failure(store, actor, new_run, group["source"], "replay", started, detail, exc)
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
            raise ImportFailed(f"replay failed, nothing was changed (run {new_run}): {_message(exc)}") from None
        track.done(summary["rows_read"])
        runs.append(summary)
    if not runs and not unparsable and not stale:
        raise SalesboardError("no open quarantined rows match; see `salesboard quarantine list`")
    worst = max((r["exit_code"] for r in runs), default=EXIT_PARTIAL if unparsable or not stale else EXIT_OK)
    return {"runs": runs, "unparsable": unparsable, "superseded": stale,
            "exit_code": EXIT_PARTIAL if unparsable else worst,
            "replayed": sum(r["rows_read"] for r in runs),
            "loaded": sum(r["loaded"] for r in runs), "quarantined": sum(r["quarantined"] for r in runs)}
