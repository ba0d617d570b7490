"""Property: whatever rows a file holds, the import never crashes, loads the good rows and explains the bad."""

from __future__ import annotations

import csv
import datetime
import io
from decimal import Decimal

from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from salesboard.auth.roles import LOCAL_ADMIN
from salesboard.config import Settings
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
