"""Backup services and their remote-capable operations (`salesboard backup ...`, `restore`, `dr-drill`).

Each operation runs where the database is owned: locally when it is free, else in the server.
"""

from __future__ import annotations

from datetime import datetime

from ..auth import audit
from ..clock import utcnow
from ..remote.operations import operation
from ..store import Store
from . import BackupError, catalog, retention, s3
from .catalog import backup_dir
from .create import create_backup
from .drill import last_drill, run_drill
from .restore import resolve, restore_into_store
from .verify import verify_backup


def make_backup(store: Store, *, upload: bool | None = None, actor: str = "system", progress=None) -> dict:
    """Create and verify a backup; upload it when asked (None: when S3 is configured)."""
    backup, manifest, report = create_backup(store, progress=progress)
    with store.write() as cur:
        catalog.record_created(cur, manifest)
        audit.record(cur, "backup.create", actor=actor, target=backup.name,
                     detail={"size": manifest["size"], "sha256": manifest["sha256"]})
    result = {"name": backup.name, "file": str(backup.data_path), "size": manifest["size"],
              "sha256": manifest["sha256"], "verified": True, "method": manifest["method"],
              "snapshot_seconds": manifest["snapshot_seconds"], "verify_seconds": manifest["verify_seconds"],
              "uploaded": None}
    if upload is None:
        upload = s3.configured(store.settings)
    if upload:
        try:
            up = s3.Offsite(store.settings).upload(backup.data_path, manifest, backup.manifest_path, progress)
        except BackupError as exc:
            raise BackupError(f"local backup {backup.name} is verified and kept, but the upload failed: {exc}") from None
        with store.write() as cur:
            catalog.record_upload(cur, manifest, up["key"], utcnow())
        result["uploaded"] = up
    return result


def list_backups(store: Store, include_s3: bool = True) -> list[dict]:
    """Local and offsite backups, merged by name, with their last verification; oldest first."""
    known = catalog.rows(store)
    out: dict[str, dict] = {}
    for b in catalog.list_local(store.settings):
        row = known.get(b.name, {})
        state = "good" if b.complete else "incomplete"
        if b.complete and row.get("verify_ok") is False:
            state = "bad"
        out[b.name] = {"name": b.name, "created_at": b.created_at.isoformat(), "local": state,
                       "file": b.data_path.name if b.data_path else None,
                       "size": b.data_path.stat().st_size if b.data_path else None,
                       "verified_at": row.get("verified_at"), "verify_error": row.get("verify_error"), "s3": None}
    if include_s3 and s3.configured(store.settings):
        for name, item in s3.Offsite(store.settings).list().items():
            entry = out.setdefault(name, {"name": name, "created_at": catalog.name_time(name).isoformat(),
                                          "local": None, "file": None, "size": item["size"],
                                          "verified_at": known.get(name, {}).get("verified_at"),
                                          "verify_error": None})
            entry["s3"] = "good" if item["data_key"] and item["manifest_key"] else "incomplete"
    return [out[k] for k in sorted(out)]


def verify_named(store: Store, ref: str, progress=None) -> dict:
    b = catalog.find_local(store.settings, ref)
    manifest = b.manifest(store.settings.backup_signing_key)
    scratch = backup_dir(store.settings) / ".scratch" / f"{b.name}.duckdb"
    report = verify_backup(b.data_path, manifest, scratch, progress=progress)
    with store.write() as cur:
        catalog.record_verify(cur, manifest, report.ok, None if report.ok else report.message, utcnow())
    return report.as_dict()


