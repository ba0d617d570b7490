"""kill -9 of an importer mid-run: the database is as it was before the run, and a rerun completes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from conftest import SUPERSTORE, require_shared_data

from salesboard.config import Settings
from salesboard.store import open_store

ROWS = 300_000


def _salesboard(db: Path, *args) -> subprocess.Popen:
    env = {**os.environ, "SALESBOARD_DB": str(db), "SALESBOARD_ENV": "test"}
    return subprocess.Popen([sys.executable, "-c", "from salesboard.cli import main; main()", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _check(db: Path) -> tuple[int, int]:
    store = open_store(Settings(db=db, env="test"))
    try:
        # Read every column (block checksums are only verified on read), and the rollup must match sales.
        store.query("SELECT * FROM sales").__len__()
        n, revenue = store.query_one("SELECT count(*), sum(net_amount_base) FROM sales")
        assert store.query_one("SELECT sum(lines), sum(revenue) FROM sales_daily") == (n, revenue)
        assert store.query_one("SELECT count(*) FROM sync_runs WHERE status NOT IN ('success', 'failed')")[0] == 0
        return n, store.query_one("SELECT count(*) FROM sync_runs WHERE status = 'success'")[0]
    finally:
        store.close()


@pytest.mark.parametrize("kill_after", [0.3, 1.2, 2.5])
def test_kill_9_mid_import_leaves_the_previous_state(tmp_path, kill_after):
    require_shared_data()
    big = tmp_path / "big.csv"
    con = duckdb.connect()
    con.execute(f"""COPY (SELECT (r.range * 100000 + s."Row ID"::INT)::VARCHAR AS "Row ID", s.* EXCLUDE ("Row ID")
                    FROM range(40) r, read_csv('{SUPERSTORE}', all_varchar = true) s LIMIT {ROWS}) TO '{big}' (HEADER)""")
    con.close()
    db = tmp_path / "crash.duckdb"
    seed = _salesboard(db, "import", str(SUPERSTORE), "--mapping", "superstore")
    assert seed.wait(120) == 0, seed.stderr.read()
    assert _check(db) == (10194, 1)

    proc = _salesboard(db, "import", str(big), "--mapping", "superstore", "--source", "big")
    time.sleep(kill_after)
    finished = proc.poll() is not None
    if not finished:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait(30)
    n, runs = _check(db)
    if finished:  # the machine was faster than the kill: then the run is complete, never half
        assert (n, runs) == (10194 + ROWS, 2)
    else:
        assert (n, runs) == (10194, 1), "a killed run must leave nothing behind"

    rerun = _salesboard(db, "import", str(big), "--mapping", "superstore", "--source", "big", "--json")
    out, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, err
    assert _check(db)[0] == 10194 + ROWS
