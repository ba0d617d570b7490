"""Validation reasons, duplicates, quarantine replay after a mapping fix, discard, FX conversion."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from salesboard.auth.roles import LOCAL_ADMIN
from salesboard.ingest import pipeline, quarantine
from salesboard.ingest.enrichment import fx


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def reasons_by_key(store):
    return {k: r for k, r in store.query("SELECT source_key, reasons FROM quarantine WHERE status = 'open'")}


def test_every_reason_in_words(store, tmp_path):
    f = write(tmp_path, "s.csv", "source_key,sold_at,quantity,unit_price,discount,currency,status\n"
              "ok,2024-01-02,1,5,0,USD,completed\n"
              "a,31/02/2024,x,5,0,USD,completed\n"
              "b,2024-01-02,0,-1,1.5,XYZ,paid\n"
              ",2999-01-01,1,abc,,USD,\n")
    s = pipeline.run_file(store, LOCAL_ADMIN, f)
    assert (s["inserted"], s["quarantined"], s["exit_code"]) == (1, 3, 5)
    r = reasons_by_key(store)
    assert r["a"] == ['sold_at: "31/02/2024" is not a date (expected ISO 8601, e.g. 2024-03-31)',
                      'quantity: "x" is not a whole number']
    assert r["b"] == ["quantity: 0 is not allowed (a sale line moves at least one unit)",
                      "discount: 1.5000 is outside 0..1 (a fraction: 0.15 means 15%)",
                      "unit_price: -1.0000 is negative",
                      'currency: "XYZ" is not a known ISO 4217 code',
                      'status: "paid" is not one of completed, refunded, cancelled (map it in [status_values])']
    (key, reasons, raw), = store.query("SELECT source_key, reasons, raw::VARCHAR FROM quarantine WHERE source_key IS NULL")
    assert reasons[0] == "source_key: missing"
    assert reasons[1].startswith("sold_at: 2999-01-01 00:00 is in the future")
    assert reasons[2] == 'unit_price: "abc" is not a number'
    assert json.loads(raw)["unit_price"] == "abc"  # the source row as it was


def test_duplicate_keys_last_row_wins(store, tmp_path):
    f = write(tmp_path, "s.csv", "source_key,sold_at,quantity,unit_price\n"
              "k,2024-01-02,1,5\nk,2024-01-03,2,5\nj,2024-01-02,1,1\nk,2024-01-04,3,5\n")
    s = pipeline.run_file(store, LOCAL_ADMIN, f)
    assert (s["inserted"], s["quarantined"], s["duplicates"]) == (2, 2, 2)
    assert store.query_one("SELECT quantity, sold_at::DATE::VARCHAR FROM sales WHERE source_key = 'k'") == (3, "2024-01-04")
    assert store.query("SELECT row_number, reasons FROM quarantine ORDER BY row_number") == [
        (1, ['source_key: "k" appears again in row 4 of this file; the last row wins']),
        (2, ['source_key: "k" appears again in row 4 of this file; the last row wins'])]


def test_changed_rows_update_and_rollup_moves_days(store, tmp_path):
    pipeline.run_file(store, LOCAL_ADMIN, write(tmp_path, "a.csv", "source_key,sold_at,quantity,unit_price\n"
                                                 "k,2024-01-02,1,5\nj,2024-01-02,1,7\n"))
    s = pipeline.run_file(store, LOCAL_ADMIN, write(tmp_path, "b.csv", "source_key,sold_at,quantity,unit_price\n"
                                                     "k,2024-02-10,2,5\nj,2024-01-02,1,7\nn,2024-01-02,1,1\n"))
    assert (s["inserted"], s["updated"], s["unchanged"]) == (1, 1, 1)
    assert store.query("SELECT day::VARCHAR, sum(revenue) FROM sales_daily GROUP BY 1 ORDER BY 1") == [
        ("2024-01-02", Decimal("8.00")), ("2024-02-10", Decimal("10.00"))]
    assert store.query_one("SELECT load_id FROM sales WHERE source_key = 'j'")[0] != s["run_id"]


def test_replay_after_fixing_the_mapping(store, tmp_path):
    mapping = tmp_path / "shop.toml"
    mapping.write_text('name = "shop"\nsource = "shop"\ndate_format = "%Y-%m-%d"\n'
                       '[columns]\nsource_key = "Id"\nsold_at = "Date"\nquantity = "Qty"\nunit_price = "Price"\n')
    f = write(tmp_path, "shop.csv", "Id,Date,Qty,Price\n1,03.01.2024,2,\"4,50\"\n2,04.01.2024,1,\"10,00\"\n")
    s = pipeline.run_file(store, LOCAL_ADMIN, f, mapping=str(mapping))
    assert (s["inserted"], s["quarantined"]) == (0, 2)
    assert reasons_by_key(store)["1"] == ['sold_at: "03.01.2024" is not a date in format %Y-%m-%d',
                                          'unit_price: "4,50" is not a number']
    mapping.write_text(mapping.read_text().replace("%Y-%m-%d", "%d.%m.%Y") + "")
    mapping.write_text(mapping.read_text().replace('source = "shop"', 'source = "shop"\ndecimal_separator = ","'))
    r = pipeline.replay(store, LOCAL_ADMIN, run_id=s["run_id"])
    assert (r["replayed"], r["loaded"], r["quarantined"], r["exit_code"]) == (2, 2, 0, 0)
    assert store.query("SELECT source, source_key, sold_at::DATE::VARCHAR, unit_price FROM sales ORDER BY 2") == [
        ("shop", "1", "2024-01-03", Decimal("4.5000")), ("shop", "2", "2024-01-04", Decimal("10.0000"))]
    assert store.query("SELECT DISTINCT status, resolved_run_id FROM quarantine") == [("replayed", r["runs"][0]["run_id"])]
    assert store.query_one("SELECT kind, status FROM sync_runs WHERE run_id = ?", [r["runs"][0]["run_id"]]) == \
        ("replay", "success")


def test_discard(store, tmp_path):
    pipeline.run_file(store, LOCAL_ADMIN, write(tmp_path, "s.csv", "source_key,sold_at,quantity,unit_price\n"
                                                 "a,x,1,1\nb,y,1,1\n"))
    ids = [r["id"] for r in quarantine.list_rows(store)["rows"]]
    assert quarantine.discard(store, LOCAL_ADMIN, ids=ids[:1]) == {"discarded": 1}
    assert quarantine.list_rows(store)["total"] == 1
    assert quarantine.list_rows(store, status="discarded")["rows"][0]["id"] == ids[0]


def test_fx_conversion_at_the_sale_date_and_missing_rate_quarantines(store, tmp_path):
    rates = write(tmp_path, "rates.csv", "date,currency,rate\n2024-01-01,EUR,1.10\n2024-01-05,EUR,1.20\n"
                  "2024-01-01,GBP,1.25\n")
    assert fx.import_rates(store, LOCAL_ADMIN, rates) == {"file": rates, "rows": 3, "inserted": 3, "updated": 0}
    f = write(tmp_path, "s.csv", "source_key,sold_at,quantity,unit_price,currency,cost\n"
              "a,2024-01-03,1,100,EUR,50\nb,2024-01-05,1,100,EUR,\nc,2024-01-03,1,100,USD,\n"
              "d,2023-12-31,1,100,EUR,\ne,2024-01-20,1,100,GBP,\n")
    s = pipeline.run_file(store, LOCAL_ADMIN, f)
    assert (s["inserted"], s["quarantined"]) == (3, 2)
    assert store.query("SELECT source_key, net_amount, currency, net_amount_base, cost_base FROM sales ORDER BY 1") == [
        ("a", Decimal("100.00"), "EUR", Decimal("110.00"), Decimal("55.00")),
        ("b", Decimal("100.00"), "EUR", Decimal("120.00"), None),
        ("c", Decimal("100.00"), "USD", Decimal("100.00"), None)]
    r = reasons_by_key(store)
    assert r["d"] == ["currency: no EUR->USD rate on or within 7 day(s) before 2023-12-31; "
                      "import rates with `salesboard fx import`"]
    assert r["e"][0].startswith("currency: no GBP->USD rate")  # the 2024-01-01 rate is 19 days old
    # A later rate import, then a replay, loads them; an existing rate is updated, not duplicated.
    fx.import_rates(store, LOCAL_ADMIN, write(tmp_path, "r2.csv", "date,currency,rate\n2023-12-29,EUR,1.05\n"
                                              "2024-01-19,GBP,1.30\n2024-01-05,EUR,1.20\n"))
    assert pipeline.replay(store, LOCAL_ADMIN, every=True)["loaded"] == 2
    assert store.query("SELECT source_key, net_amount_base FROM sales WHERE source_key IN ('d', 'e') ORDER BY 1") == [
        ("d", Decimal("105.00")), ("e", Decimal("130.00"))]


def test_unknown_products_reject(store, tmp_path):
    mapping = tmp_path / "strict.toml"
    mapping.write_text('unknown_products = "reject"\n[columns]\nsource_key = "k"\nsold_at = "d"\nsku = "sku"\n'
                       'quantity = "q"\nunit_price = "p"\n')
    store.cursor().execute("INSERT INTO products (sku, name) VALUES ('KNOWN', 'Known')")
    s = pipeline.run_file(store, LOCAL_ADMIN, write(tmp_path, "s.csv", "k,d,sku,q,p\n1,2024-01-01,KNOWN,1,1\n"
                                                    "2,2024-01-01,NEW,1,1\n"), mapping=str(mapping))
    assert (s["inserted"], s["quarantined"], s["products_created"]) == (1, 1, 0)
    assert reasons_by_key(store)["2"][0].startswith('sku: product "NEW" is unknown')


def test_mapping_expressions_are_an_allow_list():
    from salesboard.errors import ValidationError
    from salesboard.ingest.mapping import parse

    base = '[columns]\nsold_at = "d"\nquantity = "q"\nunit_price = "p"\n[expressions]\nnet_amount = '
    assert parse(base + '"quantity * unit_price * (1 - discount)"\n', "t").expressions
    for bad, msg in [('"read_csv(1)"', "function 'read_csv' is not allowed"),
                     ('"quantity; DROP TABLE sales"', "cannot read"),
                     ('"secret * 2"', "'secret' is not a mapped field")]:
        with pytest.raises(ValidationError, match=msg):
            parse(base + bad + "\n", "t")


def test_memory_limit_while_importing_then_restored(tmp_path):
    from dataclasses import replace

    from salesboard.config import Settings
    from salesboard.store import open_store

    store = open_store(Settings(db=tmp_path / "m.duckdb", env="test", import_memory_limit="300MB"))
    try:
        before = store.query_one("SELECT current_setting('memory_limit')")[0]
        seen = []

        def progress(event):
            if event["stage"] == "validating":
                seen.append(store.query_one("SELECT current_setting('memory_limit')")[0])

        f = write(tmp_path, "s.csv", "source_key,sold_at,quantity,unit_price\na,2024-01-02,1,5\n")
        assert pipeline.run_file(store, LOCAL_ADMIN, f, progress=progress)["inserted"] == 1
        assert seen == ["286.1 MiB"]  # 300 MB
        assert store.query_one("SELECT current_setting('memory_limit')")[0] == before
        store.settings = replace(store.settings, import_memory_limit="lots")
        with pytest.raises(pipeline.ImportFailed, match="SALESBOARD_IMPORT_MEMORY_LIMIT='lots' is not a memory size"):
            pipeline.run_file(store, LOCAL_ADMIN, f)
        assert store.query_one("SELECT current_setting('memory_limit')")[0] == before
    finally:
        store.close()


def test_values_are_trimmed_of_spaces_and_no_break_spaces(store, tmp_path):
    f = write(tmp_path, "s.csv", "source_key,sold_at,quantity,unit_price,customer_name\n"
              "\u2003k1\u00a0, 2024-01-02 ,\u00a03 ,\u20035.50\u202f,\u3000Ana  Lima\u3000\n"
              "k2,2024-01-02,1,2,Bo\n")
    s = pipeline.run_file(store, LOCAL_ADMIN, f)
    assert (s["inserted"], s["quarantined"]) == (2, 0)
    assert store.query("SELECT source_key, quantity, unit_price, customer_name FROM sales ORDER BY 1") == [
        ("k1", 3, Decimal("5.5000"), "Ana  Lima"), ("k2", 1, Decimal("2.0000"), "Bo")]


MAPPING = '[columns]\nsold_at = "d"\nquantity = "q"\nunit_price = "p"\n'


@pytest.mark.parametrize("line,message", [
    ("date_format = 5", 'date_format must be a string or a list of strings (strptime formats, e.g. "%d/%m/%Y"), '
                        "not an integer (5)"),
    ("date_format = []", 'date_format must be a string or a list of strings (strptime formats, e.g. "%d/%m/%Y"), '
                         "not a list ([])"),
    ("optional = 5", 'optional must be a list of strings (names from [columns], e.g. ["customer_name"]), '
                     "not an integer (5)"),
    ("optional = [1]", 'optional must be a list of strings (names from [columns], e.g. ["customer_name"]), '
                       "not a list ([1])"),
    ("source = true", "source must be a string, not a boolean (True)"),
    ("timezone = 5", "timezone must be a string, not an integer (5)"),
    ("[columns.quantity]\nx = 1", "[columns] quantity must be a string (the column's name in the file), "
                                  "not a table ({'x': 1})"),
    ("[constants]\nquantity = \"two\"", "[constants] quantity must be a whole number, not a string ('two')"),
    ("[constants]\nchannel = 5", "[constants] channel must be a string, not an integer (5)"),
    ("[expressions]\nnet_amount = 5", '[expressions] net_amount must be a string (e.g. "quantity * unit_price"), '
                                      "not an integer (5)"),
])
def test_mapping_types_are_checked_with_the_key_and_the_type(line, message):
    from salesboard.errors import ValidationError
    from salesboard.ingest.mapping import parse

    top, tables = ("", line) if line.startswith("[") else (line, "")
    with pytest.raises(ValidationError) as exc:  # types are checked first: the mapping need not be complete
        parse(f'{top}\n[columns]\nsold_at = "d"\n{tables}\n', "t.toml")
    assert str(exc.value) == f"mapping t.toml: {message}"


@pytest.mark.parametrize("line,message", [
    ('timezone = "Mars/Olympus"', "mapping m: timezone 'Mars/Olympus' is not a time zone DuckDB knows "
                                  "(Not implemented Error: Unknown TimeZone 'Mars/Olympus'!); "
                                  'use an IANA name such as "Europe/Berlin" or "UTC"'),
    ('date_format = "%Q"', "mapping m: date_format '%Q' is not a strptime format (Invalid Input Error: Failed to "
                           "parse format specifier %Q: Unrecognized format for strftime/strptime: %Q); "
                           'e.g. "%d/%m/%Y" or "%Y-%m-%d %H:%M"'),
    ('optional = ["customer_name"]', "mapping m: optional lists 'customer_name', which is not a name in [columns]"),
])
def test_mapping_values_are_checked_when_loaded(line, message):
    from salesboard.errors import ValidationError
    from salesboard.ingest.mapping import parse

    with pytest.raises(ValidationError) as exc:
        parse(f'name = "m"\n{line}\n{MAPPING}', "m.toml")
    assert str(exc.value) == message
    assert parse(f'name = "m"\ntimezone = "Europe/Berlin"\n{MAPPING}', "m.toml").timezone == "Europe/Berlin"


def test_a_bad_mapping_is_one_line_from_the_cli(settings, tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    bad = tmp_path / "bad.toml"
    bad.write_text("date_format = 5\n" + MAPPING)
    f = write(tmp_path, "s.csv", "d,q,p\n2024-01-02,1,2\n")
    exe = str(Path(sys.executable).with_name("salesboard"))
    env = {**os.environ, "SALESBOARD_DB": str(settings.db), "SALESBOARD_ENV": "test"}
    for args, code, prefix in [(["mappings", "check", f, "--mapping", str(bad)], 2, "Error: "),
                               (["import", f, "--mapping", str(bad)], 6, "Error: import failed, nothing was written")]:
        r = subprocess.run([exe, *args], capture_output=True, text=True, env=env, timeout=60)
        assert (r.returncode, r.stdout) == (code, ""), r.stderr
        (line,) = r.stderr.splitlines()
        assert line.startswith(prefix) and line.endswith(
            f"mapping {bad}: date_format must be a string or a list of strings (strptime formats, "
            'e.g. "%d/%m/%Y"), not an integer (5)')


def test_fx_import_detects_the_encoding_and_refuses_unreadable_files(store, tmp_path):
    from salesboard.errors import ValidationError

    utf16 = tmp_path / "rates16.csv"
    utf16.write_text("date,currency,rate\n2024-01-02,EUR,1.09\n", encoding="utf-16")
    assert fx.import_rates(store, LOCAL_ADMIN, str(utf16))["inserted"] == 1
    store.cursor().execute("DELETE FROM fx_rates")
    parquet = tmp_path / "rates.parquet"
    store.cursor().execute("COPY (SELECT DATE '2024-01-02' AS date, 'EUR' AS currency, 1.1 AS rate) TO $p (FORMAT parquet)",
                           {"p": str(parquet)})
    noise = tmp_path / "noise.csv"
    noise.write_bytes(bytes(range(256)) * 40)
    for path, message in [
            (parquet, f"{parquet}: this is a parquet file; rates must be a CSV with columns date,currency,rate[,base]"),
            (noise, f'{noise}: cannot read as CSV (Invalid Input Error: Error when sniffing file "noise.csv".)')]:
        with pytest.raises(ValidationError) as exc:
            fx.import_rates(store, LOCAL_ADMIN, str(path))
        assert str(exc.value) == message
    assert store.query_one("SELECT count(*) FROM fx_rates")[0] == 0
    assert store.query_one("SELECT count(*) FROM audit_log WHERE action = 'fx.import'")[0] == 1


def test_mappings_check_marks_duplicates_like_the_import(store, tmp_path):
    from salesboard.ingest import runs

    rows = "".join(f"k{i},2024-01-02,1,5\n" for i in range(2, 40))
    f = write(tmp_path, "s.csv", "source_key,sold_at,quantity,unit_price\nk1,2024-01-02,1,5\n" + rows +
              "k1,2024-01-03,2,5\nk3,2024-01-03,2,5\n")
    p = runs.preview(store, f, limit=3)
    assert (p["rows_in_file"], p["errors"], p["rows_with_errors"]) == (41, 2, 2)
    assert [(r["source_key"], r["reasons"]) for r in p["rows"]] == [
        ("k1", ['source_key: "k1" appears again in row 40 of this file; the last row wins']),
        ("k2", []),
        ("k3", ['source_key: "k3" appears again in row 41 of this file; the last row wins'])]
    pipeline.run_file(store, LOCAL_ADMIN, f)
    assert store.query("SELECT source_key, reasons FROM quarantine ORDER BY row_number") == [
        (r["source_key"], r["reasons"]) for r in p["rows"] if r["reasons"]]
