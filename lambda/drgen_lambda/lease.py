"""The primary-region lease keeper (`authority = arc`): the old primary fences itself.

The writer authority is in two ARC routing controls, "primary" and "dr"; the DR side's failover
workflow turns the primary's Off and the DR side's On in one transaction, then waits
LEASE_WAIT_SECONDS before it promotes. This function runs in the primary region, outside any VPC,
started by EventBridge every minute; one run ticks every TICK_SECONDS while a whole tick still
fits in RUN_SECONDS (as the guard's runs do). Each tick reads the DR control (and, when it is
Off, the primary's) and `step` decides:

- DR On: the DR side holds the authority. The primary is fenced and a page sent; it is never
  unfenced here.
- DR Off: a confirmation that the DR side has not taken the authority (`confirmed_at`). Both
  controls Off means they were never initialised: paged, not fenced. A primary fenced earlier
  (by a lease that ran out, or before failback) is paged as self-fenced while it has the deny-all
  group; once a human has restored its groups (the RUNBOOK), the keeper is armed again.
- Unreadable (no endpoint answered, or one refused): once LEASE_SECONDS have passed since the
  last confirmation (or, with none, since the first failed read on record), the primary is
  fenced: it can no longer learn that the DR side has not taken over. With nothing on record
  (the record lost, unreadable, or its writes failing) it is fenced at once, as it is while a
  fence of its own is on record.

The fence is read from the instance on every tick it is wanted, so that nothing remembered can
disarm it: ModifyDBInstance to the deny-all group (without ApplyImmediately, which would also
apply the instance's pending modifications; the group change applies as soon as possible
regardless), then one reboot to cut the sessions that connection tracking keeps open, once the
group has applied: RDS has reported the instance `modifying` and then `available` again (it
refuses a reboot meanwhile), or, never seen `modifying`, FENCE_APPLY_SECONDS have passed. A
fence not complete FENCE_APPLY_SECONDS after its modification pages, as does a refused call
(both through the repage throttle).

`confirmed_at`, `unconfirmed_since`, the fence's times and the page times persist in the
failover state table's replica in this region (item `lease`), so a run that starts late, or
after missing runs, fences at once when the lease ran out meanwhile. A failed write is logged.
Every AWS call is in an adapter; `step` is pure.
"""

import os
import time
from typing import NamedTuple, Optional

from . import adapters, arc, config
from .logs import log

# A page of a lasting condition is repeated at most this often.
REPAGE_SECONDS = 900.0

CONFIRMED = "confirmed"
DR_HOLDS = "dr-holds"
UNREADABLE = "unreadable"


class Observation(NamedTuple):
    """One tick's reading: when it began, and each control's state ("On", "Off") or None when
    it could not be read."""

    now: float
    dr: Optional[str]
    primary: Optional[str] = None


class Rules(NamedTuple):
    lease_seconds: float
    repage_seconds: float = REPAGE_SECONDS


class Action(NamedTuple):
    """`fence` (its page says why) or `page`; `key` throttles a repeated page."""

    kind: str
    subject: str
    message: str
    key: str = ""


def initial_state(record=None):
    """The state a run starts from: the persisted record, or nothing known (none could be read,
    or none was written). With nothing known and ARC unreadable, nothing says that the lease
    still runs: a run's ticks cover less than a lease, so counting anew in every run would never
    let it run out."""
    record = record or {}
    return {
        "confirmed_at": record.get("confirmed_at"),
        "unconfirmed_since": record.get("unconfirmed_since"),
        "fence_started_at": record.get("fence_started_at"),
        "modifying_seen_at": record.get("modifying_seen_at"),
        "rebooted_at": record.get("rebooted_at"),
        "pages": dict(record.get("pages", {})),
        "verdict": None,
    }


def _page(state, now, rules, *, key, subject, message):
    last = state["pages"].get(key)
    if last is not None and now - last < rules.repage_seconds:
        return []
    state["pages"][key] = now
    return [Action("page", subject, message, key)]


