"""Declarative mappings: how a source's columns become the canonical `sales` fields.

A mapping is a TOML file (or a built-in of the same shape in ingest/mappings/):

    name = "superstore"
    date_format = "%d/%m/%y"          # strptime format(s); omitted: ISO 8601
    timezone = "UTC"                  # zone of times without an offset
    decimal_separator = "."           # "," for 1.234,56
    thousands_separator = ""
    unknown_products = "create"       # or "reject"
    optional = ["customer_name"]      # mapped columns the file may lack
    [columns]      # field = "Source column"   (extra names are numbers usable in expressions)
    [constants]    # field = value
    [expressions]  # field = "quantity * unit_price * (1 - discount)"
    [status_values]  # "Source value" = "completed" | "refunded" | "cancelled"

Expressions are parsed by a small allow-list grammar (field names, numbers,
+ - * / and a few functions) and never pasted into SQL as written: a mapping
file cannot run SQL of its own (DESIGN.md §2, injection).
"""

from __future__ import annotations

import functools
import re
import tomllib
from dataclasses import dataclass, field
from datetime import date, datetime, time
from importlib import resources
from pathlib import Path

import duckdb

from ..errors import NotFound, ValidationError

# Canonical field -> type. `sku`, `product_name`, `category`, `rep`, `state` feed enrichment.
FIELDS: dict[str, str] = {
    "source_key": "text", "order_id": "text", "sold_at": "timestamp",
    "sku": "text", "product_name": "text", "category": "text",
    "customer_id": "text", "customer_name": "text", "rep": "text",
    "region": "text", "country": "text", "state": "text", "channel": "text",
    "quantity": "integer", "unit_price": "decimal", "discount": "decimal", "net_amount": "decimal",
    "cost": "decimal", "currency": "text", "status": "text",
}
STATUSES = ("completed", "refunded", "cancelled")
FUNCTIONS = {"abs", "round", "coalesce", "nullif", "least", "greatest"}
_TABLES = {"columns", "constants", "expressions", "status_values"}


def _is_str(v) -> bool:
    return isinstance(v, str)


def _is_str_list(v) -> bool:
    return isinstance(v, list) and all(isinstance(x, str) for x in v)


_STRING = (_is_str, "a string")
# Each option's TOML type: (check, what to write), so `date_format = 5` is a message naming the key, not a TypeError.
_OPTIONS = {
    "name": _STRING, "description": _STRING, "source": _STRING, "timezone": _STRING, "decimal_separator": _STRING,
    "thousands_separator": _STRING, "unknown_products": _STRING,
    "date_format": (lambda v: _is_str(v) or (_is_str_list(v) and bool(v)),
                    'a string or a list of strings (strptime formats, e.g. "%d/%m/%Y")'),
    "optional": (_is_str_list, 'a list of strings (names from [columns], e.g. ["customer_name"])'),
}
# The type of each value in a table; constants by their field's type.
_TABLE_VALUES = {
    "columns": (_is_str, "a string (the column's name in the file)"),
    "expressions": (_is_str, 'a string (e.g. "quantity * unit_price")'),
    "status_values": (_is_str, "a string (completed, refunded or cancelled)"),
}
_CONSTANT_TYPES = {
    "text": (_is_str, "a string"),
    "integer": (lambda v: isinstance(v, int) and not isinstance(v, bool), "a whole number"),
    "decimal": (lambda v: isinstance(v, (int, float)) and not isinstance(v, bool), "a number"),
    "timestamp": (lambda v: isinstance(v, (str, date)), 'a date (2024-01-31) or a string in date_format'),
}
_TOML_TYPES = ((bool, "a boolean"), (int, "an integer"), (float, "a float"), (str, "a string"), (list, "a list"),
               (dict, "a table"), (datetime, "a date-time"), (date, "a date"), (time, "a time"))


def _toml_type(value) -> str:
    return next(name for t, name in _TOML_TYPES if isinstance(value, t))


def _check_type(origin: str, key: str, value, rule) -> None:
    check, expected = rule
    if not check(value):
        raise ValidationError(f"mapping {origin}: {key} must be {expected}, not {_toml_type(value)} ({value!r})")


def _check_types(data: dict, origin: str) -> None:
    for key, rule in _OPTIONS.items():
        if key in data:
            _check_type(origin, key, data[key], rule)
    for table in _TABLES:
        if not isinstance(data.get(table, {}), dict):
            raise ValidationError(f"mapping {origin}: [{table}] must be a table of name = value")
    for table, rule in _TABLE_VALUES.items():
        for k, v in data.get(table, {}).items():
            _check_type(origin, f"[{table}] {k}", v, rule)
    for k, v in data.get("constants", {}).items():
        if k not in FIELDS:
            raise ValidationError(f"mapping {origin}: [constants] {k!r} is not a sales field; fields: {', '.join(FIELDS)}")
        _check_type(origin, f"[constants] {k}", v, _CONSTANT_TYPES[FIELDS[k]])


