"""Append-only audit log with a sha256 hash chain (a rewritten entry breaks every later hash)."""

from __future__ import annotations

import hashlib
import json

import duckdb

from ..clock import utcnow


def record(
    cur: duckdb.DuckDBPyConnection,
    action: str,
    *,
    actor: str | None = None,
    target: str | None = None,
    success: bool = True,
    detail: dict | None = None,
    ip: str | None = None,
) -> int:
    """Append one entry inside the caller's write transaction; returns its sequence number."""
    prev = cur.execute("SELECT hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    prev_hash = prev[0] if prev else ""
    at = utcnow()
    detail_json = json.dumps(detail or {}, sort_keys=True, default=str)
    payload = json.dumps([prev_hash, at.isoformat(), actor, action, target, success, detail_json, ip])
    digest = hashlib.sha256(payload.encode()).hexdigest()
    row = cur.execute(
        "INSERT INTO audit_log (logged_at, actor, action, target, success, detail, ip, prev_hash, hash) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING seq",
        [at, actor, action, target, success, detail_json, ip, prev_hash, digest],
    ).fetchone()
    return row[0]


def verify_chain(cur: duckdb.DuckDBPyConnection) -> tuple[bool, int | None]:
    """Recompute the chain; returns (ok, first bad seq)."""
    prev_hash = ""
    rows = cur.execute(
        "SELECT seq, logged_at, actor, action, target, success, detail::VARCHAR, ip, prev_hash, hash FROM audit_log ORDER BY seq"
    ).fetchall()
    for seq, at, actor, action, target, success, detail, ip, stored_prev, digest in rows:
        payload = json.dumps([prev_hash, at.isoformat(), actor, action, target, success, detail, ip])
        if stored_prev != prev_hash or hashlib.sha256(payload.encode()).hexdigest() != digest:
            return False, seq
        prev_hash = digest
    return True, None
