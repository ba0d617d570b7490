"""File sources: detect format, compression and encoding by content, then stage the rows with DuckDB's readers.

CSV/TSV go through `read_csv` (delimiter sniffed, every value kept as text,
malformed lines reported through `store_rejects`); Parquet and JSON/NDJSON
through `read_parquet`/`read_json`; Excel .xlsx through python-calamine into
Arrow. The readers do not fill a staging table: the pipeline's one typed pass
reads the file directly (materializing every column as text cost as much as
all the validation). Files that are not UTF-8 are transcoded to a temporary UTF-8 copy in
1 MiB chunks, so memory stays bounded whatever the file size.
"""

from __future__ import annotations

import codecs
import gzip
import shutil
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from ...errors import ValidationError

FORMATS = ("csv", "parquet", "json", "xlsx")
_HEAD = 64 * 1024


@dataclass
class FileInfo:
    path: Path                     # what the reader opens (maybe a decompressed or transcoded copy)
    original: Path
    format: str
    compression: str | None = None  # gzip | zip | None
    encoding: str | None = None     # text formats: the source encoding
    delimiter: str | None = None
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"file": str(self.original), "format": self.format, "compression": self.compression,
                "encoding": self.encoding, "delimiter": self.delimiter}


@dataclass
class Staged:
    """A source ready to read: `SELECT ... FROM {relation}` with `params` bound."""

    info: FileInfo | None
    rows: int
    columns: list[str]
    rejects: int = 0                 # lines the CSV reader could not split ...
    rejects_table: str | None = None  # ... listed in this temp table (line, csv_line, error_message)
    relation: str = "__stage"
    params: dict = field(default_factory=dict)

    def count_rejects(self, cur: duckdb.DuckDBPyConnection) -> int:
        """After a full scan: the number of lines the reader rejected."""
        if self.rejects_table and cur.execute("SELECT count(*) FROM duckdb_tables() WHERE temporary AND table_name = $t",
                                              {"t": self.rejects_table}).fetchone()[0]:
            # DISTINCT: a line appears once per rejected column, and once more per later scan of the file.
            self.rejects = cur.execute(f"SELECT count(DISTINCT line) FROM {self.rejects_table}").fetchone()[0]
        return self.rejects

    def materialize(self, cur: duckdb.DuckDBPyConnection, table: str) -> None:
        """Every row as it is, in source order (rowid = row order), for the rare step that needs them all."""
        cur.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT * FROM {self.relation}", self.params)


def _normalize_encoding(name: str) -> str:
    try:
        return codecs.lookup(name).name  # "utf_8", "utf-16", "cp1252", "iso8859-1", ...
    except LookupError:
        raise ValidationError(f"unknown encoding {name!r}; try utf-8, utf-16, cp1252 or latin-1") from None


def _detect_encoding(head: bytes) -> str:
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if len(head) >= 4 and head[1::2].count(0) > len(head) // 4:  # ASCII text as UTF-16-LE without BOM
        return "utf-16-le"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        head.decode("cp1252")
        return "cp1252"
    except UnicodeDecodeError:
        return "latin-1"  # every byte is a latin-1 character


