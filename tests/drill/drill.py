"""The failover drill: the Lambda package's own probe, decision state machine, monitor and
workflow handlers against two real PostgreSQL 15 servers in streaming replication on loopback,
under write load, through crash, outage, blip, partition, returning primary, lagging replica,
idle primary and veto scenarios. Every interval of the rendered config is divided by the time
scale; the report gives real-scale figures. It writes target/drill/report.json and exits 1 when
any scenario's outcome differs from what it must show.
"""

import json
import os
import subprocess
import sys
import threading
import time
import traceback
import types
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT / "lambda"))
sys.path.insert(0, str(HERE))

import rig  # noqa: E402
import standins  # noqa: E402
from drgen_lambda import adapters, config, fsm, guard_run, logs, monitor, observer, pg, probe, workflow  # noqa: E402

SCALE = float(os.environ.get("DRGEN_DRILL_SCALE", "10"))
GUARD_RUN_SECONDS = 50  # src/model.rs GUARD_RUN_SECONDS
DRGEN = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "debug" / "drgen"
REPORT = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "drill" / "report.json"
# RDS promotes "several minutes or longer" (AWS's words); pg_promote() takes about a second.
# Time to writable is reported as the measured decision time plus this stated model.
RDS_PROMOTION_MODEL_SECONDS = 300
# RDS's periodic WAL switch on an idle primary, which gives ReplicaLag its sawtooth.
RDS_HEARTBEAT_SECONDS = 300
METRIC_PERIOD_SECONDS = 60
INSERTS_PER_SECOND = 40


def explain():
    out = subprocess.run(
        [DRGEN, "explain", "--env-suffix", "drill", "--format", "json"], check=True, capture_output=True, text=True
    )
    return json.loads(out.stdout)


class ScaledGuard(guard_run.Guard):
    """The guard's own code, with its call deadlines and schedule period on the drill's scale
    (so that a run ticks as often as a deployed one, and a late run continues its `since`)."""

    @property
    def tick_seconds(self):
        return self.cfg.target.timeout + 3 * adapters.GUARD_CALL_SECONDS / SCALE

    @property
    def schedule_seconds(self):
        return guard_run.SCHEDULE_SECONDS / SCALE


class RegionStore(adapters.Store):
    """The guard's view of the state table from the primary region: once the region is down,
    what it writes stays in its own region's copy and never reaches the DR side (a run already
    under way when the outage starts keeps ticking, but nobody hears it)."""

    def __init__(self, world, aws, table):
        super().__init__(aws, table)
        self.world = world

    def report_guard(self, report):
        if not self.world.primary_region_down:
            super().report_guard(report)


