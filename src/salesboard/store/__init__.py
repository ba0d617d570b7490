"""The store: the one read-write DuckDB connection and everything that owns it."""

from .connection import Store, current_store, open_store, set_current_store

__all__ = ["Store", "current_store", "open_store", "set_current_store"]
