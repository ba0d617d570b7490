"""Scheduler: a job runs at its time (injected clock), a missed job runs once after a restart,
failing jobs are retried with backoff and never stop the scheduler."""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta, timezone

import apscheduler.executors.base as aps_executors
import apscheduler.schedulers.base as aps_base
import pytest

from salesboard.clock import utcnow
from salesboard.errors import ConfigError
from salesboard.ops import jobs
from salesboard.ops.scheduler import Scheduler, cron_trigger, schedule


class Clock:
    def __init__(self, start: datetime):
        self.now = start

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    """One fake clock for our code and for APScheduler's loop (it reads datetime.now())."""
    c = Clock(datetime(2026, 3, 1, 2, 59, 0, tzinfo=timezone.utc))

    class FakeDatetime(datetime):
        @classmethod
        def now(cls, tz=None):
            return c.now.astimezone(tz) if tz else c.now.replace(tzinfo=None)

    monkeypatch.setattr(aps_base, "datetime", FakeDatetime)
    monkeypatch.setattr(aps_executors, "datetime", FakeDatetime)
    return c


@pytest.fixture(autouse=True)
def _database_created_before_the_clock(store):
    """The fake clock runs in March 2026; a due time before the database existed is never 'missed'."""
    with store.write() as cur:
        cur.execute("UPDATE schema_migrations SET applied_at = TIMESTAMP '2026-01-01'")


@pytest.fixture
def only_job(monkeypatch):
    """Replace the default jobs with one counting job at 03:00 daily."""
    calls = []

    def fn(store):
        calls.append(1)
        return {"n": len(calls)}

    monkeypatch.setattr(jobs, "JOBS", {"nightly": jobs.Job("nightly", "test", fn, "0 3 * * *")})
    return calls


def _runs(store, job="nightly"):
    return store.query("SELECT trigger, status, started_at FROM job_runs WHERE job = ? ORDER BY id", [job])


def _wait_for(pred, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.02)
    return pred()


def test_job_runs_at_its_time_with_injected_clock(store, clock, only_job):
    sched = Scheduler(store, clock=clock)
    assert sched.start() == []  # nothing due yet at 02:59
    try:
        assert sched.next_runs() == {"nightly": "2026-03-01T03:00:00+00:00"}
        time.sleep(0.2)
        assert only_job == []
        clock.now = datetime(2026, 3, 1, 3, 0, 1, tzinfo=timezone.utc)
        sched.aps.wakeup()
        assert _wait_for(lambda: len(_runs(store)) == 1 and _runs(store)[0][1] == "success")
        assert _runs(store) == [("schedule", "success", datetime(2026, 3, 1, 3, 0, 1))]
        assert sched.next_runs() == {"nightly": "2026-03-02T03:00:00+00:00"}
    finally:
        sched.stop()
    assert only_job == [1]


def test_missed_job_runs_once_after_restart(store, clock, only_job):
    first = Scheduler(store, clock=clock)
    first.start()
    first.stop()  # "server down" from 02:59 ...
    clock.now = datetime(2026, 3, 1, 4, 30, tzinfo=timezone.utc)  # ... until 04:30: 03:00 was missed
    second = Scheduler(store, clock=clock)
    assert second.missed() == ["nightly"]
    assert second.start() == ["nightly"]
    try:
        assert _wait_for(lambda: len(_runs(store)) == 1 and _runs(store)[0][1] == "success")
    finally:
        second.stop()
    assert _runs(store) == [("catch-up", "success", datetime(2026, 3, 1, 4, 30))]
    clock.now = datetime(2026, 3, 1, 5, 0, tzinfo=timezone.utc)  # another restart: it already ran
    third = Scheduler(store, clock=clock)
    assert third.start() == []
    third.stop()
    assert len(_runs(store)) == 1 and only_job == [1]


def test_missed_job_outside_grace_is_not_run(store, clock, only_job):
    clock.now = datetime(2026, 3, 1, 9, 1, tzinfo=timezone.utc)  # 03:00 + 6 h grace has passed
    sched = Scheduler(store, clock=clock)
    assert sched.missed() == []


