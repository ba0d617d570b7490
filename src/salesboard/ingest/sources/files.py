"""File sources: detect format, compression and encoding by content, then stage the rows with DuckDB's readers.

CSV/TSV go through `read_csv` (delimiter sniffed, every value kept as text,
malformed lines reported through `store_rejects`); Parquet and JSON/NDJSON
through `read_parquet`/`read_json`; Excel .xlsx through python-calamine into
Arrow. Files that are not UTF-8 are transcoded to a temporary UTF-8 copy in
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
    info: FileInfo
    rows: int
    columns: list[str]
    rejects: int = 0                 # lines the CSV reader could not split ...
    rejects_table: str | None = None  # ... listed in this temp table (line, csv_line, error_message)


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


def stage(cur: duckdb.DuckDBPyConnection, info: FileInfo, table: str, run_tag: str) -> Staged:
    """Create temp table `table` with the file's rows as they are; report lines the reader rejected."""
    rejects, rejects_table = 0, None
    if info.format == "csv":
        rejects_table, scan_table = f"__rejects_{run_tag}", f"__scans_{run_tag}"
        opts = {"path": str(info.path), "rt": rejects_table, "rs": scan_table}
        extra = ""
        if info.delimiter:
            extra += ", delim = $delim"
            opts["delim"] = "\t" if info.delimiter in ("\\t", "tab") else info.delimiter
        if info.compression == "gzip":
            extra += ", compression = 'gzip'"
        try:
            cur.execute(
                f"CREATE TEMP TABLE {table} AS SELECT * FROM read_csv($path, all_varchar = true, header = true, "
                f"store_rejects = true, rejects_table = $rt, rejects_scan = $rs{extra})", opts)
        except duckdb.Error as exc:
            raise ValidationError(f"{info.original}: cannot read as CSV ({_first_line(exc)})") from None
        rejects = cur.execute(f"SELECT count(DISTINCT line) FROM {rejects_table}").fetchone()[0]
    elif info.format == "parquet":
        _create(cur, table, "read_parquet($path)", info)
    elif info.format == "json":
        comp = ", compression = 'gzip'" if info.compression == "gzip" else ""
        _create(cur, table, f"read_json($path, format = 'auto'{comp})", info)
    elif info.format == "xlsx":
        arrow = _xlsx_to_arrow(info.path)
        cur.register("__xlsx_arrow", arrow)
        cur.execute(f"CREATE TEMP TABLE {table} AS SELECT * FROM __xlsx_arrow")
        cur.unregister("__xlsx_arrow")
    columns = [r[0] for r in cur.execute(f"DESCRIBE {table}").fetchall()]
    count = cur.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    return Staged(info=info, rows=count, columns=columns, rejects=rejects, rejects_table=rejects_table)


def _create(cur, table: str, reader: str, info: FileInfo) -> None:
    try:
        cur.execute(f"CREATE TEMP TABLE {table} AS SELECT * FROM {reader}", {"path": str(info.path)})
    except duckdb.Error as exc:
        raise ValidationError(f"{info.original}: cannot read as {info.format} ({_first_line(exc)})") from None


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
