"""Conversion to the base currency at the rate of the sale date, from `fx_rates`.

The rate used is the latest one on or before the sale's day, at most
`fx_max_age_days` old (weekends and holidays have no fixing). A sale with no
such rate is quarantined: it is never converted at a rate of 1.
"""

from __future__ import annotations

from pathlib import Path

from ...auth import audit
from ...clock import utcnow
from ...errors import ValidationError
from ..transform import ident
from .reference import stage_csv


def daily_rates_sql(base: str, max_age_days: int) -> str:
    """One row per currency and day ('EUR|2024-03-31' -> rate) from each rate's day until the next rate or
    `max_age_days` after it: the rate of a sale is the latest one on or before its day, never older than that.
    (A lookup table for enrichment.lookup, in place of an ASOF join that reorders rows.)"""
    b = "'" + base.upper().replace("'", "''") + "'"
    return f"""SELECT currency || '|' || day::VARCHAR AS k, rate AS v FROM (
                   SELECT f.currency, unnest(generate_series(f.day, least(f.next_day - 1, f.day + {int(max_age_days)}),
                                                             INTERVAL 1 DAY))::DATE AS day, f.rate
                   FROM (SELECT currency, day, rate, coalesce(lead(day) OVER (PARTITION BY currency ORDER BY day),
                                                              DATE '9999-12-31') AS next_day
                         FROM fx_rates WHERE base = {b}) f)"""


EXPECTED = "date,currency,rate[,base]"


def import_rates(store, actor, path: str, *, base: str | None = None) -> dict:
    """Merge a CSV of rates (columns date, currency, rate[, base]) into fx_rates in one transaction.

    `rate` is units of the base currency for one unit of `currency`
    (EUR,1.09 with base USD: 1 EUR = 1.09 USD).
    """
    file, now = Path(path), utcnow()
    base = (base or store.settings.base_currency).upper()
    with store.write() as cur:
        cols = stage_csv(cur, path, "__fx_in", what="rates", required=("date", "currency", "rate"), expected=EXPECTED)
        base_col = ident(cols["base"]) if "base" in cols else "NULL"
        cur.execute(
            f"""CREATE TEMP TABLE __fx AS SELECT upper(trim(coalesce({base_col}, $base))) AS base,
                   upper(trim({ident(cols['currency'])})) AS currency, TRY_CAST({ident(cols['date'])} AS DATE) AS day,
                   TRY_CAST({ident(cols['rate'])} AS DECIMAL(20, 10)) AS rate FROM __fx_in""",
            {"base": base},
        )
        bad = cur.execute("SELECT count(*) FROM __fx WHERE day IS NULL OR rate IS NULL OR rate <= 0 "
                          "OR length(currency) <> 3").fetchone()[0]
        if bad:
            raise ValidationError(f"{path}: {bad} row(s) have a bad date (use YYYY-MM-DD), currency or rate (> 0); "
                                  "nothing was imported")
        cur.execute("CREATE TEMP TABLE __fx_last AS SELECT base, currency, day, arg_max(rate, rowid) AS rate "
                    "FROM __fx GROUP BY ALL")
        counts = cur.execute(
            """SELECT count(*) FILTER (WHERE f.rate IS NULL), count(*) FILTER (WHERE f.rate <> n.rate)
               FROM __fx_last n LEFT JOIN fx_rates f USING (base, currency, day)"""
        ).fetchone()
        cur.execute(
            """MERGE INTO fx_rates f USING __fx_last n ON f.base = n.base AND f.currency = n.currency AND f.day = n.day
               WHEN MATCHED AND f.rate <> n.rate THEN UPDATE SET rate = n.rate, source = $src, loaded_at = $now
               WHEN NOT MATCHED THEN INSERT (base, currency, day, rate, source, loaded_at)
                    VALUES (n.base, n.currency, n.day, n.rate, $src, $now)""",
            {"src": file.name, "now": now},
        )
        result = {"file": str(file), "rows": cur.execute("SELECT count(*) FROM __fx").fetchone()[0],
                  "inserted": counts[0], "updated": counts[1]}
        audit.record(cur, "fx.import", actor=actor.username, target=file.name, detail=result)
        cur.execute("DROP TABLE __fx_in; DROP TABLE __fx; DROP TABLE __fx_last")
    return result
