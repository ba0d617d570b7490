"""Import speed and memory, side by side in one run (issue 3 §4).

The Superstore file is scaled to --rows rows (rows repeated, "Row ID" made
unique; written once to bench/.data/, which git ignores) and loaded by each
approach in its own subprocess (so peak RSS is per approach):

  raw        DuckDB `CREATE TABLE t AS SELECT * FROM read_csv(file)`        (the 1x reference)
  pandas     pandas.read_csv, then one INSERT of the DataFrame
  import     salesboard's import: superstore mapping, validation, quarantine check,
             MERGE into a sales table that already holds the real Superstore rows
  reimport   the same import run again on the same file: every key matches, every row is unchanged
  dlt-arrow  dlt fed a pyarrow table (its fast path, append only)           [pip install -e '.[bench]']
  dlt-rows   dlt fed dicts from csv.DictReader (its default row path), --dlt-rows rows, extrapolated
  per-row    one INSERT per row (the original demo), --per-row rows, extrapolated

The machine should be quiet (other benchmarks skew every ratio): the load
average is printed before and after; --repeat N runs the full-size approaches
N times, interleaved, and keeps each one's best time.

Usage:
  .venv/bin/python bench/import_speed.py [--rows 1000000] [--repeat 3]
  .venv/bin/python bench/import_speed.py --rows 10000000 --memory-only     # peak RSS of a 10M-row import
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
DATA = HERE.parent / ".data"
SUPERSTORE = next((p / "shared/data/real/superstore.csv" for p in HERE.parents
                   if (p / "shared/data/real/superstore.csv").exists()), Path("/work/shared/data/real/superstore.csv"))
RSS_LIMIT_MB = 1536  # issue 3: a 10M-row file imports with peak RSS <= 1.5 GB


def make_file(rows: int) -> Path:
    import duckdb

    DATA.mkdir(exist_ok=True)
    out = DATA / f"superstore-{rows}.csv"
    if not out.exists():
        tmp = out.with_suffix(".part")
        con = duckdb.connect()
        copies = rows // 10194 + 1
        con.execute(f"""COPY (SELECT (r.range * 10194 + s."Row ID"::BIGINT)::VARCHAR AS "Row ID", s.* EXCLUDE ("Row ID")
                        FROM range({copies}) r, read_csv('{SUPERSTORE}', all_varchar = true) s
                        ORDER BY r.range, s."Row ID"::BIGINT LIMIT {rows}) TO '{tmp}' (HEADER, FORMAT csv)""")
        con.close()
        tmp.rename(out)
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
    from salesboard.config import load_settings
    from salesboard.ingest import pipeline
    from salesboard.store import open_store

    # Settings from the environment (e.g. SALESBOARD_DUCKDB_MEMORY_LIMIT), on a fresh database.
    os.environ["SALESBOARD_DB"], os.environ["SALESBOARD_ENV"] = str(work / "import.duckdb"), "test"
    store = open_store(load_settings())
    pipeline.run_file(store, LOCAL_ADMIN, str(SUPERSTORE), mapping="superstore")  # the table already holds rows
    t = time.perf_counter()
    s = pipeline.run_file(store, LOCAL_ADMIN, str(file), mapping="superstore", source="bench")
    seconds = time.perf_counter() - t  # includes the commit
    assert s["inserted"] == n and s["quarantined"] == 0, s
    store.close()
    return {"seconds": seconds, "rows": n, "timings": s["timings"]}


def run_reimport(file: Path, work: Path, n: int) -> dict:
    """The same file imported a second time: the MERGE matches every key and compares every column."""
    from salesboard.auth.roles import LOCAL_ADMIN
    from salesboard.config import load_settings
    from salesboard.ingest import pipeline
    from salesboard.store import open_store

    os.environ["SALESBOARD_DB"], os.environ["SALESBOARD_ENV"] = str(work / "import.duckdb"), "test"
    store = open_store(load_settings())
    pipeline.run_file(store, LOCAL_ADMIN, str(file), mapping="superstore", source="bench")
    t = time.perf_counter()
    s = pipeline.run_file(store, LOCAL_ADMIN, str(file), mapping="superstore", source="bench")
    seconds = time.perf_counter() - t
    assert s["unchanged"] == n and s["inserted"] == s["updated"] == 0, s
    store.close()
    return {"seconds": seconds, "rows": n, "timings": s["timings"]}


def _dlt_pipeline(work: Path):
    import dlt

    return dlt.pipeline("bench", destination=dlt.destinations.duckdb(str(work / "dlt.duckdb")),
                        dataset_name="bench", pipelines_dir=str(work / "dlt"))


def run_dlt_arrow(file: Path, work: Path, n: int) -> dict:
    import pyarrow.csv as pacsv

    t = time.perf_counter()
    table = pacsv.read_csv(file)
    _dlt_pipeline(work).run(table, table_name="t", write_disposition="append")
    return {"seconds": time.perf_counter() - t, "rows": n}


def run_dlt_rows(file: Path, work: Path, n: int) -> dict:
    import csv
    import itertools

    def rows():
        with file.open(newline="", encoding="utf-8") as fh:
            yield from itertools.islice(csv.DictReader(fh), n)

    t = time.perf_counter()
    _dlt_pipeline(work).run(rows(), table_name="t", write_disposition="append")
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


APPROACHES = {"raw": run_raw, "pandas": run_pandas, "import": run_import, "reimport": run_reimport,
              "dlt-arrow": run_dlt_arrow,
              "dlt-rows": run_dlt_rows, "per-row": run_per_row}
NEEDS = {"dlt-arrow": "dlt", "dlt-rows": "dlt"}  # optional module -> skipped with a note when missing


def child(name: str, file: Path, n: int) -> None:
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    with tempfile.TemporaryDirectory(prefix=f"bench-{name}-", dir=DATA) as work:
        result = APPROACHES[name](file, Path(work), n)
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("RESULT " + json.dumps(result))


def measure(name: str, file: Path, n: int) -> dict | None:
    module = NEEDS.get(name)
    if module:
        import importlib.util

        if importlib.util.find_spec(module) is None:
            print(f"  {name}: skipped ({module} is not installed: pip install -e '.[bench]')", file=sys.stderr)
            return None
    proc = subprocess.run([sys.executable, str(HERE), "--child", name, "--file", str(file), "--rows", str(n)],
                          capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    err = (proc.stderr.strip().splitlines() or ["?"])[-1]
    print(f"  {name}: failed ({err[:160]})", file=sys.stderr)
    return None


def _header(file: Path, rows: int) -> None:
    print(f"file: {file} ({file.stat().st_size / 1e6:,.0f} MB, {rows:,} rows, 21 columns); {os.cpu_count()} CPUs; "
          f"load average {os.getloadavg()[0]:.1f}")


def memory_only(rows: int) -> None:
    file = make_file(rows)
    _header(file, rows)
    r = measure("import", file, rows)
    if r is None:
        sys.exit(1)
    verdict = "ok" if r["peak_rss_mb"] <= RSS_LIMIT_MB else f"OVER the {RSS_LIMIT_MB} MB target"
    limit = os.environ.get("SALESBOARD_IMPORT_MEMORY_LIMIT", "(default: 1100MB)")
    print(f"import of {rows:,} rows: {r['seconds']:.1f} s, peak RSS {r['peak_rss_mb']:,.0f} MB ({verdict}); "
          f"SALESBOARD_IMPORT_MEMORY_LIMIT={limit}; load average after {os.getloadavg()[0]:.1f}")
    print("import steps (s):", json.dumps(r["timings"]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=None, help="rows in the file (default 1,000,000; 10M with --memory-only)")
    ap.add_argument("--per-row", type=int, default=20_000, help="rows for the one-INSERT-per-row approach")
    ap.add_argument("--dlt-rows", type=int, default=20_000, help="rows for dlt's csv.DictReader row path")
    ap.add_argument("--repeat", type=int, default=1, help="runs of each full-size approach; the best counts")
    ap.add_argument("--only", help="comma-separated approaches to run: " + ",".join(APPROACHES))
    ap.add_argument("--memory-only", action="store_true", help="only import the file and report its peak RSS")
    ap.add_argument("--child")
    ap.add_argument("--file")
    args = ap.parse_args()
    if args.child:
        child(args.child, Path(args.file), args.rows)
        return
    if args.memory_only:
        memory_only(args.rows or 10_000_000)
        return
    rows = args.rows or 1_000_000
    file = make_file(rows)
    _header(file, rows)
    wanted = args.only.split(",") if args.only else list(APPROACHES)
    sliced = {"per-row": args.per_row, "dlt-rows": args.dlt_rows}
    results: dict[str, dict] = {}
    for round_ in range(max(1, args.repeat)):
        for name in wanted:
            if round_ and (name in sliced or name not in results):
                continue  # sliced approaches run once; a skipped approach stays skipped
            n = min(sliced.get(name, rows), rows)
            r = measure(name, file, n)
            if r and (name not in results or r["seconds"] < results[name]["seconds"]):
                results[name] = {**r, "seconds_full": r["seconds"] * rows / n}
    base = results.get("raw", {}).get("seconds_full")
    print(f"\n{'approach':<10} {'seconds for ' + format(rows, ','):>22} {'vs raw':>8} {'rows/s':>12} {'peak RSS MB':>12}")
    for name in wanted:
        r = results.get(name)
        if not r:
            continue
        ratio = f"{r['seconds_full'] / base:.1f}x" if base else "-"
        note = f" (measured {r['rows']:,} rows, extrapolated)" if r["rows"] != rows else ""
        print(f"{name:<10} {r['seconds_full']:>22.1f} {ratio:>8} {rows / r['seconds_full']:>12,.0f} "
              f"{r['peak_rss_mb']:>12.0f}{note}")
    if "import" in results:
        print("\nimport steps (s):", json.dumps(results["import"]["timings"]))
    print(f"load average after: {os.getloadavg()[0]:.1f}" + (f"; best of {args.repeat} runs" if args.repeat > 1 else ""))


if __name__ == "__main__":
    main()
