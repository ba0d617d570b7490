"""Make a consistent online backup inside the owner process, verify it, then write its manifest.

Two methods (SALESBOARD_BACKUP_METHOD), both taking their snapshot under `store.write_lock`:

- `checkpoint` (default): CHECKPOINT, then copy the database file while writers wait. With
  the write lock held the WAL is empty, so the file is the whole committed state; copying a
  live file *without* this is what loses data (DESIGN.md §1).
- `copy-database`: ATTACH a new file and `COPY FROM DATABASE` in a transaction whose snapshot
  is pinned under the lock; writers only wait for the pinning, but the copy rebuilds every
  table and index (~150x slower than a file copy at 10M rows, bench/backup_speed.py).

Either way the manifest's counts and fingerprints come from the *same* snapshot, read in the
transaction that was pinned under the lock, so verification proves the copy is that snapshot.
"""

from __future__ import annotations

import gzip
import hashlib
import secrets
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

from ..store import Store
from . import BackupError
from .catalog import LocalBackup, backup_dir, new_name, utcnow, write_json_atomic, MANIFEST_SUFFIX
from .manifest import CHUNK, FORMAT, database_stats, sha256_file
from .verify import VerifyReport, verify_backup

METHODS = ("checkpoint", "copy-database")
_running = threading.Lock()


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _snapshot_checkpoint(store: Store, cur, dest: Path) -> float:
    """Returns how long writers were paused."""
    with store.write_lock:
        paused = time.perf_counter()
        cur.execute("CHECKPOINT")
        wal = store.path.with_name(store.path.name + ".wal")
        if wal.exists() and wal.stat().st_size > 0:
            raise BackupError("the WAL is not empty after CHECKPOINT (an open write transaction?); "
                              "retry, or set SALESBOARD_BACKUP_METHOD=copy-database")
        cur.execute("BEGIN TRANSACTION")
        cur.execute("SELECT version FROM data_version").fetchall()  # pins this transaction's snapshot
        _copy_in_child(store.path, dest)
        return time.perf_counter() - paused


def _copy_in_child(src: Path, dest: Path) -> None:
    """Copy the live file from a child process. DuckDB's file lock is a POSIX fcntl lock, which a
    process loses when it closes *any* descriptor of that file: copying in-process would unlock it."""
    code = "import shutil, sys; shutil.copyfile(sys.argv[1], sys.argv[2])"
    done = subprocess.run([sys.executable, "-c", code, str(src), str(dest)], capture_output=True, text=True)
    if done.returncode != 0:
        raise BackupError(f"copying {src} failed: {done.stderr.strip().splitlines()[-1:]}")


def _snapshot_copy_database(store: Store, cur, dest: Path) -> tuple[str, float]:
    """Returns the alias to DETACH after the caller has read its stats and committed, and the pause."""
    alias = "bk_" + secrets.token_hex(6)
    source = cur.execute("SELECT current_database()").fetchone()[0]
    cur.execute(f"ATTACH {_sql_str(str(dest))} AS {alias}")
    try:
        with store.write_lock:
            paused = time.perf_counter()
            cur.execute("BEGIN TRANSACTION")
            cur.execute("SELECT version FROM data_version").fetchall()  # pins the snapshot
            paused = time.perf_counter() - paused
        cur.execute(f'COPY FROM DATABASE "{source}" TO {alias}')
    except BaseException:
        cur.execute("ROLLBACK")
        cur.execute(f"DETACH {alias}")
        raise
    return alias, paused


def _gzip(raw: Path, dest: Path) -> tuple[str, int]:
    sha, size = hashlib.sha256(), 0

    class _Out:
        def __init__(self, fh):
            self.fh = fh

        def write(self, b):
            nonlocal size
            sha.update(b)
            size += len(b)
            return self.fh.write(b)

        def flush(self):
            self.fh.flush()

    with open(raw, "rb") as src, open(dest, "wb") as fh:
        with gzip.GzipFile(fileobj=_Out(fh), mode="wb", compresslevel=1, mtime=0) as gz:
            while chunk := src.read(CHUNK):
                gz.write(chunk)
    return sha.hexdigest(), size


def create_backup(store: Store, *, method: str | None = None, compress: bool | None = None,
                  now: datetime | None = None, progress=None) -> tuple[LocalBackup, dict, VerifyReport]:
    """Snapshot, manifest, verify in scratch, then publish: data file renamed, manifest written last."""
    settings = store.settings
    method = method or settings.backup_method
    if method not in METHODS:
        raise BackupError(f"SALESBOARD_BACKUP_METHOD must be one of {', '.join(METHODS)}, not {method!r}")
    compress = settings.backup_compress if compress is None else compress
    if not _running.acquire(blocking=False):
        raise BackupError("another backup is running in this process; wait for it to finish")
    try:
        return _create(store, method, compress, now or utcnow(), progress or (lambda _: None))
    finally:
        _running.release()


def _create(store, method, compress, now, progress):
    folder = backup_dir(store.settings)
    folder.mkdir(parents=True, exist_ok=True)
    name = new_name(now)
    if any(p.name.startswith(name + ".") for p in folder.iterdir()):
        raise BackupError(f"{name} already exists in {folder}; wait a second and run the backup again")
    started = time.perf_counter()
    raw = folder / f"{name}.duckdb.partial"
    cur = store.cursor().cursor()  # a private connection: it holds a transaction open across threads' writes
    try:
        progress({"stage": "snapshot", "done": 0, "total": None})
        if method == "checkpoint":
            paused = _snapshot_checkpoint(store, cur, raw)
            stats = database_stats(cur)
            cur.execute("COMMIT")
        else:
            alias, paused = _snapshot_copy_database(store, cur, raw)
            stats = database_stats(cur)
            cur.execute("COMMIT")
            cur.execute(f"DETACH {alias}")
        snapshot_seconds = time.perf_counter() - started
    except BaseException:
        for p in (raw, raw.with_name(raw.name + ".wal")):
            p.unlink(missing_ok=True)
        raise
    finally:
        cur.close()
    try:
        raw_size = raw.stat().st_size
        raw_sha = sha256_file(raw)
        if compress:
            stored = folder / f"{name}.duckdb.gz.partial"
            sha, size = _gzip(raw, stored)
            raw.unlink()
        else:
            stored, sha, size = raw, raw_sha, raw_size
        final = folder / stored.name.removesuffix(".partial")
        manifest = {"format": FORMAT, "name": name, "file": final.name, "created_at": now.isoformat(),
                    "method": method, "compressed": compress, "size": size, "sha256": sha,
                    "raw_size": raw_size, "raw_sha256": raw_sha, **stats}
        progress({"stage": "verify", "done": 0, "total": raw_size})
        report = verify_backup(stored, manifest, folder / ".scratch" / f"{name}.duckdb", progress=progress)
        if not report.ok:
            raise BackupError(f"backup {name} failed verification and was discarded: {report.message}")
        stored.replace(final)
        manifest["verified_at"] = utcnow().isoformat()
        manifest["snapshot_seconds"] = round(snapshot_seconds, 3)  # copy + manifest stats
        manifest["writers_paused_seconds"] = round(paused, 3)
        manifest["verify_seconds"] = round(report.seconds, 3)
        manifest_path = folder / f"{name}{MANIFEST_SUFFIX}"
        write_json_atomic(manifest_path, manifest)  # last: a backup without a manifest never counts
    except BaseException:
        for p in folder.glob(f"{name}.*.partial"):
            p.unlink(missing_ok=True)
        raise
    return LocalBackup(name, final, manifest_path), manifest, report
