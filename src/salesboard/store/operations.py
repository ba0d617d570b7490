"""`init` as an operation, so it also works through a running server (which already migrated at start)."""

from __future__ import annotations

from ..errors import PermissionDenied, SalesboardError
from ..remote.operations import operation
from . import demo


@operation("store.init")
def init(store, actor, progress, demo_data=False, sales=None):
    if not actor.is_admin:
        raise PermissionDenied("init needs the admin role")
    # Reported once: locally these are what opening the file just applied.
    applied, store.migrated_at_open = store.migrated_at_open + store.migrate(), []
    result: dict = {"database": str(store.path), "migrations_applied": applied, "schema": store.schema_version()}
    if demo_data:
        if store.settings.production:
            raise SalesboardError("--demo is refused when SALESBOARD_ENV=production; create users with "
                                  "`salesboard users add`")
        result["demo"] = demo.seed(store, n_sales=sales)
    return result