@dataclass(frozen=True)
class Mapping:
    name: str
    columns: dict[str, str]
    constants: dict[str, object] = field(default_factory=dict)
    expressions: dict[str, str] = field(default_factory=dict)
    status_values: dict[str, str] = field(default_factory=dict)
    description: str = ""
    source: str | None = None
    date_format: tuple[str, ...] = ()
    timezone: str = "UTC"
    decimal_separator: str = "."
    thousands_separator: str = ""
    unknown_products: str = "create"
    optional: tuple[str, ...] = ()
    origin: str = ""  # "built-in" or the file path

    @property
    def extras(self) -> dict[str, str]:
        """Mapped source columns that are not canonical fields: numbers for expressions."""
        return {k: v for k, v in self.columns.items() if k not in FIELDS}

    def source_columns(self) -> list[str]:
        return list(dict.fromkeys(self.columns.values()))

    def defines(self, name: str) -> bool:
        return name in self.columns or name in self.constants or name in self.expressions

    def as_dict(self) -> dict:
        return {
            "name": self.name, "description": self.description, "source": self.source, "origin": self.origin,
            "date_format": list(self.date_format), "timezone": self.timezone,
            "decimal_separator": self.decimal_separator, "thousands_separator": self.thousands_separator,
            "unknown_products": self.unknown_products, "columns": self.columns, "constants": self.constants,
            "expressions": self.expressions, "status_values": self.status_values, "optional": list(self.optional),
        }


