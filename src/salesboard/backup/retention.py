"""Which backups to keep: an age window plus grandfather-father-son, with two guarantees.

Whatever the settings: the newest verified backup is never deleted, and neither are the last
`keep_last` good ones. Local and S3 copies are planned (and pruned) independently.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from ..config import Settings


@dataclass(frozen=True)
class Policy:
    days: int = 30
    keep_last: int = 3
    daily: int = 0
    weekly: int = 0
    monthly: int = 0

    @classmethod
    def from_settings(cls, s: Settings) -> Policy:
        return cls(s.backup_retention_days, s.backup_keep_last, s.backup_keep_daily, s.backup_keep_weekly,
                   s.backup_keep_monthly)


@dataclass(frozen=True)
class Candidate:
    name: str
    created_at: datetime
    good: bool  # verified (has a manifest and was never found bad)


def plan(items: list[Candidate], now: datetime, policy: Policy) -> tuple[dict[str, str], dict[str, str]]:
    """(keep, delete): backup name -> the reason, in words."""
    keep: dict[str, str] = {}
    good = sorted((i for i in items if i.good), key=lambda i: i.created_at)
    if good:
        keep[good[-1].name] = "newest verified backup"
    for i in good[-policy.keep_last:] if policy.keep_last > 0 else []:
        keep.setdefault(i.name, f"one of the last {policy.keep_last} good backups")
    buckets = (
        (policy.daily, "daily", lambda d: d.date()),
        (policy.weekly, "weekly", lambda d: tuple(d.isocalendar())[:2]),
        (policy.monthly, "monthly", lambda d: (d.year, d.month)),
    )
    for count, label, key in buckets:
        seen = set()
        for i in reversed(good):  # newest first: the newest backup of each period represents it
            if len(seen) >= count:
                break
            k = key(i.created_at)
            if k not in seen:
                seen.add(k)
                keep.setdefault(i.name, f"{label} ({k})")
    window = timedelta(days=policy.days)
    for i in items:
        if now - i.created_at <= window:
            keep.setdefault(i.name, f"younger than {policy.days} days")
    delete = {i.name: (f"older than {policy.days} days" if i.good else "unverified and outside the window")
              for i in items if i.name not in keep}
    return keep, delete
