"""Typed sources (real dates in Parquet/Excel, JSON numbers or strings) and whole-file encoding detection."""

from __future__ import annotations

import csv
import gzip
import json
from datetime import date, datetime
from decimal import Decimal

import pytest
from conftest import SUPERSTORE, require_shared_data

from salesboard.auth.roles import LOCAL_ADMIN
from salesboard.ingest import pipeline
from salesboard.ingest.sources import files

DATED = ('name = "dated"\ndate_format = "%d/%m/%y"\ntimezone = "Europe/Berlin"\n'
         '[columns]\nsource_key = "k"\nsold_at = "d"\nquantity = "q"\nunit_price = "p"\n')


def mapping_file(tmp_path, text: str = DATED) -> str:
    path = tmp_path / "m.toml"
    path.write_text(text)
    return str(path)


def sold_at(store) -> dict:
    return dict(store.query("SELECT source_key, strftime(sold_at, '%Y-%m-%d %H:%M') FROM sales"))


def test_superstore_as_parquet_with_a_real_date_column(store, tmp_path):
    """date_format is for text: a DATE column is used as it is (all 10,194 rows load, on the right days)."""
    require_shared_data()
    out = tmp_path / "superstore.parquet"
    store.cursor().execute(
        """COPY (SELECT * REPLACE (strptime("Order Date", '%d/%m/%y')::DATE AS "Order Date")
                 FROM read_csv($src, all_varchar = true)) TO $out (FORMAT parquet)""",
        {"src": str(SUPERSTORE), "out": str(out)})
    s = pipeline.run_file(store, LOCAL_ADMIN, str(out), mapping="superstore")
    assert (s["format"], s["inserted"], s["quarantined"]) == ("parquet", 10194, 0)
    with SUPERSTORE.open(encoding="utf-8-sig", newline="") as fh:
        expected = {r["Row ID"]: datetime.strptime(r["Order Date"], "%d/%m/%y") for r in csv.DictReader(fh)}
    assert dict(store.query("SELECT source_key, sold_at FROM sales")) == expected


def test_parquet_dates_timestamps_and_offsets_keep_the_time_zone_rules(store, tmp_path):
    out = tmp_path / "typed.parquet"
    store.cursor().execute(
        """COPY (SELECT * FROM (VALUES
                ('date', DATE '2019-01-03'::TIMESTAMPTZ, DATE '2019-01-03', TIMESTAMP '2019-07-03 10:00', 1, 2),
                ('ts', NULL, NULL, NULL, 1, 2)) v(k, tz, d, ts, q, p)) TO $out (FORMAT parquet)""",
        {"out": str(out)})
    for column, want in [("d", "2019-01-02 23:00"),   # midnight in Berlin (winter)
                         ("ts", "2019-07-03 08:00"),  # 10:00 in Berlin (summer)
                         ("tz", "2019-01-03 00:00")]:  # an instant: no zone applied
        s = pipeline.run_file(store, LOCAL_ADMIN, str(out),
                              mapping=mapping_file(tmp_path, DATED.replace('sold_at = "d"', f'sold_at = "{column}"')))
        assert (s["inserted"] + s["updated"], s["quarantined"]) == (1, 1), column
        assert sold_at(store)["date"] == want
    # The row without a date is quarantined as missing, not as a format mismatch.
    assert store.query_one("SELECT reasons FROM quarantine WHERE source_key = 'ts' ORDER BY id DESC")[0] == \
        ["sold_at: missing"]


def test_text_dates_still_use_date_format(store, tmp_path):
    f = tmp_path / "s.csv"
    f.write_text("k,d,q,p\na,03/01/19,1,2\nb,2019-01-03,1,2\n")
    s = pipeline.run_file(store, LOCAL_ADMIN, str(f), mapping=mapping_file(tmp_path))
    assert (s["inserted"], s["quarantined"]) == (1, 1)
    assert sold_at(store) == {"a": "2019-01-02 23:00"}
    assert store.query_one("SELECT reasons FROM quarantine")[0] == \
        ['sold_at: "2019-01-03" is not a date in format %d/%m/%y']


def test_excel_date_cells_are_used_as_dates(store, tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["k", "d", "q", "p"])
    ws.append(["a", date(2019, 1, 3), 1, 2])
    ws.append(["b", datetime(2019, 7, 3, 10, 0), 1, 2])
    wb.save(tmp_path / "dates.xlsx")
    s = pipeline.run_file(store, LOCAL_ADMIN, str(tmp_path / "dates.xlsx"), mapping=mapping_file(tmp_path))
    assert (s["format"], s["inserted"], s["quarantined"]) == ("xlsx", 2, 0)
    assert sold_at(store) == {"a": "2019-01-02 23:00", "b": "2019-07-03 08:00"}