def status(store: Store, now: datetime | None = None) -> dict:
    """Age of the newest verified backup and the last drill (health check, Backups page)."""
    now = now or utcnow()
    bad = catalog.known_bad(store)
    good = [b for b in catalog.list_local(store.settings) if b.complete and b.name not in bad]
    newest = good[-1] if good else None
    age = (now - newest.created_at).total_seconds() / 3600 if newest else None
    limit = store.settings.backup_max_age_hours
    created = store.created_at()
    # A database younger than the limit has not yet missed a backup: not an alarm on a new install.
    first_pending = newest is None and created is not None and (now - created).total_seconds() / 3600 <= limit
    return {"newest_verified": newest.name if newest else None,
            "age_hours": round(age, 2) if age is not None else None,
            "max_age_hours": limit,
            "fresh": (age is not None and age <= limit) or first_pending,
            "first_backup_pending": first_pending,
            "last_drill": last_drill(store)}


def prune(store: Store, *, dry_run: bool = False, now: datetime | None = None) -> dict:
    """Apply retention to the local directory and to S3, each on its own listing."""
    now = now or utcnow()
    policy = retention.Policy.from_settings(store.settings)
    bad = catalog.known_bad(store)
    local = catalog.list_local(store.settings)
    items = [retention.Candidate(b.name, b.created_at, b.complete and b.name not in bad) for b in local]
    keep, delete = retention.plan(items, now, policy)
    result = {"local": {"keep": keep, "delete": delete}, "s3": None, "dry_run": dry_run}
    if not dry_run:
        by_name = {b.name: b for b in local}
        for name, reason in delete.items():
            for p in (by_name[name].manifest_path, by_name[name].data_path):  # manifest first
                if p:
                    p.unlink(missing_ok=True)
            with store.write() as cur:
                catalog.record_deleted(cur, name, "local", reason, now)
    if s3.configured(store.settings):
        off = s3.Offsite(store.settings)
        listing = off.list()
        items = [retention.Candidate(n, catalog.name_time(n), bool(i["data_key"] and i["manifest_key"]))
                 for n, i in listing.items()]
        keep, delete = retention.plan(items, now, policy)
        result["s3"] = {"keep": keep, "delete": delete}
        if not dry_run:
            for name in delete:
                off.delete(name)
    return result


# -- operations ---------------------------------------------------------------

@operation("backup.create")
def op_create(store, actor, progress, upload=None):
    return make_backup(store, upload=upload, actor=actor.username, progress=progress)


@operation("backup.list")
def op_list(store, actor, progress, include_s3=True):
    return {"backups": list_backups(store, include_s3), "dir": str(backup_dir(store.settings))}


@operation("backup.verify")
def op_verify(store, actor, progress, name):
    return verify_named(store, name, progress)


@operation("backup.describe")
def op_describe(store, actor, progress, name="latest", source="local"):
    """What a restore would bring back (for the confirmation prompt), without touching anything."""
    if source == "s3":
        off = s3.Offsite(store.settings)
        names = [n for n, i in off.list().items() if i["data_key"] and i["manifest_key"]]
        if not names:
            raise BackupError(f"no complete backup in s3://{off.bucket}/{off.prefix}")
        target = names[-1] if name == "latest" else name
        manifest = off.manifest(target)
    else:
        manifest = catalog.find_local(store.settings, name, catalog.known_bad(store)).manifest(
            store.settings.backup_signing_key)
    return {"name": manifest["name"], "created_at": manifest["created_at"],
            "sales": manifest["tables"].get("sales", {}).get("rows"), "size": manifest["size"],
            "current_sales": store.query_one("SELECT count(*) FROM sales")[0], "database": str(store.path)}


@operation("backup.restore")
def op_restore(store, actor, progress, name="latest", source="local"):
    backup = resolve(store.settings, name, source, catalog.known_bad(store), progress)
    return restore_into_store(store, backup, actor=actor.username, progress=progress)


@operation("backup.prune")
def op_prune(store, actor, progress, dry_run=False):
    return prune(store, dry_run=dry_run)


@operation("backup.drill")
def op_drill(store, actor, progress, source="s3"):
    return run_drill(store, source, progress)


@operation("backup.status")
def op_status(store, actor, progress):
    return status(store)
