"""The scheduler: APScheduler 3.11 in the owner process, started and stopped by the server's lifespan.

Exactly one runs per database (DESIGN.md §1). Jobs have fixed ids, max_instances=1, coalescing
and a misfire grace. APScheduler's memory job store forgets everything at a restart, so missed
runs are found from `job_runs`: a job whose last due time (within the grace) has no run
after it runs once at start.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger

from ..config import Settings
from ..errors import ConfigError
from ..remote.operations import load_all
from ..store import Store
from . import jobs

log = logging.getLogger("salesboard.scheduler")
_DOW = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_DOW_NUMBER = re.compile(r"(?<![/\d])(\d+)")  # a weekday number, not a step (*/2)


def cron_trigger(expr: str, tz) -> CronTrigger:
    """A standard 5-field cron. Numeric weekdays follow cron (0 and 7 = Sunday); APScheduler 3's
    own numbering starts at Monday, so digits are turned into names first."""
    fields = expr.split()
    if len(fields) != 5:
        raise ConfigError(f"cron {expr!r} must have 5 fields (minute hour day month weekday), e.g. '0 3 * * *'")
    if any(int(n) > 7 for n in _DOW_NUMBER.findall(fields[4])):  # % 7 below would wrap 9 to Tuesday
        raise ConfigError(f"cron {expr!r}: weekday numbers go from 0 to 7 (0 and 7 = Sunday)")
    fields[4] = _DOW_NUMBER.sub(lambda m: _DOW[int(m[1]) % 7], fields[4])
    try:
        return CronTrigger.from_crontab(" ".join(fields), timezone=tz)
    except ValueError as exc:
        raise ConfigError(f"cron {expr!r}: {exc}") from None


def _setting_name(job: jobs.Job) -> str:
    return f"SALESBOARD_{job.setting.upper()}" if job.setting else f"the schedule of job {job.name}"


def schedule(settings: Settings) -> tuple[ZoneInfo, dict[str, CronTrigger]]:
    """The time zone and every job's trigger. Raises one ConfigError naming every wrong setting,
    so `serve` can refuse to start (and `jobs list` can say why) before anything runs."""
    load_all()  # jobs register where their operations are defined
    problems = []
    try:
        tz = ZoneInfo(settings.scheduler_timezone)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: e.g. 'Europe' is a folder of zones
        problems.append(f"SALESBOARD_SCHEDULER_TIMEZONE={settings.scheduler_timezone!r} is not a time zone "
                        "(e.g. UTC, Europe/Berlin)")
        tz = timezone.utc  # still check the cron strings
    triggers = {}
    for j in jobs.JOBS.values():
        try:
            triggers[j.name] = cron_trigger(j.cron_for(settings), tz)
        except ConfigError as exc:
            problems.append(f"{_setting_name(j)}: {exc}")
    if problems:
        raise ConfigError("; ".join(problems))
    return tz, triggers


class Scheduler:
    def __init__(self, store: Store, clock: Callable[[], datetime] | None = None, sleep=None):
        self.store = store
        s = store.settings
        self.tz, self.triggers = schedule(s)
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self.sleep = sleep
        self.grace = timedelta(minutes=s.scheduler_misfire_grace_minutes)
        self.aps = BackgroundScheduler(
            timezone=self.tz, executors={"default": ThreadPoolExecutor(4)},
            job_defaults={"coalesce": True, "max_instances": 1,
                          "misfire_grace_time": int(self.grace.total_seconds())})

    def _utc_naive(self) -> datetime:
        return self.clock().astimezone(timezone.utc).replace(tzinfo=None)

    def _fire(self, name: str, trigger: str) -> None:
        kwargs = {"sleep": self.sleep} if self.sleep else {}
        try:
            run = jobs.run_job(self.store, name, trigger=trigger, actor="scheduler", clock=self._utc_naive, **kwargs)
            log.info("job %s %s: %s", name, run["status"], run.get("error") or run.get("output"))
        except Exception:  # noqa: BLE001 - e.g. the database is gone; the scheduler keeps going
            log.exception("job %s could not run", name)

    def last_due(self, name: str, now: datetime) -> datetime | None:
        """The latest scheduled time of a job within (now - grace, now], aware."""
        trig, last = self.triggers[name], None
        t = trig.get_next_fire_time(None, now - self.grace)
        while t is not None and t <= now:
            last = t
            t = trig.get_next_fire_time(t, t + timedelta(seconds=1))
        return last

    def missed(self, now: datetime | None = None) -> list[str]:
        """Jobs due within the grace that have no run since (they were missed while we were down).
        A time before the database existed was not missed: a new install starts with no catch-up."""
        now = now or self.clock()
        created = self.store.created_at()
        out = []
        for name in self.triggers:
            due = self.last_due(name, now)
            if due is None:
                continue
            due_utc = due.astimezone(timezone.utc).replace(tzinfo=None)
            if created is not None and due_utc < created:
                continue
            ran = self.store.query_one("SELECT count(*) FROM job_runs WHERE job = ? AND started_at >= ? "
                                       "AND status <> 'interrupted'", [name, due_utc])[0]
            if not ran:
                out.append(name)
        return out

    def start(self) -> list[str]:
        """Register every job, start the loop, and run each missed job once. Returns the missed ones."""
        jobs.mark_interrupted(self.store)
        for name, trig in self.triggers.items():
            self.aps.add_job(self._fire, trig, args=[name, "schedule"], id=name, name=name, replace_existing=True)
        missed = self.missed()
        self.aps.start()
        for name in missed:
            log.info("job %s was missed while the server was down; running it now", name)
            threading.Thread(target=self._fire, args=[name, "catch-up"], name=f"catch-up-{name}",
                             daemon=True).start()
        return missed

    def stop(self) -> None:
        if self.aps.running:
            self.aps.shutdown(wait=False)

    def next_runs(self) -> dict[str, str | None]:
        return {j.id: j.next_run_time.isoformat() if j.next_run_time else None for j in self.aps.get_jobs()}


_current: Scheduler | None = None


def current_scheduler() -> Scheduler | None:
    return _current


def _start(store: Store):
    global _current
    if not store.settings.scheduler_enabled:
        log.info("scheduler disabled (SALESBOARD_SCHEDULER_ENABLED=false)")
        return None
    _current = Scheduler(store)
    _current.start()
    return _current


def _stop(sched: Scheduler | None) -> None:
    global _current
    if sched is not None:
        sched.stop()
    _current = None


LIFESPAN_HOOK = (_start, _stop)