def parse(text: str, origin: str) -> Mapping:
    """Parse and check a mapping; every mistake is a ValidationError naming the key and the fix."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValidationError(f"mapping {origin}: invalid TOML ({exc})") from None
    unknown = set(data) - set(_OPTIONS) - _TABLES
    if unknown:
        raise ValidationError(f"mapping {origin}: unknown key(s) {sorted(unknown)}; "
                              f"allowed: {sorted(set(_OPTIONS) | _TABLES)}")
    _check_types(data, origin)
    columns = dict(data.get("columns", {}))
    constants = dict(data.get("constants", {}))
    expressions = dict(data.get("expressions", {}))
    for k in expressions:
        if k not in FIELDS:
            raise ValidationError(f"mapping {origin}: [expressions] {k!r} is not a sales field; fields: {', '.join(FIELDS)}")
    for k in columns:
        if not re.fullmatch(r"[a-z_][a-z0-9_]*", k):
            raise ValidationError(f"mapping {origin}: [columns] name {k!r} must be lower_case letters, digits, _")
    fmt = data.get("date_format", ())
    m = Mapping(
        name=str(data.get("name") or Path(origin).stem), columns=columns, constants=constants,
        expressions=expressions, status_values=dict(data.get("status_values", {})),
        description=data.get("description", ""), source=data.get("source"),
        date_format=(fmt,) if isinstance(fmt, str) else tuple(fmt), timezone=data.get("timezone", "UTC"),
        decimal_separator=data.get("decimal_separator", "."), thousands_separator=data.get("thousands_separator", ""),
        unknown_products=data.get("unknown_products", "create"), optional=tuple(data.get("optional", ())),
        origin=origin,
    )
    _check(m)
    return m


def _check(m: Mapping) -> None:
    where = f"mapping {m.name}"
    if m.unknown_products not in ("create", "reject"):
        raise ValidationError(f"{where}: unknown_products must be \"create\" or \"reject\"")
    if m.decimal_separator not in (".", ","):
        raise ValidationError(f"{where}: decimal_separator must be \".\" or \",\"")
    if not m.defines("sold_at"):
        raise ValidationError(f"{where}: map the sale date: [columns] sold_at = \"Your date column\"")
    if not m.defines("quantity"):
        raise ValidationError(f"{where}: map the quantity: [columns] quantity = \"Qty column\" (or a constant)")
    if not (m.defines("unit_price") or m.defines("net_amount")):
        raise ValidationError(f"{where}: map unit_price or net_amount (the other is computed)")
    for v in m.status_values.values():
        if v not in STATUSES:
            raise ValidationError(f"{where}: [status_values] maps to {v!r}; use one of {', '.join(STATUSES)}")
    for name in m.optional:
        if name not in m.columns:
            raise ValidationError(f"{where}: optional lists {name!r}, which is not a name in [columns]")
    if error := _duckdb_error("SELECT timezone($v, TIMESTAMP '2000-01-01')::VARCHAR", m.timezone):
        raise ValidationError(f"{where}: timezone {m.timezone!r} is not a time zone DuckDB knows ({error}); "
                              'use an IANA name such as "Europe/Berlin" or "UTC"')
    for fmt in m.date_format:
        if error := _duckdb_error("SELECT try_strptime('', $v)", fmt):
            raise ValidationError(f"{where}: date_format {fmt!r} is not a strptime format ({error}); "
                                  'e.g. "%d/%m/%Y" or "%Y-%m-%d %H:%M"')
    known = expression_inputs(m)
    for name, expr in m.expressions.items():
        compile_expression(expr, known, where=f"{where}: [expressions] {name}")


@functools.lru_cache(maxsize=256)
def _duckdb_error(sql: str, value: str) -> str | None:
    """DuckDB's own verdict on a mapping value it will use (time zones: ICU's list): None, or its message."""
    with duckdb.connect() as con:
        try:
            con.execute(sql, {"v": value})
        except duckdb.Error as exc:
            return str(exc).strip().splitlines()[0]
    return None


# Fields with a default (transform.py), usable in expressions even when not mapped.
DEFAULTED = ("order_id", "discount", "currency", "status")


def expression_inputs(m: Mapping) -> set[str]:
    return set(m.columns) | set(m.constants) | set(DEFAULTED)


_TOKEN = re.compile(r"\s*(?:(?P<num>\d+(?:\.\d+)?)|(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<op>[-+*/(),]))")


def compile_expression(expr: str, known: set[str], *, where: str, ref=lambda n: f'"{n}"') -> str:
    """Translate an allow-listed arithmetic expression into SQL; `ref(name)` renders a field reference."""
    out, pos, depth = [], 0, 0
    text = expr.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise ValidationError(f"{where}: cannot read {text[pos:]!r}; use field names, numbers, + - * / ( ) "
                                  f"and {', '.join(sorted(FUNCTIONS))}")
        pos = m.end()
        if m["num"]:
            out.append(m["num"])
        elif m["name"]:
            name = m["name"]
            nxt = text[pos:].lstrip()[:1]
            if nxt == "(":
                if name.lower() not in FUNCTIONS:
                    raise ValidationError(f"{where}: function {name!r} is not allowed; allowed: {', '.join(sorted(FUNCTIONS))}")
                out.append(name.lower())
            elif name in known:
                out.append(ref(name))
            else:
                raise ValidationError(f"{where}: {name!r} is not a mapped field; map it in [columns] first")
        else:
            op = m["op"]
            depth += {"(": 1, ")": -1}.get(op, 0)
            if depth < 0:
                raise ValidationError(f"{where}: unbalanced parentheses")
            out.append(op)
    if depth:
        raise ValidationError(f"{where}: unbalanced parentheses")
    if not out:
        raise ValidationError(f"{where}: empty expression")
    return " ".join(out)


# -- finding mappings -------------------------------------------------------
def builtin_names() -> list[str]:
    folder = resources.files("salesboard.ingest") / "mappings"
    return sorted(p.name.removesuffix(".toml") for p in folder.iterdir() if p.name.endswith(".toml"))


def builtin_text(name: str) -> str:
    return (resources.files("salesboard.ingest") / "mappings" / f"{name}.toml").read_text()


def load(spec: str) -> Mapping:
    """A built-in by name, or a mapping file by path."""
    if spec in builtin_names():
        return parse(builtin_text(spec), origin=f"built-in:{spec}")
    path = Path(spec)
    if path.suffix.lower() in (".toml",) or path.exists():
        if not path.exists():
            raise NotFound(f"mapping file {spec} does not exist")
        return parse(path.read_text(encoding="utf-8"), origin=str(path.resolve()))
    raise NotFound(f"no mapping named {spec!r}; built-ins: {', '.join(builtin_names())} "
                   "(or give a .toml file; see `salesboard mappings list`)")


def resolve_columns(m: Mapping, available: list[str]) -> dict[str, str]:
    """Source column per mapped name, matched exactly, else ignoring case and spaces.

    Raises if a column is missing, unless the mapping lists its name in `optional`.
    """
    norm = {_norm(c): c for c in available}
    out, missing = {}, []
    for name, col in m.columns.items():
        if col in available:
            out[name] = col
        elif _norm(col) in norm:
            out[name] = norm[_norm(col)]
        elif name not in m.optional:
            missing.append(col)
    if missing:
        raise ValidationError(
            f"mapping {m.name} needs column(s) {', '.join(repr(c) for c in missing)} that the file lacks; "
            f"the file has: {', '.join(available[:40])}. Pick another mapping (--mapping) or edit it")
    return out


def _norm(name: str) -> str:
    return re.sub(r"[\s_]+", "", name.strip().lower())


def detect(available: list[str]) -> Mapping:
    """The built-in whose columns all exist in the file (the one using most columns wins)."""
    best = None
    for name in builtin_names():
        m = load(name)
        try:
            resolve_columns(m, available)
        except ValidationError:
            continue
        if best is None or len(m.columns) > len(best.columns):
            best = m
    if best is None:
        raise ValidationError(
            f"no built-in mapping fits the columns {', '.join(available[:20])}; write one "
            "(docs/imports.md, `salesboard mappings show canonical`) and pass --mapping FILE")
    return best
