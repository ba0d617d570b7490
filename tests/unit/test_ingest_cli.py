"""The import commands: exit codes 0 / 5 / 6, --json summaries, dry runs, quarantine and runs commands."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from salesboard.cli import cli
from salesboard.ingest.pipeline import ImportFailed
from salesboard.store import open_store, set_current_store


@pytest.fixture
def run(settings, monkeypatch):
    monkeypatch.setenv("SALESBOARD_DB", str(settings.db))
    monkeypatch.setenv("SALESBOARD_ENV", "test")
    set_current_store(None)

    def invoke(*args):
        return CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return invoke


def test_exit_codes_and_json(run, tmp_path):
    good = tmp_path / "good.csv"
    good.write_text("source_key,sold_at,quantity,unit_price\na,2024-01-01,1,2\n")
    mixed = tmp_path / "mixed.csv"
    mixed.write_text("source_key,sold_at,quantity,unit_price\nb,2024-01-01,1,2\nc,nope,1,2\n")
    r = run("import", str(good), "--json")
    assert r.exit_code == 0, r.output
    s = json.loads(r.output)
    assert {k: s[k] for k in ("status", "rows_read", "loaded", "inserted", "updated", "quarantined")} == \
        {"status": "success", "rows_read": 1, "loaded": 1, "inserted": 1, "updated": 0, "quarantined": 0}
    r = run("sync-sales", "--csv", str(mixed), "--json")
    assert r.exit_code == 5 and json.loads(r.output)["quarantined"] == 1
    bad = tmp_path / "bad.csv"
    bad.write_text("x,y\n1,2\n")
    for path, message in [(bad, "no built-in mapping fits the columns x, y"),
                          (tmp_path / "missing.csv", "missing.csv: no such file")]:
        with pytest.raises(ImportFailed) as exc:  # main() prints it as one line and exits with its code
            run("import", str(path))
        assert exc.value.exit_code == 6 and message in str(exc.value)
    r = run("runs", "list", "--json")
    assert [x["status"] for x in json.loads(r.output)] == ["failed", "failed", "partial", "success"]
    r = run("quarantine", "list", "--json")
    (row,) = json.loads(r.output)["rows"]
    assert row["reasons"] == ['sold_at: "nope" is not a date (expected ISO 8601, e.g. 2024-03-31)']
    assert json.loads(row["raw"]) == {"source_key": "c", "sold_at": "nope", "quantity": "1", "unit_price": "2"}
    r = run("quarantine", "discard", str(row["id"]))
    assert r.output.strip() == "discarded 1 row(s)"


def test_dry_run_and_mappings_commands(run, tmp_path):
    f = tmp_path / "s.csv"
    f.write_text("source_key,sold_at,quantity,unit_price\na,2024-01-01,1,2\nb,2024-01-01,0,2\n")
    r = run("import", str(f), "--dry-run", "--json")
    assert r.exit_code == 5 and json.loads(r.output)["status"] == "dry-run partial"
    assert json.loads(run("runs", "list", "--json").output) == []
    r = run("mappings", "check", str(f), "--json")
    rows = json.loads(r.output)["rows"]
    assert [x["reasons"] for x in rows] == [[], ["quantity: 0 is not allowed (a sale line moves at least one unit)"]]
    assert "superstore" in run("mappings", "list").output
    assert 'date_format = "%d/%m/%y"' in run("mappings", "show", "superstore").output


def _counts(settings) -> dict:
    store = open_store(settings)
    try:
        return {t: store.query_one(f"SELECT count(*) FROM {t}")[0]
                for t in ("sales", "products", "quarantine", "sync_runs", "audit_log")}
    finally:
        store.close()


def test_a_dry_run_writes_nothing_even_when_it_fails(run, settings, tmp_path):
    nomap = tmp_path / "nomap.csv"
    nomap.write_text("x,y\n1,2\n")
    new = tmp_path / "new.csv"
    new.write_text("source_key,sold_at,quantity,unit_price,sku\na,2024-01-01,1,2,NEW-1\n")
    before = _counts(settings)
    with pytest.raises(ImportFailed) as exc:
        run("import", str(nomap), "--dry-run")
    assert exc.value.exit_code == 6
    assert str(exc.value).startswith("dry run failed: no built-in mapping fits the columns x, y;")
    assert run("import", str(new), "--dry-run").exit_code == 0
    assert _counts(settings) == before


def test_created_products_are_a_warning_in_the_summary(run, tmp_path):
    f = tmp_path / "new.csv"
    f.write_text("source_key,sold_at,quantity,unit_price,sku\na,2024-01-01,1,2,NEW-1\nb,2024-01-01,1,2,NEW-2\n"
                 "c,2024-01-01,1,2,NEW-2\n")
    warning = ("  warning: 2 unknown products {} from the file's SKUs; "
               'set unknown_products = "reject" in the mapping to quarantine such rows instead')
    r = run("import", str(f), "--dry-run")
    assert r.output.splitlines()[2] == warning.format("would be created")
    r = run("import", str(f))
    assert r.exit_code == 0 and r.output.splitlines()[2] == warning.format("created")
    r = run("import", str(f))  # they exist now: no warning
    assert "warning" not in r.output and len(r.output.splitlines()) == 2


def test_the_progress_bar_never_steps_back():
    from salesboard.ingest.pipeline import _Progress

    events = []
    track = _Progress(events.append, 1000)
    track("loading")
    for pct in (80.0, 20.0, 100.0, 10.0):  # each statement of a stage reports from 0% again
        track.emit(pct)
    done = [e["done"] for e in events]
    assert done == sorted(done) and done[0] == 650 and done[-1] == 1000
