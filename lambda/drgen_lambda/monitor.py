"""The DR-region monitor: observes the primary, keeps the failover state, and acts on `fsm.step`.

One scheduled run takes the run lock in the DR state table, then observes for most of its
schedule period: every tick it probes the primary, samples WAL positions while it can, reads the
replica, its lag, the primary-region heartbeat and the open recovery events when the decision
needs them, feeds that observation to `fsm.step`, carries out the actions, publishes what it saw
(the writer authority among it) and saves the state. Every AWS and PostgreSQL call is in an
adapter; nothing here decides.

With AUTHORITY=arc the writer authority is in ARC's routing controls, which the monitor cannot
reach from its VPC: where it would call PromoteReadReplica it records the authority in the table
and starts the workflow, which takes the authority in ARC, waits out the old primary's lease and
only then promotes. The monitor makes no first promotion call in that mode; it calls again, as in
the other, when RDS still reports an available replica, and only once the workflow has recorded
its switch in ARC and the lease wait has passed since.
"""

import os
import time
import uuid

from . import adapters, config, fsm, pg, probe
from .logs import log


class Positions:
    """WAL positions, and the replica's WAL receiver, over TLS with the master credentials of the
    DR secret replica."""

    # One query to the replica: its received WAL position, the primary's commit time of the
    # newest transaction it replayed, and its receiver's status and last message's receipt time
    # ("-" for what it does not have: a position once promoted, a receiver that stopped).
    REPLICA_SQL = (
        "SELECT concat_ws(' ', coalesce(pg_last_wal_receive_lsn()::text, '-'), "
        "coalesce(extract(epoch FROM pg_last_xact_replay_timestamp())::text, '-'), "
        "coalesce((SELECT status FROM pg_stat_wal_receiver), '-'), "
        "coalesce((SELECT extract(epoch FROM last_msg_receipt_time)::text FROM pg_stat_wal_receiver), '-'))"
    )

    def __init__(self, aws, cfg, connect=pg.Connection):
        self._aws = aws
        self._cfg = cfg
        self._connect = connect
        self._credentials = None

    def _scalar(self, host, sql):
        if self._credentials is None:
            self._credentials = self._aws.credentials(self._cfg.secret_id)
        c = self._credentials
        with self._connect(
            host,
            self._cfg.target.port,
            c["username"],
            c["password"],
            database=self._cfg.database,
            timeout=self._cfg.target.timeout,
        ) as conn:
            return conn.scalar(sql)

    def primary(self):
        try:
            value = self._scalar(self._cfg.target.host, "SELECT pg_current_wal_lsn()")
            return None if value is None else pg.parse_lsn(value)
        except (adapters.AwsError, pg.PgError, OSError, KeyError, ValueError) as e:
            log("warning", "wal_position_failed", host=self._cfg.target.host, error=str(e))
            return None

    def replica(self):
        """(its received WAL position, when the primary committed the newest transaction it
        replayed, its receiver), each None when not read. The receiver is (streaming, when it
        last heard the primary, epoch seconds): streaming is the replica's own word that the
        primary is alive, over RDS's replication path rather than the DR side's probe path; the
        last message bounds when the primary's commits ended."""
        try:
            row = self._scalar(self._cfg.replica_host, self.REPLICA_SQL) or "- - - -"
            lsn, replayed, status, heard = row.split(" ")
            stream = (status == "streaming", None if heard == "-" else float(heard))
            return (
                None if lsn == "-" else pg.parse_lsn(lsn),
                None if replayed == "-" else float(replayed),
                stream,
            )
        except (adapters.AwsError, pg.PgError, OSError, KeyError, ValueError) as e:
            log("warning", "wal_position_failed", host=self._cfg.replica_host, error=str(e))
            return None, None, None