def step(state, obs, rules):
    """(the new state, the actions) for one reading. Pure."""
    state = dict(state, pages=dict(state["pages"]))
    if obs.dr == arc.ON:
        state["verdict"] = DR_HOLDS
        return state, [
            Action(
                "fence",
                "drgen: primary fenced itself, ARC names DR",
                "ARC's DR routing control is On: the DR side holds the writer authority. The primary "
                "replaced its security groups with the deny-all group and reboots once the change has applied.",
            )
        ]
    if obs.dr == arc.OFF:
        state["verdict"] = CONFIRMED
        state["confirmed_at"] = obs.now
        state["unconfirmed_since"] = None
        if state["fence_started_at"] is not None:
            # Paged only while the instance still has the deny-all group (the keeper reads it).
            return state, [Action("self-fenced", "", "")]
        if obs.primary == arc.OFF:
            return state, _page(
                state,
                obs.now,
                rules,
                key="uninitialised",
                subject="drgen: routing controls not initialised",
                message="Both ARC routing controls are Off: routing controls not initialised: set the primary's On. "
                "The primary is not fenced.",
            )
        return state, []
    state["verdict"] = UNREADABLE
    known = state["confirmed_at"] is not None or state["unconfirmed_since"] is not None
    if state["unconfirmed_since"] is None:
        state["unconfirmed_since"] = obs.now
    if state["fence_started_at"] is not None:
        # A fence of its own is under way or done: it goes on until ARC can be read again.
        why = "and has fenced itself already"
        ran_out = True
    elif state["confirmed_at"] is not None:
        why = f"for the lease time ({rules.lease_seconds:.0f} s since the last confirmation)"
        ran_out = obs.now - state["confirmed_at"] >= rules.lease_seconds
    elif not known:
        why = (
            "and has no confirmation on record (its lease record unreadable, lost or never written), so the last "
            "confirmation is unknown"
        )
        ran_out = True
    else:
        why = f"for the lease time ({rules.lease_seconds:.0f} s since its first failed read)"
        ran_out = obs.now - state["unconfirmed_since"] >= rules.lease_seconds
    if not ran_out:
        return state, []
    return state, [
        Action(
            "fence",
            "drgen: primary fenced itself, lease ran out",
            f"The primary could not read ARC {why}: it replaced its security groups with the deny-all group and "
            "reboots once the change has applied.",
        )
    ]


def fence_complete(state):
    """This fence's reboot came after its modification."""
    started, rebooted = state["fence_started_at"], state["rebooted_at"]
    return started is not None and rebooted is not None and rebooted >= started


def record_of(state):
    """What persists across runs."""
    return {k: v for k, v in state.items() if k != "verdict"}


