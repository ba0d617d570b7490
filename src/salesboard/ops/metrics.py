"""Prometheus metrics for GET /metrics: requests, query latency, rows per table, sessions."""

from __future__ import annotations

import time
from contextlib import contextmanager

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

REGISTRY = CollectorRegistry()

HTTP_REQUESTS = Counter(
    "salesboard_http_requests_total", "HTTP requests served, by route group and status",
    ["route", "status"], registry=REGISTRY,
)
QUERY_SECONDS = Histogram(
    "salesboard_query_seconds", "Analytics query latency", ["query"], registry=REGISTRY,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5, 10),
)

# Tables whose row counts are exported; fixed list: identifiers never come from input.
COUNTED_TABLES = ("users", "products", "sales", "sales_daily", "sessions", "audit_log", "sync_runs")


def route_group(path: str) -> str:
    """A small fixed label set (never the raw path: unbounded label values break Prometheus)."""
    first = path.strip("/").split("/", 1)[0]
    if first in ("healthz", "readyz", "metrics", "auth", "api", "webhooks"):
        return first
    if first in ("static", "_stcore", "media", "component"):
        return "streamlit_" + first.lstrip("_")
    return "ui"


class RequestCounter:
    """ASGI middleware: counts every HTTP request and websocket by route group and status."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        group = route_group(scope.get("path", "/"))
        status = {"code": "101" if scope["type"] == "websocket" else "500"}

        async def send_wrapper(message):
            if message["type"] == "http.response.start":
                status["code"] = str(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            HTTP_REQUESTS.labels(group, status["code"]).inc()


@contextmanager
def timed(query: str):
    start = time.perf_counter()
    try:
        yield
    finally:
        QUERY_SECONDS.labels(query).observe(time.perf_counter() - start)


class StoreCollector:
    """Reads row counts and live sessions at scrape time."""

    def __init__(self, store_getter):
        self._get = store_getter

    def collect(self):
        store = self._get()
        if store is None:
            return
        rows = GaugeMetricFamily("salesboard_table_rows", "Rows per table", labels=["table"])
        tables = {r[0] for r in store.query("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main'")}
        for name in COUNTED_TABLES:
            if name in tables:
                rows.add_metric([name], store.query_one(f"SELECT count(*) FROM {name}")[0])
        yield rows
        sessions = store.query_one(
            "SELECT count(*) FROM sessions WHERE expires_at > current_timestamp::TIMESTAMP")[0]
        yield GaugeMetricFamily("salesboard_sessions_active", "Unexpired login sessions", value=sessions)
        yield GaugeMetricFamily("salesboard_data_version", "Changes to sales since creation",
                                value=store.data_version())


_collector_registered = False


def render(store_getter) -> bytes:
    global _collector_registered
    if not _collector_registered:
        REGISTRY.register(StoreCollector(store_getter))
        _collector_registered = True
    return generate_latest(REGISTRY)
