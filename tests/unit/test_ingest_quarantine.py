"""The quarantine stays true across runs: re-imports don't double it, fixes close it, replays never undo newer rows."""

from __future__ import annotations

from salesboard.auth.roles import LOCAL_ADMIN
from salesboard.ingest import pipeline, quarantine

HEADER = "source_key,sold_at,quantity,unit_price\n"


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(HEADER + text, encoding="utf-8")
    return str(path)


def open_rows(store):
    return store.query("SELECT source_key, run_id FROM quarantine WHERE status = 'open' ORDER BY id")


def test_reimporting_a_file_does_not_double_its_quarantine(store, tmp_path):
    f = write(tmp_path, "s.csv", "ok,2024-01-02,1,5\nbad,2024-01-02,x,5\n")
    first = pipeline.run_file(store, LOCAL_ADMIN, f)
    second = pipeline.run_file(store, LOCAL_ADMIN, f)
    assert (second["quarantined"], second["unchanged"]) == (1, 1)
    assert open_rows(store) == [("bad", second["run_id"])]  # the copy of the first run is closed, not kept twice
    assert store.query("SELECT status, resolved_by, resolved_run_id FROM quarantine WHERE run_id = ?",
                       [first["run_id"]]) == [("discarded", quarantine.SUPERSEDED, second["run_id"])]


def test_a_corrected_reimport_closes_the_quarantined_row(store, tmp_path):
    pipeline.run_file(store, LOCAL_ADMIN, write(tmp_path, "a.csv", "ok,2024-01-02,1,5\nbad,2024-01-02,x,5\n"))
    fixed = pipeline.run_file(store, LOCAL_ADMIN, write(tmp_path, "b.csv", "ok,2024-01-02,1,5\nbad,2024-01-02,2,5\n"))
    assert (fixed["inserted"], fixed["quarantined"], fixed["quarantine_superseded"]) == (1, 0, 1)
    assert open_rows(store) == []


def test_replay_never_undoes_the_duplicate_that_won(store, tmp_path):
    s = pipeline.run_file(store, LOCAL_ADMIN, write(tmp_path, "d.csv", "k,2024-01-02,1,5\nk,2024-01-03,2,5\n"))
    assert (s["inserted"], s["duplicates"]) == (1, 1)
    r = pipeline.replay(store, LOCAL_ADMIN, every=True)
    assert (r["replayed"], r["loaded"], r["superseded"], r["exit_code"]) == (0, 0, 1, 0)
    assert pipeline.describe_replay(r) == ("replayed 0 rows: 0 loaded, 0 quarantined again; "
                                           "1 closed as superseded (a later row of their key is loaded)")
    assert store.query_one("SELECT quantity FROM sales WHERE source_key = 'k'") == (2,)
    assert open_rows(store) == []


def test_replay_skips_a_row_whose_key_was_loaded_later(store, tmp_path):
    pipeline.run_file(store, LOCAL_ADMIN, write(tmp_path, "a.csv", "k,2024-01-02,x,5\nj,2024-01-02,y,5\n"))
    # Another source system loads a good k later; the old bad row of the same source is not reopened by it...
    pipeline.run_file(store, LOCAL_ADMIN, write(tmp_path, "b.csv", "k,2024-01-05,7,5\n"), source="other")
    # ...but a newer k from the same source closes it; j is still open and replays.
    pipeline.run_file(store, LOCAL_ADMIN, write(tmp_path, "c.csv", "k,2024-01-06,9,5\n"))
    assert [k for k, _ in open_rows(store)] == ["j"]
    r = pipeline.replay(store, LOCAL_ADMIN, every=True)
    assert (r["replayed"], r["loaded"], r["quarantined"]) == (1, 0, 1)  # y is still not a number
    assert store.query("SELECT source, quantity FROM sales WHERE source_key = 'k' ORDER BY 1") == [("file", 9), ("other", 7)]