class World:
    """One scenario's rig, stand-ins and the package's code, with the clock scaled."""

    def __init__(self, name, explained, event_expiry=None):
        self.name = name
        self.e = explained
        d = explained["decision"]
        self.port = rig.free_port()
        s = SCALE
        self.relays = {
            "security_group": rig.Relay(rig.SECURITY_GROUP, rig.PRIMARY, self.port),
            "peering": rig.Relay(rig.PEERING, rig.SECURITY_GROUP, self.port),
            "replication": rig.Relay(rig.REPLICATION, rig.PRIMARY, self.port),
        }
        self.rig = rig.Pair(self.port)
        self.rig.create()
        self.aws = standins.Aws(self)
        self.store = adapters.Store(self.aws, "failover")
        timeout = d["probe_timeout_seconds"] / s
        self.rules = fsm.Rules(
            confirm_seconds=d["confirm_seconds"] / s,
            lag_threshold=d["lag_threshold_seconds"] / s,
            # The sampler is a thread on a loaded machine: its unscaled scheduling delay is slack,
            # as in max_gap below.
            lag_max_age=d["lag_max_age_seconds"] / s + 5,
            max_data_loss=d["max_data_loss_seconds"] / s,
            event_expiry=(event_expiry or d["recovery_event_expiry_seconds"]) / s,
            automatic=d["mode"] == "automatic",
            dry_run=False,
            repage_seconds=900 / s,
            manual_command="aws rds promote-read-replica ...",
            max_gap=(d["schedule_seconds"] - d["run_seconds"] + d["probe_interval_seconds"]) / s + 2 * timeout + 5,
            silence_seconds=d["silence_seconds"] / s,
            # The guard's longest pause, with the same unscaled slack for its thread's scheduling.
            guard_gap=d["guard_gap_seconds"] / s + 2,
            short_confirm=fsm.SHORT_CONFIRM / s,
            guard_wait=fsm.GUARD_WAIT / s,
            stream_quiet=fsm.STREAM_QUIET / s,
        )
        self.cfg = config.MonitorConfig(
            target=config.ProbeTarget(rig.PEERING, self.port, timeout),
            interval=d["probe_interval_seconds"] / s,
            run_seconds=0,
            replica_id="replica",
            replica_host=rig.STANDBY,
            database="drill",
            secret_id="secret",
            table="failover",
            namespace="drill",
            topic_arn="topic",
            event_bus="default",
            state_machine_arn="machine",
            region="dr",
            backup_retention=7,
            rules=self.rules,
        )
        self.monitor = monitor.Monitor(self.cfg, self.aws, self.store, monitor.Positions(self.aws, self.cfg))
        self.failover_cfg = config.FailoverConfig(
            region="dr",
            primary_region="primary",
            primary_id="primary",
            replica_id="replica",
            fence_group="sg-fenced",
            table="failover",
            namespace="drill",
            topic_arn="topic",
            event_bus="default",
            secret_id="secret",
            rotation_function="rotation",
            rotation_days=30,
            backup_retention=7,
        )
        self.route53 = standins.Route53(
            explained["dns"],
            SCALE,
            explained["rto"]["authority_to_route53_seconds"],
            self.aws,
            {"primary": self.observer_config("primary"), "dr": self.observer_config("dr")},
        )
        self.resolver = standins.Resolver(self.route53)
        self.stop = threading.Event()
        self.load_stop = threading.Event()
        self.primary_region_down = False
        # RDS's promotion time as the stand-in reports it (scaled like every other interval).
        self.promotion_seconds = RDS_PROMOTION_MODEL_SECONDS / SCALE
        self.acks = []  # (id, server, time)
        self.next_id = 0
        self.id_lock = threading.Lock()
        self.failure_at = None
        self.dns_switch_at = None
        self.workflow_thread = None
        self.workflow_log = []
        self.threads = []

    # --- helpers ------------------------------------------------------------------------------
    def query(self, address, sql, timeout=2.0):
        with pg.Connection(address, self.port, "postgres", "", database="drill", timeout=timeout) as conn:
            return conn.scalar(sql)

    def every(self, seconds, action):
        def loop():
            while not self.stop.wait(seconds):
                try:
                    action()
                except Exception:  # noqa: BLE001 - a failed background step is logged, not fatal
                    self.workflow_log.append(("background", traceback.format_exc(limit=1)))

        thread = threading.Thread(target=loop, daemon=True)
        thread.start()
        self.threads.append(thread)

    def every_start(self, seconds, action):
        """Starts `action` every `seconds`, start to start, as EventBridge starts a scheduled
        function; a run that overruns its period delays the next one (reserved concurrency 1)."""

        def loop():
            next_at = time.monotonic() + seconds
            while not self.stop.wait(max(0.0, next_at - time.monotonic())):
                next_at = max(next_at + seconds, time.monotonic())
                try:
                    action()
                except Exception:  # noqa: BLE001 - a failed background step is logged, not fatal
                    self.workflow_log.append(("background", traceback.format_exc(limit=1)))

        thread = threading.Thread(target=loop, daemon=True)
        thread.start()
        self.threads.append(thread)

    def start(self, load=True):
        s = SCALE
        state = {"state": fsm.initial_state(), "first": True}

        def tick():
            state["state"] = self.monitor.tick(state["state"], state["first"])
            state["first"] = False

        self.every(self.cfg.interval, tick)
        self.every(METRIC_PERIOD_SECONDS / s, self.aws.sample_lag)
        self.every(METRIC_PERIOD_SECONDS / s, self._observer_heartbeat)
        self.every_start(guard_run.SCHEDULE_SECONDS / s, self._guard)
        self._rds_heartbeat()
        self.every(RDS_HEARTBEAT_SECONDS / s, self._rds_heartbeat)
        self.every(0.1, self._watch_dns)
        thread = threading.Thread(target=self.route53.run, daemon=True)
        thread.start()
        self.threads.append(thread)
        if load:
            self.start_load()

    def start_load(self):
        self.load_stop.clear()
        thread = threading.Thread(target=self._writer, daemon=True)
        thread.start()
        self.threads.append(thread)

    def observer_config(self, side):
        """An observer: the primary-region one reaches the primary through its security group,
        the DR one across the peering; both follow the authority in the state table."""
        return config.ObserverConfig(
            target=config.ProbeTarget(
                rig.SECURITY_GROUP if side == "primary" else rig.PEERING, self.port, self.cfg.target.timeout
            ),
            token="drilltoken0123456",
            namespace="drill",
            observer=side,
            publish_metric=False,
            heartbeat_table="failover" if side == "primary" else "",
            state_table="failover",
            target_side="primary",
        )

    def _observer_heartbeat(self):
        """The primary-region observer's scheduled run: the package's own handler."""
        if not self.primary_region_down:
            observer.handle({}, self.observer_config("primary"), check=probe.probe, aws=self.aws)

    def _guard(self):
        """One scheduled run of the primary-region guard (its own code), every scaled minute,
        probing the primary through its security group and reading the primary's status and
        events from the RDS stand-in of its region."""
        if self.primary_region_down:
            return
        d = self.e["decision"]
        cfg = config.GuardConfig(
            target=config.ProbeTarget(rig.SECURITY_GROUP, self.port, self.cfg.target.timeout),
            interval=d["guard_interval_seconds"] / SCALE,
            run_seconds=GUARD_RUN_SECONDS / SCALE,
            primary_id="primary",
            table="failover",
            event_window=d["recovery_event_expiry_seconds"] / SCALE,
            late=d["guard_late_seconds"] / SCALE,
        )
        ScaledGuard(cfg, self.aws, RegionStore(self, self.aws, "failover"), check=probe.probe).run()

    def _rds_heartbeat(self):
        try:
            self.query(rig.PRIMARY, "INSERT INTO heartbeat DEFAULT VALUES RETURNING 1", timeout=1)
        except (pg.PgError, OSError):
            pass

    def _watch_dns(self):
        if self.failure_at is not None and self.dns_switch_at is None and not self.route53.primary_healthy():
            self.dns_switch_at = time.time()

    def _writer(self):
        """Inserts numbered markers through the writer name with target_session_attrs=read-write,
        logging every commit the server acknowledged."""
        conn, server = None, None
        deadline = time.time() + 600
        while not self.load_stop.is_set() and time.time() < deadline:
            answer = self.resolver.resolve()
            if conn is None or server != answer:
                if conn is not None:
                    conn.close()
                conn = None
                address = rig.SECURITY_GROUP if answer == "primary" else rig.STANDBY
                try:
                    conn = pg.Connection(address, self.port, "postgres", "", database="drill", timeout=0.5)
                    if conn.scalar("SELECT pg_is_in_recovery()") != "f":
                        conn.close()
                        conn = None
                        time.sleep(0.1)
                        continue
                    server = answer
                except (pg.PgError, OSError):
                    conn = None
                    time.sleep(0.1)
                    continue
            with self.id_lock:
                self.next_id += 1
                n = self.next_id
            try:
                # The deadline is per connection: renew it for each statement.
                conn._deadline = time.monotonic() + 0.5
                if conn.scalar(f"INSERT INTO markers (id) VALUES ({n}) RETURNING id") == str(n):
                    self.acks.append((n, server, time.time()))
            except (pg.PgError, OSError):
                conn.close()
                conn = None
            time.sleep(1 / INSERTS_PER_SECOND)
        if conn is not None:
            conn.close()

    # --- the workflow, as the state machine runs it ----------------------------------------------
    # The bounds of src/render/stepfunctions.rs: Retry (interval, attempts, backoff, max delay)
    # for real errors; a bounded loop of Waits for a step that answers "not ready".
    TRANSIENT = (5, 5, 2, None)
    FENCE_RETRY = (30, 1441, 2, 60)

    def start_workflow(self):
        if self.workflow_thread is None:
            self.workflow_thread = threading.Thread(target=self._workflow, daemon=True)
            self.workflow_thread.start()

    def _task(self, name, retry):
        """One Task state: the step's answer, AwsError retried with backoff; None when the
        retrier gives up (the Catch pages)."""
        interval, attempts, backoff, cap = retry
        delay = interval
        for attempt in range(attempts + 1):
            if self.stop.is_set():
                return None
            try:
                answer = workflow.handle({"step": name}, self.failover_cfg, self.aws, self.store, time.time())
            except adapters.AwsError as e:
                self.workflow_log.append((name, str(e)))
                if attempt < attempts:
                    self.stop.wait(delay / SCALE)
                    delay = delay * backoff if cap is None else min(delay * backoff, cap)
                continue
            self.workflow_log.append((name, answer))
            return answer
        self.aws.notify("topic", f"drgen: workflow step {name} failed", self.workflow_log[-1][1])
        return None

    def _poll(self, name, every, waits, retry, late=None):
        """A step the state machine asks again every `every` s while it answers "not ready", at
        most `waits` times; pages when it gives up, and once after `late` waits."""
        for n in range(waits + 1):
            answer = self._task(name, retry)
            if answer is None:
                return False
            if answer["ready"]:
                return True
            if n == late:
                self.aws.notify("topic", "drgen: promotion not finished after 30 minutes; still waiting", str(answer))
            if n < waits:
                self.stop.wait(every / SCALE)
        self.aws.notify("topic", f"drgen: workflow step {name} gave up waiting", str(answer))
        return False

    def _workflow(self):
        if not self._poll("ensure_promoted", 30, 20, self.TRANSIENT):
            return
        fence = threading.Thread(
            target=lambda: (
                self._poll("fence", 60, 1441, self.FENCE_RETRY) and self._poll("verify_fence", 60, 30, self.TRANSIENT)
            ),
            daemon=True,
        )
        fence.start()
        # The stand-in's instance stays standalone once it is: promote_secret finds it so.
        if self._poll("await_standalone", 60, 120, self.TRANSIENT, late=30):
            self._task("promote_secret", self.TRANSIENT)
        fence.join(timeout=120)

    # --- scenario building blocks -----------------------------------------------------------------
    def fail(self):
        self.failure_at = time.time()

    def wait(self, real_seconds):
        self.stop.wait(real_seconds / SCALE)

    def wait_for(self, predicate, real_seconds):
        deadline = time.time() + real_seconds / SCALE
        while time.time() < deadline and not predicate():
            time.sleep(0.05)
        return predicate()

    def promoted(self):
        return self.aws.promoted_at is not None

    def pages(self):
        return [subject for _, subject, _ in self.aws.pages]

    def finish(self, expected_promotion):
        """Stops the load and the loops, and accounts for every acknowledged commit."""
        self.load_stop.set()
        time.sleep(0.6)
        self.stop.set()
        self.route53.stop.set()
        for thread in self.threads:
            thread.join(timeout=5)
        writer = self.rig.standby if self.promoted() else self.rig.primary
        if not self.promoted():
            # The primary may have been stopped or cut: bring it back to count its rows.
            for relay in self.relays.values():
                relay.heal()
            subprocess.run(
                self.rig.primary.as_user
                + [
                    str(rig.PG_BIN / "pg_ctl"),
                    "-D",
                    str(self.rig.primary.data),
                    "-l",
                    str(self.rig.primary.root / "log"),
                    "-w",
                    "-t",
                    "60",
                    "start",
                ],
                capture_output=True,
                check=False,
                timeout=90,
            )
        present = set(map(int, filter(None, writer.psql("SELECT id FROM markers").split("\n"))))
        duplicates = int(writer.psql("SELECT count(*) - count(DISTINCT id) FROM markers"))
        acked = {n for n, _, _ in self.acks}
        lost = sorted(acked - present)
        switch = self.aws.promoted_at
        to_old = [n for n, server, t in self.acks if server == "primary" and switch is not None and t > switch]
        scaled = lambda t: None if t is None or self.failure_at is None else round((t - self.failure_at) * SCALE, 1)  # noqa: E731
        decision = scaled(self.aws.promoted_at)
        result = {
            "name": self.name,
            "expected_promotion": expected_promotion,
            "promoted": self.promoted(),
            "seconds_to_decision": decision,
            "seconds_to_dns_switch": scaled(self.dns_switch_at),
            "seconds_to_writable": None if decision is None else round(decision + RDS_PROMOTION_MODEL_SECONDS, 1),
            "acknowledged_commits": len(acked),
            "lost_commits": len(lost),
            "lost_span_seconds": None,
            "duplicates": duplicates,
            "writes_to_old_primary_after_switch": len(to_old),
            "pages": self.pages(),
            # When and what each page said, in real-scale seconds from the failure: a failed
            # scenario's reason is in them.
            "page_log": [[scaled(t), subject, message] for t, subject, message in self.aws.pages],
            "fence": sorted(k for k in self.store.fence()),
        }
        if lost:
            times = {n: t for n, _, t in self.acks}
            result["lost_span_seconds"] = round((max(times[n] for n in lost) - min(times[n] for n in lost)) * SCALE, 1)
        return result

    def close(self):
        self.stop.set()
        for relay in self.relays.values():
            relay.close()
        self.rig.destroy()


