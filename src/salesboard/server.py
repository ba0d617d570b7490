"""The owner process: Streamlit UI plus HTTP routes and a lifespan, in one `st.App`.

Started by `salesboard serve` (uvicorn). It owns the one read-write DuckDB
connection; the UI pages, the routes and background services share it.
"""

from __future__ import annotations

import hmac
import json
import logging
import queue
import threading
from contextlib import asynccontextmanager
from pathlib import Path

import anyio.from_thread
import streamlit as st
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from streamlit import config as streamlit_config

from .auth import sessions
from .auth.roles import LOCAL_ADMIN
from .config import load_settings
from .errors import SalesboardError
from .logs import configure as configure_logging
from .ops import metrics, scheduler
from .remote import client, operations
from .store import current_store, open_store, set_current_store
from .ui.views.imports import upload_cap_mb

log = logging.getLogger("salesboard.server")
UI_SCRIPT = Path(__file__).parent / "ui" / "app.py"

# (start, stop) callables run by the lifespan after the store opens; later features add theirs
# (the scheduler, stream consumers). start(store) may return state that stop(state) receives.
LIFESPAN_HOOKS: list[tuple] = [scheduler.LIFESPAN_HOOK]

_admin_token: str | None = None


@asynccontextmanager
async def lifespan(app):
    global _admin_token
    settings = load_settings()
    configure_logging(settings)
    # Streamlit's own upload cap follows SALESBOARD_MAX_UPLOAD_MB (config.toml cannot read our settings).
    streamlit_config.set_option("server.maxUploadSize", upload_cap_mb(settings.max_upload_mb))
    store = open_store(settings)
    set_current_store(store)
    _admin_token = client.write_server_file(settings, settings.host, settings.port)
    started = []
    try:
        for start, stop in LIFESPAN_HOOKS:
            started.append((stop, start(store)))
        log.info("salesboard serving %s", settings.db)
        yield {}
    finally:
        for stop, state in reversed(started):
            try:
                stop(state)
            except Exception:  # noqa: BLE001 - shutdown must go on
                log.exception("error stopping a background service")
        client.remove_server_file(settings)
        set_current_store(None)
        store.close()


def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


def readyz(request: Request) -> Response:
    try:
        store = current_store()
        store.query_one("SELECT 1")
        pending = store.pending_migrations()
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        return JSONResponse({"status": "unavailable", "error": str(exc)}, status_code=503)
    if pending:
        return JSONResponse({"status": "migrating", "pending": pending}, status_code=503)
    return JSONResponse({"status": "ready", "schema": store.schema_version(), "data_version": store.data_version()})


def metrics_route(request: Request) -> Response:
    return Response(metrics.render(current_store), media_type="text/plain; version=0.0.4")



def session_cookie(request: Request) -> Response:
    """Exchange a one-time login ticket (from the Streamlit login form) for the HttpOnly session cookie."""
    store = current_store()
    raw = anyio.from_thread.run(request.body)
    token = sessions.redeem_ticket(store, raw[:200].decode("ascii", "replace").strip())
    if token is None:
        return JSONResponse({"error": "invalid or expired ticket; log in again"}, status_code=400)
    resp = Response(status_code=204)
    resp.set_cookie(sessions.COOKIE_NAME, token, httponly=True, samesite="strict", path="/",
                    secure=store.settings.cookie_secure, max_age=store.settings.session_absolute_hours * 3600)
    return resp


def clear_cookie(request: Request) -> Response:
    resp = Response(status_code=204)
    resp.delete_cookie(sessions.COOKIE_NAME, path="/", httponly=True, samesite="strict")
    return resp


def admin_op(request: Request) -> Response:
    """Run a named operation for the CLI; streams NDJSON progress, then the result or the error."""
    auth = request.headers.get("authorization", "")
    expected = f"Bearer {_admin_token}" if _admin_token else None
    if not expected or not hmac.compare_digest(auth.encode(), expected.encode()):
        return JSONResponse({"error": "missing or wrong admin token"}, status_code=401)
    name = request.path_params["name"]
    try:
        operations.get(name)
    except SalesboardError as exc:
        return JSONResponse({"error": str(exc)}, status_code=404)
    body = _read_json_sync(request)
    if not isinstance(body, dict):
        return JSONResponse({"error": "body must be a JSON object"}, status_code=400)
    events: queue.Queue = queue.Queue()

    def work():
        try:
            result = operations.run(current_store(), LOCAL_ADMIN, name, body,
                                    lambda data: events.put({"event": "progress", "data": data}))
            events.put({"event": "result", "data": result})
        except SalesboardError as exc:
            events.put({"event": "error", "message": str(exc), "exit_code": exc.exit_code})
        except TypeError as exc:
            events.put({"event": "error", "message": f"bad parameters for {name}: {exc}", "exit_code": 2})
        except Exception as exc:  # noqa: BLE001 - reported to the client, logged here
            log.exception("operation %s failed", name)
            events.put({"event": "error", "message": f"{name} failed: {exc}", "exit_code": 1})
        finally:
            events.put(None)

    threading.Thread(target=work, name=f"op-{name}", daemon=True).start()

    def stream():
        while (event := events.get()) is not None:
            yield json.dumps(event, default=str) + "\n"

    return StreamingResponse(stream(), media_type="application/x-ndjson")


def _read_json_sync(request: Request):
    # Handlers are plain `def` (run in a worker thread); read the body through the portal.
    raw = anyio.from_thread.run(request.body)
    if len(raw) > 10 * 1024 * 1024:
        return None
    try:
        return json.loads(raw or b"{}")
    except json.JSONDecodeError:
        return None


ROUTES = [
    Route("/healthz", healthz, methods=["GET"]),
    Route("/readyz", readyz, methods=["GET"]),
    Route("/metrics", metrics_route, methods=["GET"]),
    Route("/auth/session", session_cookie, methods=["POST"]),
    Route("/auth/logout", clear_cookie, methods=["POST"]),
    Route("/api/admin/ops/{name}", admin_op, methods=["POST"]),
]

app = st.App(str(UI_SCRIPT), lifespan=lifespan, routes=ROUTES, middleware=[Middleware(metrics.RequestCounter)])
