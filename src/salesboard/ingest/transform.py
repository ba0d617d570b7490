"""Mapped and typed rows: the SQL that turns staged source columns into canonical fields.

Every source column is read as it was (text for CSV); conversion uses TRY_
casts so one bad value makes a NULL that validation explains, never a failed
run. Values from a mapping file are bound parameters; column names are
quoted identifiers; expressions come from the allow-list compiler.
"""

from __future__ import annotations

from .mapping import FIELDS, Mapping, compile_expression, expression_inputs


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class Params:
    """Named bound parameters ($p0, $p1, ...) so SQL can be assembled in any order."""

    def __init__(self) -> None:
        self.values: dict[str, object] = {}

    def __call__(self, value) -> str:
        key = f"p{len(self.values)}"
        self.values[key] = value
        return "$" + key


RAW = "__raw_"  # prefix of the source text kept beside a typed field, for messages


def _number_text(text: str, m: Mapping, p: Params) -> str:
    if m.thousands_separator:
        text = f"replace({text}, {p(m.thousands_separator)}, '')"
    if m.decimal_separator == ",":
        text = f"replace(replace({text}, '.', ''), ',', '.')" if not m.thousands_separator else \
            f"replace({text}, ',', '.')"
    return text


def _utc(local: str, m: Mapping, p: Params) -> str:
    """A timestamp without an offset is in the mapping's zone."""
    return local if m.timezone.upper() == "UTC" else f"timezone('UTC', timezone({p(m.timezone)}, {local}))"


_LOCAL_TYPES = "'DATE', 'TIMESTAMP', 'TIMESTAMP_S', 'TIMESTAMP_MS', 'TIMESTAMP_NS'"


def _timestamp(text: str, m: Mapping, p: Params, native: str | None = None) -> str:
    """A UTC timestamp. Times with an explicit offset are converted; others are in the mapping's zone.

    `native`: the source column as it was. When it is a date or timestamp already (Parquet, Excel) it is
    used as is; date_format is for text only. typeof() is a constant per column, so DuckDB folds the CASE
    to one branch when it binds the query (no cost per row), and the other branches bind for any type.
    """
    if m.date_format:
        # One format as a scalar: DuckDB then parses it once, not per row (5x faster than a 1-item list).
        fmt = m.date_format[0] if len(m.date_format) == 1 else list(m.date_format)
        parsed = _utc(f"try_strptime({text}, {p(fmt)})", m, p)
    else:
        parsed = (f"CASE WHEN regexp_matches({text}, '(Z|[+-]\\d\\d(:?\\d\\d)?)$') "
                  f"THEN timezone('UTC', TRY_CAST({text} AS TIMESTAMPTZ)) "
                  f"ELSE {_utc(f'TRY_CAST({text} AS TIMESTAMP)', m, p)} END")
    if native is None:
        return parsed
    return (f"CASE WHEN typeof({native}) IN ({_LOCAL_TYPES}) THEN {_utc(f'TRY_CAST({native} AS TIMESTAMP)', m, p)} "
            f"WHEN typeof({native}) = 'TIMESTAMP WITH TIME ZONE' THEN timezone('UTC', TRY_CAST({native} AS TIMESTAMPTZ)) "
            f"ELSE {parsed} END")


def _typed(kind: str, text: str, m: Mapping, p: Params, native: str | None = None) -> str:
    """`text` is the trimmed source text (NULL when empty); `native` the source column as it was."""
    if kind == "text":
        return text
    if kind == "integer":
        return f"TRY_CAST({_number_text(text, m, p)} AS BIGINT)"
    if kind == "decimal":
        return f"TRY_CAST({_number_text(text, m, p)} AS DECIMAL(18, 4))"
    return _timestamp(text, m, p, native)


_SQL_TYPE = {"text": "VARCHAR", "integer": "BIGINT", "decimal": "DECIMAL(18, 4)", "timestamp": "TIMESTAMP"}
SRC = "__c"  # prefix of the source columns carried through the typed pass (for a quarantined row's raw JSON)


# trim() removes Unicode space separators (Zs). Calling it only where the first or last character may be one
# is exact at the start (any non-ASCII first character is trimmed), and at the end covers space, no-break space
# (U+00A0), figure and narrow no-break spaces (U+2007, U+202F: thousands separators) and the ideographic space.
# It halves the cost of this step: most values need no trimming, and trim() copies every string.
_TRAILING = ("' '", "chr(160)", "chr(8199)", "chr(8239)", "chr(12288)")


def trimmed(text: str) -> str:
    """The text trimmed, NULL when empty."""
    ends = " OR ".join(f"ends_with({text}, {z})" for z in _TRAILING)
    return f"nullif(CASE WHEN {text} < '!' OR {text} >= chr(128) OR {ends} THEN trim({text}) ELSE {text} END, '')"


