"""A simulated account on one deterministic clock, driving the Lambda package's own code.

Nothing here decides: `Monitor.run` (under its schedule and run lock), `fsm.step`,
`adapters.Store`, `monitor.Positions`, the observer's handler and the workflow's steps are the
package's. What is simulated is everything they talk to:

- the clock: one event queue; a sleep or a slow call advances it and runs what falls due;
- the two databases: the primary (up, in an in-region recovery, or gone with its region; a
  security-group change takes effect after the schedule's `sg_apply_seconds`, the instance
  `modifying` meanwhile once RDS reports it (`modify_status_lag` after the call: until then it
  still says `available`), a reboot leaves it `rebooting`, and RDS refuses either call unless it is
  `available`), the
  replica (receiving WAL with a delay while the replication path is up; a promotion that RDS
  reports as a `modifying` replica for minutes before the instance is writable), commits from one
  application client in each region that reach whatever the writer name resolves to and keep
  their sessions until something breaks them;
- the failover state table: a copy per region, replicated with a delay, paused by a partition;
- RDS, CloudWatch, SNS, EventBridge and Step Functions as the monitor and the workflow see them,
  with the faults of the schedule (`faults.py`) applied to every call;
- Route 53: the observers' HTTPS checks, the authority alarm's checks and the calculated rule,
  with the graph that `drgen explain --format json` reports.
"""

import bisect
import datetime
import heapq
import time as real_time
import types

import greenlet
from botocore.exceptions import ClientError
from drgen_lambda import adapters, config, fsm, guard_run, lease, logs, monitor, observer, pg, probe, workflow
from drgen_lambda import arc as real_arc

# The package logs one JSON line per tick; thousands of schedules make that the main cost.
monitor.log = observer.log = workflow.log = guard_run.log = lease.log = logs.log = lambda *a, **k: None


class _Inline:
    """threading.Thread for the observer: the authority read runs to its end when started (the
    simulated read takes no real time, and its failures are raised, not slow)."""

    def __init__(self, target, daemon=None):
        self._target = target

    def start(self):
        self._target()

    def join(self, timeout=None):
        pass


observer.threading = type("threading", (), {"Thread": _Inline})


class _Time:
    """The observer's `time` module: its heartbeat is stamped with the simulated clock."""

    clock = None

    @classmethod
    def time(cls):
        return cls.clock.now

    monotonic = staticmethod(real_time.monotonic)


observer.time = workflow.time = _Time

UNREACHABLE = "Could not connect to the endpoint URL"
GUARD_RUN_SECONDS = 50  # src/model.rs GUARD_RUN_SECONDS, the guard's RUN_SECONDS
# How long RDS reports a rebooted instance as `rebooting` (it accepts no sessions meanwhile).
REBOOT_SECONDS = 20.0
# How long a security-group modification keeps the instance `modifying` when a schedule does not
# say (`sg_apply_seconds`); AWS documents no bound (src/rto.rs SG_APPLY_SECONDS is the allowance).
SG_APPLY_SECONDS = 30.0
REGION = {"primary": "us-east-1", "dr": "us-west-2"}


class _Cancelled(BaseException):
    """Unwinds a process still asleep when the horizon is reached."""


class _Process:
    """A run that sleeps (a monitor run, a guard run): a greenlet of its own, so that the package's
    code can call sleep() in the middle of a run. Only one runs at a time, switching back to the
    scheduler at every sleep, so the run stays deterministic."""

    def __init__(self, clock, fn):
        self.clock = clock
        self.fn = fn
        self.green = greenlet.greenlet(self._main)
        self.cancelled = False
        self.done = False

    def resume(self):
        clock = self.clock
        outer, clock.current = clock.current, self
        # Whoever resumes it gets control back when it sleeps or ends.
        self.green.parent = greenlet.getcurrent()
        self.green.switch()
        clock.current = outer
        if clock.error is not None:
            error, clock.error = clock.error, None
            raise error

    def _main(self):
        try:
            self.fn()
        except _Cancelled:
            pass
        except BaseException as e:  # noqa: BLE001 - handed to the scheduler, which raises it
            self.clock.error = e
        finally:
            self.done = True
            self.clock.processes.discard(self)

    def sleep(self, seconds):
        if self.cancelled:
            raise _Cancelled
        self.clock.at(self.clock.now + seconds, self.resume)
        self.green.parent.switch()
        if self.cancelled:
            raise _Cancelled


class Clock:
    """The simulated time and the queue of what falls due. Callbacks take no time; processes
    (runs that sleep) advance the clock by sleeping, and every other actor runs meanwhile."""

    # A call shorter than this moves the clock without handing over (cheaper; the others run a
    # fraction of a second late).
    HANDOVER = 0.5

    def __init__(self):
        self.now = 0.0
        self._queue = []
        self._seq = 0
        self.current = None
        self.error = None
        self.processes = set()

    def at(self, when, action):
        self._seq += 1
        heapq.heappush(self._queue, (when, self._seq, action))

    def every(self, period, action, start=0.0, until=None):
        def run():
            action()
            if until is None or self.now + period <= until:
                self.at(self.now + period, run)

        self.at(start, run)

    def spawn(self, when, fn):
        def start():
            process = _Process(self, fn)
            self.processes.add(process)
            process.resume()

        self.at(when, start)

    def advance(self, seconds):
        """Time passing for whoever runs now: a process sleeps; a callback takes no time."""
        if self.current is None:
            return
        if seconds < self.HANDOVER:
            self.now += seconds
            return
        self.current.sleep(seconds)

    def run(self, horizon):
        while self._queue and self._queue[0][0] <= horizon:
            when, _, action = heapq.heappop(self._queue)
            self.now = max(self.now, when)
            action()
        self.now = max(self.now, horizon)
        for process in list(self.processes):
            process.cancelled = True
            process.resume()