# --- scenarios ---------------------------------------------------------------------------------
# Each returns (result, problems): what happened, and every way it differs from what it must show.

REPLICATION_DELAY = 10  # real seconds the replication path lags in the crash scenarios
CONFIRM = None  # set from explain


def _lost_within_delay(r, problems):
    if r["lost_commits"] == 0:
        problems.append("no acknowledged commit was lost although replication lagged")
    elif r["lost_span_seconds"] > REPLICATION_DELAY + 2:
        problems.append(f"lost commits span {r['lost_span_seconds']} s, more than the {REPLICATION_DELAY} s delay")


def _common(r, problems):
    if r["promoted"] != r["expected_promotion"]:
        problems.append(f"promoted={r['promoted']}, expected {r['expected_promotion']}")
    if r["duplicates"]:
        problems.append(f"{r['duplicates']} duplicated markers")
    if r["writes_to_old_primary_after_switch"]:
        problems.append(
            f"{r['writes_to_old_primary_after_switch']} commits acknowledged by the old primary after the switch"
        )


def _lossy_failure(w, failure):
    """Load with the replication path lagging; then `failure`; a promotion must follow and lose
    no more than the lag held back."""
    w.relays["replication"].delay = REPLICATION_DELAY / SCALE
    w.start()
    w.wait(60)
    w.fail()
    failure()
    # The long path: the guard's own `unreachable` lasts the window too, and a stale ReplicaLag
    # datapoint on a loaded machine holds a tick or two; wait well past the 252 s bound.
    w.wait_for(w.promoted, CONFIRM + 300)
    w.wait(60)
    r = w.finish(True)
    problems = []
    _common(r, problems)
    _lost_within_delay(r, problems)
    return r, problems


