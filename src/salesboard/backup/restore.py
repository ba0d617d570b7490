"""Restore: verify first, keep a safety copy of the current database, swap atomically.

Nothing is touched until the backup has been restored into a scratch file next to the
database and proven equal to its manifest. The swap happens while the store is closed and
writers wait (`Store.reopen`), so a running server pauses, swaps and resumes.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import duckdb

from ..auth import audit
from ..clock import utcnow
from ..config import Settings
from ..store import Store
from . import BackupError, catalog
from .catalog import LocalBackup, backup_dir
from .verify import VerifyReport, verify_backup


def resolve(settings: Settings, ref: str, source: str, bad: set[str] = frozenset(), progress=None) -> LocalBackup:
    """The local backup to restore; with source 's3' it is downloaded (and checked) first."""
    if source == "local":
        return catalog.find_local(settings, ref, bad)
    if source != "s3":
        raise BackupError(f"--from must be local or s3, not {source!r}")
    from .s3 import Offsite

    off = Offsite(settings)
    names = [n for n, i in off.list().items() if i["data_key"] and i["manifest_key"] and n not in bad]
    if ref == "latest":
        if not names:
            raise BackupError(f"no complete backup in s3://{off.bucket}/{off.prefix}")
        name = names[-1]
    else:
        name = catalog.split_file_name(Path(ref).name)[0] if catalog.split_file_name(Path(ref).name) else ref
    folder = backup_dir(settings)
    data, manifest = off.download(name, folder, progress)
    return LocalBackup(name, data, manifest)


def _wal(path: Path) -> Path:
    return path.with_name(path.name + ".wal")


def _keep_safety_copy(db: Path, safety: Path) -> None:
    """Hard link when possible (instant, same inode); a copy otherwise. The file is closed here."""
    safety.parent.mkdir(parents=True, exist_ok=True)
    if db.exists():
        try:
            os.link(db, safety)
        except OSError:
            shutil.copy2(db, safety)
    if _wal(db).exists():  # a WAL left behind would be replayed onto the restored file
        os.replace(_wal(db), _wal(safety))


def prepare(settings: Settings, backup: LocalBackup, progress=None) -> tuple[dict, VerifyReport]:
    """Verify into a scratch file beside the database; the scratch copy is what gets swapped in."""
    manifest = backup.manifest()
    scratch = settings.db.with_name(f".restore-{backup.name}.duckdb")
    report = verify_backup(backup.data_path, manifest, scratch, keep=True, progress=progress)
    if not report.ok:
        raise BackupError(f"backup {backup.name} is refused: {report.message}. The current database was not "
                          "touched; try an older backup (`salesboard backups list`)")
    return manifest, report


def safety_path(settings: Settings) -> Path:
    return backup_dir(settings) / "safety" / f"pre_restore_{utcnow():%Y%m%d_%H%M%S}.duckdb"


def restore_into_store(store: Store, backup: LocalBackup, *, actor: str = "system", progress=None) -> dict:
    """Restore while the store is open (CLI with a free database, or inside the running server)."""
    start = time.perf_counter()
    settings = store.settings
    manifest, report = prepare(settings, backup, progress)
    live_version = store.data_version()
    safety = safety_path(settings)

    def swap():
        _keep_safety_copy(store.path, safety)
        os.replace(report.scratch, store.path)  # atomic on one filesystem

    def undo():
        os.replace(safety, store.path)
        if _wal(safety).exists():
            os.replace(_wal(safety), _wal(store.path))

    progress and progress({"stage": "swap"})
    store.reopen(swap)
    try:
        store.migrate()  # an older backup may predate later migrations
        rows = store.query_one("SELECT count(*) FROM sales")[0]
        if rows != manifest["tables"]["sales"]["rows"]:
            raise BackupError(f"restored database has {rows} sales, manifest says {manifest['tables']['sales']['rows']}")
        with store.write() as cur:
            # Caches key on data_version: never let it go back to a number that meant other data.
            cur.execute("UPDATE data_version SET version = greatest(version, ?) + 1, "
                        "changed_at = current_timestamp::TIMESTAMP WHERE id = 1", [live_version])
            audit.record(cur, "backup.restore", actor=actor, target=backup.name,
                         detail={"safety_copy": str(safety), "created_at": manifest["created_at"]})
            catalog.record_verify(cur, manifest, True, None, utcnow())
    except Exception:
        shutil.copy2(safety, safety.with_name(safety.name + ".keep"))  # keep evidence before undoing
        store.reopen(undo)
        raise
    return {"restored": backup.name, "backup_created_at": manifest["created_at"], "safety_copy": str(safety),
            "verify_seconds": round(report.seconds, 3), "seconds": round(time.perf_counter() - start, 3),
            "sales": manifest["tables"]["sales"]["rows"], "schema_version": store.schema_version()}


def restore_offline(settings: Settings, backup: LocalBackup, progress=None) -> dict:
    """Restore when the database cannot be opened at all (missing or damaged file); no server may run."""
    start = time.perf_counter()
    manifest, report = prepare(settings, backup, progress)
    safety = safety_path(settings)
    _keep_safety_copy(settings.db, safety)
    os.replace(report.scratch, settings.db)
    from ..store import open_store

    store = open_store(settings)
    try:
        with store.write() as cur:
            audit.record(cur, "backup.restore", actor="cli", target=backup.name,
                         detail={"safety_copy": str(safety), "offline": True})
        schema = store.schema_version()
    finally:
        store.close()
    return {"restored": backup.name, "backup_created_at": manifest["created_at"], "safety_copy": str(safety),
            "verify_seconds": round(report.seconds, 3), "seconds": round(time.perf_counter() - start, 3),
            "sales": manifest["tables"]["sales"]["rows"], "schema_version": schema, "offline": True}


def probe(settings: Settings) -> str:
    """'missing', 'ok', 'locked' (a server holds it) or 'unreadable' (damaged: restore offline)."""
    if not settings.db.exists():
        return "missing"
    try:
        con = duckdb.connect(str(settings.db), read_only=True)
    except duckdb.IOException as exc:
        return "locked" if "lock" in str(exc).lower() else "unreadable"
    except duckdb.Error:
        return "unreadable"
    try:
        con.execute("SELECT count(*) FROM sales").fetchall()
        return "ok"
    except duckdb.Error:
        return "unreadable"
    finally:
        con.close()
