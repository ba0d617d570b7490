"""Every file shape the importer accepts: encodings, delimiters, quoting, compression and formats."""

from __future__ import annotations

import gzip
import json
import zipfile
from decimal import Decimal

import pytest

from salesboard.auth.roles import LOCAL_ADMIN
from salesboard.errors import ValidationError
from salesboard.ingest import pipeline
from salesboard.ingest.sources import files

HEADER = ["source_key", "sold_at", "sku", "product_name", "customer_name", "quantity", "unit_price", "currency"]
ROWS = [
    ["k1", "2024-01-02", "SKU-1", "Café crème, large", "Zoë Ørsted", "2", "10.50", "USD"],
    ["k2", "2024-01-03", "SKU-2", 'Monitor 27" "pro"', "Søren €uro", "1", "199.99", "USD"],
    ["k3", "2024-01-04", "SKU-1", "line\nbreak", "Renée", "3", "10.50", "USD"],
]


def csv_text(delimiter: str = ",", rows=ROWS, header=HEADER) -> str:
    def field(v: str) -> str:
        if any(c in v for c in (delimiter, '"', "\n")):
            return '"' + v.replace('"', '""') + '"'
        return v
    return "".join(delimiter.join(field(v) for v in r) + "\r\n" for r in [header, *rows])


def assert_loaded(store, summary, n=3):
    assert (summary["status"], summary["inserted"], summary["quarantined"]) == ("success", n, 0), summary
    names = dict(store.query("SELECT source_key, customer_name FROM sales"))
    assert names["k1"] == "Zoë Ørsted" and names["k3"] == "Renée"
    assert store.query_one("SELECT name FROM products WHERE sku = 'SKU-2'")[0] == 'Monitor 27" "pro"'
    assert store.query_one("SELECT sum(net_amount) FROM sales")[0] == Decimal("252.49")


@pytest.mark.parametrize("encoding,bom", [("utf-8", b""), ("utf-8", b"\xef\xbb\xbf"), ("utf-16", b""),
                                          ("utf-16-le", b""), ("cp1252", b"")])
def test_encodings_are_detected(store, tmp_path, encoding, bom):
    path = tmp_path / "sales.csv"
    path.write_bytes(bom + csv_text().encode(encoding))
    s = pipeline.run_file(store, LOCAL_ADMIN, str(path))
    assert s["mapping"] == "canonical"
    assert s["encoding"] == {"utf-16-le": "utf-16-le", "utf-16": "utf-16"}.get(encoding, "cp1252"
                                                                                if encoding == "cp1252" else "utf-8")
    assert_loaded(store, s)


def test_encoding_can_be_given(store, tmp_path):
    path = tmp_path / "sales.csv"
    path.write_bytes(csv_text().replace("€", "E").encode("latin-1"))
    s = pipeline.run_file(store, LOCAL_ADMIN, str(path), encoding="latin-1")
    assert s["encoding"] == "iso8859-1" and s["inserted"] == 3
    assert store.query_one("SELECT customer_name FROM sales WHERE source_key = 'k1'")[0] == "Zoë Ørsted"


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_delimiters_are_detected(store, tmp_path, delimiter):
    path = tmp_path / ("sales.tsv" if delimiter == "\t" else "sales.csv")
    path.write_text(csv_text(delimiter), encoding="utf-8")
    assert_loaded(store, pipeline.run_file(store, LOCAL_ADMIN, str(path)))


def test_gzip_and_zip(store, tmp_path):
    gz = tmp_path / "sales.csv.gz"
    gz.write_bytes(gzip.compress(csv_text().encode()))
    s = pipeline.run_file(store, LOCAL_ADMIN, str(gz))
    assert s["inserted"] == 3
    zp = tmp_path / "sales.zip"
    with zipfile.ZipFile(zp, "w") as zf:
        zf.writestr("export/sales.csv", csv_text(";").encode("cp1252"))
    s = pipeline.run_file(store, LOCAL_ADMIN, str(zp))
    assert (s["unchanged"], s["encoding"]) == (3, "cp1252")