def crash_under_load(w):
    return _lossy_failure(w, lambda: w.rig.primary.stop("immediate"))


def regional_outage(w):
    def outage():
        w.primary_region_down = True
        w.aws.primary_api_down = True
        for relay in w.relays.values():
            relay.cut()

    r, problems = _lossy_failure(w, outage)
    # The whole region is silent: the short path, within two minutes.
    if r["seconds_to_decision"] is None or r["seconds_to_decision"] > 120:
        problems.append(f"decision after {r['seconds_to_decision']} s, more than 120 s")
    return r, problems


def multi_az_event_lost(w):
    """A Multi-AZ failover longer than the confirm window whose forwarded event is lost: only the
    primary region's guard, reading its own region's RDS events, knows; no promotion."""
    w.start()
    w.wait(30)
    w.fail()
    w.aws.rds_events.append((time.time(), "Multi-AZ instance failover started."))
    w.rig.primary.stop("immediate")
    early = w.wait_for(w.promoted, CONFIRM + 150)
    w.aws.rds_events.append((time.time(), "Multi-AZ instance failover completed."))
    w.rig.primary.start()
    w.wait(60)
    r = w.finish(False)
    problems = []
    _common(r, problems)
    if early:
        problems.append("promoted during the Multi-AZ failover")
    if "drgen: failover held (veto)" not in r["pages"]:
        problems.append("no veto page")
    return r, problems


