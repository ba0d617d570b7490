"""Import speed and memory, side by side in one run (issue 3 §4).

The Superstore file is scaled to --rows rows (rows repeated, "Row ID" made
unique) and loaded by each approach in its own subprocess (so peak RSS is
per approach):

  raw      DuckDB `CREATE TABLE t AS SELECT * FROM read_csv(file)`      (the 1x reference)
  pandas   pandas.read_csv, then one INSERT of the DataFrame
  import   salesboard's import: superstore mapping, validation, quarantine check,
           MERGE into a sales table that already holds the real Superstore rows
  dlt      dlt fed a pyarrow table (append only), when dlt is installed
  per-row  one INSERT per row (the original demo), --per-row rows, extrapolated

Usage:  .venv/bin/python bench/import_speed.py [--rows 1000000] [--per-row 5000]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve()
SUPERSTORE = next((p / "shared/data/real/superstore.csv" for p in HERE.parents
                   if (p / "shared/data/real/superstore.csv").exists()), Path("/work/shared/data/real/superstore.csv"))


def make_file(rows: int, folder: Path) -> Path:
    import duckdb

    out = folder / f"superstore-{rows}.csv"
    if not out.exists():
        con = duckdb.connect()
        copies = rows // 10194 + 1
        con.execute(f"""COPY (SELECT (r.range * 10194 + s."Row ID"::BIGINT)::VARCHAR AS "Row ID", s.* EXCLUDE ("Row ID")
                        FROM range({copies}) r, read_csv('{SUPERSTORE}', all_varchar = true) s
                        ORDER BY r.range, s."Row ID"::BIGINT LIMIT {rows}) TO '{out}' (HEADER)""")
    return out


# -- one approach per subprocess -----------------------------------------------------------
def run_raw(file: Path, work: Path, n: int) -> dict:
    import duckdb

    con = duckdb.connect(str(work / "raw.duckdb"))
    t = time.perf_counter()
    con.execute(f"CREATE TABLE t AS SELECT * FROM read_csv('{file}')")
    con.close()
    return {"seconds": time.perf_counter() - t, "rows": n}


def run_pandas(file: Path, work: Path, n: int) -> dict:
    import duckdb
    import pandas as pd

    con = duckdb.connect(str(work / "pandas.duckdb"))
    t = time.perf_counter()
    frame = pd.read_csv(file)
    con.register("frame", frame)
    con.execute("CREATE TABLE t AS SELECT * FROM frame")
    con.close()
    return {"seconds": time.perf_counter() - t, "rows": n}


def run_import(file: Path, work: Path, n: int) -> dict:
    from salesboard.auth.roles import LOCAL_ADMIN
    from salesboard.config import Settings
    from salesboard.ingest import pipeline
    from salesboard.store import open_store

    store = open_store(Settings(db=work / "import.duckdb", env="test"))
    pipeline.run_file(store, LOCAL_ADMIN, str(SUPERSTORE), mapping="superstore")  # the table already holds rows
    t = time.perf_counter()
    s = pipeline.run_file(store, LOCAL_ADMIN, str(file), mapping="superstore", source="bench")
    seconds = time.perf_counter() - t  # includes the commit
    assert s["inserted"] == n and s["quarantined"] == 0, s
    store.close()
    return {"seconds": seconds, "rows": n, "timings": s["timings"]}


def run_dlt(file: Path, work: Path, n: int) -> dict:
    import dlt
    import pyarrow.csv as pacsv

    t = time.perf_counter()
    table = pacsv.read_csv(file)
    pipe = dlt.pipeline("bench", destination=dlt.destinations.duckdb(str(work / "dlt.duckdb")),
                        dataset_name="bench", pipelines_dir=str(work / "dlt"))
    pipe.run(table, table_name="t", write_disposition="append")
    return {"seconds": time.perf_counter() - t, "rows": n}


def run_per_row(file: Path, work: Path, n: int) -> dict:
    import csv

    import duckdb

    con = duckdb.connect(str(work / "perrow.duckdb"))
    with file.open(newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        con.execute("CREATE TABLE t (" + ", ".join(f'"{h}" VARCHAR' for h in header) + ")")
        sql = "INSERT INTO t VALUES (" + ", ".join("?" for _ in header) + ")"
        t = time.perf_counter()
        for i, row in enumerate(reader):
            if i >= n:
                break
            con.execute(sql, row)
    return {"seconds": time.perf_counter() - t, "rows": n}


APPROACHES = {"raw": run_raw, "pandas": run_pandas, "import": run_import, "dlt": run_dlt, "per-row": run_per_row}


def child(name: str, file: Path, n: int) -> None:
    with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as work:
        result = APPROACHES[name](file, Path(work), n)
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("RESULT " + json.dumps(result))


def measure(name: str, file: Path, n: int) -> dict | None:
    proc = subprocess.run([sys.executable, str(HERE), "--child", name, "--file", str(file), "--rows", str(n)],
                          capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    err = (proc.stderr.strip().splitlines() or ["?"])[-1]
    print(f"  {name}: skipped ({err[:120]})", file=sys.stderr)
    return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--per-row", type=int, default=5000, help="rows for the one-INSERT-per-row approach")
    ap.add_argument("--only", help="comma-separated approaches to run")
    ap.add_argument("--child")
    ap.add_argument("--file")
    args = ap.parse_args()
    if args.child:
        child(args.child, Path(args.file), args.rows)
        return
    folder = Path(tempfile.gettempdir()) / "salesboard-bench"
    folder.mkdir(exist_ok=True)
    file = make_file(args.rows, folder)
    print(f"file: {file} ({file.stat().st_size / 1e6:.0f} MB, {args.rows:,} rows, 21 columns); "
          f"{os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.1f}")
    wanted = args.only.split(",") if args.only else list(APPROACHES)
    results = {}
    for name in wanted:
        n = args.per_row if name == "per-row" else args.rows
        r = measure(name, file, n)
        if r:
            results[name] = {**r, "seconds_full": r["seconds"] * args.rows / n}
    base = results.get("raw", {}).get("seconds_full")
    print(f"\n{'approach':<10} {'seconds for ' + format(args.rows, ','):>22} {'vs raw':>8} {'rows/s':>12} {'peak RSS MB':>12}")
    for name, r in results.items():
        ratio = f"{r['seconds_full'] / base:.1f}x" if base else "-"
        note = f" (measured {r['rows']:,} rows, extrapolated)" if r["rows"] != args.rows else ""
        print(f"{name:<10} {r['seconds_full']:>22.1f} {ratio:>8} {args.rows / r['seconds_full']:>12,.0f} "
              f"{r['peak_rss_mb']:>12.0f}{note}")
    if "import" in results:
        print("\nimport steps (s):", json.dumps(results["import"]["timings"]))


if __name__ == "__main__":
    main()
