"""Region from country (and state) where a row has none, by the rules in `region_rules`.

Applied after staging as an UPDATE of the few rows without a region, rather
than as a join over every row. Countries and states match without regard to
case or surrounding spaces. Users edit the rules with `salesboard regions import`.
"""

from __future__ import annotations

import duckdb

from ...auth import audit
from ...errors import ValidationError
from ..transform import ident
from .reference import stage_csv

EXPECTED = "country,region[,state] (state empty = the whole country)"


def fill(cur: duckdb.DuckDBPyConnection, table: str) -> None:
    cur.execute(
        f"""UPDATE {table} SET region = r.region FROM (
                SELECT t.rowid AS __r, coalesce(rs.region, rc.region) AS region FROM {table} t
                LEFT JOIN region_rules rs ON lower(rs.country) = lower(trim(t.country))
                                         AND lower(rs.state) = lower(trim(t.state)) AND rs.state <> ''
                LEFT JOIN region_rules rc ON lower(rc.country) = lower(trim(t.country)) AND rc.state = ''
                WHERE t.region IS NULL AND t.country IS NOT NULL) r
            WHERE {table}.rowid = r.__r AND r.region IS NOT NULL""")


def list_rules(store) -> list[dict]:
    return store.query_dicts("SELECT country, state, region FROM region_rules ORDER BY lower(country), lower(state)")


def import_rules(store, actor, path: str) -> dict:
    """Merge a CSV of rules into region_rules in one transaction (a later row for the same country and
    state wins). Rules apply to rows imported afterwards; loaded sales keep their region."""
    with store.write() as cur:
        cols = stage_csv(cur, path, "__regions_in", what="region rules", required=("country", "region"), expected=EXPECTED)
        state = f"trim({ident(cols['state'])})" if "state" in cols else "NULL"
        cur.execute(f"""CREATE OR REPLACE TEMP TABLE __regions AS
                        SELECT trim({ident(cols['country'])}) AS country, coalesce({state}, '') AS state,
                               trim({ident(cols['region'])}) AS region, rowid AS r FROM __regions_in""")
        bad = cur.execute("SELECT count(*) FROM __regions WHERE coalesce(country, '') = '' "
                          "OR coalesce(region, '') = ''").fetchone()[0]
        if bad:
            raise ValidationError(f"{path}: {bad} row(s) lack a country or a region; nothing was imported")
        cur.execute("""CREATE OR REPLACE TEMP TABLE __regions_last AS
                       SELECT country, state, arg_max(region, r) AS region FROM __regions GROUP BY ALL""")
        inserted, updated = cur.execute(
            """SELECT count(*) FILTER (WHERE o.region IS NULL), count(*) FILTER (WHERE o.region <> n.region)
               FROM __regions_last n LEFT JOIN region_rules o USING (country, state)""").fetchone()
        cur.execute("""MERGE INTO region_rules o USING __regions_last n ON o.country = n.country AND o.state = n.state
                       WHEN MATCHED AND o.region <> n.region THEN UPDATE SET region = n.region
                       WHEN NOT MATCHED THEN INSERT (country, state, region) VALUES (n.country, n.state, n.region)""")
        result = {"file": str(path), "rows": cur.execute("SELECT count(*) FROM __regions").fetchone()[0],
                  "inserted": inserted, "updated": updated}
        audit.record(cur, "regions.import", actor=actor.username, target=str(path), detail=result)
        cur.execute("DROP TABLE __regions_in; DROP TABLE __regions; DROP TABLE __regions_last")
    return result
