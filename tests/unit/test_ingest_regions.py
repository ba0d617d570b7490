"""Region from country/state for rows without one, by rules a user imports."""

from __future__ import annotations

import pytest

from salesboard.auth.roles import LOCAL_ADMIN
from salesboard.errors import ValidationError
from salesboard.ingest import pipeline
from salesboard.ingest.enrichment import regions


def _csv(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_imported_rules_fill_missing_regions(store, tmp_path):
    rules = _csv(tmp_path, "r.csv", "country,state,region\nUnited States,New York,East Coast\nfrance,,Europe\n"
                                    "United States,New York,Northeast\n")  # a later row for the same place wins
    assert regions.import_rules(store, LOCAL_ADMIN, rules) == {"file": rules, "rows": 3, "inserted": 2, "updated": 0}
    assert regions.import_rules(store, LOCAL_ADMIN, rules)["inserted"] == 0  # idempotent
    sales = _csv(tmp_path, "s.csv", "source_key,sold_at,quantity,unit_price,country,state,region\n"
                                    "a,2024-01-02,1,5,United States, new york ,\n"   # state rule, any case and spaces
                                    "b,2024-01-02,1,5,France,,\n"                     # country rule
                                    "c,2024-01-02,1,5,United States,Texas,\n"         # falls back to the country's rule
                                    "d,2024-01-02,1,5,Peru,,\n"                       # no rule: stays empty
                                    "e,2024-01-02,1,5,France,,Own region\n")          # a given region is kept
    pipeline.run_file(store, LOCAL_ADMIN, sales)
    assert store.query("SELECT source_key, region FROM sales ORDER BY 1") == [
        ("a", "Northeast"), ("b", "Europe"), ("c", "West"), ("d", None), ("e", "Own region")]
    assert store.query_one("SELECT count(*) FROM audit_log WHERE action = 'regions.import'") == (2,)


@pytest.mark.parametrize(("text", "message"), [
    ("country,region\n,x\n", "1 row(s) lack a country or a region; nothing was imported"),
    ("land,zone\nx,y\n", "missing column(s) country, region; expected country,region[,state]"),
])
def test_bad_rule_files_change_nothing(store, tmp_path, text, message):
    before = regions.list_rules(store)
    with pytest.raises(ValidationError, match=message.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")):
        regions.import_rules(store, LOCAL_ADMIN, _csv(tmp_path, "bad.csv", text))
    assert regions.list_rules(store) == before
