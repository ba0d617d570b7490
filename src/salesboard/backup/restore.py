"""Restore: verify first, keep a safety copy of the current database, swap atomically.

Nothing is touched until the backup has been restored into a scratch file next to the
database and proven equal to its manifest. The swap happens while the store is closed and
writers wait (`Store.reopen`), so a running server pauses, swaps and resumes.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb

from ..auth import audit
from ..clock import utcnow
from ..config import Settings
from ..ops import jobs
from ..store import Store
from ..store.connection import is_lock_error
from . import BackupError, catalog
from .catalog import LocalBackup, backup_dir
from .manifest import database_stats
from .verify import verify_backup


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


@dataclass
class Prepared:
    """A database in scratch beside the live file, ready to be swapped in."""

    name: str
    scratch: Path
    created_at: str
    check_seconds: float
    manifest: dict | None  # None: a safety copy, which has no manifest (read in full, but unverified)


def prepare(settings: Settings, backup: LocalBackup, progress=None) -> Prepared:
    """Verify into a scratch file beside the database; the scratch copy is what gets swapped in."""
    if backup.safety_copy:
        return _prepare_safety_copy(settings, backup)
    manifest = backup.manifest(settings.backup_signing_key)
    scratch = settings.db.with_name(f".restore-{backup.name}.duckdb")
    report = verify_backup(backup.data_path, manifest, scratch, keep=True, progress=progress)
    if not report.ok:
        raise BackupError(f"backup {backup.name} is refused: {report.message}. The current database was not "
                          "touched; try an older backup (`salesboard backups list`)")
    return Prepared(backup.name, report.scratch, manifest["created_at"], report.seconds, manifest)


def _prepare_safety_copy(settings: Settings, backup: LocalBackup) -> Prepared:
    """Nothing to prove it against: copy it with its WAL (the copy is left as it was), fold the WAL
    into the file, and read every value (a damaged block fails here, before anything is touched)."""
    start = time.perf_counter()
    scratch = settings.db.with_name(f".restore-{backup.name}.duckdb")
    _wal(scratch).unlink(missing_ok=True)
    shutil.copyfile(backup.data_path, scratch)
    if _wal(backup.data_path).exists():
        shutil.copyfile(_wal(backup.data_path), _wal(scratch))
    try:
        con = duckdb.connect(str(scratch))
        try:
            con.execute("CHECKPOINT")
            database_stats(con)
        finally:
            con.close()
    except duckdb.Error as exc:
        for p in (scratch, _wal(scratch)):
            p.unlink(missing_ok=True)
        raise BackupError(f"safety copy {backup.data_path} is refused: it is damaged ({str(exc).splitlines()[0]}). "
                          "The current database was not touched; use a backup (`salesboard backups list`)") from None
    with open(scratch, "rb") as fh:
        os.fsync(fh.fileno())  # it becomes the database
    return Prepared(backup.name, scratch, backup.created_at.isoformat(), time.perf_counter() - start, None)


def safety_path(settings: Settings) -> Path:
    """A new name: two restores in one second (or restoring a safety copy made this second) must
    never write over an existing safety copy."""
    base = backup_dir(settings) / catalog.SAFETY_DIR / f"pre_restore_{utcnow():%Y%m%d_%H%M%S}"
    path, n = base.with_name(base.name + ".duckdb"), 1
    while path.exists() or _wal(path).exists():
        n += 1
        path = base.with_name(f"{base.name}_{n}.duckdb")
    return path


def _end_what_the_backup_left_open(store: Store) -> dict:
    """The restored file is an earlier moment: runs recorded 'running' there never finish here, and
    sessions that ended since (logout, password change, deactivation) would be valid again.
    So those runs are marked interrupted, and every session and login ticket ends: users sign in again."""
    interrupted = jobs.mark_interrupted(store)
    with store.write() as cur:
        sessions = len(cur.execute("DELETE FROM sessions RETURNING 1").fetchall())
        cur.execute("DELETE FROM login_tickets")
    return {"job_runs_interrupted": interrupted, "sessions_ended": sessions}


def _finish(store: Store, ready: Prepared, safety: Path, *, actor: str, start: float, live_version: int = 0,
            offline: bool = False) -> dict:
    """After the swap: end what the backup left open, bump the data version, audit; the result."""
    sales = store.query_one("SELECT count(*) FROM sales")[0]
    if ready.manifest and sales != ready.manifest["tables"]["sales"]["rows"]:
        raise BackupError(f"restored database has {sales} sales, manifest says {ready.manifest['tables']['sales']['rows']}")
    ended = _end_what_the_backup_left_open(store)
    detail = {"safety_copy": str(safety), "created_at": ready.created_at, "verified": ready.manifest is not None,
              "offline": offline, **ended}
    with store.write() as cur:
        # Caches key on data_version: never let it go back to a number that meant other data.
        cur.execute("UPDATE data_version SET version = greatest(version, ?) + 1, "
                    "changed_at = current_timestamp::TIMESTAMP WHERE id = 1", [live_version])
        audit.record(cur, "backup.restore", actor=actor, target=ready.name, detail=detail)
        if ready.manifest:
            catalog.record_verify(cur, ready.manifest, True, None, utcnow())
    return {"restored": ready.name, "backup_created_at": ready.created_at, "safety_copy": str(safety),
            "verified": ready.manifest is not None, "verify_seconds": round(ready.check_seconds, 3),
            "seconds": round(time.perf_counter() - start, 3), "sales": sales,
            "schema_version": store.schema_version(), "offline": offline, **ended}


def restore_into_store(store: Store, backup: LocalBackup, *, actor: str = "system", progress=None) -> dict:
    """Restore while the store is open (CLI with a free database, or inside the running server)."""
    start = time.perf_counter()
    ready = prepare(store.settings, backup, progress)
    live_version = store.data_version()
    safety = safety_path(store.settings)

    def swap():
        _keep_safety_copy(store.path, safety)
        os.replace(ready.scratch, store.path)  # atomic on one filesystem

    def undo():
        os.replace(safety, store.path)
        if _wal(safety).exists():
            os.replace(_wal(safety), _wal(store.path))

    progress and progress({"stage": "swap"})
    store.reopen(swap)
    try:
        store.migrate()  # an older backup may predate later migrations
        return _finish(store, ready, safety, actor=actor, start=start, live_version=live_version)
    except Exception:
        shutil.copy2(safety, safety.with_name(safety.name + ".keep"))  # keep evidence before undoing
        store.reopen(undo)
        raise


def restore_offline(settings: Settings, backup: LocalBackup, progress=None) -> dict:
    """Restore when the database cannot be opened at all (missing or damaged file); no server may run."""
    start = time.perf_counter()
    ready = prepare(settings, backup, progress)
    safety = safety_path(settings)
    _keep_safety_copy(settings.db, safety)
    os.replace(ready.scratch, settings.db)
    from ..store import open_store

    store = open_store(settings)
    try:
        return _finish(store, ready, safety, actor="cli", start=start, offline=True)
    finally:
        store.close()


def probe(settings: Settings) -> str:
    """'missing', 'ok', 'locked' (a server holds it) or 'unreadable' (damaged: restore offline)."""
    if not settings.db.exists():
        return "missing"
    try:
        con = duckdb.connect(str(settings.db), read_only=True)
    except duckdb.Error as exc:
        return "locked" if is_lock_error(exc) else "unreadable"
    try:
        # what opening the store and describing a restore read: if these work, restore online
        con.execute("SELECT (SELECT count(*) FROM sales), (SELECT max(version) FROM schema_migrations)").fetchall()
        return "ok"
    except duckdb.Error:
        return "unreadable"
    finally:
        con.close()
