"""Named operations that the CLI runs either locally or inside the owner process.

An operation is `fn(store, actor, progress, **params) -> dict` (JSON-able).
`progress(dict)` reports work done; through the server it streams to the
CLI as NDJSON, so a remote run shows the same progress bar as a local one.
Register one with `@operation("name")` in a module listed in `_MODULES`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from ..errors import NotFound

Progress = Callable[[dict], None]
Operation = Callable[..., dict]

OPERATIONS: dict[str, Operation] = {}

# Modules that define operations; each later feature adds its own line.
_MODULES = [
    "salesboard.store.operations",
    "salesboard.auth.operations",
    "salesboard.ingest.operations",
    "salesboard.backup.operations",
    "salesboard.ops.jobs",
]


def operation(name: str) -> Callable[[Operation], Operation]:
    def register(fn: Operation) -> Operation:
        OPERATIONS[name] = fn
        return fn

    return register


def load_all() -> dict[str, Operation]:
    for mod in _MODULES:
        importlib.import_module(mod)
    return OPERATIONS


def get(name: str) -> Operation:
    load_all()
    try:
        return OPERATIONS[name]
    except KeyError:
        raise NotFound(f"Unknown operation {name!r}.") from None


def no_progress(_: dict) -> None:
    pass


def run(store, actor, name: str, params: dict[str, Any], progress: Progress | None = None) -> dict:
    return get(name)(store, actor, progress or no_progress, **params)
