"""The one read-write DuckDB connection of this process.

DuckDB allows one read-write process per file (DESIGN.md §1), and a
connection is not thread-safe: every thread gets its own cursor, and writes
are serialized by one lock so a transaction never interleaves with another.
"""

from __future__ import annotations

import contextlib
import re
import threading
import uuid
from collections.abc import Iterator
from datetime import datetime
from importlib import resources
from pathlib import Path

import duckdb

from ..config import Settings, load_settings
from ..errors import DatabaseLockedError, SalesboardError

_LOCK_RE = re.compile(r"Conflicting lock is held in (?P<prog>.*?) \(PID (?P<pid>\d+)\)")
# What DuckDB says when another process holds the file. Not a bare "lock": a checksum error
# names the "block at location N", and a damaged file must never pass for a locked one.
_HELD_RE = re.compile(r"Could not set lock on file|Conflicting lock")
_DAMAGED_RE = re.compile(r"Corrupt database file|not a valid DuckDB database file|checksum")


def is_lock_error(exc: Exception) -> bool:
    """True when DuckDB refused the file because another process holds its lock."""
    return bool(_HELD_RE.search(str(exc)))


def is_damage_error(exc: Exception) -> bool:
    """True when DuckDB found the file corrupt (bad block checksum, not a DuckDB file)."""
    return bool(_DAMAGED_RE.search(str(exc)))


def _lock_message(path: Path, exc: Exception) -> str:
    m = _LOCK_RE.search(str(exc))
    holder = f"process {m['pid']} ({m['prog']})" if m else "another process"
    return (
        f"{path} is in use by {holder}. Only one `salesboard serve` may own a database; "
        "stop that process or set SALESBOARD_DB to another file."
    )


def _open_error(path: Path, exc: Exception) -> SalesboardError:
    """The one-line error for a database DuckDB would not open: held by another process, damaged, or other."""
    if is_lock_error(exc):
        return DatabaseLockedError(_lock_message(path, exc))
    if is_damage_error(exc):
        return SalesboardError(f"{path} is damaged and cannot be opened ({str(exc).splitlines()[0]}); restore it "
                               "from a backup with `salesboard restore latest --yes` (docs/restore-runbook.md)")
    return SalesboardError(f"cannot open {path}: {exc}")


