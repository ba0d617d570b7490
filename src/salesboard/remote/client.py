"""Run an operation: directly on the database when it is free, else through the running server.

The server records its address and a random admin token in
`<db>.server.json` (mode 0600, next to the database): whoever can read the
database folder may administer it, exactly as with direct file access.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

import httpx

from ..auth.roles import LOCAL_ADMIN
from ..config import Settings
from ..errors import DatabaseLockedError, NotFound, SalesboardError
from ..store import open_store
from . import operations


def write_server_file(settings: Settings, host: str, port: int) -> str:
    """Called by the owner process at start; returns the admin token."""
    token = secrets.token_urlsafe(32)
    path = settings.server_file
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump({"pid": os.getpid(), "host": host, "port": port, "token": token}, fh)
    os.replace(tmp, path)
    return token


def remove_server_file(settings: Settings) -> None:
    try:
        settings.server_file.unlink()
    except FileNotFoundError:
        pass


def read_server_file(settings: Settings) -> dict | None:
    try:
        return json.loads(Path(settings.server_file).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


# Operations that only make sense on a database that exists: on a missing file the likely cause is a
# mistyped SALESBOARD_DB, and opening it would silently create an empty database. (init and import
# create one; restore, drills and backup listings must work when the database is lost.)
_NEED_DATABASE = ("users.", "jobs.", "ingest.quarantine.", "ingest.runs.", "backup.create")


def call(settings: Settings, name: str, params: dict[str, Any], progress: operations.Progress | None = None,
         *, timeout: float = 3600) -> dict:
    if name.startswith(_NEED_DATABASE) and not settings.db.exists():
        raise NotFound(f"no database at {settings.db}: run `salesboard init` first, or check SALESBOARD_DB")
    try:
        store = open_store(settings)
    except DatabaseLockedError as exc:
        info = read_server_file(settings)
        if info is None:
            raise DatabaseLockedError(f"{exc} (no running salesboard server to send the command to)") from None
        return call_server(info, name, params, progress, timeout=timeout)
    try:
        return operations.run(store, LOCAL_ADMIN, name, params, progress)
    finally:
        store.close()


def call_server(info: dict, name: str, params: dict, progress=None, *, timeout: float = 3600) -> dict:
    host = info["host"] if info["host"] not in ("0.0.0.0", "::") else "127.0.0.1"
    url = f"http://{host}:{info['port']}/api/admin/ops/{name}"
    headers = {"Authorization": f"Bearer {info['token']}"}
    try:
        with httpx.stream("POST", url, json=params, headers=headers, timeout=timeout) as resp:
            if resp.status_code != 200:
                resp.read()
                raise SalesboardError(f"server refused {name}: {resp.status_code} {resp.text.strip()[:300]}")
            for line in resp.iter_lines():
                if not line:
                    continue
                event = json.loads(line)
                kind = event.get("event")
                if kind == "progress" and progress:
                    progress(event["data"])
                elif kind == "result":
                    return event["data"]
                elif kind == "error":
                    err = SalesboardError(event["message"])
                    err.exit_code = event.get("exit_code", 1)
                    raise err
    except httpx.HTTPError as exc:
        raise SalesboardError(
            f"the database is held by a salesboard server at {url} that does not answer ({exc}); "
            "check that it is running (`salesboard status`) or stop it"
        ) from None
    raise SalesboardError(f"server closed the connection before {name} finished; see the server log")
