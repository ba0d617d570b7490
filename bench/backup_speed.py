"""Backup and restore speed at 10M sales rows, side by side with a plain `cp` of the file.

Targets (issue 4 §5): an online backup takes at most 2x a `cp` of the checkpointed database;
restore including verification takes at most 60 s.

"Backup time" = from the call until a consistent backup file exists with everything its manifest
holds: sha256, row counts and per-column fingerprints (manifest `snapshot_seconds`). Verification
by restoring into scratch is a separate step of the issue (§2 "Verification") and is printed
separately, as is the total. Each step is the median of --repeat runs (cp too); the load average
is printed because other benchmarks may share the machine.

    .venv/bin/python bench/backup_speed.py                        # 10M rows (~2 min to build)
    .venv/bin/python bench/backup_speed.py --dir /tmp/sb-bench    # keep (and reuse) the database
    .venv/bin/python bench/backup_speed.py --rows 1000000 --methods checkpoint
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from salesboard.backup import catalog
from salesboard.backup.create import create_backup
from salesboard.backup.restore import restore_into_store
from salesboard.config import Settings
from salesboard.store import open_store

BACKUP_TARGET_X = 2.0
RESTORE_TARGET_S = 60.0


def build(store, rows: int) -> None:
    with store.write() as cur:  # one INSERT ... SELECT: bulk, never row by row
        cur.execute(f"""
            INSERT INTO sales SELECT 'bench', 'k' || i, 'o' || (i // 3),
                   TIMESTAMP '2024-01-01' + to_seconds(i % 31536000), (i % 50)::INT, 'c' || (i % 100000),
                   'Customer ' || (i % 100000), (i % 40)::INT, ['North', 'South', 'East', 'West'][i % 4 + 1], 'US',
                   ['web', 'store'][i % 2 + 1], (i % 7 + 1)::INT, (i % 500) / 3.0, (i % 10) / 100.0,
                   (i % 5000) / 7.0, 'USD', (i % 5000) / 7.0, (i % 3000) / 7.0, 'completed', 'bench-load',
                   TIMESTAMP '2024-06-01'
            FROM range({rows}) t(i)""")
    store.cursor().execute("CHECKPOINT")


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg()) + f" on {os.cpu_count()} cores"


def time_cp(store, work: Path, repeat: int) -> float:
    dest = work / "plain-cp.duckdb"
    runs = []
    for _ in range(repeat):
        runs.append(timed(lambda: subprocess.run(["cp", str(store.path), str(dest)], check=True))[0])
        dest.unlink()
    return statistics.median(runs)


def time_backups(store, settings, method: str, repeat: int) -> dict:
    runs = []
    for _ in range(repeat):
        for old in catalog.list_local(settings):  # one 600 MB backup at a time on disk
            for p in old.data_path.parent.glob(old.name + ".*"):
                p.unlink()
        time.sleep(1.01)  # backup names have one-second resolution
        t_all, (backup, manifest, _) = timed(lambda: create_backup(store, method=method))
        runs.append({"paused": manifest["writers_paused_seconds"], "copy": manifest["copy_seconds"],
                     "stats": manifest["stats_seconds"], "backup": manifest["snapshot_seconds"],
                     "verify": manifest["verify_seconds"], "total": t_all, "name": backup.name})
    return {k: statistics.median(r[k] for r in runs) for k in runs[0] if k != "name"} | {"name": runs[-1]["name"]}


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--methods", default="checkpoint,copy-database")
    ap.add_argument("--repeat", type=int, default=3, help="runs per step; the median is shown (copy-database: 1)")
    ap.add_argument("--dir", default=None, help="work folder, kept and reused (default: a temp dir, removed)")
    args = ap.parse_args()
    work = Path(args.dir or tempfile.mkdtemp(prefix="sb-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    settings = Settings(db=work / "bench.duckdb", env="test")
    store = open_store(settings)
    try:
        have = store.query_one("SELECT count(*) FROM sales WHERE source = 'bench'")[0]
        if have != args.rows:
            with store.write() as cur:
                cur.execute("DELETE FROM sales WHERE source = 'bench'")
            t_build, _ = timed(lambda: build(store, args.rows))
            print(f"{args.rows:,} sales rows built in {t_build:.1f} s")
        store.cursor().execute("CHECKPOINT")
        size = store.path.stat().st_size
        print(f"database file {size / 2**20:,.0f} MB, {args.rows:,} sales rows; {load()}\n")

        t_cp = time_cp(store, work, args.repeat)
        rows = [("cp of the checkpointed file", t_cp, "", "")]
        last = None
        for method in args.methods.split(","):
            r = time_backups(store, settings, method, 1 if method == "copy-database" else args.repeat)
            ok = r["backup"] <= BACKUP_TARGET_X * t_cp
            rows += [
                (f"{method}: writers paused", r["paused"], "", ""),
                (f"{method}: consistent copy on disk", r["copy"], "", ""),
                (f"{method}:   then fingerprints of the copy || sha256", r["stats"], "", ""),
                (f"{method}: BACKUP = copy + sha256 + manifest stats", r["backup"],
                 f"<= {BACKUP_TARGET_X:g}x cp", verdict(ok)),
                (f"{method}: verification (restore to scratch, compare)", r["verify"], "", ""),
                (f"{method}: backup incl. verification, published", r["total"], "", ""),
            ]
            last = r["name"]
        store.settings = replace(settings)
        t_restore, result = timed(lambda: restore_into_store(store, catalog.find_local(settings, last)))
        rows.append(("restore incl. verification and swap", t_restore, f"<= {RESTORE_TARGET_S:g} s",
                     verdict(t_restore <= RESTORE_TARGET_S)))
        print(f"{'step (median of ' + str(args.repeat) + ')':<58} {'seconds':>8} {'x cp':>7}  {'target':<10} result")
        for label, secs, target, result_ in rows:
            print(f"{label:<58} {secs:>8.2f} {secs / t_cp:>7.1f}  {target:<10} {result_}")
        print(f"\nrestore verification alone: {result['verify_seconds']:.2f} s; {load()}")
    finally:
        store.close()
        if not args.dir:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
