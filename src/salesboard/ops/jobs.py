"""Scheduled jobs: their definitions, how one run is executed and recorded, and their operations.

A job is `fn(store) -> dict` (a short JSON-able summary). Every run, scheduled or manual, goes
through `run_job`: one run of a job at a time, retries with exponential backoff for jobs that
are safe to repeat, and a `job_runs` row with start, end, status, error and output. A job's
exception never escapes `run_job`, so it can never kill the scheduler.

Later features register their jobs with `@job(...)` and their syncs with `@register_sync(...)`.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from ..clock import utcnow
from ..config import Settings
from ..errors import NotFound, SalesboardError
from ..remote.operations import operation
from ..store import Store


@dataclass(frozen=True)
class Job:
    name: str  # the fixed scheduler id
    description: str
    func: Callable[[Store], dict]
    cron: str  # default schedule (5-field cron in SALESBOARD_SCHEDULER_TIMEZONE)
    setting: str | None = None  # Settings field that overrides `cron`
    retry: bool = True  # safe to repeat after a failure

    def cron_for(self, settings: Settings) -> str:
        return getattr(settings, self.setting) if self.setting else self.cron


JOBS: dict[str, Job] = {}
SYNCS: dict[str, Callable[[Store], dict]] = {}
_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


def job(name: str, cron: str, description: str, *, setting: str | None = None, retry: bool = True):
    def register(fn):
        JOBS[name] = Job(name, description, fn, cron, setting, retry)
        return fn

    return register


def register_sync(name: str):
    """Add a sync to the daily-sync job: `fn(store) -> dict` (idempotent, as every pipeline run is)."""

    def register(fn):
        SYNCS[name] = fn
        return fn

    return register


def get(name: str) -> Job:
    try:
        return JOBS[name]
    except KeyError:
        raise NotFound(f"unknown job {name!r}; known jobs: {', '.join(JOBS)}") from None


class JobFailed(SalesboardError):
    """A job finished but found a problem (e.g. an unhealthy check); recorded as failed."""


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:500]


def run_job(store: Store, name: str, *, trigger: str = "manual", actor: str | None = None,
            clock: Callable[[], datetime] = utcnow, sleep: Callable[[float], None] = time.sleep) -> dict:
    """Run a job now and record it; returns the job_runs row. Never raises for the job's own errors."""
    spec = get(name)
    with _locks_guard:
        lock = _locks.setdefault(name, threading.Lock())
    if not lock.acquire(blocking=False):
        return _record(store, name, trigger, actor, clock(), clock(), "skipped", 0,
                       "already running (max_instances=1)", None)
    try:
        started = clock()
        with store.write() as cur:
            run_id = cur.execute(
                "INSERT INTO job_runs (job, trigger, started_at, status, actor) VALUES (?, ?, ?, 'running', ?) "
                "RETURNING id", [name, trigger, started, actor]).fetchone()[0]
        retries = store.settings.job_retries if spec.retry else 0
        attempts, output, error, status = 0, None, None, "failed"
        while True:
            attempts += 1
            try:
                output = spec.func(store)
                status, error = "success", None
                break
            except Exception as exc:  # noqa: BLE001 - recorded; a job never takes the scheduler down
                error = _one_line(exc)
                if isinstance(exc, JobFailed) or attempts > retries:
                    break
                sleep(store.settings.job_retry_backoff_seconds * 2 ** (attempts - 1))
        return _finish(store, run_id, clock(), status, attempts, error, output)
    finally:
        lock.release()


def _record(store, name, trigger, actor, started, finished, status, attempts, error, output) -> dict:
    with store.write() as cur:
        run_id = cur.execute(
            "INSERT INTO job_runs (job, trigger, started_at, finished_at, status, attempts, error, output, actor) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            [name, trigger, started, finished, status, attempts, error, json.dumps(output, default=str), actor],
        ).fetchone()[0]
    return run_row(store, run_id)


def _finish(store, run_id, finished, status, attempts, error, output) -> dict:
    with store.write() as cur:
        cur.execute("UPDATE job_runs SET finished_at = ?, status = ?, attempts = ?, error = ?, output = ? WHERE id = ?",
                    [finished, status, attempts, error, json.dumps(output, default=str), run_id])
    return run_row(store, run_id)


def run_row(store: Store, run_id: int) -> dict:
    return _jsonable(store.query_dicts("SELECT * FROM job_runs WHERE id = ?", [run_id])[0])


def _jsonable(row: dict) -> dict:
    if isinstance(row.get("output"), str):
        row["output"] = json.loads(row["output"])
    return row


def history(store: Store, name: str | None = None, limit: int = 50) -> list[dict]:
    rows = store.query_dicts(
        "SELECT * FROM job_runs WHERE ? IS NULL OR job = ? ORDER BY id DESC LIMIT ?", [name, name, limit])
    return [_jsonable(r) for r in rows]


