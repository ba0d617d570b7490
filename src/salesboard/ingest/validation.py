"""Validation rules: every reason a row cannot be loaded, in words, as one SQL list per row.

A row with an empty `reasons` list is loaded; any other row is quarantined
with all of its reasons (not only the first), so one fix settles it.
"""

from __future__ import annotations

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


def _number_rule(name: str) -> str:
    return (f"CASE WHEN {name} IS NULL AND {RAW}{name} IS NOT NULL "
            f"THEN '{name}: ' || {_q(name)} || ' is not a number' END")


def reasons_sql(m: Mapping, p: Params, *, base_currency: str, future_days: int, fx_max_age_days: int) -> str:
    """A VARCHAR[] of reasons over the enriched row (columns of transform + enrichment)."""
    fmt = (" in format " + " or ".join(m.date_format)) if m.date_format else " (expected ISO 8601, e.g. 2024-03-31)"
    rules = [
        "CASE WHEN source_key IS NULL THEN 'source_key: missing' END",
        f"CASE WHEN sold_at IS NULL THEN CASE WHEN {RAW}sold_at IS NULL THEN 'sold_at: missing' "
        f"ELSE 'sold_at: ' || {_q('sold_at')} || ' is not a date' || {p(fmt)} END END",
        f"CASE WHEN sold_at > timezone('UTC', now()) + to_days({p(future_days)}::INTEGER) "
        f"THEN 'sold_at: ' || strftime(sold_at, '%Y-%m-%d %H:%M') || ' is in the future (more than ' || "
        f"{p(future_days)}::VARCHAR || ' day(s) ahead)' END",
        f"CASE WHEN quantity IS NULL THEN CASE WHEN {RAW}quantity IS NULL THEN 'quantity: missing' "
        f"ELSE 'quantity: ' || {_q('quantity')} || ' is not a whole number' END "
        "WHEN quantity = 0 THEN 'quantity: 0 is not allowed (a sale line moves at least one unit)' "
        "WHEN abs(quantity) > 2147483647 THEN 'quantity: ' || quantity::VARCHAR || ' is too large' END",
        _number_rule("unit_price"),
        _number_rule("net_amount"),
        _number_rule("cost"),
        f"CASE WHEN {RAW}discount IS NOT NULL AND discount IS NULL "
        f"THEN 'discount: ' || {_q('discount')} || ' is not a number' "
        "WHEN discount < 0 OR discount > 1 THEN 'discount: ' || discount::VARCHAR || "
        "' is outside 0..1 (a fraction: 0.15 means 15%)' END",
        f"CASE WHEN unit_price IS NULL AND net_amount IS NULL AND {RAW}unit_price IS NULL AND {RAW}net_amount IS NULL "
        "THEN 'unit_price: missing (map unit_price or net_amount)' "
        "WHEN (unit_price IS NULL OR net_amount IS NULL) AND quantity IS NOT NULL AND quantity <> 0 "
        f"AND NOT ({RAW}unit_price IS NOT NULL AND unit_price IS NULL) "
        f"AND NOT ({RAW}net_amount IS NOT NULL AND net_amount IS NULL) "
        "THEN 'unit_price: could not be computed from the amount (is discount 1?)' END",
        "CASE WHEN unit_price < 0 THEN 'unit_price: ' || unit_price::VARCHAR || ' is negative' END",
        f"CASE WHEN NOT list_contains({p(list(ISO_CURRENCIES))}, currency) "
        "THEN 'currency: \"' || currency || '\" is not a known ISO 4217 code' END",
        f"CASE WHEN NOT list_contains({p(list(STATUSES))}, status) THEN 'status: \"' || status || "
        f"'\" is not one of {', '.join(STATUSES)} (map it in [status_values])' END",
        f"CASE WHEN __fx_rate IS NULL AND sold_at IS NOT NULL AND list_contains({p(list(ISO_CURRENCIES))}, currency) "
        f"THEN 'currency: no ' || currency || '->' || {p(base_currency)} || ' rate on or within ' || "
        f"{p(fx_max_age_days)}::VARCHAR || ' day(s) before ' || strftime(sold_at, '%Y-%m-%d') || "
        "'; import rates with `salesboard fx import`' END",
        "CASE WHEN abs(net_amount * __fx_rate) >= 1e16 OR abs(cost * __fx_rate) >= 1e16 "
        "THEN 'net_amount: too large for the sales table' END",
    ]
    for name in m.extras:
        rules.append(_number_rule(name))
    if m.unknown_products == "reject":
        rules.append("CASE WHEN sku IS NOT NULL AND product_id IS NULL THEN 'sku: product \"' || sku || "
                     "'\" is unknown (the mapping says unknown_products = \"reject\"; add the product or say \"create\")' END")
    return "list_filter([" + ", ".join(rules) + "], r -> r IS NOT NULL)"


def with_duplicates(sql: str) -> str:
    """Within one batch the LAST valid row of a key wins; earlier ones are quarantined, naming the winner."""
    return (
        "SELECT * EXCLUDE (__winner) REPLACE (CASE WHEN len(reasons) = 0 AND __row < __winner THEN "
        "list_append(reasons, 'source_key: \"' || source_key || '\" appears again in row ' || __winner::VARCHAR || "
        "' of this file; the last row wins') ELSE reasons END AS reasons) FROM ("
        f"SELECT *, max(__row) FILTER (WHERE len(reasons) = 0) OVER (PARTITION BY source_key) AS __winner FROM ({sql}))"
    )