class Table:
    """One region's copy of the failover state table (a DynamoDB global table)."""

    def __init__(self):
        self.items = {}
        self.stamps = {}  # pk -> time of the write it holds (last writer wins)


class Database:
    def __init__(self, name):
        self.name = name
        self.commits = []  # ack times
        self.rebooted_at = None  # cuts the sessions open before it
        # ModifyDBInstance to the deny-all group: DescribeDBInstances lists the new group at once,
        # the instance is `modifying` until `modified_at`, and only then does the group take effect.
        self.fence_group_listed = False
        self.modify_called_at = None
        self.modified_at = None


class World:
    def __init__(self, explained, schedule):
        self.e = explained
        self.schedule = schedule
        self.p = schedule.params
        self.clock = Clock()
        self._spans = {}  # fault kind -> [(start, end)]: `active` is asked on every event
        for f in schedule.faults:
            self._spans.setdefault(f.kind, []).append((f.start, f.end))
        _Time.clock = self.clock
        d = explained["decision"]
        self.d = d
        self.primary = Database("primary")
        self.replica = Database("replica")
        self.tables = {"primary": Table(), "dr": Table()}
        self.received = 0.0  # newest commit time the replica has received
        self.received_lsn = 0
        self.streamed_at = 0.0  # the last second the replica's WAL receiver heard the primary
        self.promote_called_at = None  # first PromoteReadReplica that RDS accepted
        self.promote_calls = []  # (time, outcome)
        self.pages = []  # (time, region, subject, message)
        self.metrics = []  # (time, name, value)
        self.authority_points = []  # (time, WriterIsDr)
        self.lag_points = []  # (time, value)
        self.workflow_started = []
        self.fence_calls = []
        self.dns_answers = []  # (time, "primary" | "dr") on every change
        self.monitor_runs = []  # (start, end, answer)
        # When the primary region spoke (its guard's report, its observer's beat or heartbeat
        # written to its own table copy): a run under way when its functions are throttled keeps
        # speaking to its end.
        self.primary_words = []
        self.monitor_reached = []  # when a probe of the DR side's monitor was accepted
        self.monitor_probed = []  # when the DR side's monitor sent a probe
        self.heartbeat_writes = 0
        self.rds_events = []  # (time, message) of the primary, in its region
        # With the ARC authority: the routing controls (a linearizable register on the cluster,
        # as after the deploy step that turns the primary's On), when the DR side switched them,
        # and the lease keeper's fences of its own primary.
        self.arc_mode = explained["authority"]["kind"] == "arc"
        self.arc = {"primary": "On", "dr": "Off"}
        self.arc_switched_at = None
        self.self_fences = []  # (time, why)
        self.arc_reads = []  # (time, side, answered)
        env = {
            "AWS_REGION": REGION["dr"],
            "PRIMARY_HOST": "primary",
            "PRIMARY_PORT": "5432",
            "PROBE_TIMEOUT_SECONDS": str(d["probe_timeout_seconds"]),
            "PROBE_INTERVAL_SECONDS": str(d["probe_interval_seconds"]),
            "RUN_SECONDS": str(d["run_seconds"]),
            "SCHEDULE_SECONDS": str(d["schedule_seconds"]),
            "CONFIRM_SECONDS": str(d["confirm_seconds"]),
            "LAG_THRESHOLD_SECONDS": str(d["lag_threshold_seconds"]),
            "MAX_DATA_LOSS_SECONDS": str(d["max_data_loss_seconds"]),
            "EVENT_EXPIRY_SECONDS": str(d["recovery_event_expiry_seconds"]),
            "MODE": d["mode"],
            "REPLICA_ID": "replica",
            "REPLICA_HOST": "replica",
            "DB_NAME": "trading",
            "SECRET_ID": "secret",
            "STATE_TABLE": "failover",
            "METRIC_NAMESPACE": "drgen",
            "TOPIC_ARN": "topic-dr",
            "STATE_MACHINE_ARN": "machine",
            "SILENCE_SECONDS": str(d["silence_seconds"]),
            "GUARD_GAP_SECONDS": str(d["guard_gap_seconds"]),
        }
        failover_env = {
            "AWS_REGION": REGION["dr"],
            "PRIMARY_REGION": REGION["primary"],
            "PRIMARY_ID": "primary",
            "REPLICA_ID": "replica",
            "FENCE_SECURITY_GROUP": "sg-deny-all",
            "STATE_TABLE": "failover",
            "METRIC_NAMESPACE": "drgen",
            "TOPIC_ARN": "topic-dr",
            "EVENT_BUS": "default",
            "SECRET_ID": "secret",
            "ROTATION_FUNCTION_ARN": "rotation",
            "ROTATION_DAYS": "30",
            "BACKUP_RETENTION_DAYS": "7",
        }
        if self.arc_mode:
            wait = str(explained["authority"]["lease_wait_seconds"])
            env.update(AUTHORITY="arc", LEASE_WAIT_SECONDS=wait)
            failover_env.update(
                ARC_ENDPOINTS=ARC_ENDPOINTS,
                PRIMARY_CONTROL_ARN="arc-primary",
                DR_CONTROL_ARN="arc-dr",
                LEASE_WAIT_SECONDS=wait,
            )
            # The workflow's cluster adapter, as the DR region sees the cluster.
            workflow.arc = types.SimpleNamespace(
                Arc=lambda aws, endpoints, **kw: SimArc(self, "dr"), ON=real_arc.ON, OFF=real_arc.OFF
            )
        self.cfg = config.monitor_config(env)
        self.rules = self.cfg.rules
        self.aws = {side: SimAws(self, side) for side in ("primary", "dr")}
        self.store = adapters.Store(self.aws["dr"], "failover")
        self.failover_cfg = config.failover_config(failover_env)
        self.route53 = Route53(self)
        self.clients = [Client(self, "primary"), Client(self, "dr")]

    # --- ground truth from the schedule ---------------------------------------------------------
    def active(self, kind, t=None):
        spans = self._spans.get(kind)
        if not spans:
            return False
        t = self.clock.now if t is None else t
        return any(start <= t < end for start, end in spans)

    def region_up(self, side):
        return not self.active("region-outage" if side == "primary" else "dr-region-outage")

    def arc_reachable(self, side):
        """Whether any of the ARC cluster's endpoints answers a function in `side`'s region. The
        five endpoints are in five regions: a full partition between the two regions leaves them
        reachable from both."""
        return self.region_up(side) and not (self.active("arc-lost") or self.active(f"arc-cut-{side}"))

    def primary_serving(self):
        """The primary accepts sessions in its own region."""
        return self.region_up("primary") and not self.schedule.primary_down(self.clock.now)

    def link(self):
        """The peering path between the VPCs (the DR probe, the WAL position reads)."""
        return not (self.active("peering-partition") or self.active("full-partition"))

    def backbone(self):
        """Cross-region service traffic: table replication, forwarded events, cross-region APIs."""
        return not self.active("full-partition")

    def primary_fenced(self):
        """The deny-all security group is in effect (its modification has applied)."""
        p = self.primary
        return p.modified_at is not None and self.clock.now >= p.modified_at

    def primary_from(self, side):
        """Whether a new session from `side` reaches the primary."""
        if not self.primary_serving() or self.primary_fenced() or self.primary_status() == "rebooting":
            return False
        return side == "primary" or self.link()

    def replica_alive(self):
        return not self.active("replica-dead") and self.region_up("dr")

    def replica_writable(self):
        p = self.promote_called_at
        return p is not None and self.clock.now >= p + self.p["promotion_seconds"] and self.replica_alive()

    def replica_reports_replica(self):
        p = self.promote_called_at
        return p is None or self.clock.now < p + self.p["promotion_seconds"]

    # --- what runs by itself ---------------------------------------------------------------------
    def replicate(self):
        """Once a second: the replica receives what the primary committed `lag` seconds ago."""
        now = self.clock.now
        # RDS carries cross-region replication over its own network, not the VPC peering.
        if self.streaming_now():
            self.streamed_at = now
            lag = self.p["replication_lag"] + (self.p["far_behind"] if self.active("replica-far-behind") else 0.0)
            upto = now - lag
            if upto > self.received:
                self.received = upto
                self.received_lsn = self.lsn_at(upto)

    def streaming_now(self):
        """The replica's receiver hears the primary at this moment."""
        return self.promote_called_at is None and self.primary_serving() and self.backbone() and self.replica_alive()

    def lsn_at(self, t):
        """The primary's WAL position after the commits up to t (one position a commit, plus the
        heartbeat's write every minute, so an idle primary's position moves too)."""
        commits = bisect.bisect_right(self.primary.commits, t)
        return 1000 + 10 * commits + int(t // 60)

    def lag_datapoint(self):
        """ReplicaLag, as RDS publishes it for PostgreSQL (now minus the newest replayed
        transaction's time), once a minute, unless the metric is missing."""
        if self.active("lag-missing") or not self.replica_reports_replica() or not self.replica_alive():
            return
        self.lag_points.append((self.clock.now, max(0.0, self.clock.now - self.newest_received_commit())))

    def newest_received_commit(self):
        """The commit time of the newest transaction the replica has (the heartbeat's write every
        minute among them)."""
        replayed = bisect.bisect_right(self.primary.commits, self.received)
        return max(self.primary.commits[replayed - 1] if replayed else 0.0, 60 * (self.received // 60))

    def heartbeat(self):
        """The primary-region observer's scheduled run, every minute (its own handler)."""
        if not self.region_up("primary") or self.active("primary-functions-throttled"):
            return
        cfg = observer_cfg("primary", heartbeat=not self.active("heartbeat-broken"))
        try:
            observer.handle({}, cfg, check=self.checker("primary"), aws=self.aws["primary"])
        except adapters.AwsError:
            pass

    def primary_status(self):
        """DBInstanceStatus of the primary, as its own region's RDS API reports it: an in-region
        recovery's, then `modifying` while the deny-all group applies, `rebooting` for
        REBOOT_SECONDS after a reboot."""
        t = self.clock.now
        for f in self.schedule.faults:
            if f.kind in RECOVERY_STATUS and f.start <= t < f.end and RECOVERY_STATUS[f.kind] != "available":
                return RECOVERY_STATUS[f.kind]
        p = self.primary
        lag = self.p.get("modify_status_lag", 0.0)
        if p.modified_at is not None and p.modify_called_at + lag <= t < p.modified_at:
            return "modifying"
        if p.rebooted_at is not None and t < p.rebooted_at + REBOOT_SECONDS:
            return "rebooting"
        return "available"

    def _clocks(self):
        """A primary-region function's clocks: wall and monotonic are the simulated time, and a
        sleep advances it."""
        clock = self.clock
        return {"clock": lambda: clock.now, "monotonic": lambda: clock.now, "sleep": clock.advance}

    def _run_in_primary(self, run):
        """One scheduled run of a primary-region function, unless its region is down or its
        functions are throttled; a failed call ends the run, as it ends the invocation."""
        if not self.region_up("primary") or self.active("primary-functions-throttled"):
            return
        try:
            run(self.aws["primary"])
        except adapters.AwsError:
            pass

    def run_guard(self):
        """The primary-region guard's scheduled run (its own code), unless the guard function
        fails (throttled, erroring) by the schedule."""
        if self.active("guard-broken"):
            return
        env = {
            "PRIMARY_HOST": "primary",
            "PRIMARY_PORT": "5432",
            "PROBE_TIMEOUT_SECONDS": str(self.d["probe_timeout_seconds"]),
            "GUARD_INTERVAL_SECONDS": str(self.d["guard_interval_seconds"]),
            "RUN_SECONDS": str(GUARD_RUN_SECONDS),
            "PRIMARY_ID": "primary",
            "STATE_TABLE": "failover",
            "GUARD_LATE_SECONDS": str(self.d["guard_late_seconds"]),
        }
        cfg = config.guard_config(env)
        self._run_in_primary(
            lambda aws: guard_run.Guard(
                cfg, aws, adapters.Store(aws, "failover"), check=self.checker("primary"), **self._clocks()
            ).run()
        )

    def run_keeper(self):
        """The primary-region lease keeper's scheduled run (its own code), with the ARC
        authority."""
        env = {
            "ARC_ENDPOINTS": ARC_ENDPOINTS,
            "PRIMARY_CONTROL_ARN": "arc-primary",
            "DR_CONTROL_ARN": "arc-dr",
            "LEASE_SECONDS": str(self.e["authority"]["lease_seconds"]),
            "TICK_SECONDS": str(self.d["guard_interval_seconds"]),
            "RUN_SECONDS": str(GUARD_RUN_SECONDS),
            "PRIMARY_ID": "primary",
            "FENCE_SECURITY_GROUP": "sg-deny-all",
            "FENCE_APPLY_SECONDS": str(self.d["fence_apply_seconds"]),
            "STATE_TABLE": "failover",
            "TOPIC_ARN": "topic-primary",
        }
        cfg = config.lease_config(env)
        self._run_in_primary(
            lambda aws: lease.Keeper(
                cfg, aws, adapters.Store(aws, "failover"), SimArc(self, "primary"), **self._clocks()
            ).run()
        )

    def checker(self, side, reached=None, probed=None):
        """The probe from `side`'s VPC: accepting, or a timeout that costs the probe's time.
        `reached` records when it was accepted, `probed` when any was sent."""

        def check(host, port, timeout):
            if probed is not None:
                probed.append(self.clock.now)
            if self.primary_from(side):
                self.clock.advance(0.02)
                if reached is not None:
                    reached.append(self.clock.now)
                return probe.ACCEPTING
            self.clock.advance(timeout)
            return probe.DOWN

        return check

    def forward_event(self, event_id, at, closing=False):
        """EventBridge forwards an RDS event of the primary to the DR region: delivered, late or
        lost as the schedule says, and never across a full partition. A closing event may be lost
        on its own, and may overtake its opening event."""
        fate = self.p["event_fate"]
        if fate == "lost" or (closing and self.p.get("close_lost")):
            return
        delay = self.p["event_delay"] * (self.p.get("close_delay_factor", 1.0) if closing else 1.0)

        def deliver():
            if not self.backbone():
                return
            sent = datetime.datetime.fromtimestamp(at, tz=datetime.timezone.utc).isoformat()
            event = {"source": "aws.rds", "time": sent, "detail": {"EventID": event_id}}
            try:
                workflow.handle(event, self.failover_cfg, self.aws["dr"], self.store, self.clock.now)
            except adapters.AwsError:
                pass  # Lambda's asynchronous retries end in the dead-letter queue: the event is lost

        self.clock.at(at + delay, deliver)

    def write_table(self, side, key, item):
        now = self.clock.now
        if side == "primary" and key in ("guard", "alive", "heartbeat"):
            self.primary_words.append(now)
        for target in ("primary", "dr"):
            if target == side:
                self._apply(target, key, item, now)
            else:
                self._replicate(target, key, item, now)

    def _apply(self, side, key, item, stamp):
        table = self.tables[side]
        if stamp >= table.stamps.get(key, -1.0):
            table.stamps[key] = stamp
            if item is None:
                table.items.pop(key, None)
            else:
                table.items[key] = item

    def _replicate(self, target, key, item, stamp):
        def arrive():
            if self.backbone() and self.region_up(target):
                self._apply(target, key, item, stamp)
            else:  # a partition holds the change until it heals
                self.clock.at(self.clock.now + 1.0, arrive)

        self.clock.at(self.clock.now + self.p["table_delay"], arrive)

    # --- the monitor, on its schedule ------------------------------------------------------------
    def invoke_monitor(self):
        if not self.region_up("dr"):
            return
        m = monitor.Monitor(
            self.cfg,
            self.aws["dr"],
            self.store,
            monitor.Positions(self.aws["dr"], self.cfg, connect=self.connect),
            check=self.checker("dr", self.monitor_reached, self.monitor_probed),
            clock=lambda: self.clock.now,
            sleep=self.clock.advance,
        )
        start = self.clock.now
        try:
            answer = monitor.serve(m, {}, f"run-{start:.0f}")["action"]
        except adapters.AwsError as e:
            answer = f"failed: {e}"
            # The function's Errors alarm (one datapoint a minute) pages when failures start.
            if not (self.monitor_runs and self.monitor_runs[-1][2].startswith("failed")):
                self.pages.append((self.clock.now, "dr", "ALARM: monitor-errors", str(e)))
        self.monitor_runs.append((start, self.clock.now, answer))

    def connect(self, host, port, user, password, *, database, timeout):
        return PgSession(self, host, timeout)

    # --- the workflow (Step Functions), as the rendered state machine runs it -------------------
    def start_workflow(self):
        self.workflow_started.append(self.clock.now)
        if len(self.workflow_started) == 1:
            Workflow(self).start()

    def run(self):
        c = self.clock
        horizon = self.schedule.horizon
        c.every(1.0, self.replicate, until=horizon)
        c.every(1.0, lambda: [cl.tick() for cl in self.clients], until=horizon)
        c.every(60.0, self.lag_datapoint, start=30.0, until=horizon)
        c.every(60.0, self.heartbeat, start=self.p["heartbeat_offset"], until=horizon)
        guard_jitter = self.p.get("guard_jitter", self.p["schedule_jitter"])
        for k in range(int(horizon // 60)):
            c.spawn(k * 60.0 + guard_jitter[-1 - k % len(guard_jitter)] + 7.0, self.run_guard)
            if self.arc_mode:
                c.spawn(k * 60.0 + guard_jitter[k % len(guard_jitter)] + 13.0, self.run_keeper)
        c.every(10.0, self.route53.check, start=1.0, until=horizon)
        period = float(self.d["schedule_seconds"])

        def schedule_monitor(k):
            def fire():
                self.invoke_monitor()

            c.spawn(k * period + self.p["schedule_jitter"][k % len(self.p["schedule_jitter"])], fire)

        for k in range(int(horizon // period)):
            schedule_monitor(k)
        for f in self.schedule.faults:
            if f.kind in RECOVERY_KINDS:
                opening, closing = RECOVERY_KINDS[f.kind]
                c.at(f.start, lambda e=opening, f=f: self.forward_event(e, f.start))
                c.at(f.end, lambda e=closing, f=f: self.forward_event(e, f.end, closing=True))
            if f.kind in RECOVERY_MESSAGES:
                opening, closing = RECOVERY_MESSAGES[f.kind]
                self.rds_events += [(f.start, opening), (f.end, closing)]
            if f.kind == "state-lost":
                c.at(f.start, lambda: self.write_table("dr", "state", None))
        c.run(horizon)
        return self


# The in-region recoveries the schedule can contain: their opening and closing RDS events, the
# messages DescribeEvents gives for them in the primary's region, and the instance's status
# meanwhile.
RECOVERY_KINDS = {
    "multi-az-failover": ("RDS-EVENT-0013", "RDS-EVENT-0015"),
    "engine-upgrade": ("RDS-EVENT-0267", "RDS-EVENT-0268"),
    "offline-maintenance": ("RDS-EVENT-0026", "RDS-EVENT-0027"),
}
RECOVERY_MESSAGES = {
    "multi-az-failover": ("Multi-AZ instance failover started.", "Multi-AZ instance failover completed."),
    "engine-upgrade": ("Database engine version upgrade started.", "Database engine version upgrade finished."),
    "offline-maintenance": (
        "Applying off-line patches to DB instance.",
        "Finished applying off-line patches to DB instance.",
    ),
}
RECOVERY_STATUS = {
    "multi-az-failover": "available",
    "engine-upgrade": "upgrading",
    "offline-maintenance": "maintenance",
}


def observer_cfg(side, heartbeat=False, target_side="primary"):
    return config.ObserverConfig(
        target=config.ProbeTarget("primary", 5432, 2.0),
        token="x" * 16,
        namespace="drgen",
        observer=side,
        publish_metric=False,
        heartbeat_table="failover" if heartbeat else "",
        state_table="failover",
        target_side=target_side,
    )


# The cluster's endpoints, as the functions' ARC_ENDPOINTS name them (five regions).
ARC_ENDPOINTS = (
    '[{"endpoint": "https://a.route53-recovery-cluster.us-east-1.amazonaws.com/v1", "region": "us-east-1"},'
    ' {"endpoint": "https://b.route53-recovery-cluster.us-west-2.amazonaws.com/v1", "region": "us-west-2"},'
    ' {"endpoint": "https://c.route53-recovery-cluster.eu-west-1.amazonaws.com/v1", "region": "eu-west-1"},'
    ' {"endpoint": "https://d.route53-recovery-cluster.ap-northeast-1.amazonaws.com/v1", "region": "ap-northeast-1"},'
    ' {"endpoint": "https://e.route53-recovery-cluster.ap-southeast-2.amazonaws.com/v1", "region": "ap-southeast-2"}]'
)


class SimArc:
    """`arc.Arc` as a function in `side`'s region sees the cluster: a linearizable register of the
    two routing controls, answered by some endpoint while any is reachable from there; when none
    is, each endpoint costs a call's whole deadline before the call fails."""

    def __init__(self, world, side, endpoints=5, deadline=adapters.GUARD_CALL_SECONDS):
        self.w = world
        self.side = side
        self.endpoints = endpoints
        self.deadline = deadline

    def _reach(self, operation, attempts):
        w = self.w
        if not w.arc_reachable(self.side):
            tried = self.endpoints if attempts is None else min(attempts, self.endpoints)
            w.clock.advance(tried * self.deadline)
            w.arc_reads.append((w.clock.now, self.side, False))
            raise adapters.AwsError(f"route53-recovery-cluster.{operation}", UNREACHABLE, unreachable=True)
        w.clock.advance(w.p["call_seconds"])

    def state(self, control_arn, attempts=None):
        self._reach("get_routing_control_state", attempts)
        self.w.arc_reads.append((self.w.clock.now, self.side, True))
        return self.w.arc["dr" if control_arn == "arc-dr" else "primary"]

    def take(self, primary_arn, dr_arn):
        self._reach("update_routing_control_states", None)
        w = self.w
        w.arc = {"primary": "Off", "dr": "On"}
        if w.arc_switched_at is None:
            w.arc_switched_at = w.clock.now


class PgSession:
    """The monitor's SQL session to the primary or the replica (WAL positions)."""

    def __init__(self, world, host, timeout):
        self.w = world
        self.host = host
        if host == "primary":
            ok = world.primary_from("dr") and not world.active("wal-reads-fail")
        else:
            ok = world.replica_alive()
        if not ok:
            world.clock.advance(timeout)
            raise OSError(f"{host}: timed out")
        world.clock.advance(0.02)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def scalar(self, sql):
        w = self.w
        if "pg_current_wal_lsn" in sql:
            lsn = w.lsn_at(w.clock.now)
        elif "pg_last_wal_receive_lsn" in sql and "pg_stat_wal_receiver" in sql:
            # A primary that vanishes without closing the connection (an outage, a partition)
            # is noticed only when wal_receiver_timeout passes without a message: the receiver
            # says `streaming` meanwhile, with its last message's time. After the timeout it has
            # no receiver process (no row) until the primary answers again.
            if w.streaming_now():
                w.streamed_at = w.clock.now
            heard = w.clock.now - w.streamed_at <= max(1.0, w.p.get("receiver_timeout", 0.0))
            streaming = w.promote_called_at is None and w.replica_alive() and heard
            lsn = w.received_lsn
            position = "-" if w.replica_writable() else f"{lsn >> 32:X}/{lsn & 0xFFFFFFFF:X}"
            receiver = f"streaming {w.streamed_at!r}" if streaming else "- -"
            return f"{position} {w.newest_received_commit()!r} {receiver}"
        else:
            raise pg.PgError(f"the simulation has no answer to {sql!r}")
        return f"{lsn >> 32:X}/{lsn & 0xFFFFFFFF:X}"


class _Dynamo:
    """The conditional writes of the run lock, against a region's table copy."""

    def __init__(self, aws):
        self.aws = aws

    def put_item(self, TableName, Item, ConditionExpression, ExpressionAttributeValues, ExpressionAttributeNames=None):
        aws = self.aws
        aws._latency("dynamodb.put_item")
        if Item["pk"]["S"] == "arc":
            # The workflow's record of its switch in ARC: the first for a promotion stands.
            current = aws.w.tables[aws.side].items.get("arc")
            if current is not None and current["promotion_started_at"] == ExpressionAttributeValues[":promotion"]:
                raise ClientError({"Error": {"Code": "ConditionalCheckFailedException"}}, "PutItem")
            aws.w.write_table(aws.side, "arc", dict(Item))
            return
        current = aws.w.tables[aws.side].items.get("lock")
        now = float(ExpressionAttributeValues[":now"]["N"])
        if current is not None and not float(current["until"]["N"]) < now:
            raise ClientError({"Error": {"Code": "ConditionalCheckFailedException"}}, "PutItem")
        aws.w.write_table(aws.side, "lock", dict(Item))

    def delete_item(self, TableName, Key, ConditionExpression, ExpressionAttributeNames, ExpressionAttributeValues):
        aws = self.aws
        aws._latency("dynamodb.delete_item")
        current = aws.w.tables[aws.side].items.get("lock")
        if current is None or current["owner"] != ExpressionAttributeValues[":owner"]:
            raise ClientError({"Error": {"Code": "ConditionalCheckFailedException"}}, "DeleteItem")
        aws.w.write_table(aws.side, "lock", None)


class SimAws:
    """`adapters.Aws` as a function in `side`'s region sees it."""

    def __init__(self, world, side):
        self.w = world
        self.side = side

    def _latency(self, operation):
        w = self.w
        if not w.region_up(self.side):
            raise adapters.AwsError(operation, UNREACHABLE)
        slow = w.p["call_seconds"] * (5 if w.active("slow-calls") else 1)
        w.clock.advance(slow)

    def _remote(self, operation):
        """A call from the DR region to the primary region's API (the workflow's fence)."""
        self._latency(operation)
        w = self.w
        if not w.region_up("primary") or not w.backbone() or w.active("primary-api-down"):
            w.clock.advance(w.d["probe_timeout_seconds"])
            raise adapters.AwsError(operation, UNREACHABLE)

    # --- DynamoDB ------------------------------------------------------------------------------
    def _client(self, name):
        assert name == "dynamodb", name
        return _Dynamo(self)

    def _call(self, service, operation, region=None, **kw):
        assert service == "dynamodb", service
        self._latency(f"dynamodb.{operation}")
        w = self.w
        if (
            self.side == "dr"
            and w.active("dr-table-impaired")
            or self.side == "primary"
            and w.active("primary-table-impaired")
        ):
            raise adapters.AwsError(f"dynamodb.{operation}", "InternalServerError")
        items = w.tables[self.side].items
        if operation == "get_item":
            item = items.get(kw["Key"]["pk"]["S"])
            return {"Item": dict(item)} if item else {}
        if operation == "put_item":
            w.write_table(self.side, kw["Item"]["pk"]["S"], dict(kw["Item"]))
            return {}
        if operation == "delete_item":
            w.write_table(self.side, kw["Key"]["pk"]["S"], None)
            return {}
        if operation == "batch_get_item":
            ((table, request),) = kw["RequestItems"].items()
            found = [dict(items[k["pk"]["S"]]) for k in request["Keys"] if k["pk"]["S"] in items]
            return {"Responses": {table: found}}
        raise AssertionError(operation)

    # --- CloudWatch, SNS, EventBridge, Step Functions, Secrets Manager -------------------------
    def put_metrics(self, namespace, metrics, dimensions):
        self._latency("cloudwatch.put_metric_data")
        for name, value, _ in metrics:
            self.w.metrics.append((self.w.clock.now, name, float(value)))
            if name == "WriterIsDr":
                self.w.authority_points.append((self.w.clock.now, float(value)))

    def notify(self, topic_arn, subject, message):
        self._latency("sns.publish")
        self.w.pages.append((self.w.clock.now, self.side, subject, message))

    def put_event(self, bus, detail_type, detail):
        self._latency("events.put_events")

    def start_failover(self, state_machine_arn, name, payload):
        self._latency("stepfunctions.start_execution")
        self.w.start_workflow()
        return "execution-" + name

    def credentials(self, secret_id):
        self._latency("secretsmanager.get_secret_value")
        return {"username": "dbadmin", "password": "x", "host": "primary"}

    def secret(self, secret_id):
        self._latency("secretsmanager.describe_secret")
        return {"PrimaryRegion": REGION["primary"]}, {"host": "primary"}

    def detach_secret(self, secret_id):
        self._latency("secretsmanager.stop_replication_to_replica")

    def put_secret(self, secret_id, value):
        self._latency("secretsmanager.put_secret_value")

    def schedule_rotation(self, secret_id, function_arn, days):
        self._latency("secretsmanager.rotate_secret")

    # --- RDS and its metrics -----------------------------------------------------------------------
    def _regional(self, operation):
        """A call to this region's RDS API (the guard's, in the primary region)."""
        self._latency(operation)
        if self.side == "primary" and self.w.active("primary-api-down"):
            self.w.clock.advance(adapters.GUARD_CALL_SECONDS)
            raise adapters.AwsError(operation, UNREACHABLE)

    def instance_status(self, instance_id):
        self._regional("rds.describe_db_instances")
        return self.w.primary_status()

    def instance_events(self, instance_id, start, end):
        self._regional("rds.describe_events")
        low, high = start.timestamp(), end.timestamp()
        # An event is listed only some time after its own time (the schedule's events_listed_lag).
        listed = self.w.clock.now - self.w.p.get("events_listed_lag", 0.0)
        return [(t, m) for t, m in self.w.rds_events if low <= t <= high and t <= listed]

    def replica_state(self, replica_id):
        self._latency("rds.describe_db_instances")
        w = self.w
        if not w.replica_alive():
            return fsm.Replica("failed", True)
        if w.replica_reports_replica():
            return fsm.Replica("modifying" if w.promote_called_at is not None else "available", True)
        return fsm.Replica("available", False)

    def instance(self, instance_id, region=None):
        w = self.w
        if region is not None or self.side == "primary":
            if region is None:
                self._regional("rds.describe_db_instances")
            else:
                self._remote("rds.describe_db_instances")
            groups = ["sg-deny-all"] if w.primary.fence_group_listed else ["sg-db"]
            status = w.primary_status()
            if status == "available" and not w.primary_serving():
                status = "rebooting"
            return {"DBInstanceStatus": status, "VpcSecurityGroups": [{"VpcSecurityGroupId": g} for g in groups]}
        state = self.replica_state(instance_id)
        instance = {"DBInstanceStatus": state.status, "Endpoint": {"Address": "replica"}}
        if state.is_replica:
            instance["ReadReplicaSourceDBInstanceIdentifier"] = "primary"
        return instance

    def replica_lag(self, replica_id, now=None):
        self._latency("cloudwatch.get_metric_data")
        points = self.w.lag_points
        if not points:
            return None
        at, value = points[-1]
        return fsm.Lag(value, self.w.clock.now - at)

    def promote(self, replica_id, backup_retention):
        w = self.w
        self._latency("rds.promote_read_replica")
        if w.active("promote-denied"):
            w.promote_calls.append((w.clock.now, "denied"))
            raise adapters.AwsError("rds.promote_read_replica", "AccessDenied")
        if not w.replica_reports_replica() or w.promote_called_at is not None:
            w.promote_calls.append((w.clock.now, "in progress"))
            raise adapters.AwsError("rds.promote_read_replica", "InvalidDBInstanceState")
        w.promote_called_at = w.clock.now
        w.promote_calls.append((w.clock.now, "accepted"))
        if w.active("promote-ambiguous"):
            w.clock.advance(w.d["probe_timeout_seconds"])
            raise adapters.AwsError("rds.promote_read_replica", "Read timeout on endpoint URL")

    def fence(self, region, instance_id, security_group_id):
        if region is None:  # the lease keeper, in the primary's own region
            self._regional("rds.modify_db_instance")
        else:
            self._remote("rds.modify_db_instance")
        w = self.w
        if w.primary_status() != "available":
            # RDS refuses a modification while it works on the instance.
            raise adapters.AwsError("rds.modify_db_instance", "InvalidDBInstanceState")
        w.primary.fence_group_listed = True
        w.primary.modify_called_at = w.clock.now
        w.primary.modified_at = w.clock.now + w.p.get("sg_apply_seconds", SG_APPLY_SECONDS)
        w.fence_calls.append((w.clock.now, "fence"))
        if region is None:
            self.w.self_fences.append((self.w.clock.now, "lease keeper"))

    def reboot(self, region, instance_id):
        if region is None:
            self._regional("rds.reboot_db_instance")
        else:
            self._remote("rds.reboot_db_instance")
        if self.w.primary_status() != "available":
            # RebootDBInstance: InvalidDBInstanceState unless the instance is `available`
            # (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_RebootDBInstance.html).
            raise adapters.AwsError("rds.reboot_db_instance", "InvalidDBInstanceState")
        self.w.primary.rebooted_at = self.w.clock.now
        self.w.fence_calls.append((self.w.clock.now, "reboot"))

    def connections(self, region, instance_id, now=None):
        self._remote("cloudwatch.get_metric_data")
        w = self.w
        return float(sum(1 for c in w.clients if c.session == "primary"))


class Workflow:
    """The rendered state machine's course: a step answering "not ready" is asked again after
    its Wait, a bounded number of times; a failed call is retried with backoff; giving up pages.
    The bounds are those of src/render/stepfunctions.rs."""

    TRANSIENT = (2, 3, 2, None)  # first retry after, attempts, backoff, cap
    FENCE_RETRY = (30, 1441, 2, 60)

    def __init__(self, world):
        self.w = world
        self.fence_done = False
        self.failed_at = None

    def _failed(self, error):
        """The workflow function's Errors alarm (one datapoint a minute, missing data is OK): it
        pages when failures start after a minute or more without one."""
        w = self.w
        if self.failed_at is None or w.clock.now - self.failed_at > 120:
            w.pages.append((w.clock.now, "dr", "ALARM: failover-errors", str(error)))
        self.failed_at = w.clock.now

    def _page(self, subject, message):
        """The state machine's own page (an SNS task): lost while the DR region is down."""
        try:
            self.w.aws["dr"].notify("topic-dr", subject, message)
        except adapters.AwsError:
            pass

    def _task(self, name, retry, then):
        interval, attempts, backoff, cap = retry
        w = self.w

        def attempt(n, delay):
            try:
                answer = workflow.handle({"step": name}, w.failover_cfg, w.aws["dr"], w.store, w.clock.now)
            except adapters.AwsError as e:
                self._failed(e)
                if n < attempts:
                    nxt = delay * backoff if cap is None else min(delay * backoff, cap)
                    w.clock.at(w.clock.now + delay, lambda: attempt(n + 1, nxt))
                else:
                    self._page(f"drgen: workflow step {name} failed", str(e))
                return
            then(answer)

        attempt(0, interval)

    def _poll(self, name, every, waits, retry, done, late=None):
        w = self.w

        def ask(n):
            def answered(answer):
                if answer["ready"]:
                    done()
                    return
                if n == late:
                    self._page("drgen: promotion not finished after 30 minutes", str(answer))
                if n < waits:
                    w.clock.at(w.clock.now + every, lambda: ask(n + 1))
                else:
                    self._page(f"drgen: workflow step {name} gave up waiting", str(answer))

            self._task(name, retry, answered)

        ask(0)

    def start(self):
        def promoted():
            self._poll(
                "fence",
                60,
                1441,
                self.FENCE_RETRY,
                lambda: self._poll("verify_fence", 60, 30, self.TRANSIENT, lambda: None),
            )
            self._poll(
                "await_standalone",
                60,
                120,
                self.TRANSIENT,
                lambda: self._task("promote_secret", self.TRANSIENT, lambda a: None),
                late=30,
            )

        if not self.w.arc_mode:
            self._poll("ensure_promoted", 30, 20, self.TRANSIENT, promoted)
            return
        # The ARC authority first, then the lease waited out (stepfunctions.rs: TakeAuthority's
        # retries, AwaitLease's bound), then the promotion.
        waits = -(-int(self.w.e["authority"]["lease_wait_seconds"]) // 10) + 6
        self._task(
            "take_authority",
            (10, 30, 1, None),
            lambda a: self._poll(
                "await_lease",
                10,
                waits,
                self.TRANSIENT,
                lambda: self._poll("ensure_promoted", 30, 20, self.TRANSIENT, promoted),
            ),
        )


class Route53:
    """The PRIMARY record's calculated check from `drgen explain`'s graph: the observers' HTTPS
    checks through each observer's handler, and the writer-authority alarm's checks."""

    def __init__(self, world):
        self.w = world
        graph = world.e["dns"]
        self.graph = graph
        self.streak = {}
        self.healthy = {}
        for child in graph["children"]:
            if child["role"] == "observer":
                self.streak[child["side"]] = 0
                self.healthy[child["side"]] = True
        self.answer = "primary"

    def _observer_ok(self, side):
        w = self.w
        if not w.region_up(side) or (side == "primary" and w.active("primary-functions-throttled")):
            return False
        cfg = observer_cfg(side, target_side="primary")
        request = {"httpMethod": "GET", "path": "/" + cfg.token}
        reply = observer.handle(request, cfg, check=w.checker(side), aws=w.aws[side])
        return reply["statusCode"] == 200

    def _authority_alarm(self):
        """The WriterIsDr alarm as Route 53 sees it: the newest datapoint older than the alarm's
        delay decides; missing data keeps the state."""
        w = self.w
        cutoff = w.clock.now - w.p["authority_delay"]
        newest = bisect.bisect_right(w.authority_points, (cutoff, float("inf")))
        return newest > 0 and w.authority_points[newest - 1][1] >= 1

    def check(self):
        w = self.w
        now = w.clock.now
        for child in self.graph["children"]:
            if child["role"] != "observer":
                continue
            side = child["side"]
            ok = self._observer_ok(side)
            w.clock.now = now  # the checks run in parallel: their probe time is not the world's
            if ok == self.healthy[side]:
                self.streak[side] = 0
            else:
                self.streak[side] += 1
                if self.streak[side] >= child["failure_threshold"]:
                    self.healthy[side], self.streak[side] = ok, 0
        # The authority children: with ARC, health checks on the primary's routing control;
        # otherwise the WriterIsDr alarm's.
        says_primary = w.arc["primary"] == "On" if w.arc_mode else not self._authority_alarm()
        healthy = 0
        for child in self.graph["children"]:
            if child["role"] == "observer":
                healthy += int(self.healthy[child["side"]])
            else:
                healthy += child["copies"] * int(says_primary)
        answer = "primary" if healthy >= self.graph["threshold"] else "dr"
        if answer != self.answer:
            self.answer = answer
            w.dns_answers.append((now, answer))


class Client:
    """The application in one region: one session to whatever the writer name resolved to
    (cached for the record's TTL), one commit a second while it is writable, a new session
    when the old one breaks."""

    def __init__(self, world, side):
        self.w = world
        self.side = side
        self.session = None
        self.opened = 0.0
        self.cached = None
        self.expires = -1.0

    def _resolve(self):
        w = self.w
        if w.clock.now >= self.expires:
            self.cached = w.route53.answer
            self.expires = w.clock.now + w.e["dns"]["ttl_seconds"]
        return self.cached

    def tick(self):
        w = self.w
        if not w.region_up(self.side) or w.active("idle-application"):
            self.session = None
            return
        if self.session is None:
            target = self._resolve()
            if target == "primary" and w.primary_from(self.side):
                self.session, self.opened = "primary", w.clock.now
            elif target == "dr" and (self.side == "dr" or w.link()) and w.replica_alive():
                self.session, self.opened = "dr", w.clock.now
            else:
                return
        if self.session == "primary":
            p = w.primary
            cut = p.rebooted_at is not None and p.rebooted_at > self.opened
            reachable = w.primary_serving() and (self.side == "primary" or w.link())
            if cut or not reachable:
                self.session = None
                return
            p.commits.append(w.clock.now)
        elif w.replica_writable():
            w.replica.commits.append(w.clock.now)
        else:  # read-only: the write fails, the application reconnects
            self.session = None
