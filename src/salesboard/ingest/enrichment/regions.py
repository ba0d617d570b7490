"""Region from country (and state) where a row has none, by the rules in `region_rules`.

Applied after staging as an UPDATE of the few rows without a region, rather
than as a join over every row.
"""

import duckdb


def fill(cur: duckdb.DuckDBPyConnection, table: str) -> None:
    cur.execute(
        f"""UPDATE {table} SET region = r.region FROM (
                SELECT t.rowid AS __r, coalesce(rs.region, rc.region) AS region FROM {table} t
                LEFT JOIN region_rules rs ON rs.country = t.country AND rs.state = t.state
                LEFT JOIN region_rules rc ON rc.country = t.country AND rc.state = ''
                WHERE t.region IS NULL AND t.country IS NOT NULL) r
            WHERE {table}.rowid = r.__r AND r.region IS NOT NULL""")
