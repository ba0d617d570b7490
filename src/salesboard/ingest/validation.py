"""Validation rules: every reason a row cannot be loaded, in words, as one SQL list per row.

A row with an empty `reasons` list is loaded; any other row is quarantined
with all of its reasons (not only the first), so one fix settles it.
"""

from __future__ import annotations

import duckdb

from .mapping import STATUSES, Mapping
from .transform import RAW, Params

# ISO 4217 active codes (2024). A currency outside this list is a typo, not a new currency.
ISO_CURRENCIES = tuple("""
AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYN BZD CAD CDF
CHF CLP CNY COP CRC CUC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD
HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL
LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR
PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND
TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VES VND VUV WST XAF XCD XOF XPF YER ZAR ZMW ZWL
""".split())


def _q(col: str) -> str:
    """The raw source text of a field, in double quotes, for a message."""
    return f"'\"' || {RAW}{col} || '\"'"


def _not_a_number(name: str) -> tuple[str, str]:
    return (f"{name} IS NULL AND {RAW}{name} IS NOT NULL", f"'{name}: ' || {_q(name)} || ' is not a number'")


KNOWN_CURRENCY = "__known_currency"  # a column: computed once per row by known_currency_sql()


def known_currency_sql() -> str:
    """Whether `currency` is an ISO code, as one column: a cast to an inline ENUM of the codes. (`IN (list)`
    becomes a join, which reorders rows; every use of the list in SQL would also be a join of its own.)"""
    assert all(len(c) == 3 and c.isalpha() and c.isupper() for c in ISO_CURRENCIES)  # safe to inline
    codes = ", ".join(f"'{c}'" for c in sorted(set(ISO_CURRENCIES)))
    return f"CASE WHEN currency IS NOT NULL THEN TRY_CAST(currency AS ENUM({codes})) IS NOT NULL END AS {KNOWN_CURRENCY}"


def rules(m: Mapping, p: Params, *, base_currency: str, future_days: int, fx_max_age_days: int) -> list[tuple[str, str]]:
    """(condition, message) pairs over the enriched row (columns of transform + enrichment)."""
    fmt = (" in format " + " or ".join(m.date_format)) if m.date_format else " (expected ISO 8601, e.g. 2024-03-31)"
    base = p(base_currency)
    out = [
        ("source_key IS NULL", "'source_key: missing'"),
        (f"sold_at IS NULL AND {RAW}sold_at IS NULL", "'sold_at: missing'"),
        (f"sold_at IS NULL AND {RAW}sold_at IS NOT NULL", f"'sold_at: ' || {_q('sold_at')} || ' is not a date' || {p(fmt)}"),
        (f"sold_at > timezone('UTC', now()) + to_days({p(future_days)}::INTEGER)",
         f"'sold_at: ' || strftime(sold_at, '%Y-%m-%d %H:%M') || ' is in the future (more than ' || "
         f"{p(future_days)}::VARCHAR || ' day(s) ahead)'"),
        (f"quantity IS NULL AND {RAW}quantity IS NULL", "'quantity: missing'"),
        (f"quantity IS NULL AND {RAW}quantity IS NOT NULL", f"'quantity: ' || {_q('quantity')} || ' is not a whole number'"),
        ("quantity = 0", "'quantity: 0 is not allowed (a sale line moves at least one unit)'"),
        ("abs(quantity) > 2147483647", "'quantity: ' || quantity::VARCHAR || ' is too large'"),
        _not_a_number("unit_price"),
        _not_a_number("net_amount"),
        _not_a_number("cost"),
        (f"discount IS NULL AND {RAW}discount IS NOT NULL", f"'discount: ' || {_q('discount')} || ' is not a number'"),
        ("discount < 0 OR discount > 1",
         "'discount: ' || discount::VARCHAR || ' is outside 0..1 (a fraction: 0.15 means 15%)'"),
        (f"unit_price IS NULL AND net_amount IS NULL AND {RAW}unit_price IS NULL AND {RAW}net_amount IS NULL",
         "'unit_price: missing (map unit_price or net_amount)'"),
        (f"(unit_price IS NULL) <> (net_amount IS NULL) AND quantity <> 0 AND {RAW}unit_price IS NULL "
         f"AND {RAW}net_amount IS NULL", "'unit_price: could not be computed from the amount (is discount 1?)'"),
        ("unit_price < 0", "'unit_price: ' || unit_price::VARCHAR || ' is negative'"),
        (f"currency <> {base} AND NOT {KNOWN_CURRENCY}",
         "'currency: \"' || currency || '\" is not a known ISO 4217 code'"),
        ("status NOT IN (" + ", ".join(f"'{x}'" for x in STATUSES) + ")",
         f"'status: \"' || status || '\" is not one of {', '.join(STATUSES)} (map it in [status_values])'"),
        (f"__fx_rate IS NULL AND sold_at IS NOT NULL AND {KNOWN_CURRENCY}",
         f"'currency: no ' || currency || '->' || {base} || ' rate on or within ' || {p(fx_max_age_days)}::VARCHAR"
         " || ' day(s) before ' || strftime(sold_at, '%Y-%m-%d') || '; import rates with `salesboard fx import`'"),
        ("__fx_rate <> 1 AND (abs(net_amount * __fx_rate) >= 1e16 OR abs(cost * __fx_rate) >= 1e16)",
         "'net_amount: too large for the sales table'"),
    ]
    out += [_not_a_number(name) for name in m.extras]
    if m.unknown_products == "reject":
        out.append(("sku IS NOT NULL AND product_id IS NULL",
                    "'sku: product \"' || sku || '\" is unknown (the mapping says unknown_products = \"reject\"; "
                    "add the product or say \"create\")'"))
    return out


def reasons_sql(m: Mapping, p: Params, **kw) -> str:
    """A VARCHAR[] of every reason; the list is only built for rows that break a rule."""
    pairs = rules(m, p, **kw)
    anything = " OR ".join(f"coalesce({c}, false)" for c, _ in pairs)
    items = ", ".join(f"CASE WHEN {c} THEN {msg} END" for c, msg in pairs)
    return f"CASE WHEN {anything} THEN list_filter([{items}], r -> r IS NOT NULL) ELSE []::VARCHAR[] END"


DUPLICATE_REASON = "appears again in row"


def mark_duplicates(cur: duckdb.DuckDBPyConnection, table: str, first_rowid: int) -> int:
    """Within one batch the LAST valid row of a key wins; earlier ones get a reason naming the winner.

    Runs before any other update of `table`, so rowids are still in source order; the rows it updates
    move to new rowids and keep their row number in __row (transform.row_number).
    """
    cur.execute(f"""CREATE OR REPLACE TEMP TABLE __dups AS SELECT source_key, max(rowid) AS winner FROM {table}
                    WHERE len(reasons) = 0 GROUP BY source_key HAVING count(*) > 1""")
    n = 0
    if cur.execute("SELECT count(*) FROM __dups").fetchone()[0]:
        n = cur.execute(
            f"""UPDATE {table} SET __row = {table}.rowid - {int(first_rowid)} + 1,
                    reasons = list_append(reasons, 'source_key: "' || {table}.source_key ||
                    '" {DUPLICATE_REASON} ' || (d.winner - {int(first_rowid)} + 1)::VARCHAR ||
                    ' of this file; the last row wins')
                FROM __dups d WHERE {table}.source_key = d.source_key AND len({table}.reasons) = 0
                  AND {table}.rowid < d.winner""").fetchone()[0]
    cur.execute("DROP TABLE __dups")
    return n
