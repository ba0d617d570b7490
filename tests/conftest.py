"""Shared fixtures: a fresh database per test, optionally with the demo seed."""

from __future__ import annotations

import os

import pytest

from salesboard.config import Settings
from salesboard.store import demo, open_store, set_current_store

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require_service(available: bool, name: str, make_target: str) -> None:
    """Skip on a laptop without the service; in CI a missing service is a failure."""
    if available:
        return
    msg = f"{name} is not available; run `make {make_target}` to provide it"
    if IN_CI:
        pytest.fail(msg)
    pytest.skip(msg)


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(db=tmp_path / "test.duckdb", env="test", lockout_threshold=3)


@pytest.fixture
def store(settings):
    s = open_store(settings)
    set_current_store(s)
    yield s
    set_current_store(None)
    s.close()


@pytest.fixture
def demo_store(store):
    demo.seed(store, n_sales=3000, days=120)
    return store
