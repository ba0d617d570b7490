"""Retention over a simulated 90 days of nightly backups keeps exactly the right set."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from salesboard.backup.catalog import new_name
from salesboard.backup.retention import Candidate, Policy, plan

START = datetime(2026, 1, 1, 3, 0)
NOW = datetime(2026, 3, 31, 12, 0)


def nightly(bad_days: set[date] = frozenset()) -> list[Candidate]:
    out = []
    for i in range(90):  # 2026-01-01 .. 2026-03-31, 03:00 each night
        t = START + timedelta(days=i)
        out.append(Candidate(new_name(t), t, t.date() not in bad_days))
    return out


def days(keep) -> set[date]:
    return {datetime.strptime(n[-15:], "%Y%m%d_%H%M%S").date() for n in keep}


def test_ninety_days_with_window_and_gfs():
    items = nightly(bad_days={date(2026, 2, 28)})
    keep, delete = plan(items, NOW, Policy(days=30, keep_last=3, daily=7, weekly=8, monthly=3))
    window = {date(2026, 3, d) for d in range(2, 32)}  # younger than 30 days at 03-31 12:00
    weekly_beyond = {date(2026, 3, 1), date(2026, 2, 22), date(2026, 2, 15)}  # ISO weeks 9, 8, 7
    monthly_beyond = {date(2026, 2, 27), date(2026, 1, 31)}  # Feb 28 is bad: Feb 27 represents February
    assert days(keep) == window | weekly_beyond | monthly_beyond
    assert len(keep) == 35 and len(delete) == 55 and set(keep).isdisjoint(delete)
    assert keep[new_name(datetime(2026, 3, 31, 3))] == "newest verified backup"
    assert keep[new_name(datetime(2026, 1, 31, 3))] == "monthly ((2026, 1))"
    assert keep[new_name(datetime(2026, 2, 15, 3))] == "weekly ((2026, 7))"
    assert delete[new_name(datetime(2026, 2, 28, 3))] == "unverified and outside the window"
    assert delete[new_name(datetime(2026, 1, 1, 3))] == "older than 30 days"


def test_default_policy_keeps_thirty_days():
    keep, delete = plan(nightly(), NOW, Policy())
    assert days(keep) == {date(2026, 3, d) for d in range(2, 32)}
    assert len(delete) == 60


def test_never_deletes_newest_verified_nor_last_good_ones():
    # the last 20 nights all failed verification: the good ones before them must survive any window
    bad = {date(2026, 3, 31) - timedelta(days=i) for i in range(20)}
    keep, delete = plan(nightly(bad), NOW, Policy(days=7, keep_last=2))
    newest_good = new_name(datetime(2026, 3, 11, 3))
    assert keep[newest_good] == "newest verified backup"
    assert keep[new_name(datetime(2026, 3, 10, 3))] == "one of the last 2 good backups"
    assert days(keep) == {date(2026, 3, 11), date(2026, 3, 10)} | {date(2026, 3, d) for d in range(25, 32)}
    assert len(delete) == 90 - 9


def test_zero_day_window_still_keeps_last_n():
    keep, delete = plan(nightly(), NOW, Policy(days=0, keep_last=3))
    assert days(keep) == {date(2026, 3, 29), date(2026, 3, 30), date(2026, 3, 31)}
    assert plan([], NOW, Policy()) == ({}, {})
