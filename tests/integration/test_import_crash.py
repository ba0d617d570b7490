"""kill -9 of an importer mid-run: the database is as it was before the run, and a rerun completes.

The kill is driven by the importer's own progress events, not by a timer, so it lands mid-run on any machine:
the child prints every event and, for the "pause" cases, stops inside the run's transaction at the start of a
stage; for the "running" cases it keeps going and is killed while a statement of that stage is executing.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from conftest import SUPERSTORE, require_shared_data

from salesboard.config import Settings
from salesboard.store import open_store

ROWS = 300_000

# Runs the same operation as `salesboard import`, printing each progress event; pauses at PAUSE_AT's first event.
CHILD = """
import json, sys, time
from salesboard.config import load_settings
from salesboard.remote import client

path, pause_at = sys.argv[1], sys.argv[2]

def progress(event):
    print(json.dumps(event), flush=True)
    if event["stage"] == pause_at:
        time.sleep(600)

client.call(load_settings(), "ingest.import", {"path": path, "mapping": "superstore", "source": "big"}, progress)
print(json.dumps({"stage": "returned"}), flush=True)
"""


def _env(db: Path) -> dict:
    return {**os.environ, "SALESBOARD_DB": str(db), "SALESBOARD_ENV": "test"}


def _salesboard(db: Path, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", "from salesboard.cli import main; main()", *args], env=_env(db),
                          capture_output=True, text=True, timeout=300)


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


def _kill_when(db: Path, big: Path, stage: str, *, pause: bool) -> dict:
    """Start the child; SIGKILL it at `stage` (paused there, or on its first in-statement progress event)."""
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(big), stage if pause else "-"], env=_env(db),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen, count = None, 0
    try:
        for line in proc.stdout:
            event = json.loads(line)
            count += event["stage"] == stage
            # A stage's second event comes from the progress poller, i.e. while one of its statements runs.
            if count >= (1 if pause else 2):
                seen = event
                break
            assert event["stage"] != "returned", "the import ended before reaching the kill point"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
    assert seen is not None, proc.stderr.read()
    return seen


@pytest.mark.parametrize(("stage", "pause"), [("reading", False), ("validating", True), ("loading", True),
                                              ("loading", False)])
def test_kill_9_mid_import_leaves_the_previous_state(tmp_path, stage, pause):
    require_shared_data()
    big = tmp_path / "big.csv"
    con = duckdb.connect()
    con.execute(f"""COPY (SELECT (r.range * 100000 + s."Row ID"::INT)::VARCHAR AS "Row ID", s.* EXCLUDE ("Row ID")
                    FROM range(40) r, read_csv('{SUPERSTORE}', all_varchar = true) s LIMIT {ROWS}) TO '{big}' (HEADER)""")
    con.close()
    db = tmp_path / "crash.duckdb"
    seed = _salesboard(db, "import", str(SUPERSTORE), "--mapping", "superstore")
    assert seed.returncode == 0, seed.stderr
    assert _check(db) == (10194, 1)

    _kill_when(db, big, stage, pause=pause)
    # A kill while a statement runs could in principle land after the commit; then the run is whole, never half.
    allowed = {(10194, 1)} if pause else {(10194, 1), (10194 + ROWS, 2)}
    assert _check(db) in allowed, "a killed run must leave the database as it was before the run"

    rerun = _salesboard(db, "import", str(big), "--mapping", "superstore", "--source", "big", "--json")
    assert rerun.returncode == 0, rerun.stderr
    assert json.loads(rerun.stdout)["status"] == "success"
    assert _check(db)[0] == 10194 + ROWS
