"""The Superstore file: every row loads, totals equal the file's own sums, a re-import changes nothing."""

from __future__ import annotations

import csv
from decimal import ROUND_HALF_UP, Decimal

import pytest
from conftest import SUPERSTORE, require_shared_data

from salesboard.auth.roles import LOCAL_ADMIN
from salesboard.ingest import pipeline

CENT = Decimal("0.01")


@pytest.fixture(scope="module")
def file_sums():
    """Sums computed from the file with Python's csv module, independently of DuckDB."""
    require_shared_data()
    with SUPERSTORE.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    return {
        "rows": len(rows),
        "sales_cents": sum(Decimal(r["Sales"]).quantize(CENT, ROUND_HALF_UP) for r in rows),
        "sales_exact": sum(Decimal(r["Sales"]) for r in rows),
        "quantity": sum(int(r["Quantity"]) for r in rows),
        "cost_cents": sum((Decimal(r["Sales"]) - Decimal(r["Profit"])).quantize(CENT, ROUND_HALF_UP) for r in rows),
        "keys": len({r["Row ID"] for r in rows}),
        "products": len({r["Product ID"] for r in rows}),
        "first_name": rows[0]["Product Name"],
        "non_ascii": next(r["Customer Name"] for r in rows if any(ord(c) > 127 for c in r["Customer Name"])),
    }


def test_every_line_loads_with_the_files_totals(store, file_sums):
    s = pipeline.run_file(store, LOCAL_ADMIN, str(SUPERSTORE), mapping="superstore")
    assert file_sums["rows"] == 10194
    assert (s["status"], s["rows_read"], s["inserted"], s["quarantined"]) == ("success", 10194, 10194, 0)
    assert s["exit_code"] == 0 and s["encoding"] == "utf-8"
    count, sales, qty, cost, keys = store.query_one(
        "SELECT count(*), sum(net_amount), sum(quantity), sum(cost_base), count(DISTINCT source_key) "
        "FROM sales WHERE source = 'superstore'")
    assert count == file_sums["rows"] and keys == file_sums["keys"]
    assert sales == file_sums["sales_cents"]            # each amount rounded to cents, as stored
    assert abs(sales - file_sums["sales_exact"]) < Decimal("0.005") * count
    assert qty == file_sums["quantity"]
    assert cost == file_sums["cost_cents"]              # cost = Sales - Profit
    assert store.query_one("SELECT count(*) FROM products")[0] == file_sums["products"]
    # Quoted commas and doubled quotes, non-ASCII text, DD/MM/YY dates.
    row = store.query_one("SELECT p.name, s.sold_at::DATE::VARCHAR, s.unit_price, s.discount FROM sales s "
                          "JOIN products p ON p.id = s.product_id WHERE source_key = '1'")
    assert row[0] == file_sums["first_name"] and row[1] == "2019-01-03"
    assert (row[2], row[3]) == (Decimal("10.2800"), Decimal("0.2000"))  # 16.448 / 2 / (1 - 0.2)
    assert store.query_one("SELECT count(*) FROM sales WHERE customer_name = ?", [file_sums["non_ascii"]])[0] > 0
    # The rollup agrees with the table; the ledger and the audit log have the run.
    assert store.query_one("SELECT sum(revenue), sum(lines) FROM sales_daily") == (sales, count)
    ledger = store.query_one("SELECT status, rows_read, rows_inserted, rows_quarantined FROM sync_runs "
                             "WHERE run_id = ?", [s["run_id"]])
    assert ledger == ("success", 10194, 10194, 0)
    assert store.query_one("SELECT count(*) FROM sales WHERE load_id = ?", [s["run_id"]])[0] == 10194
    assert store.query_one("SELECT count(*) FROM audit_log WHERE action = 'import.run'")[0] == 1


def test_reimport_changes_nothing(store):
    first = pipeline.run_file(store, LOCAL_ADMIN, str(SUPERSTORE), mapping="superstore")
    before = store.query("SELECT count(*), sum(net_amount), sum(quantity), max(updated_at) FROM sales")
    version = store.data_version()
    again = pipeline.run_file(store, LOCAL_ADMIN, str(SUPERSTORE))  # mapping detected
    assert again["mapping"] == "superstore"
    assert (again["inserted"], again["updated"], again["unchanged"]) == (0, 0, 10194)
    assert store.query("SELECT count(*), sum(net_amount), sum(quantity), max(updated_at) FROM sales") == before
    assert store.data_version() == version  # nothing changed: caches stay valid
    assert store.query_one("SELECT count(DISTINCT load_id) FROM sales")[0] == 1
    assert store.query_one("SELECT load_id FROM sales LIMIT 1")[0] == first["run_id"]


def test_dry_run_writes_nothing(store):
    s = pipeline.run_file(store, LOCAL_ADMIN, str(SUPERSTORE), mapping="superstore", dry_run=True)
    assert (s["status"], s["inserted"], s["dry_run"]) == ("dry-run success", 10194, True)
    for table in ("sales", "products", "sync_runs", "quarantine", "sales_daily", "audit_log"):
        assert store.query_one(f"SELECT count(*) FROM {table}")[0] == 0, table
