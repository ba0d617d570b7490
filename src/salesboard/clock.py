"""Now, as the database stores it: naive UTC (TIMESTAMP columns carry no zone)."""

from __future__ import annotations

from datetime import datetime, timezone


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)
