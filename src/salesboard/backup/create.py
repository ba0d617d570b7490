"""Make a consistent online backup inside the owner process, describe it, verify it, publish it.

Two methods (SALESBOARD_BACKUP_METHOD), both taking their snapshot under `store.write_lock`:

- `checkpoint` (default): CHECKPOINT, then `cp` the database file while writers wait. With
  the write lock held the WAL is empty, so the file is the whole committed state; copying a
  live file *without* this is what loses data (DESIGN.md §1).
- `copy-database`: ATTACH a new file and `COPY FROM DATABASE` in a transaction whose snapshot
  is pinned under the lock; writers only wait for the pinning, but the copy rebuilds every
  table and index (~150x slower than a file copy at 10M rows, bench/backup_speed.py).

While writers are paused only cheap facts are read from the snapshot (row counts, data
version, audit head, schema version). The expensive part of the manifest, fingerprints that
read every value, is computed from the *copy* after writers resume, in parallel with its
sha256; the copy must then reproduce the snapshot's facts exactly or the backup is discarded.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import secrets
import shutil
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import duckdb

from ..clock import utcnow
from ..store import Store
from . import BackupError
from .catalog import MANIFEST_SUFFIX, LocalBackup, backup_dir, new_name, write_json_atomic
from .manifest import CHUNK, FORMAT, database_stats, sha256_file, signature, snapshot_facts, snapshot_mismatch
from .verify import VerifyReport, verify_backup

METHODS = ("checkpoint", "copy-database")
_running = threading.Lock()


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _wal_size(db: Path) -> int:
    wal = db.with_name(db.name + ".wal")
    return wal.stat().st_size if wal.exists() else 0


def _read_facts(cur) -> dict:
    cur.execute("BEGIN TRANSACTION")  # one snapshot for all the reads
    try:
        return snapshot_facts(cur)
    finally:
        cur.execute("COMMIT")


def _snapshot_checkpoint(store: Store, cur, dest: Path) -> tuple[dict, float]:
    """Returns the snapshot's facts and how long writers were paused."""
    with store.write_lock:
        paused = time.perf_counter()
        cur.execute("CHECKPOINT")
        if _wal_size(store.path):
            raise BackupError("the WAL is not empty after CHECKPOINT (an open write transaction?); "
                              "retry, or set SALESBOARD_BACKUP_METHOD=copy-database")
        facts = _read_facts(cur)
        before = store.path.stat()
        _copy_file(store.path, dest)
        after = store.path.stat()
        if _wal_size(store.path) or (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns):
            raise BackupError("the database file changed while it was copied (a write bypassed the store?); "
                              "retry the backup")
        return facts, time.perf_counter() - paused


def _copy_file(src: Path, dest: Path) -> None:
    """Copy the live file in a child process: DuckDB's file lock is a POSIX fcntl lock, which a
    process loses when it closes *any* descriptor of that file, so this process never opens it.
    Exec of `cp` starts in ~2 ms (a Python child in ~30) and copies in the kernel
    (copy_file_range; a reflink on btrfs/xfs)."""
    cp = shutil.which("cp")
    if cp is None:
        args = [sys.executable, "-c", "import shutil, sys; shutil.copyfile(*sys.argv[1:])", str(src), str(dest)]
    else:
        args = [cp, "--reflink=auto", str(src), str(dest)] if sys.platform.startswith("linux") \
            else [cp, str(src), str(dest)]
    done = subprocess.run(args, capture_output=True, text=True)
    if done.returncode != 0:
        raise BackupError(f"copying {src} failed: {done.stderr.strip().splitlines()[-1:]}")