def _sniff_format(head: bytes, suffixes: list[str]) -> str:
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.startswith(b"PK\x03\x04"):
        return "zip"
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise ValidationError("this is an old binary Excel file (.xls); save it as .xlsx or CSV and import that")
    text = head
    for bom in (codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        if text.startswith(bom):
            text = text[len(bom):]
    first = text.replace(b"\x00", b"").lstrip()[:1]
    if first in (b"[", b"{") or any(s in (".json", ".ndjson", ".jsonl") for s in suffixes):
        return "json"
    return "csv"


def detect(path: Path, workdir: Path, *, encoding: str | None = None, delimiter: str | None = None,
           fmt: str | None = None) -> FileInfo:
    """Look at the bytes (not only the name) and prepare a copy the DuckDB readers can take as is."""
    original = path
    if not path.is_file():
        raise ValidationError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise ValidationError(f"{path}: the file is empty")
    compression = None
    with path.open("rb") as fh:
        head = fh.read(_HEAD)
    kind = _sniff_format(head, [s.lower() for s in path.suffixes])
    if kind == "gzip":
        compression = "gzip"
        with gzip.open(path, "rb") as fh:
            try:
                head = fh.read(_HEAD)
            except (OSError, EOFError) as exc:
                raise ValidationError(f"{path}: damaged gzip file ({exc})") from None
        kind = _sniff_format(head, [s.lower() for s in path.with_suffix("").suffixes])
        if kind in ("parquet", "zip"):
            path = _gunzip(path, workdir)
    if kind == "zip":
        if _is_xlsx(path):
            kind = "xlsx"
        else:
            compression = "zip"
            path = _unzip(path, workdir)
            inner = detect(path, workdir, encoding=encoding, delimiter=delimiter, fmt=fmt)
            inner.original, inner.compression = original, "zip"
            return inner
    if fmt:
        if fmt not in FORMATS:
            raise ValidationError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
        kind = fmt
    info = FileInfo(path=path, original=original, format=kind, compression=compression, delimiter=delimiter)
    if kind in ("csv", "json"):
        enc = _normalize_encoding(encoding) if encoding else _normalize_encoding(_detect_encoding(head))
        info.encoding = {"utf_8": "utf-8", "utf-8-sig": "utf-8"}.get(enc, enc)
        if info.encoding != "utf-8":
            info.path = _transcode(path, compression, enc, workdir)
            info.compression = compression if compression == "zip" else None
            info.notes.append(f"transcoded from {info.encoding} to UTF-8")
    return info


def _is_xlsx(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as zf:
            return "[Content_Types].xml" in zf.namelist() and any(n.startswith("xl/") for n in zf.namelist())
    except zipfile.BadZipFile:
        raise ValidationError(f"{path}: damaged zip file") from None


def _unzip(path: Path, workdir: Path) -> Path:
    with zipfile.ZipFile(path) as zf:
        members = [i for i in zf.infolist() if not i.is_dir() and not i.filename.startswith("__MACOSX/")]
        if len(members) != 1:
            raise ValidationError(f"{path}: the zip holds {len(members)} files; put exactly one data file in it")
        target = workdir / Path(members[0].filename).name
        with zf.open(members[0]) as src, target.open("wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
    return target


def _gunzip(path: Path, workdir: Path) -> Path:
    target = workdir / path.with_suffix("").name
    with gzip.open(path, "rb") as src, target.open("wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
    return target


def _transcode(path: Path, compression: str | None, encoding: str, workdir: Path) -> Path:
    target = workdir / (path.name + ".utf8")
    opener = gzip.open if compression == "gzip" else open
    with opener(path, "rt", encoding=encoding, newline="") as src, \
            target.open("w", encoding="utf-8", newline="") as dst:
        try:
            shutil.copyfileobj(src, dst, 1 << 20)
        except UnicodeDecodeError as exc:
            raise ValidationError(f"{path}: not valid {encoding} ({exc.reason} at byte {exc.start}); "
                                  "give the right one with --encoding") from None
    return target


def open_source(cur: duckdb.DuckDBPyConnection, info: FileInfo, run_tag: str) -> Staged:
    """The file as a relation to read from; not materialized: the pipeline's typed pass reads the file once.

    CSV keeps every value as text and reports lines it cannot split through
    `store_rejects`; Parquet/JSON are read as they are; an Excel sheet becomes
    a temp table (it is in memory already).
    """
    params: dict = {"src_path": str(info.path)}
    rejects_table = None
    if info.format == "csv":
        rejects_table = f"__rejects_{run_tag}"
        params.update(src_rt=rejects_table, src_rs=f"__scans_{run_tag}")
        extra = ""
        if info.delimiter:
            extra += ", delim = $src_delim"
            params["src_delim"] = "\t" if info.delimiter in ("\\t", "tab") else info.delimiter
        if info.compression == "gzip":
            extra += ", compression = 'gzip'"
        relation = ("read_csv($src_path, all_varchar = true, header = true, store_rejects = true, "
                    f"rejects_table = $src_rt, rejects_scan = $src_rs{extra})")
    elif info.format == "parquet":
        relation = "read_parquet($src_path)"
    elif info.format == "json":
        comp = ", compression = 'gzip'" if info.compression == "gzip" else ""
        relation = f"read_json($src_path, format = 'auto'{comp})"
    else:  # xlsx
        relation, params = f"__xlsx_{run_tag}", {}
        arrow = _xlsx_to_arrow(info.path)
        cur.register("__xlsx_arrow", arrow)
        cur.execute(f"CREATE OR REPLACE TEMP TABLE {relation} AS SELECT * FROM __xlsx_arrow")
        cur.unregister("__xlsx_arrow")
    staged = Staged(info=info, rows=0, columns=[], rejects_table=rejects_table, relation=relation, params=params)
    try:
        staged.columns = [r[0] for r in cur.execute(f"DESCRIBE SELECT * FROM {relation}", params).fetchall()]
    except duckdb.Error as exc:
        raise reader_error(info, exc) from None
    return staged


_FORMAT_NAMES = {"csv": "CSV", "parquet": "parquet", "json": "json", "xlsx": "Excel"}


def reader_error(info: FileInfo | None, exc: Exception) -> Exception:
    """A reader error as the user's one-line error (replays have no file: the error stays as it is)."""
    if info is None or not isinstance(exc, duckdb.Error):
        return exc
    return ValidationError(f"{info.original}: cannot read as {_FORMAT_NAMES[info.format]} ({_first_line(exc)})")


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0][:300]


def _xlsx_to_arrow(path: Path):
    """The first sheet as an Arrow table of text columns (header = first row)."""
    import pyarrow as pa
    from python_calamine import CalamineWorkbook

    try:
        sheet = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0)
        rows = sheet.to_python(skip_empty_area=True)
    except Exception as exc:  # noqa: BLE001 - calamine raises its own error types
        raise ValidationError(f"{path}: cannot read as Excel ({exc})") from None
    if not rows:
        raise ValidationError(f"{path}: the first sheet is empty")
    header = [str(h).strip() or f"column{i + 1}" for i, h in enumerate(rows[0])]
    columns = list(zip(*rows[1:])) if len(rows) > 1 else [() for _ in header]
    return pa.table({name: pa.array([_cell(v) for v in col], pa.string()) for name, col in zip(header, columns)})


def _cell(value) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)