def blip(w):
    w.start()
    w.wait(60)
    w.fail()
    w.rig.primary.stop("fast")
    w.wait(CONFIRM / 2)
    w.rig.primary.start()
    w.wait(CONFIRM + 60)
    answer = w.resolver.route53.primary_healthy()
    r = w.finish(False)
    problems = []
    _common(r, problems)
    if not answer:
        problems.append("DNS did not return to the primary")
    if r["lost_commits"]:
        problems.append(f"{r['lost_commits']} commits lost")
    return r, problems


def partition_under_load(w):
    w.start()
    w.wait(60)
    w.fail()
    w.relays["peering"].cut()
    w.wait(CONFIRM + 90)
    r = w.finish(False)
    problems = []
    _common(r, problems)
    if r["lost_commits"]:
        problems.append(f"{r['lost_commits']} commits lost")
    if not any("partition" in p or "lag-low" in p for p in r["pages"]):
        problems.append("no page")
    return r, problems


def partition_idle(w):
    w.start(load=False)
    w.wait(60)
    w.fail()
    w.relays["peering"].cut()
    w.wait(CONFIRM + 120)
    r = w.finish(False)
    problems = []
    _common(r, problems)
    if not any("partition" in p for p in r["pages"]):
        problems.append("no partition page")
    return r, problems


