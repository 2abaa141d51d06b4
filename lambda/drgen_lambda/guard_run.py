"""The primary-region guard: one scheduled run speaks for the primary's region every few seconds.

EventBridge starts a run every minute. The run reads the guard's previous report (its `since`
carries across runs), then ticks every GUARD_INTERVAL_SECONDS: it probes the primary from inside
the primary VPC and, while the probe fails, reads the primary's status and its recent events from
its own region's RDS API; `guard.verdict` turns that into a report, which the tick writes to its
region's replica of the failover state table (item `guard`), where the DR side reads it.

A tick starts only when its worst case (the probe, then three calls of at most
`adapters.GUARD_CALL_SECONDS` each: two reads and the write) ends within RUN_SECONDS of the
run's start, so a run ends by elapsed time and never overruns its minute. A read that fails is
said (`unknown`), never guessed; a write that fails is logged and the next tick writes again.
Every AWS call is in an adapter; the verdict is `guard.verdict`'s.
"""

import datetime
import os
import time

from . import adapters, config, guard, probe
from .logs import log

# EventBridge starts a run once a minute.
SCHEDULE_SECONDS = 60


class Guard:
    """One run's collaborators: the adapters, the probe, the clocks."""

    def __init__(
        self, cfg, aws, store, *, check=probe.probe, clock=time.time, monotonic=time.monotonic, sleep=time.sleep
    ):
        self.cfg = cfg
        self.aws = aws
        self.store = store
        self.check = check
        self.clock = clock
        self.monotonic = monotonic
        self.sleep = sleep

    @property
    def tick_seconds(self):
        """The worst case of one tick: the probe's timeout and three calls' deadlines."""
        return self.cfg.target.timeout + 3 * adapters.GUARD_CALL_SECONDS

    @property
    def schedule_seconds(self):
        """How often EventBridge starts a run."""
        return SCHEDULE_SECONDS

    @property
    def max_gap(self):
        """The longest time between two ticks that still continue one observation: a whole
        schedule period and one tick. A run that starts late (EventBridge schedules to the
        minute, not the second) continues its predecessor's observation; a run that is missing
        altogether (throttled, failed) leaves a longer hole, which restarts `since`."""
        return self.schedule_seconds + self.tick_seconds

    def _read(self, failed, name, call, *args):
        try:
            return call(*args)
        except adapters.AwsError as e:
            log("warning", "guard_read_failed", operation=e.operation, error=str(e))
            failed.append(f"{name} failed ({e})")
            return None

    def _events(self, failed, now):
        cfg = self.cfg
        end = datetime.datetime.fromtimestamp(now, tz=datetime.timezone.utc)
        start = end - datetime.timedelta(seconds=cfg.event_window)
        return self._read(failed, "DescribeEvents", self.aws.instance_events, cfg.primary_id, start, end)

    def see(self, first=False) -> guard.Seen:
        """One tick's observation. RDS's status is read only while the probe fails; its events
        also on a run's first tick, for the report's `closed`."""
        cfg = self.cfg
        now = self.clock()
        if self.check(cfg.target.host, cfg.target.port, cfg.target.timeout) == probe.ACCEPTING:
            return guard.Seen(now, True, events=self._events([], now) if first else None)
        failed = []
        status = self._read(failed, "DescribeDBInstances", self.aws.instance_status, cfg.primary_id)
        events = self._events(failed, now)
        return guard.Seen(now, False, status, events, tuple(failed))

    def tick(self, previous, first=False, next_by=None):
        """Sees, judges and writes; returns the report (also when its write failed). `next_by`
        turns the tick's time into the latest time its next report is due."""
        report = guard.verdict(previous, self.see(first), self.max_gap)
        if next_by is not None:
            report = report._replace(next_by=next_by(report.at))
        log("info", "guard", verdict=report.verdict, detail=report.detail, since=report.since, at=report.at)
        try:
            self.store.report_guard(report)
        except adapters.AwsError as e:
            log("error", "guard_report_failed", error=str(e))
        return report

    def _previous(self):
        try:
            return self.store.guard()
        except adapters.AwsError as e:
            log("warning", "guard_previous_unreadable", error=str(e))
            return None

    def run(self):
        """One scheduled run: ticks every interval while a whole tick still fits in RUN_SECONDS."""
        cfg = self.cfg
        started = self.monotonic()
        last_due = self.clock() + self.schedule_seconds + cfg.late + self.tick_seconds
        report = self.tick(self._previous(), first=True, next_by=self._next_by(started, 1, last_due))
        ticks = 1
        while True:
            start_at = max(started + ticks * cfg.interval, self.monotonic())
            if start_at - started + self.tick_seconds > cfg.run_seconds:
                break
            self.sleep(max(0.0, start_at - self.monotonic()))
            report = self.tick(report, next_by=self._next_by(started, ticks + 1, last_due))
            ticks += 1
        return {"ticks": ticks, "verdict": report.verdict, "since": report.since}

    def _next_by(self, started, ticks, last_due):
        """When the report of the tick starting now is followed by another at the latest: this
        run's next tick, written a tick's worst case after it starts (itself no earlier than this
        tick's worst case), if that tick surely fits in the run; else the next run's first report
        (`last_due`: a minute after this run started, as late as a run may start, and a tick)."""
        cfg = self.cfg
        begun = self.monotonic()
        following = max(started + ticks * cfg.interval, begun + self.tick_seconds)
        if following - started + self.tick_seconds > cfg.run_seconds:
            return lambda at: last_due
        return lambda at: at + (following - begun) + self.tick_seconds


def handler(event, context):
    """Lambda entry point: a scheduled run."""
    cfg = config.guard_config(os.environ)
    aws = adapters.Aws(config=adapters.GUARD_CLIENT)
    return Guard(cfg, aws, adapters.Store(aws, cfg.table)).run()
