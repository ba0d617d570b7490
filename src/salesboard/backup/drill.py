"""Disaster-recovery drill: restore the latest offsite backup into scratch and time it.

Proves, on a schedule or by hand, that the backup we would need after losing the machine
downloads, verifies and answers queries, and how long that takes against the objective.
"""

from __future__ import annotations

import json
import shutil
import time

import duckdb

from ..clock import utcnow
from ..store import Store
from . import BackupError, catalog
from .catalog import backup_dir
from .verify import verify_backup


def run_drill(store: Store, source: str = "s3", progress=None) -> dict:
    settings = store.settings
    started, t0 = utcnow(), time.perf_counter()
    scratch = backup_dir(settings) / ".drill" / f"{started:%Y%m%d_%H%M%S}"
    result = {"source": source, "backup": None, "status": "failed", "error": None,
              "objective_seconds": settings.dr_rto_minutes * 60}
    try:
        if source == "s3":
            from .s3 import Offsite

            off = Offsite(settings)
            names = [n for n, i in off.list().items() if i["data_key"] and i["manifest_key"]]
            if not names:
                raise BackupError(f"no complete backup in s3://{off.bucket}/{off.prefix}; run `salesboard backup --upload`")
            result["backup"] = names[-1]
            data, mpath = off.download(names[-1], scratch, progress)
            manifest = catalog.LocalBackup(names[-1], data, mpath).manifest(settings.backup_signing_key)
        elif source == "local":
            b = catalog.find_local(settings, "latest", catalog.known_bad(store))
            result["backup"] = b.name
            data, manifest = b.data_path, b.manifest(settings.backup_signing_key)
        else:
            raise BackupError(f"--from must be s3 or local, not {source!r}")
        report = verify_backup(data, manifest, scratch / "restored.duckdb", keep=True, progress=progress)
        if not report.ok:
            raise BackupError(f"backup {result['backup']} failed verification: {report.message}")
        con = duckdb.connect(str(report.scratch), read_only=True)
        try:  # the restored copy answers the dashboard's basic question
            result["sales"], result["revenue"] = con.execute(
                "SELECT count(*), coalesce(sum(net_amount_base), 0)::VARCHAR FROM sales").fetchone()
        finally:
            con.close()
        result["status"] = "success"
    except BackupError as exc:
        result["error"] = str(exc)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    result["rto_seconds"] = round(time.perf_counter() - t0, 3)
    result["within_objective"] = result["status"] == "success" and result["rto_seconds"] <= result["objective_seconds"]
    with store.write() as cur:
        cur.execute(
            "INSERT INTO dr_drills (started_at, finished_at, source, backup_name, status, rto_seconds, "
            "objective_seconds, error, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [started, utcnow(), source, result["backup"], result["status"], result["rto_seconds"],
             result["objective_seconds"], result["error"], json.dumps(result, default=str)])
    return result


def last_drill(store: Store) -> dict | None:
    rows = store.query_dicts("SELECT * FROM dr_drills ORDER BY id DESC LIMIT 1")
    return rows[0] if rows else None
