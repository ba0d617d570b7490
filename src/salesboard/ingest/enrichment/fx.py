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
from ..transform import Params


def join(p: Params, base: str) -> str:
    return (f"ASOF LEFT JOIN (SELECT currency AS __fx_currency, day AS __fx_day, rate AS __fx_rate0 FROM fx_rates "
            f"WHERE base = {p(base.upper())}) __fx ON t.currency = __fx.__fx_currency AND t.sold_at >= __fx.__fx_day")


def rate_expr(p: Params, base: str, max_age_days: int) -> str:
    return (f"CASE WHEN t.currency = {p(base.upper())} THEN 1::DECIMAL(20, 10) "
            f"WHEN __fx.__fx_day >= t.sold_at::DATE - {p(max_age_days)}::INTEGER THEN __fx.__fx_rate0 END")


def import_rates(store, actor, path: str, *, base: str | None = None) -> dict:
    """Merge a CSV of rates (columns date, currency, rate[, base]) into fx_rates in one transaction.

    `rate` is units of the base currency for one unit of `currency`
    (EUR,1.09 with base USD: 1 EUR = 1.09 USD).
    """
    file = Path(path)
    if not file.is_file():
        raise ValidationError(f"{path}: no such file; give a CSV with columns date,currency,rate[,base]")
    base = (base or store.settings.base_currency).upper()
    now = utcnow()
    with store.write() as cur:
        cur.execute("CREATE TEMP TABLE __fx_in AS SELECT * FROM read_csv($path, all_varchar=true, header=true)",
                    {"path": str(file)})
        cols = {c[0].lower(): c[0] for c in cur.execute("DESCRIBE __fx_in").fetchall()}
        missing = {"date", "currency", "rate"} - set(cols)
        if missing:
            raise ValidationError(f"{path}: missing column(s) {', '.join(sorted(missing))}; "
                                  "expected date,currency,rate[,base]")
        base_col = f'"{cols["base"]}"' if "base" in cols else "NULL"
        cur.execute(
            f"""CREATE TEMP TABLE __fx AS SELECT upper(trim(coalesce({base_col}, $base))) AS base,
                   upper(trim("{cols['currency']}")) AS currency, TRY_CAST("{cols['date']}" AS DATE) AS day,
                   TRY_CAST("{cols['rate']}" AS DECIMAL(20, 10)) AS rate FROM __fx_in""",
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