def test_replay_of_a_row_older_than_the_loaded_version_is_closed(store, tmp_path):
    pipeline.run_file(store, LOCAL_ADMIN, write(tmp_path, "a.csv", "k,2024-01-02,x,5\n"))
    (qid,) = store.query_one("SELECT id FROM quarantine WHERE status = 'open'")
    with store.write() as cur:  # a newer version of k reaches sales by another path (e.g. a sync) after the row failed
        cur.execute("INSERT INTO sales (source, source_key, order_id, sold_at, quantity, unit_price, discount, net_amount,"
                    " currency, net_amount_base, status, load_id, updated_at) SELECT 'file', 'k', 'k', TIMESTAMP '2024-01-09',"
                    " 4, 5, 0, 20, 'USD', 20, 'completed', 'sync-1', created_at + INTERVAL 1 SECOND FROM quarantine WHERE id = ?",
                    [qid])
    r = pipeline.replay(store, LOCAL_ADMIN, ids=[qid])
    assert (r["replayed"], r["superseded"]) == (0, 1)
    assert store.query_one("SELECT quantity FROM sales WHERE source_key = 'k'") == (4,)


def test_the_last_row_wins_even_when_the_typed_pass_reorders_rows(store, tmp_path):
    """With FX rates stored the typed pass joins them (an ASOF join, which reorders rows): the winner of a
    duplicate and every quarantined row's number must still come from the row's place in the file."""
    import duckdb

    rates = tmp_path / "rates.csv"
    rates.write_text("date,currency,rate\n2024-01-01,EUR,1.1\n", encoding="utf-8")
    from salesboard.ingest.enrichment import fx

    fx.import_rates(store, LOCAL_ADMIN, str(rates))
    big = tmp_path / "dups.csv"
    n = 100_000  # every key twice: first quantity 1, then (the winner) quantity 2; one bad row at the very end
    duckdb.connect().execute(f"""COPY (SELECT 'k' || (i % {n}) AS source_key, '2024-01-02' AS sold_at,
                                   (1 + i // {n})::VARCHAR AS quantity, '5' AS unit_price, 'EUR' AS currency
                                   FROM range({2 * n}) t(i)
                                   UNION ALL SELECT 'bad', '2024-01-02', 'x', '5', 'EUR') TO '{big}' (HEADER)""")
    s = pipeline.run_file(store, LOCAL_ADMIN, str(big))
    assert (s["inserted"], s["duplicates"], s["quarantined"]) == (n, n, n + 1)
    assert store.query("SELECT quantity, count(*) FROM sales GROUP BY 1") == [(2, n)]
    assert store.query_one("SELECT row_number FROM quarantine WHERE source_key = 'bad'") == (2 * n + 1,)
    assert store.query_one("SELECT count(*) FROM quarantine WHERE source_key <> 'bad' AND row_number > ?", [n]) == (0,)
    assert store.query_one("SELECT reasons FROM quarantine WHERE source_key = 'k7'") == (
        [f'source_key: "k7" appears again in row {n + 8} of this file; the last row wins'],)


def test_export_gives_every_open_row_of_a_run_as_it_was(store, tmp_path):
    import io

    import pandas as pd

    rows = "".join(f"k{i},2024-01-02,x{i},5\n" for i in range(1200)) + "ok,2024-01-02,1,5\n"
    s = pipeline.run_file(store, LOCAL_ADMIN, write(tmp_path, "many.csv", rows))
    data, n = quarantine.export_csv(store, s["run_id"])
    frame = pd.read_csv(io.BytesIO(data), dtype=str)
    assert n == 1200 and len(frame) == 1200  # all of them, not the 1,000 the page shows
    assert list(frame.columns) == ["source_key", "sold_at", "quantity", "unit_price", "_quarantine_id", "_reasons"]
    assert frame.iloc[7].to_dict() | {"_quarantine_id": None} == {
        "quantity": "x7", "sold_at": "2024-01-02", "source_key": "k7", "unit_price": "5", "_quarantine_id": None,
        "_reasons": 'quantity: "x7" is not a whole number'}