@pytest.mark.parametrize("layout", ["ndjson", "array"])
def test_json_numbers_and_quoted_numbers_both_parse(store, tmp_path, layout):
    records = [{"source_key": "a", "sold_at": "2024-01-02", "quantity": 2, "unit_price": 1.5},
               {"source_key": "b", "sold_at": "2024-01-02", "quantity": "3", "unit_price": "2.25"},
               {"source_key": "c", "sold_at": "2024-01-02", "quantity": "x", "unit_price": 1}]
    f = tmp_path / f"s.{'ndjson' if layout == 'ndjson' else 'json'}"
    f.write_text("\n".join(map(json.dumps, records)) if layout == "ndjson" else json.dumps(records))
    s = pipeline.run_file(store, LOCAL_ADMIN, str(f))
    assert (s["format"], s["inserted"], s["quarantined"]) == ("json", 2, 1)
    assert store.query("SELECT source_key, quantity, unit_price FROM sales ORDER BY 1") == [
        ("a", 2, Decimal("1.5000")), ("b", 3, Decimal("2.2500"))]
    reasons, raw = store.query_one("SELECT reasons, raw::VARCHAR FROM quarantine")
    assert reasons == ['quantity: "x" is not a whole number']
    assert json.loads(raw) == {"source_key": "c", "sold_at": "2024-01-02", "quantity": "x", "unit_price": "1"}


# -- encodings: the whole file decides ---------------------------------------------------
def late_text(name: str, rows: int = 3000, at: int = 2999) -> str:
    """A CSV whose only non-ASCII text is in row `at` (far beyond the first 64 KiB)."""
    lines = ["source_key,sold_at,customer_name,quantity,unit_price"]
    lines += [f"k{i},2024-01-02,{name if i == at else 'Bob'},1,2" for i in range(1, rows + 1)]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("compress", [False, True])
def test_a_late_latin1_byte_is_detected(store, tmp_path, compress):
    data = late_text("Renée Øst").encode("latin-1")
    assert data.index(b"\xe9") > 64 * 1024
    f = tmp_path / ("late.csv.gz" if compress else "late.csv")
    f.write_bytes(gzip.compress(data) if compress else data)
    s = pipeline.run_file(store, LOCAL_ADMIN, str(f))
    assert (s["encoding"], s["inserted"], s["quarantined"]) == ("cp1252", 3000, 0)
    assert store.query_one("SELECT customer_name FROM sales WHERE source_key = 'k2999'")[0] == "Renée Øst"


def test_bytes_windows_1252_lacks_mean_latin1(tmp_path):
    f = tmp_path / "l1.csv"
    f.write_bytes(late_text("caf\u00e9 \u0081").encode("latin-1"))
    assert files.detect(f, tmp_path).encoding == "iso8859-1"


def test_utf8_with_one_damaged_line_stays_utf8(store, tmp_path):
    """Transcoding as Windows-1252 would garble every other name: the bad line is quarantined instead."""
    f = tmp_path / "damaged.csv"
    f.write_bytes(late_text("Zoë").encode() + b"k3001,2024-01-02,Ren\xe9e,1,2\n")
    s = pipeline.run_file(store, LOCAL_ADMIN, str(f))
    assert (s["encoding"], s["inserted"], s["quarantined"], s["rejected_lines"]) == ("utf-8", 3000, 1, 1)
    assert store.query_one("SELECT customer_name FROM sales WHERE source_key = 'k2999'")[0] == "Zoë"
    assert json.loads(store.query_one("SELECT raw::VARCHAR FROM quarantine")[0])["_csv_line"].startswith("k3001,")
    offset = f.read_bytes().index(b"\xe9")
    assert files.detect(f, tmp_path).notes == [
        f"invalid UTF-8 at byte {offset:,}: lines with invalid bytes are quarantined "
        "(give --encoding if the file is not UTF-8)"]


@pytest.mark.parametrize("cut", [4096, 1 << 20])
def test_utf8_sequences_split_at_block_and_chunk_edges(tmp_path, cut):
    """The scan reads 1 MiB chunks and decodes 4 KiB blocks: a character cut by either edge is still valid."""
    f = tmp_path / "edge.csv"
    f.write_bytes(b"a" * (cut - 1) + "€".encode() + b"\n" + b"b" * 5000 + b"\n")
    assert files._first_bad_utf8(f) == (None, True)
    f.write_bytes(b"a" * (cut - 1) + "€".encode()[:2] + b"b" * 5000)  # cut short, then ASCII
    assert files._first_bad_utf8(f) == (cut - 1, False)
    f.write_bytes(b"a" * (cut - 1) + "€".encode()[:2])  # cut short at the end of the file
    assert files._first_bad_utf8(f) == (cut - 1, False)