def primary_returns(w):
    w.start()
    w.wait(60)
    w.fail()
    w.aws.cross_region_api_down = True  # the fence waits for the region's API
    w.rig.primary.stop("immediate")
    w.wait_for(w.promoted, CONFIRM + 300)
    w.wait(30)
    w.rig.primary.start()
    # A pooled session that does not follow DNS reaches the unfenced old primary.
    pooled = pg.Connection(rig.SECURITY_GROUP, w.port, "postgres", "", database="drill", timeout=2)
    w.wait(60)
    w.aws.cross_region_api_down = False
    cut = w.wait_for(lambda: _closed(pooled), 300)
    w.wait(30)
    r = w.finish(True)
    problems = []
    _common(r, problems)
    r["pooled_session_cut_by_fence"] = cut
    if not cut:
        problems.append("the fence's reboot did not cut the established session")
    if not any("split-brain" in p for p in r["pages"]):
        problems.append("no split-brain page while the old primary was reachable and unfenced")
    if "confirmed_at" not in r["fence"]:
        problems.append("the fence was not confirmed")
    return r, problems


def _closed(conn):
    try:
        conn._deadline = time.monotonic() + 0.5
        conn.scalar("SELECT 1")
        return False
    except (pg.PgError, OSError):
        return True


def replica_far_behind(w):
    w.start()
    w.wait(30)
    w.relays["replication"].stall()
    w.wait(120)
    w.fail()
    w.rig.primary.stop("immediate")
    w.wait(CONFIRM + 90)
    r = w.finish(False)
    problems = []
    _common(r, problems)
    if not any("(rpo)" in p for p in r["pages"]):
        problems.append("no RPO-gate page")
    return r, problems


def idle_primary_dies(w):
    w.start(load=False)
    w.wait(120)
    w.fail()
    w.rig.primary.stop("immediate")
    w.wait_for(w.promoted, CONFIRM + 300)
    w.wait(30)
    r = w.finish(True)
    problems = []
    _common(r, problems)
    r["outcome"] = (
        "an idle primary's lag climbs past the threshold once it is gone; with every position "
        "received, the data at risk is 0 and the monitor promotes after the confirm window"
    )
    return r, problems


def veto(w):
    w.start()
    w.wait(30)
    w.fail()
    workflow.record_event(w.store, {"source": "aws.rds", "detail": {"EventID": "RDS-EVENT-0013"}}, time.time())
    w.rig.primary.stop("immediate")
    early = w.wait_for(w.promoted, CONFIRM + 60)
    closed = time.time()
    workflow.record_event(w.store, {"source": "aws.rds", "detail": {"EventID": "RDS-EVENT-0049"}}, closed)
    # The close starts the confirm window again: the primary must stay away a whole window more.
    w.wait_for(w.promoted, CONFIRM + 90)
    r = w.finish(True)
    problems = []
    _common(r, problems)
    if early:
        problems.append("promoted while the recovery event was open")
    if w.aws.promoted_at is not None and (w.aws.promoted_at - closed) * SCALE < CONFIRM:
        problems.append("promoted less than the confirm window after the recovery closed")
    return r, problems


