"""Where backups live and what we know about them.

The files on disk (and in S3) are the truth: `<name>.duckdb[.gz]` plus `<name>.manifest.json`,
the manifest written last and only after verification. The `backups` table mirrors them with
their verification history for the UI and `backups list`.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ..config import Settings
from . import BackupError

PREFIX = "dashboard_backup_"
NAME_RE = re.compile(r"^dashboard_backup_(\d{8}_\d{6})$")
MANIFEST_SUFFIX = ".manifest.json"
DATA_SUFFIXES = (".duckdb", ".duckdb.gz")
# What a restore keeps of the database it replaced (backups/safety/): a whole database, no manifest.
SAFETY_RE = re.compile(r"^pre_restore_(\d{8}_\d{6})(?:_\d+)?$")  # _2, _3: more restores in that second
SAFETY_DIR = "safety"



def backup_dir(settings: Settings) -> Path:
    return Path(settings.backup_dir) if settings.backup_dir else settings.data_dir / "backups"


def new_name(now: datetime) -> str:
    return PREFIX + now.strftime("%Y%m%d_%H%M%S")


def name_time(name: str) -> datetime:
    m = NAME_RE.match(name) or SAFETY_RE.match(name)
    if not m:
        raise BackupError(f"{name!r} is not a backup name (expected dashboard_backup_YYYYMMDD_HHMMSS)")
    return datetime.strptime(m[1], "%Y%m%d_%H%M%S")


def split_file_name(file_name: str) -> tuple[str, str] | None:
    """('dashboard_backup_..', '.duckdb.gz') for a backup data or manifest file name, else None."""
    for suffix in (MANIFEST_SUFFIX, *DATA_SUFFIXES):
        if file_name.endswith(suffix):
            stem = file_name[: -len(suffix)]
            if NAME_RE.match(stem):
                return stem, suffix
    return None


@dataclass
class LocalBackup:
    name: str
    data_path: Path | None
    manifest_path: Path | None

    @property
    def created_at(self) -> datetime:
        return name_time(self.name)

    @property
    def safety_copy(self) -> bool:
        """A pre_restore_* copy: restorable, but with no manifest it cannot be verified."""
        return bool(SAFETY_RE.match(self.name))

    @property
    def complete(self) -> bool:
        """Written, verified at creation and manifest present (the manifest is written last)."""
        return self.data_path is not None and self.manifest_path is not None

    def manifest(self, key: str = "") -> dict:
        """The checked manifest; `key`: SALESBOARD_BACKUP_SIGNING_KEY (its signature must then match)."""
        from .manifest import load_manifest

        if self.manifest_path is None and self.safety_copy:
            raise BackupError(f"{self.data_path} is a safety copy: it has no manifest and cannot be verified; "
                              f"restore it with `salesboard restore {self.data_path} --yes`")
        if self.manifest_path is None:
            raise BackupError(f"{self.name} has no manifest: it never finished; delete it")
        return load_manifest(self.manifest_path, key)


def list_local(settings: Settings) -> list[LocalBackup]:
    """Every backup in the local directory, oldest first (incomplete ones included)."""
    folder = backup_dir(settings)
    found: dict[str, LocalBackup] = {}
    if folder.is_dir():
        for p in folder.iterdir():
            parts = split_file_name(p.name)
            if parts is None or not p.is_file():
                continue
            stem, suffix = parts
            item = found.setdefault(stem, LocalBackup(stem, None, None))
            if suffix == MANIFEST_SUFFIX:
                item.manifest_path = p
            else:
                item.data_path = p
    return [found[k] for k in sorted(found)]


def find_local(settings: Settings, ref: str, bad: set[str] = frozenset()) -> LocalBackup:
    """A backup by name, file name or path; 'latest' is the newest complete one not known bad."""
    items = list_local(settings)
    if ref == "latest":
        good = [b for b in items if b.complete and b.name not in bad]
        if not good:
            raise BackupError(f"no verified backup in {backup_dir(settings)}; create one with `salesboard backup` "
                              "or restore from S3 with `--from s3`")
        return good[-1]
    path = Path(ref)
    if path.is_file() and split_file_name(path.name):
        stem, suffix = split_file_name(path.name)
        folder = path.parent
        data = next((folder / (stem + s) for s in DATA_SUFFIXES if (folder / (stem + s)).is_file()), None)
        manifest = folder / (stem + MANIFEST_SUFFIX)
        return LocalBackup(stem, data, manifest if manifest.is_file() else None)
    stem = split_file_name(path.name)[0] if split_file_name(path.name) else path.name
    for b in items:
        if b.name == stem:
            return b
    safety = find_safety_copy(settings, ref)
    if safety is not None:
        return safety
    raise BackupError(f"backup {ref!r} not found in {backup_dir(settings)}; see `salesboard backups list`")


def find_safety_copy(settings: Settings, ref: str) -> LocalBackup | None:
    """A safety copy by path, or by name in backups/safety/; None when `ref` is not one."""
    path = Path(ref)
    stem = path.name.removesuffix(".duckdb")
    if not SAFETY_RE.match(stem):
        return None
    if not path.is_file() and path.parent == Path("."):  # a bare name
        path = backup_dir(settings) / SAFETY_DIR / f"{stem}.duckdb"
    if path.suffix == ".duckdb" and path.is_file():
        return LocalBackup(stem, path, None)
    raise BackupError(f"safety copy {ref!r} not found; they are kept in {backup_dir(settings) / SAFETY_DIR}")


# -- the catalog table -------------------------------------------------------

def record_created(cur, manifest: dict) -> None:
    cur.execute(
        "INSERT OR REPLACE INTO backups (name, created_at, file_name, size_bytes, sha256, method, schema_version, "
        "verified_at, verify_ok, verify_error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, TRUE, NULL)",
        [manifest["name"], manifest["created_at"], manifest["file"], manifest["size"], manifest["sha256"],
         manifest.get("method"), manifest.get("schema_version"), manifest.get("verified_at")],
    )


def ensure_row(cur, manifest: dict) -> None:
    """Add a row for a backup found on disk or in S3 that this database does not know (e.g. after a restore)."""
    exists = cur.execute("SELECT 1 FROM backups WHERE name = ?", [manifest["name"]]).fetchone()
    if not exists:
        record_created(cur, manifest)


def record_verify(cur, manifest: dict, ok: bool, error: str | None, at: datetime) -> None:
    ensure_row(cur, manifest)
    cur.execute("UPDATE backups SET verified_at = ?, verify_ok = ?, verify_error = ? WHERE name = ?",
                [at, ok, error, manifest["name"]])


def record_upload(cur, manifest: dict, key: str, at: datetime) -> None:
    ensure_row(cur, manifest)
    cur.execute("UPDATE backups SET s3_key = ?, uploaded_at = ? WHERE name = ?", [key, at, manifest["name"]])


def record_deleted(cur, name: str, where: str, reason: str, at: datetime) -> None:
    cur.execute("UPDATE backups SET deleted_at = ?, deleted_reason = ? WHERE name = ?",
                [at, f"{where}: {reason}", name])


def known_bad(store) -> set[str]:
    return {r[0] for r in store.query("SELECT name FROM backups WHERE verify_ok = FALSE")}


def rows(store) -> dict[str, dict]:
    return {r["name"]: r for r in store.query_dicts("SELECT * FROM backups")}


def write_json_atomic(path: Path, data: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as fh:
        fh.write(json.dumps(data, indent=2, sort_keys=True, default=str))
        fh.flush()
        os.fsync(fh.fileno())  # a manifest that survives a crash must describe complete, durable bytes
    tmp.replace(path)