class Monitor:
    """One run's collaborators: the adapters, the probe, the clock."""

    def __init__(self, cfg, aws, store, positions, *, check=probe.probe, clock=time.time, sleep=time.sleep):
        self.cfg = cfg
        self.aws = aws
        self.store = store
        self.positions = positions
        self.check = check
        self.clock = clock
        self.sleep = sleep

    def _try(self, failed, name, call, *args):
        try:
            return call(*args)
        except adapters.AwsError as e:
            log("error", "aws_call_failed", operation=e.operation, error=str(e))
            failed.append(name)
            return None

    def observe(self, state, first):
        cfg = self.cfg
        now = self.clock()
        reachable = self.check(cfg.target.host, cfg.target.port, cfg.target.timeout) == probe.ACCEPTING
        primary_lsn = self.positions.primary() if reachable else None
        replica_lsn, replayed, stream = self.positions.replica()
        if not (first or not reachable or state["phase"] != fsm.HEALTHY):
            return fsm.Observation(now, reachable, primary_lsn, replica_lsn, stream=stream, replayed=replayed)
        failed = []
        replica = self._try(failed, "replica", self.aws.replica_state, cfg.replica_id)
        lag = self._try(failed, "lag", self.aws.replica_lag, cfg.replica_id)
        heartbeat = self._try(failed, "heartbeat", self.store.heartbeat)
        events = self._try(failed, "events", self.store.open_events) or ()
        fence = self._try(failed, "fence", self.store.fence) or {}
        authority_dr = bool(self._try(failed, "authority", self.store.authority_is_dr))
        receiving = stream[0] if stream is not None and not reachable else None
        # What the primary region says of itself: its guard's report and its observer's beat.
        report = self._try(failed, "guard", self.store.guard)
        alive = self._try(failed, "alive", self.store.alive)
        spoken = [t for t in (heartbeat, alive, report.at if report else None) if t is not None]
        return fsm.Observation(
            now,
            reachable,
            primary_lsn,
            replica_lsn,
            replica=replica,
            lag=lag,
            heartbeat_at=heartbeat,
            events=events,
            fence_confirmed="confirmed_at" in fence,
            failed=tuple(failed),
            authority_dr=authority_dr,
            promotion_at=fence.get("promotion_started_at"),
            receiving=receiving,
            spoke_at=max(spoken) if spoken else None,
            guard=(report.verdict, report.since, report.at, report.closed, report.next_by) if report else None,
            stream=stream,
            replayed=replayed,
        )

    def _page(self, subject, message):
        try:
            self.aws.notify(self.cfg.topic_arn, subject, message)
        except adapters.AwsError as e:
            log("error", "page_failed", subject=subject, error=str(e))

    def _start_workflow(self, reason):
        cfg = self.cfg
        payload = {"replica": cfg.replica_id, "reason": reason}
        try:
            name = "failover-" + uuid.uuid4().hex
            payload["execution"] = self.aws.start_failover(cfg.state_machine_arn, name, payload)
        except adapters.AwsError as e:
            if self._arc:
                self._page(
                    "drgen: failover workflow did not start",
                    f"The writer authority is recorded as DR, but the workflow that takes it in ARC, waits out "
                    f"the old primary's lease and promotes the replica did not start ({e}). Nothing is promoted "
                    "until it runs: start it by hand (see the RUNBOOK).",
                )
            else:
                self._page(
                    "drgen: failover workflow did not start",
                    f"The replica is promoted, but the workflow that fences the old primary did not start ({e}). "
                    "Start it by hand (see the RUNBOOK) and fence the old primary.",
                )
        return payload

    def _record_authority(self, state):
        """The authority, also where the observers read it (the global table); False when it
        could not be recorded (paged at most once per repage interval)."""
        try:
            self.store.set_authority(self.clock())
        except adapters.AwsError as e:
            now = self.clock()
            last = state["pages"].get("authority-unrecorded")
            if last is None or now - last >= self.cfg.rules.repage_seconds:
                state["pages"]["authority-unrecorded"] = now
                self._page("drgen: writer authority not recorded", f"Recording the writer authority failed ({e}).")
            return False
        return True

    @property
    def _arc(self):
        """The writer authority is in ARC: the workflow promotes, never the monitor."""
        return self.cfg.authority == "arc"

    def _lease_waited(self):
        """With the ARC authority: whether the workflow has taken it and the old primary's lease
        has been waited out since, so that a promotion call that RDS refused or lost may be made
        again. An unreadable record is a no."""
        try:
            switched = self.store.arc_switch()
        except adapters.AwsError as e:
            log("warning", "arc_switch_unreadable", error=str(e))
            return False
        return switched is not None and self.clock() >= switched + self.cfg.rules.authority_wait

    def _call_promote(self, state):
        """PromoteReadReplica. No answer (the call may have reached RDS) or a promotion already
        under way counts as started; a refusal pages, at most once per repage interval."""
        try:
            self.aws.promote(self.cfg.replica_id, self.cfg.backup_retention)
        except adapters.AwsError as e:
            if e.unreachable or "InvalidDBInstanceState" in str(e):
                log("warning", "promotion_call_unanswered", error=str(e))
                return
            last = state["pages"].get("promote-refused")
            now = self.clock()
            if last is None or now - last >= self.cfg.rules.repage_seconds:
                state["pages"]["promote-refused"] = now
                self._page(
                    "drgen: promotion call refused",
                    f"PromoteReadReplica was refused ({e}) after the writer authority was set to DR; the monitor "
                    "calls it again every minute. Writes are unavailable until it succeeds: fix the cause "
                    "(see the RUNBOOK).",
                )

    def _announce(self, subject, detail):
        try:
            self.aws.put_event(self.cfg.event_bus, subject, detail)
        except adapters.AwsError as e:
            log("error", "announce_failed", channel="events", error=str(e))
        self._page(subject, detail["reason"])

    def execute(self, before, result):
        """Carries out the step's actions; returns the state to keep."""
        cfg = self.cfg
        state = result.state
        for action in result.actions:
            log("info", "action", kind=action.kind, subject=action.subject)
            if action.kind == "page":
                self._page(action.subject, action.message)
            elif action.kind == "promote":
                # The authority first: RDS reports a promoting replica as a replica for minutes,
                # and the observers and every later run must already know. Without it, no call.
                if not self._record_authority(before):
                    return before
                self.publish(state, force=True)
                if not self._arc:
                    self._call_promote(state)
                self._announce(action.subject, self._start_workflow(action.message))
            elif action.kind == "promote_again":
                if self._arc and not self._lease_waited():
                    log("info", "promote_again_skipped", reason="authority = arc: not taken in ARC and waited out")
                else:
                    self._call_promote(state)
            elif action.kind == "start_workflow":
                self._record_authority(state)
                self._announce(action.subject, self._start_workflow(action.message))
            else:
                self._announce(action.subject, {"replica": cfg.replica_id, "reason": action.message})
        return state

    def publish(self, state, reachable=None, force=False):
        """The writer authority (WriterIsDr), and what this tick saw."""
        metrics = [("WriterIsDr", 1 if fsm.writer_is_dr(state) else 0, "None")]
        if not force:
            metrics.append(("Held", 1 if state["phase"] == fsm.HELD else 0, "None"))
            metrics.append(("PrimaryReachable", 1 if reachable else 0, "None"))
            # The old primary answers while the authority is DR: the split-brain detector.
            metrics.append(("SplitBrainRisk", 1 if reachable and fsm.writer_is_dr(state) else 0, "None"))
            risk = fsm.data_at_risk(state)
            if risk is not None:
                metrics.append(("DataAtRiskSeconds", risk, "Seconds"))
        try:
            self.aws.put_metrics(self.cfg.namespace, metrics, [])
        except adapters.AwsError as e:
            log("error", "publish_failed", error=str(e))

    def tick(self, state, first):
        obs = self.observe(state, first)
        result = fsm.step(state, obs, self.cfg.rules)
        log(
            "info",
            "tick",
            phase=result.state["phase"],
            sentence=result.sentence,
            reachable=obs.primary_reachable,
            held=result.state["held"],
            data_at_risk=fsm.data_at_risk(result.state),
        )
        state = self.execute(state, result)
        self.publish(state, obs.primary_reachable)
        self.store.save(state)
        return state

    def run(self, owner):
        """One scheduled run under the run lock: a tick every probe interval until `run_seconds`
        have passed. It ends by elapsed time, so that a slow tick (a probe timing out, slow
        calls) shortens the run instead of overrunning the schedule into the next one."""
        cfg = self.cfg
        began = self.clock()
        if not self.store.acquire(owner, began, cfg.run_seconds + 60):
            log("warning", "locked", reason="another monitor run holds the lock")
            return {"action": "skipped"}
        ticks = 0
        try:
            state = self.store.load() or fsm.initial_state()
            while True:
                start = self.clock()
                state = self.tick(state, first=ticks == 0)
                ticks += 1
                took = self.clock() - start
                if self.clock() + cfg.interval + took - began > cfg.run_seconds:
                    break
                self.sleep(cfg.interval)
        finally:
            self.store.release(owner)
        return {"action": "ran", "phase": state["phase"], "ticks": ticks}

    def promote_by_hand(self):
        """The manual failover: records the writer authority first (RDS reports a promoting replica
        as a replica for minutes, and the observers and the next run must already know), then calls
        PromoteReadReplica (a call that does not answer, or finds a promotion under way, counts as
        started), then starts the workflow that fences the old primary and moves the secret. The
        next scheduled run adopts the promotion from the recorded authority. With AUTHORITY=arc
        it does not call PromoteReadReplica: the workflow it starts promotes after the lease."""
        cfg = self.cfg
        owner = "manual-promote"
        if not self.store.acquire(owner, self.clock(), 60):
            return {
                "action": "refused",
                "reason": "a monitor run holds the run lock; invoke promote again within a minute",
            }
        try:
            state = self.store.load() or fsm.initial_state()
            if fsm.writer_is_dr(state) or self.store.authority_is_dr():
                return {"action": "already", "reason": "the writer authority already says DR"}
            self.store.set_authority(self.clock())
            try:
                self.aws.put_metrics(cfg.namespace, [("WriterIsDr", 1, "None")], [])
            except adapters.AwsError as e:
                log("error", "publish_failed", error=str(e))
            if self._arc:
                self._announce("drgen: failover started by hand", self._start_workflow("manual failover"))
                return {"action": "workflow started", "replica": cfg.replica_id, "authority": "arc"}
            try:
                self.aws.promote(cfg.replica_id, cfg.backup_retention)
            except adapters.AwsError as e:
                if not (e.unreachable or "InvalidDBInstanceState" in str(e)):
                    self._page(
                        "drgen: promotion call refused",
                        f"PromoteReadReplica was refused ({e}) after the writer authority was set to DR. Fix the "
                        "cause and invoke promote again, or reset the authority if the failover is abandoned.",
                    )
                    return {"action": "promotion refused", "error": str(e)}
            self._announce("drgen: failover started by hand", self._start_workflow("manual failover"))
        finally:
            self.store.release(owner)
        return {"action": "promoted", "replica": cfg.replica_id}

    def reset_authority(self):
        """Failback: back to "primary", allowed only once the DR instance is a replica again. Ends
        the promotion with its fence record, so that the next failover fences (and reboots) the old
        primary again and waits for its own confirmation."""
        replica = self.aws.replica_state(self.cfg.replica_id)
        if not replica.is_replica:
            return {"action": "refused", "reason": "the DR instance is not a replica; re-create it first"}
        # Under the run lock: a scheduled run saves its state after every tick and would put
        # back the phase this reset clears.
        owner = "reset-authority"
        if not self.store.acquire(owner, self.clock(), 60):
            return {
                "action": "refused",
                "reason": "a monitor run holds the run lock; invoke reset-authority again within a minute",
            }
        try:
            state = fsm.initial_state()
            self.store.clear_authority()
            self.store.save(state)
            self.publish(state, reachable=True)
        finally:
            self.store.release(owner)
        return {"action": "reset", "phase": state["phase"]}


def serve(monitor, event, request_id):
    """One invocation: a scheduled run, {"command": "promote"} (the manual failover), or
    {"command": "reset-authority"} during failback. A run that fails (the state table, the run
    lock) raises: the function's Errors alarm pages once when failures start, not every run."""
    command = (event or {}).get("command")
    if command == "reset-authority":
        return monitor.reset_authority()
    if command == "promote":
        return monitor.promote_by_hand()
    try:
        return monitor.run(request_id)
    except adapters.AwsError as e:
        log("error", "run_failed", error=str(e))
        raise


def handler(event, context):
    """Lambda entry point."""
    cfg = config.monitor_config(os.environ)
    aws = adapters.Aws()
    monitor = Monitor(cfg, aws, adapters.Store(aws, cfg.table), Positions(aws, cfg))
    return serve(monitor, event, getattr(context, "aws_request_id", "manual"))
