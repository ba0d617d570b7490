"""Shared fixtures: a fresh database per test, optionally with the demo seed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from salesboard.config import Settings
from salesboard.store import demo, open_store, set_current_store

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

# shared/ sits beside the repository (../shared from the repo root), in CI's clean clone too.
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SUPERSTORE = SHARED_DATA / "real" / "superstore.csv"


def require_shared_data(path: Path = SUPERSTORE) -> Path:
    if not path.exists():
        msg = f"{path} is missing; clone the repository beside the project's shared/ folder"
        pytest.fail(msg) if IN_CI else pytest.skip(msg)
    return path


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


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RunningServer:
    """A real `salesboard serve` subprocess on a free loopback port."""

    def __init__(self, db, env_extra=None):
        import subprocess
        import sys
        from pathlib import Path

        self.db = Path(db)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # The scheduler stays off unless a test asks for it: a catch-up job must not race the test.
        self.env = {**os.environ, "SALESBOARD_DB": str(db), "SALESBOARD_ENV": "test",
                    "SALESBOARD_SCHEDULER_ENABLED": "false", **(env_extra or {})}
        self.bin = str(Path(sys.executable).with_name("salesboard"))
        self.log = self.db.with_suffix(".server.log").open("w")
        self.proc = subprocess.Popen([self.bin, "serve", "--port", str(self.port)], env=self.env,
                                     stdout=self.log, stderr=subprocess.STDOUT)
        self._wait_ready()

    def _wait_ready(self, timeout=60):
        import time

        import httpx

        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.db.with_suffix('.server.log').read_text()}")
            try:
                if httpx.get(self.url + "/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise RuntimeError("server did not become ready")

    def cli(self, *args, input=None):
        """Run the salesboard CLI against this server's database."""
        import subprocess

        return subprocess.run([self.bin, *args], env=self.env, capture_output=True, text=True, input=input,
                               timeout=300)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except Exception:  # noqa: BLE001
            self.proc.kill()
        self.log.close()


@pytest.fixture
def demo_db(tmp_path):
    """A demo database file on disk (closed), ready for a server subprocess."""
    db = tmp_path / "served.duckdb"
    s = open_store(Settings(db=db, env="test"))
    demo.seed(s, n_sales=3000, days=120)
    s.close()
    return db


# What each demo role may see, written independently of Principal.row_filter for the checks.
DEMO_SCOPE_SQL = {"admin": "TRUE", "manager": "rep_id IN (SELECT id FROM users WHERE team = 'alpha')",
                  "user": "rep_id = (SELECT id FROM users WHERE username = 'user')"}


@pytest.fixture
def server(demo_db):
    from datetime import date, timedelta

    s = open_store(Settings(db=demo_db), migrate=False)
    since = date.today() - timedelta(days=29)
    expected = {role: s.query_one("SELECT sum(net_amount_base) FROM sales WHERE status = 'completed' "
                                  f"AND sold_at >= ? AND {rls}", [since])[0] for role, rls in DEMO_SCOPE_SQL.items()}
    expected["admin East"] = s.query_one("SELECT sum(net_amount_base) FROM sales WHERE status = 'completed' "
                                         "AND sold_at >= ? AND region = 'East'", [since])[0]
    s.close()
    srv = RunningServer(demo_db)
    srv.expected_revenue = expected  # the demo's 30-day revenue per role, for UI checks
    yield srv
    srv.stop()
