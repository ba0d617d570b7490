"""`salesboard import` while `salesboard serve` holds the database: the CLI is a client of the server.

The same file is imported once through the server and once locally into a copy
of the same database; summaries and exit codes must agree.
"""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import SUPERSTORE, RunningServer, require_shared_data

from salesboard.config import Settings
from salesboard.errors import DatabaseLockedError
from salesboard.remote import client
from salesboard.store import open_store

# Fields that differ between any two runs by nature.
VOLATILE = {"run_id", "duration_s", "timings", "file"}


@pytest.fixture
def data(tmp_path) -> Path:
    require_shared_data()
    folder = tmp_path / "data"
    folder.mkdir()
    shutil.copy(SUPERSTORE, folder / "superstore.csv")
    return folder


@pytest.fixture
def served(demo_db, tmp_path):
    """A running server on the demo database, and a closed copy of that database for local runs."""
    local = tmp_path / "local.duckdb"
    shutil.copy(demo_db, local)
    if demo_db.with_name(demo_db.name + ".wal").exists():
        shutil.copy(demo_db.with_name(demo_db.name + ".wal"), local.with_name(local.name + ".wal"))
    srv = RunningServer(demo_db)
    srv.local_db = local
    yield srv
    srv.stop()


def _local_cli(srv: RunningServer, *args) -> subprocess.CompletedProcess:
    env = {**srv.env, "SALESBOARD_DB": str(srv.local_db)}
    return subprocess.run([srv.bin, *args], env=env, capture_output=True, text=True, timeout=300)


def _stable(summary: dict) -> dict:
    return {k: v for k, v in summary.items() if k not in VOLATILE}


def _bad_rows_file(src: Path, out: Path) -> None:
    """The first 50 Superstore rows, two of them broken: quantity 0 and an impossible date."""
    with src.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))[:50]
    rows[3]["Quantity"] = "0"
    rows[7]["Order Date"] = "31/02/19"
    with out.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def test_import_goes_through_the_server_like_a_local_run(served, data):
    file = data / "superstore.csv"
    # The server holds the file: a direct open must fail, so the CLI can only have gone through it.
    with pytest.raises(DatabaseLockedError, match="is in use by process"):
        open_store(Settings(db=served.db), migrate=False)

    remote = served.cli("import", str(file), "--mapping", "superstore", "--json")
    assert remote.returncode == 0, remote.stderr
    assert "Traceback" not in remote.stderr
    s = json.loads(remote.stdout)
    assert (s["status"], s["rows_read"], s["loaded"], s["inserted"], s["updated"], s["unchanged"],
            s["quarantined"], s["exit_code"]) == ("success", 10194, 10194, 10194, 0, 0, 0, 0)

    local = _local_cli(served, "import", str(file), "--mapping", "superstore", "--json")
    assert local.returncode == 0, local.stderr
    assert _stable(json.loads(local.stdout)) == _stable(s)

    # The run is in the server's ledger, after the demo seed's run.
    runs = json.loads(served.cli("runs", "list", "--json").stdout)
    assert [(r["run_id"], r["status"], r["rows_inserted"]) for r in runs][0] == (s["run_id"], "success", 10194)
    assert len(runs) == 2

    # A re-import through the server changes nothing.
    again = served.cli("import", str(file), "--mapping", "superstore", "--json")
    assert again.returncode == 0, again.stderr
    a = json.loads(again.stdout)
    assert (a["status"], a["rows_read"], a["inserted"], a["updated"], a["unchanged"], a["quarantined"]) == \
        ("success", 10194, 0, 0, 10194, 0)

    served.stop()  # release the file, then look at it directly (stop() again at teardown is harmless)
    store = open_store(Settings(db=served.db), migrate=False)
    try:
        assert store.query_one("SELECT count(*), count(DISTINCT load_id) FROM sales WHERE source = 'superstore'") \
            == (10194, 1)
        assert store.query_one("SELECT count(*) FROM sales")[0] == 3000 + 10194
        assert store.query_one("SELECT sum(lines) FROM sales_daily")[0] == 3000 + 10194
    finally:
        store.close()


def test_partial_import_through_the_server_exits_5_with_progress(served, data):
    bad = data / "bad-rows.csv"
    _bad_rows_file(data / "superstore.csv", bad)

    remote = served.cli("import", str(bad), "--mapping", "superstore", "--json")
    assert remote.returncode == 5, remote.stderr
    s = json.loads(remote.stdout)
    assert (s["status"], s["rows_read"], s["loaded"], s["quarantined"], s["exit_code"]) == ("partial", 50, 48, 2, 5)
    local = _local_cli(served, "import", str(bad), "--mapping", "superstore", "--json")
    assert local.returncode == 5, local.stderr
    assert _stable(json.loads(local.stdout)) == _stable(s)

    listed = served.cli("quarantine", "list", "--run", s["run_id"], "--json")
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)["rows"]
    assert [(r["row_number"], r["reasons"]) for r in rows] == [
        (4, ["quantity: 0 is not allowed (a sale line moves at least one unit)"]),
        (8, ['sold_at: "31/02/19" is not a date in format %d/%m/%y']),
    ]

    # Progress events stream from the server to the client, ending with every row done.
    events: list[dict] = []
    settings = Settings(db=served.db, env="test")
    again = client.call(settings, "ingest.import", {"path": str(bad), "mapping": "superstore"}, events.append)
    assert (again["inserted"], again["unchanged"], again["quarantined"]) == (0, 48, 2)
    assert events and events[-1] == {"stage": "done", "done": 50, "total": 50, "rate": events[-1]["rate"]}
    assert events[-1]["rate"] > 0


def test_failed_import_through_the_server_exits_6_and_writes_nothing(served, tmp_path):
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("x,y\n1,2\n")
    remote = served.cli("import", str(wrong), "--json")
    assert remote.returncode == 6
    err = remote.stderr.strip()
    assert len(err.splitlines()) == 1 and err.startswith("Error: import failed, nothing was written"), err
    assert "no built-in mapping fits the columns x, y" in err
    runs = json.loads(served.cli("runs", "list", "--json").stdout)
    assert [(r["kind"], r["status"]) for r in runs] == [("file", "failed"), ("demo", "success")]