class Keeper:
    """One run's collaborators: the adapters, the clocks."""

    def __init__(self, cfg, aws, store, cluster, *, clock=time.time, monotonic=time.monotonic, sleep=time.sleep):
        self.cfg = cfg
        self.aws = aws
        self.store = store
        self.cluster = cluster
        self.clock = clock
        self.monotonic = monotonic
        self.sleep = sleep

    @property
    def tick_seconds(self):
        """The worst case of one tick, each call one attempt of at most GUARD_CALL_SECONDS: the DR
        control on every endpoint and the primary's on one, the fence (DescribeDBInstances,
        ModifyDBInstance, RebootDBInstance), the page and the record's write."""
        return (len(self.cfg.arc.endpoints) + 1 + 5) * adapters.GUARD_CALL_SECONDS

    def _read(self, control, attempts=None):
        try:
            return self.cluster.state(control, attempts)
        except adapters.AwsError as e:
            log("warning", "lease_read_failed", operation=e.operation, unreachable=e.unreachable, error=str(e))
            return None

    def observe(self):
        """The DR control, then, when it is Off, the primary's on the endpoint that answered."""
        now = self.clock()
        dr = self._read(self.cfg.arc.dr_control)
        primary = self._read(self.cfg.arc.primary_control, 1) if dr == arc.OFF else None
        return Observation(now, dr, primary)

    def _page(self, subject, message):
        try:
            self.aws.notify(self.cfg.topic_arn, subject, message)
        except adapters.AwsError as e:
            log("error", "page_failed", subject=subject, error=str(e))

    def _page_throttled(self, state, *, key, subject, message):
        """Pages unless the same page went out within the repage interval (`state`'s page times
        are updated in place)."""
        rules = Rules(self.cfg.lease_seconds)
        for page in _page(state, self.clock(), rules, key=key, subject=subject, message=message):
            self._page(page.subject, page.message)

    def _groups(self):
        instance = self.aws.instance(self.cfg.primary_id)
        return instance, [g["VpcSecurityGroupId"] for g in instance.get("VpcSecurityGroups", [])]

    def _fence(self, state, action):
        """One step of the fence (`_fence_step`); while it cannot go on, a page once the group
        was set longer than FENCE_APPLY_SECONDS ago. A primary that no longer exists takes no
        writes. A refused or failed call pages (the primary may be taking writes the DR side
        will not have) and the next tick tries again; a reboot refused for the instance's state
        waits, as RDS may be finishing a change (another run's, or the workflow's)."""
        cfg = self.cfg
        try:
            done, state, status = self._fence_step(state, action)
        except adapters.AwsError as e:
            if "DBInstanceNotFound" in str(e):
                log("info", "fence_instance_gone")
                now = self.clock()
                return dict(state, fence_started_at=state["fence_started_at"] or now, rebooted_at=now)
            if not (e.operation == "rds.reboot_db_instance" and "InvalidDBInstanceState" in str(e)):
                log("error", "fence_failed", operation=e.operation, error=str(e))
                self._page_throttled(
                    state,
                    key="fence-failed",
                    subject="drgen: primary NOT fenced: its region's RDS API failed",
                    message=f"The primary must fence itself ({action.message}), but {e}. "
                    "It may be taking writes that the DR side will not have: fence it by hand from wherever its "
                    "region's API answers (RUNBOOK). The keeper tries again on every tick.",
                )
                return state
            done, status = False, "refusing a reboot"
            if state["fence_started_at"] is None:  # found with the group, this fence unrecorded
                state = dict(state, fence_started_at=self.clock())
        if done:
            return state
        waited = self.clock() - state["fence_started_at"]
        log("info", "fence_waiting", status=status, waited=round(waited, 1))
        if waited >= cfg.fence_apply_seconds:
            self._page_throttled(
                state,
                key="fence-slow",
                subject="drgen: primary fence NOT complete",
                message=f"The primary's deny-all security group was set {waited:.0f} s ago, but RDS reports it "
                f"{status}: the reboot that cuts its open sessions waits for RDS to accept it, and sessions opened "
                "before the change may still commit. Reboot it by hand as soon as RDS allows (RUNBOOK).",
            )
        return state

    def _fence_step(self, state, action):
        """(done, the new state, the instance's status), from what RDS says of the instance now:
        the deny-all group when it has other groups and no change to it is under way (and the
        action's page), else one reboot of this fence once the group has applied. RDS lists the
        requested groups at once and may report the instance `available` for a few seconds
        before `modifying`, so the group counts as applied only once the instance was seen
        `modifying` since and is `available` (or `storage-optimization`) again, or, never seen
        `modifying`, FENCE_APPLY_SECONDS after the change; a restart counts only as well. A
        primary found with the deny-all group and no record of this fence (the record lost, or
        fenced by hand or by the DR side's workflow) is rebooted at once; a stopped one takes no
        writes."""
        cfg = self.cfg
        instance, groups = self._groups()
        status = instance.get("DBInstanceStatus")
        now = self.clock()
        if groups != [cfg.fence_group] and not (status == "modifying" and cfg.fence_group in groups):
            self.aws.fence(None, cfg.primary_id, cfg.fence_group)
            self._page(action.subject, action.message)
            return True, dict(state, fence_started_at=now, modifying_seen_at=None, rebooted_at=None), status
        if state["fence_started_at"] is None:
            # Found with the group and no record of this fence: when it was set is unknown, so
            # it counts as applied. Should the record stay unwritable, every run reboots it once,
            # so no session opened before the group applied outlives the next run.
            state = dict(state, fence_started_at=now, modifying_seen_at=now)
        if fence_complete(state):
            return True, state, status
        if status == "modifying" and state["modifying_seen_at"] is None:
            state = dict(state, modifying_seen_at=now)
        if status in ("stopped", "stopping"):
            log("info", "fence_instance_stopped", status=status)
            return True, dict(state, rebooted_at=now), status
        applied = state["modifying_seen_at"] is not None or now - state["fence_started_at"] >= cfg.fence_apply_seconds
        if applied and status in adapters.Aws.REBOOTABLE:
            self.aws.reboot(None, cfg.primary_id)
            return True, dict(state, rebooted_at=now), status
        if applied and status == "rebooting":
            # RDS refuses a modification while it reboots, so this restart began after the
            # deny-all group had applied (the DR side's workflow reboots too): it cuts the same
            # sessions.
            log("info", "fence_reboot_under_way")
            return True, dict(state, rebooted_at=now), status
        return False, state, status

    def _self_fenced(self, state):
        """ARC names the primary, and this keeper fenced it earlier: paged while the instance
        keeps the deny-all group; once a human has restored its groups (the RUNBOOK's failback),
        the fence's record is cleared and the keeper is armed again."""
        try:
            _, groups = self._groups()
        except adapters.AwsError as e:
            log("warning", "fence_unreadable", operation=e.operation, error=str(e))
            return state
        if self.cfg.fence_group not in groups:
            log("info", "lease_rearmed", groups=groups)
            return dict(state, fence_started_at=None, rebooted_at=None)
        self._page_throttled(
            state,
            key="self-fenced",
            subject="drgen: primary self-fenced, ARC names the primary",
            message="The primary fenced itself earlier and keeps the deny-all security group, but ARC's DR routing "
            "control is Off: self-fenced; ARC names the primary; restore it by hand (RUNBOOK).",
        )
        return state

    def tick(self, state):
        obs = self.observe()
        new, actions = step(state, obs, Rules(self.cfg.lease_seconds))
        log("info", "lease", verdict=new["verdict"], dr=obs.dr, primary=obs.primary, confirmed_at=new["confirmed_at"])
        for action in actions:
            log("info", "action", kind=action.kind, subject=action.subject)
            if action.kind == "fence":
                new = self._fence(new, action)
            elif action.kind == "self-fenced":
                new = self._self_fenced(new)
            else:
                self._page(action.subject, action.message)
        if record_of(new) != record_of(state) or new["verdict"] == CONFIRMED:
            try:
                self.store.keep_lease(record_of(new))
            except adapters.AwsError as e:
                log("error", "lease_record_failed", error=str(e))
        return new

    def _load(self):
        try:
            return initial_state(self.store.lease())
        except adapters.AwsError as e:
            log("warning", "lease_record_unreadable", error=str(e))
            return initial_state()

    def run(self):
        """One scheduled run: ticks every TICK_SECONDS while a whole tick still fits in
        RUN_SECONDS."""
        cfg = self.cfg
        started = self.monotonic()
        state = self.tick(self._load())
        verdicts = [state["verdict"]]
        while True:
            start_at = max(started + len(verdicts) * cfg.tick_seconds, self.monotonic())
            if start_at - started + self.tick_seconds > cfg.run_seconds:
                break
            self.sleep(max(0.0, start_at - self.monotonic()))
            state = self.tick(state)
            verdicts.append(state["verdict"])
        return {"ticks": len(verdicts), "verdicts": verdicts, "fenced": fence_complete(state)}


def handler(event, context):
    """Lambda entry point: a scheduled run."""
    cfg = config.lease_config(os.environ)
    aws = adapters.Aws(config=adapters.GUARD_CLIENT)
    return Keeper(cfg, aws, adapters.Store(aws, cfg.table), arc.Arc(aws, cfg.arc.endpoints)).run()
