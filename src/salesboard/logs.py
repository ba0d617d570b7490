"""Logging: JSON lines in production (for log shippers), readable text in development."""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timezone

from .config import Settings


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure(settings: Settings) -> None:
    use_json = settings.log_format == "json" or (settings.production and settings.log_format == "auto")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if use_json else logging.Formatter(
        "%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("salesboard")
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    root.propagate = False
    # Per-request and per-websocket lines are noise here (nginx keeps the access log in production).
    for name in ("uvicorn.access", "uvicorn.error"):
        logging.getLogger(name).setLevel(logging.WARNING)