def last_runs(store: Store) -> dict[str, dict]:
    rows = store.query_dicts("SELECT * FROM job_runs WHERE id IN (SELECT max(id) FROM job_runs GROUP BY job)")
    return {r["job"]: _jsonable(r) for r in rows}


def mark_interrupted(store: Store) -> int:
    """Runs left 'running' by a process that stopped mid-job (or restored from a backup taken mid-job)."""
    with store.write() as cur:
        return len(cur.execute("UPDATE job_runs SET status = 'interrupted', finished_at = ? "
                               "WHERE status = 'running' RETURNING 1", [utcnow()]).fetchall())


# -- the default jobs --------------------------------------------------------------

@job("daily-sync", "0 2 * * *", "Run every configured data sync", setting="job_sync_cron")
def daily_sync(store: Store) -> dict:
    if not SYNCS:
        return {"message": "nothing configured", "syncs": {}}
    results, failed = {}, []
    for name, fn in SYNCS.items():  # one failing source must not stop the others
        try:
            results[name] = fn(store)
        except Exception as exc:  # noqa: BLE001 - reported in the run's error
            results[name] = {"error": _one_line(exc)}
            failed.append(name)
    if failed:
        raise SalesboardError(f"sync(s) failed: {', '.join(failed)}: "
                              + "; ".join(results[n]["error"] for n in failed))
    return {"syncs": results}


@job("health-check", "0 * * * *", "Database ready, migrations applied, a recent verified backup",
     setting="job_health_cron", retry=False)  # a retry would only repeat the finding; next hour checks again
def health_check(store: Store) -> dict:
    from ..backup.operations import status as backup_status

    checks: dict = {}
    problems = []
    try:  # the same checks as GET /readyz
        store.query_one("SELECT 1")
        pending = store.pending_migrations()
        checks["database"] = "ok"
        checks["migrations"] = "ok" if not pending else f"pending: {', '.join(pending)}"
        if pending:
            problems.append(f"migrations pending: {', '.join(pending)}")
    except Exception as exc:  # noqa: BLE001 - reported as unhealthy
        checks["database"] = _one_line(exc)
        problems.append(f"database: {checks['database']}")
    b = backup_status(store)
    checks["backup"] = {k: b[k] for k in ("newest_verified", "age_hours", "max_age_hours", "fresh", "first_backup_pending")}
    if not b["fresh"]:
        problems.append(f"no verified backup in the last {b['max_age_hours']} h"
                        + (f" (newest: {b['newest_verified']}, {b['age_hours']} h old)" if b["newest_verified"] else ""))
    if problems:
        raise JobFailed("unhealthy: " + "; ".join(problems))
    return checks


@job("daily-backup", "0 3 * * *", "Back up, verify, and upload when S3 is configured", setting="job_backup_cron")
def daily_backup(store: Store) -> dict:
    from ..backup.operations import make_backup

    r = make_backup(store, upload=None, actor="scheduler")
    return {k: r[k] for k in ("name", "size", "verified", "snapshot_seconds", "verify_seconds")} | {
        "uploaded": bool(r["uploaded"])}


@job("weekly-cleanup", "0 4 * * sun", "Purge expired sessions, apply backup retention, trim job history",
     setting="job_cleanup_cron")
def weekly_cleanup(store: Store) -> dict:
    from ..auth.sessions import purge_expired
    from ..backup.catalog import backup_dir
    from ..backup.operations import prune

    sessions = purge_expired(store)
    pruned = prune(store)
    with store.write() as cur:
        trimmed = len(cur.execute("DELETE FROM job_runs WHERE started_at < ? RETURNING 1",
                                  [utcnow() - timedelta(days=180)]).fetchall())
    for leftover in (".scratch", ".drill"):  # scratch copies of runs that died mid-way
        shutil.rmtree(backup_dir(store.settings) / leftover, ignore_errors=True)
    return {"sessions_purged": sessions, "backups_deleted_local": sorted(pruned["local"]["delete"]),
            "backups_deleted_s3": sorted(pruned["s3"]["delete"]) if pruned["s3"] else None,
            "job_runs_trimmed": trimmed}


# -- operations (`salesboard jobs ...`) ----------------------------------------------

@operation("jobs.list")
def op_list(store, actor, progress):
    from .scheduler import current_scheduler

    sched = current_scheduler()
    nexts = sched.next_runs() if sched else {}
    last = last_runs(store)
    return {"scheduler_running": sched is not None, "timezone": store.settings.scheduler_timezone, "jobs": [
        {"name": j.name, "description": j.description, "cron": j.cron_for(store.settings), "retry": j.retry,
         "next_run": nexts.get(j.name), "last_run": last.get(j.name)} for j in JOBS.values()]}


@operation("jobs.run")
def op_run(store, actor, progress, name):
    return run_job(store, name, trigger="manual", actor=actor.username)


@operation("jobs.history")
def op_history(store, actor, progress, name=None, limit=50):
    if name:
        get(name)
    return {"runs": history(store, name, int(limit))}
