"""Verification: restore a backup into a scratch file, open it, compare it with its manifest.

Order matters: size (truncation) and sha256 (any flipped bit) are checked on the stored bytes
before DuckDB ever opens the copy; then counts and fingerprints prove the content.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from .manifest import CHUNK, compare, database_stats


@dataclass
class VerifyReport:
    name: str
    ok: bool
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0
    scratch: Path | None = None  # the restored copy, when kept

    def as_dict(self) -> dict:
        return {"name": self.name, "ok": self.ok, "errors": self.errors, "seconds": round(self.seconds, 3)}

    @property
    def message(self) -> str:
        return "; ".join(self.errors) if self.errors else "ok"


class _Hashing:
    """A file-like reader that hashes what passes through it (one pass over the stored bytes)."""

    def __init__(self, fh):
        self._fh, self.sha, self.size = fh, hashlib.sha256(), 0

    def read(self, n=-1):
        chunk = self._fh.read(n)
        self.sha.update(chunk)
        self.size += len(chunk)
        return chunk


def restore_to(path: Path, manifest: dict, dest: Path, progress=None, *, durable: bool = True) -> list[str]:
    """Copy (or gunzip) the backup to `dest`, checking size and both checksums. Returns errors.

    One read of the stored bytes; the raw sha256 runs in a helper thread (hashlib releases the
    GIL) while the same chunk is written. `durable` fsyncs dest: needed when it will be swapped
    in as the database, not for a scratch copy that is only read and deleted."""
    actual_size = path.stat().st_size
    if actual_size != manifest["size"]:
        return [f"{path.name} is {actual_size} bytes, the manifest says {manifest['size']}: "
                "the file is truncated or was changed"]
    raw_sha, done = hashlib.sha256(), 0
    with open(path, "rb") as src, open(dest, "wb") as out, ThreadPoolExecutor(1) as pool:
        # uncompressed, stored bytes == raw bytes: hash them once, not twice
        stored = _Hashing(src) if manifest["compressed"] else None
        reader = gzip.GzipFile(fileobj=stored, mode="rb") if stored else src
        try:
            while chunk := reader.read(CHUNK):
                hashed = pool.submit(raw_sha.update, chunk)
                out.write(chunk)
                hashed.result()
                done += len(chunk)
                if progress:
                    progress({"done": done, "total": manifest["raw_size"], "stage": "restore"})
        except (OSError, EOFError, gzip.BadGzipFile) as exc:
            return [f"{path.name} cannot be decompressed ({exc}): the file is damaged"]
        if durable:
            out.flush()
            os.fsync(out.fileno())
    stored_sha = stored.sha.hexdigest() if stored else raw_sha.hexdigest()
    if stored_sha != manifest["sha256"]:
        return [f"{path.name}: sha256 {stored_sha[:16]}... does not match the manifest "
                f"{manifest['sha256'][:16]}...: the file is corrupted"]
    if raw_sha.hexdigest() != manifest["raw_sha256"]:
        return [f"{path.name}: restored content sha256 does not match the manifest"]
    return []


def check_database(db_file: Path, manifest: dict) -> list[str]:
    """Open a restored copy read-only and compare counts, fingerprints and the audit head."""
    try:
        con = duckdb.connect(str(db_file), read_only=True)
    except duckdb.Error as exc:
        return [f"restored copy does not open in DuckDB ({exc})"]
    try:
        return compare(manifest, database_stats(con))
    except duckdb.Error as exc:  # a damaged block is found while reading every column
        return [f"restored copy is unreadable ({str(exc).splitlines()[0]})"]
    finally:
        con.close()


def verify_backup(path: Path | None, manifest: dict, scratch: Path, *, keep: bool = False,
                  progress=None) -> VerifyReport:
    """Restore into `scratch`, open and compare. The scratch copy is removed unless keep and ok."""
    start = time.perf_counter()
    report = VerifyReport(manifest["name"], ok=False)
    if path is None or not path.is_file():
        report.errors = [f"data file for {manifest['name']} is missing"]
        return report
    scratch.parent.mkdir(parents=True, exist_ok=True)
    try:
        report.errors = restore_to(path, manifest, scratch, progress, durable=keep)
        if not report.errors:
            report.errors = check_database(scratch, manifest)
        report.ok = not report.errors
    finally:
        if report.ok and keep:
            report.scratch = scratch
        else:
            for p in (scratch, scratch.with_name(scratch.name + ".wal")):
                p.unlink(missing_ok=True)
        report.seconds = time.perf_counter() - start
    return report