def row_number(first_rowid: int, table: str = "") -> str:
    """A typed-table row's number in the source (1 = first data row).

    The typed table is written in source order, so rowid - first rowid + 1, except for rows an UPDATE of
    their `reasons` list moved to a new rowid (DuckDB rewrites such rows): those keep their number in __row.
    (Filling __row for every row was an UPDATE of every row: 300 MB more RSS on 10M rows.)
    """
    t = f"{table}." if table else ""
    return f"coalesce({t}__row, {t}rowid - {int(first_rowid)} + 1)"


def raw_json(columns: list[str]) -> str:
    """The source row as it was: a JSON object of source column -> value (over the typed pass's columns)."""
    return "to_json(struct_pack(" + ", ".join(f"{ident(c)} := {SRC}{i}" for i, c in enumerate(columns)) + "))"


def typed_select(m: Mapping, resolved: dict[str, str], stage_columns: list[str], base_currency: str,
                 p: Params, relation: str = "__stage") -> str:
    """SELECT every canonical field, extras, raw texts and the source columns (as __c0, __c1 ...) FROM relation.

    Each mapped source column is trimmed once (layer 0); typed values and the
    raw texts used in messages are computed from that (a column mapped to
    two fields, or kept as a raw text beside its typed value, costs one trim).
    """
    index = {c: i for i, c in enumerate(stage_columns)}
    l0 = [f"{ident(c)} AS {SRC}{i}" for i, c in enumerate(stage_columns)]
    l0 += [f"{trimmed(ident(c) + '::VARCHAR')} AS __t{index[c]}" for c in dict.fromkeys(resolved.values())]
    l1 = [f"{SRC}{i}" for i in range(len(stage_columns))]
    for name, kind in FIELDS.items():
        if name in resolved:
            text = f"__t{index[resolved[name]]}"
            expr = _typed(kind, text, m, p, native=f"{SRC}{index[resolved[name]]}")
            if name == "currency":
                expr = f"upper({expr})"
            elif name == "status":
                expr = _status(expr, m, p)
            l1.append(f"{expr} AS {name}")
            l1.append(f"{text} AS {RAW}{name}")
        else:
            const = m.constants.get(name)
            value = f"CAST({p(str(const))} AS {_SQL_TYPE[kind]})" if const is not None else f"NULL::{_SQL_TYPE[kind]}"
            if name == "sold_at" and const is not None:
                value = _timestamp(p(str(const)), m, p)
            l1.append(f"{value} AS {name}")
            l1.append(f"{p(None if const is None else str(const))}::VARCHAR AS {RAW}{name}")
    for name, col in m.extras.items():
        if name in resolved:
            text = f"__t{index[resolved[name]]}"
            l1.append(f"{_typed('decimal', text, m, p)} AS {name}")
            l1.append(f"{text} AS {RAW}{name}")
        else:
            l1.append(f"NULL::DECIMAL(18, 4) AS {name}")
            l1.append(f"NULL::VARCHAR AS {RAW}{name}")
    if "source_key" not in resolved and "source_key" not in m.constants:
        # No key column: the row's content is its identity, so a re-import still changes nothing.
        l1 = [e if not e.endswith(" AS source_key") else f"md5({raw_json(stage_columns)}) AS source_key" for e in l1]
    sql = f"SELECT {', '.join(l1)} FROM (SELECT {', '.join(l0)} FROM {relation})"

    # Defaults that expressions may rely on.
    defaults = {
        "order_id": "coalesce(order_id, source_key)",
        "discount": f"coalesce(discount, CASE WHEN {RAW}discount IS NULL THEN 0 END)",
        "currency": f"coalesce(currency, {p(base_currency.upper())})",
        "status": "coalesce(status, 'completed')",
    }
    sql = f"SELECT * REPLACE ({', '.join(f'{v} AS {k}' for k, v in defaults.items())}) FROM ({sql})"

    if m.expressions:
        known = expression_inputs(m)
        parts = []
        for name, expr in m.expressions.items():
            compiled = compile_expression(expr, known, where=f"mapping {m.name}: [expressions] {name}")
            parts.append(f"TRY_CAST({compiled} AS {_SQL_TYPE[FIELDS[name]]}) AS {name}")
        sql = f"SELECT * REPLACE ({', '.join(parts)}) FROM ({sql})"

    derived = [
        "coalesce(net_amount, TRY_CAST(quantity * unit_price * (1 - discount) AS DECIMAL(18, 4))) AS net_amount",
        "coalesce(unit_price, TRY_CAST(net_amount / nullif(quantity * (1 - discount), 0) AS DECIMAL(18, 4)))"
        " AS unit_price",
    ]
    return f"SELECT * REPLACE ({', '.join(derived)}) FROM ({sql})"


def _status(expr: str, m: Mapping, p: Params) -> str:
    if not m.status_values:
        return f"lower({expr})"
    cases = " ".join(f"WHEN {p(k)} THEN {p(v)}" for k, v in m.status_values.items())
    return f"CASE {expr} {cases} ELSE lower({expr}) END"