def _snapshot_copy_database(store: Store, cur, dest: Path) -> tuple[dict, float]:
    """Returns the snapshot's facts and how long writers were paused (only while pinning it)."""
    alias = "bk_" + secrets.token_hex(6)
    source = cur.execute("SELECT current_database()").fetchone()[0]
    cur.execute(f"ATTACH {_sql_str(str(dest))} AS {alias}")
    try:
        with store.write_lock:
            paused = time.perf_counter()
            cur.execute("BEGIN TRANSACTION")
            try:
                facts = snapshot_facts(cur, source)  # also pins the snapshot that COPY reads
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            paused = time.perf_counter() - paused
        try:
            cur.execute(f'COPY FROM DATABASE "{source}" TO {alias}')
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        cur.execute("COMMIT")
    finally:
        cur.execute(f"DETACH {alias}")
    return facts, paused


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)  # never the live database: closing this fd is harmless
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _describe_copy(raw: Path) -> tuple[dict, str]:
    """Fingerprints (DuckDB, its own threads) and sha256 (hashlib, GIL released) side by side.
    A separate read-only DuckDB instance on the copy: it is not the live file, so opening and
    closing it cannot touch the owner's lock."""
    with ThreadPoolExecutor(1) as pool:
        sha = pool.submit(sha256_file, raw)
        try:
            con = duckdb.connect(str(raw), read_only=True)
            try:
                stats = database_stats(con)
            finally:
                con.close()
        except duckdb.Error as exc:
            raise BackupError(f"the new copy does not read back in DuckDB ({str(exc).splitlines()[0]}); "
                              "check the disk of the backup folder and retry") from None
        return stats, sha.result()


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
        try:
            progress({"stage": "snapshot", "done": 0, "total": None})
            snap = _snapshot_checkpoint if method == "checkpoint" else _snapshot_copy_database
            facts, paused = snap(store, cur, raw)
        finally:
            cur.close()
        copied = time.perf_counter()
        progress({"stage": "describe", "done": 0, "total": None})
        stats, raw_sha = _describe_copy(raw)
        if wrong := snapshot_mismatch(facts, stats):
            raise BackupError(f"backup {name} is not the snapshot it was copied from ({'; '.join(wrong)}); "
                              "it was discarded, retry")
        stats_seconds = time.perf_counter() - copied
        raw_size = raw.stat().st_size
        if compress:
            stored = folder / f"{name}.duckdb.gz.partial"
            sha, size = _gzip(raw, stored)
            raw.unlink()
        else:
            stored, sha, size = raw, raw_sha, raw_size
        snapshot_seconds = time.perf_counter() - started
        final = folder / stored.name.removesuffix(".partial")
        manifest = {"format": FORMAT, "name": name, "file": final.name, "created_at": now.isoformat(),
                    "method": method, "compressed": compress, "size": size, "sha256": sha,
                    "raw_size": raw_size, "raw_sha256": raw_sha, **stats}
        progress({"stage": "verify", "done": 0, "total": raw_size})
        report = verify_backup(stored, manifest, folder / ".scratch" / f"{name}.duckdb", progress=progress)
        if not report.ok:
            raise BackupError(f"backup {name} failed verification and was discarded: {report.message}")
        _fsync(stored)  # on disk before a manifest can call it good (cp does not fsync)
        stored.replace(final)
        manifest["verified_at"] = utcnow().isoformat()
        # snapshot: consistent file + sha256 + manifest content, the "backup time" of bench/backup_speed.py
        manifest["snapshot_seconds"] = round(snapshot_seconds, 3)
        manifest["writers_paused_seconds"] = round(paused, 3)
        manifest["copy_seconds"] = round(copied - started, 3)
        manifest["stats_seconds"] = round(stats_seconds, 3)
        manifest["verify_seconds"] = round(report.seconds, 3)
        if store.settings.backup_signing_key:
            manifest["signature"] = signature(manifest, store.settings.backup_signing_key)
        manifest_path = folder / f"{name}{MANIFEST_SUFFIX}"
        write_json_atomic(manifest_path, manifest)  # last: a backup without a manifest never counts
    except BaseException:
        for p in [*folder.glob(f"{name}.*.partial"), raw.with_name(raw.name + ".wal")]:
            p.unlink(missing_ok=True)
        raise
    return LocalBackup(name, final, manifest_path), manifest, report
