"""Small reference tables a user imports as CSV (FX rates, region rules), read with the import's own detection."""

from __future__ import annotations

import tempfile
from pathlib import Path

import duckdb

from ...errors import ValidationError
from ..sources import files


def stage_csv(cur: duckdb.DuckDBPyConnection, path: str, table: str, *, what: str, required: tuple[str, ...],
              expected: str) -> dict[str, str]:
    """Read the CSV at `path` (any encoding, gzip, zip) into temp table `table`, all values as text.
    Returns its columns by lowercased name; refuses a file that lacks a `required` column."""
    file = Path(path)
    if not file.is_file():
        raise ValidationError(f"{path}: no such file; give a CSV with columns {expected}")
    with tempfile.TemporaryDirectory(prefix="salesboard-ref-") as tmp:
        info = files.detect(file, Path(tmp))
        if info.format != "csv":
            raise ValidationError(f"{path}: this is a {info.format} file; {what} must be a CSV with columns {expected}")
        try:
            cur.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS "
                        "SELECT * FROM read_csv($path, all_varchar = true, header = true)", {"path": str(info.path)})
        except duckdb.Error as exc:
            raise files.reader_error(info, exc) from None
    cols = {c[0].strip().lower(): c[0] for c in cur.execute(f"DESCRIBE {table}").fetchall()}
    missing = set(required) - set(cols)
    if missing:
        raise ValidationError(f"{path}: missing column(s) {', '.join(sorted(missing))}; expected {expected}")
    return cols