def test_interrupted_run_does_not_count_as_done(store, clock, only_job):
    with store.write() as cur:  # a run cut short by a crash at 03:00
        cur.execute("INSERT INTO job_runs (job, trigger, started_at, status) VALUES "
                    "('nightly', 'schedule', '2026-03-01 03:00:00', 'running')")
    clock.now = datetime(2026, 3, 1, 3, 30, tzinfo=timezone.utc)
    sched = Scheduler(store, clock=clock)
    assert sched.start() == ["nightly"]
    sched.stop()
    assert store.query("SELECT status FROM job_runs ORDER BY id")[0] == ("interrupted",)


def test_failing_job_is_retried_with_backoff_and_recorded(store, monkeypatch):
    attempts = []

    def flaky(store):
        attempts.append(1)
        if len(attempts) < 3:
            raise RuntimeError(f"transient failure {len(attempts)}")
        return {"ok": True}

    monkeypatch.setattr(jobs, "JOBS", {"flaky": jobs.Job("flaky", "t", flaky, "0 3 * * *")})
    sleeps = []
    run = jobs.run_job(store, "flaky", sleep=sleeps.append)
    assert (run["status"], run["attempts"], run["error"], run["output"]) == ("success", 3, None, {"ok": True})
    assert sleeps == [30, 60]


def test_failing_job_never_raises_and_keeps_the_last_error(store, monkeypatch):
    def broken(store):
        raise ValueError("source unreachable")

    monkeypatch.setattr(jobs, "JOBS", {"broken": jobs.Job("broken", "t", broken, "0 3 * * *", retry=False)})
    run = jobs.run_job(store, "broken", sleep=lambda s: None)
    assert (run["status"], run["attempts"], run["error"]) == ("failed", 1, "ValueError: source unreachable")


def test_scheduler_survives_a_failing_job(store, clock, monkeypatch):
    calls = []

    def boom(store):
        calls.append(1)
        raise RuntimeError("boom")

    from apscheduler.events import EVENT_JOB_EXECUTED

    monkeypatch.setattr(jobs, "JOBS", {"boom": jobs.Job("boom", "t", boom, "* * * * *", retry=False)})
    clock.now = datetime(2026, 3, 1, 2, 59, 30, tzinfo=timezone.utc)
    sched = Scheduler(store, clock=clock)
    executed = []  # APScheduler's own event: sent after the instance is released
    sched.aps.add_listener(lambda event: executed.append(event.job_id), EVENT_JOB_EXECUTED)
    sched.start()
    try:
        for n, minute in enumerate((3, 4), start=1):
            clock.now = datetime(2026, 3, 1, 3, minute, 0, tzinfo=timezone.utc)
            sched.aps.wakeup()
            assert _wait_for(lambda: len(executed) == n)
            assert len(calls) == n
            assert store.query_one("SELECT count(*) FROM job_runs WHERE status = 'failed'")[0] == n
        assert sched.aps.running
    finally:
        sched.stop()


def test_default_jobs_and_sync_registry(store):
    assert list(jobs.JOBS) == ["daily-sync", "health-check", "daily-backup", "weekly-cleanup"]
    run = jobs.run_job(store, "daily-sync")
    assert (run["status"], run["output"]) == ("success", {"message": "nothing configured", "syncs": {}})
    health = jobs.run_job(store, "health-check")  # created months ago, no backup: unhealthy, not retried
    assert (health["status"], health["attempts"]) == ("failed", 1)
    assert health["error"] == "JobFailed: unhealthy: no verified backup in the last 26 h"


def test_new_database_is_healthy_until_its_first_backup_is_due(store):
    with store.write() as cur:
        cur.execute("UPDATE schema_migrations SET applied_at = ?", [utcnow() - timedelta(hours=25)])
    health = jobs.run_job(store, "health-check")
    assert health["status"] == "success"
    assert health["output"]["backup"] == {"newest_verified": None, "age_hours": None, "max_age_hours": 26,
                                          "fresh": True, "first_backup_pending": True}
    with store.write() as cur:
        cur.execute("UPDATE schema_migrations SET applied_at = ?", [utcnow() - timedelta(hours=27)])
    assert jobs.run_job(store, "health-check")["error"] == "JobFailed: unhealthy: no verified backup in the last 26 h"


