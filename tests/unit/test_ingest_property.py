"""Property: whatever rows a file holds, the import never crashes, loads the good rows and explains the bad."""

from __future__ import annotations

import csv
import datetime
import gzip
import io
import uuid
import zipfile
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, event, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from salesboard.auth.roles import LOCAL_ADMIN
from salesboard.config import Settings
from salesboard.errors import SalesboardError
from salesboard.ingest import pipeline
from salesboard.store import open_store

KEY_CHARS = st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zl", "Zp"), include_characters=",\"'\n;é€")
good_key = st.text(KEY_CHARS, min_size=1, max_size=8).filter(lambda k: k.strip(" ") != "")
good_date = st.dates(min_value=datetime.date(2000, 1, 1), max_value=datetime.date(2024, 12, 31)).map(str)
good_qty = st.integers(-50, 50).filter(lambda q: q != 0).map(str)
good_price = st.decimals(min_value=0, max_value=10000, places=2, allow_nan=False).map(str)
garbage = st.sampled_from(["", "abc", "1/2/3/4", "--", "NaN?", "12,5x", "∞", "2024-13-45"])

row = st.fixed_dictionaries({
    "key": st.one_of(good_key, st.just("")),
    "date": st.one_of(good_date, garbage),
    "qty": st.one_of(good_qty, garbage, st.just("0")),
    "price": st.one_of(good_price, garbage),
    "broken": st.sampled_from([False] * 5 + [True]),  # about one line in six is malformed
})


def is_valid(r: dict) -> bool:
    def ok(strategy_value, parser):
        try:
            return parser(strategy_value)
        except Exception:  # noqa: BLE001 - the oracle: anything unparsable is invalid
            return False
    return (r["key"].strip(" ") != "" and ok(r["date"], lambda v: bool(datetime.date.fromisoformat(v)) and len(v) == 10)
            and ok(r["qty"], lambda v: int(v) != 0) and ok(r["price"], lambda v: Decimal(v) >= 0 and "," not in v))


@hsettings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(row, min_size=1, max_size=25))
def test_any_rows_are_loaded_or_explained(tmp_path_factory, rows):
    tmp = tmp_path_factory.mktemp("prop")
    store = open_store(Settings(db=tmp / "p.duckdb", env="test"))
    try:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["source_key", "sold_at", "quantity", "unit_price"])
        for r in rows:
            if r["broken"]:
                buf.write('"only one field"\n')  # a malformed line: one column of four
            else:
                w.writerow([r["key"], r["date"], r["qty"], r["price"]])
        path = tmp / "in.csv"
        path.write_text(buf.getvalue(), encoding="utf-8")
        s = pipeline.run_file(store, LOCAL_ADMIN, str(path), delimiter=",", mapping="canonical")

        written = [r for r in rows if not r["broken"]]
        valid = [r for r in written if is_valid(r)]
        winners = {r["key"].strip(" "): r for r in valid}  # the last valid row of a key wins
        assert s["rows_read"] == len(rows)
        assert s["inserted"] == len(winners)
        assert s["quarantined"] == len(rows) - len(winners)
        loaded = dict(store.query("SELECT source_key, quantity FROM sales"))
        assert loaded == {k: int(r["qty"]) for k, r in winners.items()}
        assert store.query_one("SELECT count(*) FROM quarantine WHERE len(reasons) = 0")[0] == 0
        assert store.query_one("SELECT count(*) FROM quarantine")[0] == s["quarantined"]
    finally:
        store.close()


# -- malformed files ---------------------------------------------------------------------------------------
HEADER = "source_key,sold_at,quantity,unit_price\n"
TEXT = st.text(st.characters(codec="utf-8", categories=("L", "N", "Zs")), max_size=6)