class Store:
    """Owns the DuckDB connection; hands out per-thread cursors and serialized write transactions."""

    def __init__(self, con: duckdb.DuckDBPyConnection, path: Path, settings: Settings):
        self._con = con
        self.path = path
        self.settings = settings
        self._local = threading.local()
        self._write_lock = threading.RLock()
        self.generation = uuid.uuid4().hex  # changes when the file is swapped (restore)
        self.migrated_at_open: list[str] = []  # what open_store applied (the server applies them at start)

    # -- reading ---------------------------------------------------------
    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A cursor private to the calling thread (DuckDB connections are not thread-safe)."""
        cur = getattr(self._local, "cursor", None)
        if cur is None:
            cur = self._con.cursor()
            self._local.cursor = cur
        return cur

    def query(self, sql: str, params: list | tuple | dict | None = None) -> list[tuple]:
        return self.cursor().execute(sql, params or []).fetchall()

    def query_one(self, sql: str, params: list | tuple | dict | None = None):
        # fetchall: a half-read result keeps this cursor's transaction open, which blocks CHECKPOINT
        rows = self.cursor().execute(sql, params or []).fetchall()
        return rows[0] if rows else None

    def query_dicts(self, sql: str, params: list | tuple | dict | None = None) -> list[dict]:
        cur = self.cursor().execute(sql, params or [])
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, row)) for row in cur.fetchall()]

    # -- writing ---------------------------------------------------------
    @contextlib.contextmanager
    def write(self, cursor: duckdb.DuckDBPyConnection | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
        """One serialized transaction: commits on success, rolls back on any error.

        Pass `cursor` to run it on a connection of the caller's (e.g. one that holds its temp tables);
        the caller keeps and closes that cursor.
        """
        with self._write_lock:
            cur = cursor if cursor is not None else self._con.cursor()
            cur.execute("BEGIN TRANSACTION")
            try:
                yield cur
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            else:
                cur.execute("COMMIT")
            finally:
                if cursor is None:
                    cur.close()

    @property
    def write_lock(self) -> threading.RLock:
        """Held by `write()`; a restore or backup takes it to pause writers."""
        return self._write_lock

    def cache_token(self) -> tuple[str, int]:
        """Identifies the data a cached result was computed from: file generation and data version."""
        return self.generation, self.data_version()

    def data_version(self) -> int:
        return self.query_one("SELECT version FROM data_version WHERE id = 1")[0]

    @staticmethod
    def bump_data_version(cur: duckdb.DuckDBPyConnection) -> None:
        """Call inside a write transaction that changed sales: invalidates analytics caches."""
        cur.execute(
            "UPDATE data_version SET version = version + 1, changed_at = current_timestamp::TIMESTAMP WHERE id = 1"
        )

    # -- schema ----------------------------------------------------------
    def migrate(self) -> list[str]:
        """Apply pending migrations in order, each in its own transaction; return the ones applied."""
        self._con.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version VARCHAR PRIMARY KEY, applied_at TIMESTAMP NOT NULL)"
        )
        done = {r[0] for r in self._con.execute("SELECT version FROM schema_migrations").fetchall()}
        applied = []
        for name, sql in available_migrations():
            if name in done:
                continue
            with self.write() as cur:
                cur.execute(sql)
                cur.execute(
                    "INSERT INTO schema_migrations VALUES (?, current_timestamp::TIMESTAMP)", [name]
                )
            applied.append(name)
        return applied

    def pending_migrations(self) -> list[str]:
        try:
            done = {r[0] for r in self.query("SELECT version FROM schema_migrations")}
        except duckdb.CatalogException:
            done = set()
        return [name for name, _ in available_migrations() if name not in done]

    def created_at(self) -> datetime | None:
        """When this database was created (its first migration), naive UTC."""
        return self.query_one("SELECT min(applied_at) FROM schema_migrations")[0]

    def schema_version(self) -> str | None:
        row = self.query_one("SELECT max(version) FROM schema_migrations")
        return row[0] if row else None

    def close(self) -> None:
        self._con.close()

    def reopen(self, swap=None) -> None:
        """Pause writers, checkpoint and close the file, run `swap()` (e.g. a restore's file
        replacement) while it is closed, then open it again. Per-thread cursors are dropped."""
        with self._write_lock:
            try:
                self._con.execute("CHECKPOINT")
            except duckdb.TransactionException:
                pass  # a reader's open transaction; close() checkpoints, else the WAL travels with the file
            self._con.close()
            try:
                if swap is not None:
                    swap()
            finally:
                self._con = _connect(self.path)
                self._local = threading.local()
                self.generation = uuid.uuid4().hex


def available_migrations() -> list[tuple[str, str]]:
    folder = resources.files("salesboard.store") / "migrations"
    items = sorted((p.name, p.read_text()) for p in folder.iterdir() if p.name.endswith(".sql"))
    return [(name.removesuffix(".sql"), sql) for name, sql in items]


def _connect(path: Path, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(path), read_only=read_only)
    # `current_timestamp::TIMESTAMP` must be UTC, like salesboard.clock.utcnow(). Without the ICU
    # extension (not bundled with the wheel) DuckDB casts in UTC; with ICU it would use local time.
    if con.execute("SELECT count(*) FROM duckdb_extensions() WHERE extension_name = 'icu' AND loaded").fetchone()[0]:
        con.execute("SET GLOBAL TimeZone = 'UTC'")
    return con


def open_store(settings: Settings | None = None, *, migrate: bool = True, read_only: bool = False) -> Store:
    """Open the database (creating its folder), raising DatabaseLockedError if another process owns it."""
    settings = settings or load_settings()
    path = settings.db
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = _connect(path, read_only=read_only)
    except duckdb.Error as exc:
        raise _open_error(path, exc) from None
    store = Store(con, path, settings)
    if migrate and not read_only:
        try:
            store.migrated_at_open = store.migrate()
        except duckdb.Error as exc:  # the file opened, but a block migrate reads is damaged
            store.close()
            if not is_damage_error(exc):
                raise
            raise _open_error(path, exc) from None
    return store


# The owner process keeps one Store; UI scripts and routes in that process share it.
_current: Store | None = None
_current_lock = threading.Lock()


def set_current_store(store: Store | None) -> None:
    global _current
    with _current_lock:
        _current = store


def current_store() -> Store:
    """The process's store, opened on first use (AppTest and plain `streamlit run` have no lifespan)."""
    global _current
    with _current_lock:
        if _current is None:
            _current = open_store()
        return _current