def test_gzip_detected_by_content_without_extension(store, tmp_path):
    path = tmp_path / "download.bin"
    path.write_bytes(gzip.compress(csv_text().encode("utf-16")))
    assert_loaded(store, pipeline.run_file(store, LOCAL_ADMIN, str(path)))


def test_parquet_json_ndjson(store, tmp_path):
    records = [dict(zip(HEADER, r)) for r in ROWS]
    store.cursor().execute(
        "COPY (SELECT * FROM read_json($p)) TO $out (FORMAT parquet)",
        {"p": str(_write(tmp_path / "a.json", json.dumps(records))), "out": str(tmp_path / "sales.parquet")})
    assert_loaded(store, pipeline.run_file(store, LOCAL_ADMIN, str(tmp_path / "sales.parquet")))
    nd = _write(tmp_path / "sales.ndjson", "\n".join(json.dumps(r) for r in records))
    assert pipeline.run_file(store, LOCAL_ADMIN, str(nd))["unchanged"] == 3
    arr = _write(tmp_path / "sales.txt", json.dumps(records))  # JSON detected by content
    s = pipeline.run_file(store, LOCAL_ADMIN, str(arr))
    assert (s["format"], s["unchanged"]) == ("json", 3)


def test_xlsx(store, tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(HEADER)
    for r in ROWS:
        ws.append([*r[:5], int(r[5]), float(r[6]), r[7]])
    wb.save(tmp_path / "sales.xlsx")
    s = pipeline.run_file(store, LOCAL_ADMIN, str(tmp_path / "sales.xlsx"))
    assert s["format"] == "xlsx"
    assert_loaded(store, s)


def test_malformed_lines_are_quarantined_with_the_line(store, tmp_path):
    text = csv_text() + "k4,2024-01-05,SKU-1,x,y,1,2,USD,EXTRA\r\n"
    path = _write(tmp_path / "sales.csv", text)
    s = pipeline.run_file(store, LOCAL_ADMIN, str(path))
    assert (s["status"], s["rows_read"], s["inserted"], s["quarantined"], s["exit_code"]) == ("partial", 4, 3, 1, 5)
    raw, reasons = store.query_one("SELECT raw::VARCHAR, reasons FROM quarantine")
    assert json.loads(raw) == {"_csv_line": "k4,2024-01-05,SKU-1,x,y,1,2,USD,EXTRA"}
    assert reasons == ["record 5 (the header is record 1): Expected Number of Columns: 8 Found: 9"]


def test_unreadable_files_fail_and_write_only_the_failed_run(store, tmp_path):
    old_xls = _write(tmp_path / "old.xls", "")
    old_xls.write_bytes(b"\xd0\xcf\x11\xe0" + b"\0" * 100)
    with pytest.raises(pipeline.ImportFailed, match=r"old binary Excel file \(\.xls\); save it as \.xlsx"):
        pipeline.run_file(store, LOCAL_ADMIN, str(old_xls))
    with pytest.raises(pipeline.ImportFailed, match="mapping superstore needs column"):
        pipeline.run_file(store, LOCAL_ADMIN, str(_write(tmp_path / "s.csv", csv_text())), mapping="superstore")
    assert store.query("SELECT status FROM sync_runs") == [("failed",), ("failed",)]
    assert store.query_one("SELECT count(*) FROM audit_log WHERE action = 'import.failed'")[0] == 2
    for table in ("sales", "products", "quarantine", "sales_daily"):
        assert store.query_one(f"SELECT count(*) FROM {table}")[0] == 0


def test_detect_rejects_empty_and_missing(tmp_path):
    with pytest.raises(ValidationError, match="no such file"):
        files.detect(tmp_path / "nope.csv", tmp_path)
    with pytest.raises(ValidationError, match="the file is empty"):
        files.detect(_write(tmp_path / "e.csv", ""), tmp_path)


def _write(path, text: str):
    path.write_text(text, encoding="utf-8")
    return path