def test_a_new_database_has_no_missed_jobs(store, only_job):
    with store.write() as cur:
        cur.execute("UPDATE schema_migrations SET applied_at = ?", [utcnow() - timedelta(minutes=1)])
    sched = Scheduler(store)
    try:
        assert sched.missed((datetime.now(timezone.utc) + timedelta(days=1)).replace(hour=3, minute=30)) == ["nightly"]
        assert sched.missed() == []  # 03:00 today or yesterday came before the database existed
    finally:
        sched.stop()


def test_cron_weekday_numbers_follow_cron_not_apscheduler():
    utc = timezone.utc
    sunday_4am = cron_trigger("0 4 * * 0", utc).get_next_fire_time(None, datetime(2026, 3, 2, tzinfo=utc))
    assert sunday_4am == datetime(2026, 3, 8, 4, 0, tzinfo=utc) and sunday_4am.strftime("%a") == "Sun"
    weekdays = cron_trigger("30 6 * * 1-5", utc)
    t = weekdays.get_next_fire_time(None, datetime(2026, 3, 7, tzinfo=utc))  # a Saturday
    assert t == datetime(2026, 3, 9, 6, 30, tzinfo=utc)
    with pytest.raises(ConfigError, match="must have 5 fields"):
        cron_trigger("0 3 * *", utc)


def test_timezone_schedule(store, tmp_path):
    from dataclasses import replace

    store.settings = replace(store.settings, scheduler_timezone="Europe/Berlin")
    sched = Scheduler(store, clock=lambda: datetime(2026, 7, 1, 2, 0, tzinfo=timezone.utc))
    due = sched.last_due("daily-backup", datetime(2026, 7, 1, 2, 0, tzinfo=timezone.utc))
    assert due.astimezone(timezone.utc) == datetime(2026, 7, 1, 1, 0, tzinfo=timezone.utc)  # 03:00 CEST
    assert timedelta(0) < datetime(2026, 7, 1, 2, 0, tzinfo=timezone.utc) - due


@pytest.mark.parametrize("changes,message", [
    ({"job_backup_cron": "bad"},
     "SALESBOARD_JOB_BACKUP_CRON: cron 'bad' must have 5 fields (minute hour day month weekday), e.g. '0 3 * * *'"),
    ({"job_cleanup_cron": "0 4 * * 9"},
     "SALESBOARD_JOB_CLEANUP_CRON: cron '0 4 * * 9': weekday numbers go from 0 to 7 (0 and 7 = Sunday)"),
    ({"job_health_cron": "99 * * * *"},
     "SALESBOARD_JOB_HEALTH_CRON: cron '99 * * * *': Error validating expression '99': the last value (99) is "
     "higher than the maximum value (59)"),
    ({"scheduler_timezone": "Europe"}, "SALESBOARD_SCHEDULER_TIMEZONE='Europe' is not a time zone (e.g. UTC, Europe/Berlin)"),
    ({"scheduler_timezone": "Mars/Base", "job_sync_cron": "0 2 * *"},
     "SALESBOARD_SCHEDULER_TIMEZONE='Mars/Base' is not a time zone (e.g. UTC, Europe/Berlin); "
     "SALESBOARD_JOB_SYNC_CRON: cron '0 2 * *' must have 5 fields (minute hour day month weekday), e.g. '0 3 * * *'"),
])
def test_a_wrong_schedule_setting_is_named_before_the_scheduler_starts(store, changes, message):
    from dataclasses import replace

    bad = replace(store.settings, **changes)
    with pytest.raises(ConfigError) as exc:
        schedule(bad)
    assert str(exc.value) == message
    store.settings = bad
    with pytest.raises(ConfigError, match=re.escape(message)):
        Scheduler(store)
    assert store.query_one("SELECT count(*) FROM job_runs")[0] == 0

