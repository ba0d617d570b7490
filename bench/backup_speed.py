"""Backup and restore speed at 10M sales rows, side by side with a plain `cp` of the file.

Targets (issue 4): an online backup takes at most 2x a `cp` of the checkpointed database;
restore including verification takes at most 60 s.

    .venv/bin/python bench/backup_speed.py            # 10M rows (~1 min to build)
    .venv/bin/python bench/backup_speed.py --rows 1000000 --methods checkpoint
"""

from __future__ import annotations

import argparse
import shutil
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--methods", default="checkpoint,copy-database")
    ap.add_argument("--dir", default=None, help="work folder (default: a temp dir, removed afterwards)")
    args = ap.parse_args()
    work = Path(args.dir or tempfile.mkdtemp(prefix="sb-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    settings = Settings(db=work / "bench.duckdb", env="test")
    store = open_store(settings)
    try:
        t_build, _ = timed(lambda: build(store, args.rows))
        size = store.path.stat().st_size
        print(f"{args.rows:,} sales rows built in {t_build:.1f} s; database file {size / 2**20:,.0f} MB\n")
        t_cp, _ = timed(lambda: subprocess.run(["cp", str(store.path), str(work / "plain-cp.duckdb")], check=True))
        rows = [("cp of the checkpointed file", t_cp, "")]
        last = None
        for method in args.methods.split(","):
            time.sleep(1.01)  # backup names have one-second resolution
            t_all, (backup, manifest, report) = timed(lambda: create_backup(store, method=method))
            rows.append((f"online backup, {method}: writers paused", manifest["writers_paused_seconds"], ""))
            rows.append((f"online backup, {method}: consistent copy + manifest stats", manifest["snapshot_seconds"],
                         "<= 2x cp"))
            rows.append((f"online backup, {method}: all, incl. verify in scratch", t_all, ""))
            last = backup
        store.settings = replace(settings)
        t_restore, result = timed(lambda: restore_into_store(store, catalog.find_local(settings, last.name)))
        rows.append(("restore incl. verification (sha256, scratch copy, fingerprints, swap)", t_restore, "<= 60 s"))
        print(f"{'step':<76} {'seconds':>9} {'x cp':>8}  target")
        for label, secs, target in rows:
            print(f"{label:<76} {secs:>9.2f} {secs / t_cp:>8.1f}  {target}")
        print(f"\nrestore verification alone: {result['verify_seconds']:.2f} s")
    finally:
        store.close()
        if not args.dir:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