def veto_expires(w):
    w.start()
    w.wait(30)
    w.fail()
    workflow.record_event(w.store, {"source": "aws.rds", "detail": {"EventID": "RDS-EVENT-0013"}}, time.time())
    w.rig.primary.stop("immediate")
    # The expiry pages and starts the confirm window again.
    w.wait_for(w.promoted, 300 + CONFIRM + 90)
    r = w.finish(True)
    problems = []
    _common(r, problems)
    if not any("expired" in p for p in r["pages"]):
        problems.append("no page when the event expired")
    if r["seconds_to_decision"] is not None and r["seconds_to_decision"] < 300 + CONFIRM:
        problems.append("promoted before the event expired and a window passed")
    return r, problems


SCENARIOS = [
    ("crash under load (pg_ctl stop -m immediate)", crash_under_load, {}),
    ("crash under load (regional outage: blackholed), default settings", regional_outage, {}),
    ("Multi-AZ failover longer than the window, its event lost", multi_az_event_lost, {}),
    ("in-region blip shorter than the confirm window", blip, {}),
    ("partition under load", partition_under_load, {}),
    ("partition, idle primary", partition_idle, {}),
    ("primary returns after a promotion", primary_returns, {}),
    ("replica far behind, then the primary dies", replica_far_behind, {}),
    ("idle primary dies", idle_primary_dies, {}),
    ("veto: recovery event open, then closed", veto, {}),
    ("veto left open past its expiry", veto_expires, {"event_expiry": 300}),
]


def run_one(explained, name, scenario, options):
    world = World(name, explained, **options)
    try:
        result, problems = scenario(world)
    except Exception:  # noqa: BLE001 - a broken scenario is a failed scenario
        result, problems = {"name": name}, [traceback.format_exc(limit=3)]
    finally:
        world.close()
    result["problems"] = problems
    return result


def table(results):
    head = f"{'scenario':<50} {'promoted':>8} {'decide s':>9} {'dns s':>7} {'write s':>8} {'acked':>6} {'lost':>5} {'old':>4}  result"
    lines = [head, "-" * len(head)]
    for r in results:

        def cell(key, r=r):
            return "-" if r.get(key) is None else str(r.get(key))

        lines.append(
            f"{r['name'][:50]:<50} {cell('promoted'):>8} {cell('seconds_to_decision'):>9} {cell('seconds_to_dns_switch'):>7} "
            f"{cell('seconds_to_writable'):>8} {cell('acknowledged_commits'):>6} {cell('lost_commits'):>5} "
            f"{cell('writes_to_old_primary_after_switch'):>4}  {'ok' if not r['problems'] else 'FAILED'}"
        )
    return "\n".join(lines)


def main():
    global CONFIRM  # noqa: PLW0603 - set once from the rendered config
    explained = explain()
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    # The package's JSON log lines go to a file beside the report.
    logs.sys = types.SimpleNamespace(stdout=open(REPORT.parent / "log.jsonl", "w"))  # noqa: SIM115
    CONFIRM = explained["decision"]["confirm_seconds"]
    only = os.environ.get("DRGEN_DRILL_ONLY")
    chosen = [s for s in SCENARIOS if not only or only in s[0]]
    started = time.time()
    workers = int(os.environ.get("DRGEN_DRILL_WORKERS", "3"))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(lambda s: run_one(explained, *s), chosen))
    elapsed = time.time() - started
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(
        json.dumps(
            {
                "scale": SCALE,
                "rds_promotion_model_seconds": RDS_PROMOTION_MODEL_SECONDS,
                "elapsed_seconds": round(elapsed, 1),
                "scenarios": results,
            },
            indent=2,
        )
        + "\n"
    )
    print(
        f"failover drill: time scale 1/{SCALE:g}, figures in real-scale seconds; write time = decision + {RDS_PROMOTION_MODEL_SECONDS} s modelled RDS promotion"
    )
    print(table(results))
    for r in results:
        for p in r["problems"]:
            print(f"  {r['name']}: {p}")
        if r["problems"]:
            for at, subject, message in r.get("page_log", []):
                print(f"    page at {at} s: {subject}: {message}")
    failed = sum(1 for r in results if r["problems"])
    print(f"drill: {len(results) - failed} passed, {failed} failed ({elapsed:.0f} s; report {REPORT})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