def _zip(entries: list[tuple[str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, content in entries:
            zf.writestr(name, content)
    return buf.getvalue()


def _sample_csv(keys: list[str]) -> str:
    return HEADER + "".join(f"{k}é,2024-01-0{i % 9 + 1},{i + 1},2.5\n" for i, k in enumerate(keys))


random_bytes = st.tuples(st.just("random.csv"), st.binary(max_size=2000))
empty_file = st.tuples(st.sampled_from(["empty.csv", "empty.csv.gz", "empty.xlsx", "empty.parquet"]), st.just(b""))
truncated_gzip = st.builds(
    lambda keys, cut: ("cut.csv.gz", (z := gzip.compress(_sample_csv(keys).encode()))[:max(1, int(len(z) * cut))]),
    st.lists(TEXT, min_size=1, max_size=20), st.floats(0.0, 0.95))
zip_without_csv = st.builds(
    lambda entries: ("no-csv.zip", _zip(entries)),
    st.lists(st.tuples(st.sampled_from(["docs/", "logo.png", "notes.bin"]),
                       st.sampled_from([b"", b"\x89PNG\r\n\x1a\n\x00\x00", bytes(range(256))])), max_size=1))
wrong_encoding = st.builds(
    lambda keys, codec: ("enc.csv", _sample_csv(keys).encode(codec, errors="replace")),
    st.lists(TEXT, min_size=1, max_size=10), st.sampled_from(["utf-16-be", "utf-16-le", "utf-32", "cp1252", "shift_jis"]))
malformed = st.one_of(random_bytes, empty_file, truncated_gzip, zip_without_csv, wrong_encoding)
DATA_TABLES = ("sales", "products", "quarantine", "sales_daily")


@pytest.fixture(scope="module")
def shared_store(tmp_path_factory):
    store = open_store(Settings(db=tmp_path_factory.mktemp("malformed") / "m.duckdb", env="test"))
    with store.write() as cur:
        cur.execute("INSERT INTO products (sku, name) VALUES ('KEEP', 'kept')")  # data that must survive
    yield store
    store.close()


def _snapshot(store) -> dict:
    return {t: store.query(f"SELECT * FROM {t} ORDER BY ALL") for t in DATA_TABLES}


def _count(store, table: str) -> int:
    return store.query_one(f"SELECT count(*) FROM {table}")[0]


@hsettings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=malformed)
def test_malformed_files_fail_in_one_line_or_load_and_explain(shared_store, tmp_path_factory, case):
    name, content = case
    path = tmp_path_factory.mktemp("file") / name
    path.write_bytes(content)
    before, runs, audits = _snapshot(shared_store), _count(shared_store, "sync_runs"), _count(shared_store, "audit_log")
    try:
        s = pipeline.run_file(shared_store, LOCAL_ADMIN, str(path), mapping="canonical")
    except SalesboardError as exc:  # anything else (a crash) fails the test
        message = str(exc)
        event(f"{name}: failed")
        assert message.startswith("import failed, nothing was written (run import-"), message
        assert message.isprintable(), message  # one line, no control characters
        assert _snapshot(shared_store) == before
        assert shared_store.query("SELECT status FROM sync_runs ORDER BY started_at DESC LIMIT 1") == [("failed",)]
        assert (_count(shared_store, "sync_runs"), _count(shared_store, "audit_log")) == (runs + 1, audits + 1)
        return
    event(f"{name}: {s['status']}")
    assert s["rows_read"] == s["loaded"] + s["quarantined"]
    assert shared_store.query_one("SELECT count(*) FROM quarantine WHERE run_id = $r", {"r": s["run_id"]})[0] \
        == s["quarantined"]
    assert shared_store.query_one("SELECT count(*) FROM quarantine WHERE len(reasons) = 0")[0] == 0


ragged_line = st.lists(st.text("abcxyz019", min_size=1, max_size=4), min_size=1, max_size=7).filter(
    lambda fields: len(fields) != 4).map(",".join)


@hsettings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(st.one_of(st.just(None), ragged_line), min_size=1, max_size=30),
       sniff=st.booleans())
def test_ragged_csv_lines_are_quarantined_and_good_lines_load(shared_store, tmp_path_factory, lines, sniff):
    tag = uuid.uuid4().hex[:8]  # keys of this example only (the store is shared)
    body = [f"{tag}-{i},2024-01-02,{i + 1},1.5" if line is None else line for i, line in enumerate(lines)]
    path = tmp_path_factory.mktemp("ragged") / "ragged.csv"
    path.write_text(HEADER + "\n".join(body) + "\n", encoding="utf-8")
    s = pipeline.run_file(shared_store, LOCAL_ADMIN, str(path), mapping="canonical",
                          delimiter=None if sniff else ",")
    good = {f"{tag}-{i}" for i, line in enumerate(lines) if line is None}
    bad = [line for line in lines if line is not None]
    assert (s["rows_read"], s["inserted"], s["quarantined"], s["rejected_lines"]) == \
        (len(lines), len(good), len(bad), len(bad))
    assert set(dict(shared_store.query("SELECT source_key, 1 FROM sales WHERE load_id = $r", {"r": s["run_id"]}))) \
        == good
    quarantined = shared_store.query("SELECT raw->>'_csv_line', reasons FROM quarantine WHERE run_id = $r ORDER BY id",
                                     {"r": s["run_id"]})
    assert [line for line, _ in quarantined] == bad
    expected = [_columns_reason(i + 2, line) for i, line in enumerate(lines) if line is not None]
    assert all(reason in reasons for reason, (_, reasons) in zip(expected, quarantined, strict=True))


def _columns_reason(record: int, line: str) -> str:
    return f"record {record} (the header is record 1): Expected Number of Columns: 4 Found: {line.count(',') + 1}"


def test_a_short_or_long_line_gets_one_reason(shared_store, tmp_path):
    path = tmp_path / "ragged.csv"
    path.write_text(HEADER + "short\nx,2024-01-02,1,1.5\na,b,c,d,e,f\n", encoding="utf-8")
    s = pipeline.run_file(shared_store, LOCAL_ADMIN, str(path), mapping="canonical", delimiter=",")
    assert shared_store.query("SELECT reasons FROM quarantine WHERE run_id = $r ORDER BY id", {"r": s["run_id"]}) == [
        ([_columns_reason(2, "short")],), ([_columns_reason(4, "a,b,c,d,e,f")],)]
