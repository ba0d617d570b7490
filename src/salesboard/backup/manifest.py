"""The manifest: what a backup must contain, so a restore can prove it got exactly that.

Per table a row count and a fingerprint per column, which reads every value: DuckDB's block
checksums only catch corruption in blocks a query reads (DESIGN.md §1).

A fingerprint is `bit_xor(hash(col))` (64 bits) and `sum(hash(col) >> 32)` (the top 32 bits,
summed), as `xor-sum` in hex. The xor alone misses changes that come in pairs (two 'USD' turned
into two 'EUR' leave it unchanged); the sum catches those. Both stay in 64-bit integers:
`sum(hash(col))` accumulates in HUGEINT and took 1.9 s instead of 1.1 s at 10M rows.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

import duckdb

from . import BackupError

FORMAT = 2  # 2: xor-sum fingerprints (1 was sum(hash(col)))
CHUNK = 8 << 20
REQUIRED = {"format": int, "name": str, "file": str, "created_at": str, "size": int, "sha256": str,
            "raw_size": int, "raw_sha256": str, "compressed": bool, "duckdb_version": str, "tables": dict}


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _columns_by_table(con: duckdb.DuckDBPyConnection, catalog: str) -> dict[str, list[str]]:
    cols = con.execute(
        "SELECT table_name, column_name FROM duckdb_columns() WHERE database_name = ? AND schema_name = 'main' "
        "AND NOT internal ORDER BY table_name, column_index", [catalog]).fetchall()
    views = {r[0] for r in con.execute("SELECT view_name FROM duckdb_views() WHERE database_name = ?",
                                       [catalog]).fetchall()}
    by_table: dict[str, list[str]] = {}
    for table, column in cols:
        if table not in views:
            by_table.setdefault(table, []).append(column)
    return by_table


def _heads(con: duckdb.DuckDBPyConnection, catalog: str, tables) -> dict:
    """Schema version, audit head and data version: cheap reads that name one exact state."""
    q = f"{_ident(catalog)}.main."
    schema = con.execute(f"SELECT max(version) FROM {q}schema_migrations").fetchone()[0] \
        if "schema_migrations" in tables else None
    audit = None
    if "audit_log" in tables:
        head = con.execute(f"SELECT seq, hash FROM {q}audit_log ORDER BY seq DESC LIMIT 1").fetchone()
        audit = {"last_seq": head[0], "last_hash": head[1]} if head else {"last_seq": None, "last_hash": None}
    data_version = con.execute(f"SELECT version FROM {q}data_version WHERE id = 1").fetchone()[0] \
        if "data_version" in tables else None
    return {"schema_version": schema, "audit": audit, "data_version": data_version}


def _catalog(con: duckdb.DuckDBPyConnection, catalog: str | None) -> str:
    return catalog or con.execute("SELECT current_database()").fetchone()[0]


def snapshot_facts(con: duckdb.DuckDBPyConnection, catalog: str | None = None) -> dict:
    """Row counts and heads only (metadata reads, milliseconds at 10M rows): taken while writers
    are paused, in the snapshot a backup copies, to prove the copy is that snapshot."""
    catalog = _catalog(con, catalog)
    tables = {t: con.execute(f"SELECT count(*) FROM {_ident(catalog)}.main.{_ident(t)}").fetchone()[0]
              for t in _columns_by_table(con, catalog)}
    return {"rows": tables, **_heads(con, catalog, tables)}


def database_stats(con: duckdb.DuckDBPyConnection, catalog: str | None = None) -> dict:
    """Row counts, per-column fingerprints, schema version, audit head and data version of a database.

    Reads every value of every column: the expensive part of a backup (seconds at 10M rows).
    """
    catalog = _catalog(con, catalog)
    tables = {}
    for table, columns in _columns_by_table(con, catalog).items():
        exprs = ", ".join(f"printf('%016x-%x', coalesce(bit_xor(hash({c})), 0), coalesce(sum((hash({c}) >> 32)::UINTEGER), 0))"
                          for c in map(_ident, columns))
        row = con.execute(f"SELECT count(*), {exprs} FROM {_ident(catalog)}.main.{_ident(table)}").fetchone()
        tables[table] = {"rows": row[0], "fingerprint": dict(zip(columns, row[1:]))}
    return {"duckdb_version": duckdb.__version__, **_heads(con, catalog, tables), "tables": tables}


def snapshot_mismatch(facts: dict, stats: dict) -> list[str]:
    """Where the stats of a copy differ from the facts taken in the snapshot it was copied from."""
    rows = {t: info["rows"] for t, info in stats["tables"].items()}
    errors = [f"table {t}: copy has {rows.get(t)} rows, snapshot had {n}"
              for t, n in sorted(facts["rows"].items()) if rows.get(t) != n]
    errors += [f"table {t}: in the copy, not in the snapshot" for t in sorted(set(rows) - set(facts["rows"]))]
    errors += [f"{key}: copy has {stats[key]}, snapshot had {facts[key]}"
               for key in ("schema_version", "audit", "data_version") if stats[key] != facts[key]]
    return errors


def compare(expected: dict, actual: dict) -> list[str]:
    """Every difference between a manifest and the stats of a restored copy, in words."""
    errors = []
    if expected.get("duckdb_version") != actual["duckdb_version"]:
        errors.append(f"backup made with DuckDB {expected.get('duckdb_version')}, verified with "
                      f"{actual['duckdb_version']}: fingerprints may differ; verify with the same version")
    if expected.get("schema_version") != actual["schema_version"]:
        errors.append(f"schema version {actual['schema_version']} != manifest {expected.get('schema_version')}")
    exp_t, act_t = expected["tables"], actual["tables"]
    for t in sorted(set(exp_t) - set(act_t)):
        errors.append(f"table {t} missing")
    for t in sorted(set(act_t) - set(exp_t)):
        errors.append(f"table {t} not in manifest")
    for t in sorted(set(exp_t) & set(act_t)):
        if exp_t[t]["rows"] != act_t[t]["rows"]:
            errors.append(f"table {t}: {act_t[t]['rows']} rows, manifest says {exp_t[t]['rows']}")
        bad = [c for c in exp_t[t]["fingerprint"] if exp_t[t]["fingerprint"][c] != act_t[t]["fingerprint"].get(c)]
        if bad:
            errors.append(f"table {t}: fingerprint differs in column(s) {', '.join(bad)}")
    if expected.get("audit") != actual["audit"]:
        errors.append(f"audit log head {actual['audit']} != manifest {expected.get('audit')}")
    return errors


def signature(data: dict, key: str) -> str:
    """HMAC-SHA256 of the manifest (all of it but the signature, as canonical JSON) under the installation's key.
    Checksums catch damage; only a key the attacker lacks catches a backup rewritten with a manifest to match."""
    body = json.dumps({k: v for k, v in data.items() if k != "signature"}, sort_keys=True, default=str)
    return hmac.new(key.encode("utf-8"), body.encode("utf-8"), hashlib.sha256).hexdigest()


def _check_signature(path: Path, data: dict, key: str) -> None:
    if not key:
        return  # unsigned installation: a signature, if any, cannot be checked here
    if not isinstance(data.get("signature"), str):
        raise BackupError(f"manifest {path} is not signed, and SALESBOARD_BACKUP_SIGNING_KEY is set: made before the "
                          "key was, or altered; the backup cannot be trusted")
    if not hmac.compare_digest(data["signature"], signature(data, key)):
        raise BackupError(f"manifest {path} has a wrong signature: the backup or its manifest was altered, or it was "
                          "signed with another SALESBOARD_BACKUP_SIGNING_KEY; the backup cannot be trusted")


def load_manifest(path: Path, signing_key: str = "") -> dict:
    """Read and check a manifest's shape (and its signature when `signing_key` is set); a wrong manifest is refused,
    never guessed around."""
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise BackupError(f"manifest {path} is missing: the backup never finished; do not use it") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BackupError(f"manifest {path} is not valid JSON ({exc}); the backup cannot be trusted") from None
    if not isinstance(data, dict):
        raise BackupError(f"manifest {path} is not a JSON object; the backup cannot be trusted")
    for key, typ in REQUIRED.items():
        if not isinstance(data.get(key), typ) or (typ is int and isinstance(data.get(key), bool)):
            raise BackupError(f"manifest {path} lacks a valid {key!r}; the backup cannot be trusted")
    if data["format"] != FORMAT:
        raise BackupError(f"manifest {path} has format {data['format']}, this version reads {FORMAT}; "
                          "upgrade salesboard")
    if not Path(path).name.startswith(data["name"] + "."):
        raise BackupError(f"manifest {path} describes {data['name']}, not this file; it was renamed or mixed up")
    for t, info in data["tables"].items():
        if not isinstance(info, dict) or not isinstance(info.get("rows"), int) \
                or not isinstance(info.get("fingerprint"), dict):
            raise BackupError(f"manifest {path}: entry for table {t} is malformed; the backup cannot be trusted")
    _check_signature(Path(path), data, signing_key)
    return data
