"""The primary-region lease keeper (`authority = arc`): the old primary fences itself.

The writer authority is in two ARC routing controls, "primary" and "dr"; the DR side's failover
workflow turns the primary's Off and the DR side's On in one transaction, then waits
LEASE_WAIT_SECONDS before it promotes. This function runs in the primary region, outside any VPC,
started by EventBridge every minute; one run ticks every TICK_SECONDS while a whole tick still
fits in RUN_SECONDS (as the guard's runs do). Each tick reads the DR control (and, when it is
Off, the primary's) and `step` decides:

- DR On: the DR side holds the authority. The primary is fenced (its security groups replaced
  by the deny-all group, then rebooted) and a page sent, once; it is never unfenced here.
- DR Off: a confirmation that the DR side has not taken the authority (`confirmed_at`). Both
  controls Off means they were never initialised: paged, not fenced.
- Unreadable (no endpoint answered, or one refused): once LEASE_SECONDS have passed since the
  last confirmation (or, with none known, since this run's first failed read), the primary is
  fenced: it can no longer learn that the DR side has not taken over.

`confirmed_at`, `fenced_at` and the page times persist in the failover state table's replica in
this region (item `lease`), so a run that starts late, or after missing runs, fences at once when
the lease ran out meanwhile. A failed write is logged; a failed read at run start means no
confirmation is known. Every AWS call is in an adapter; `step` is pure.

Re-arming after a fence is by hand (the RUNBOOK): restore the primary's security groups, set
the controls back, and delete the `lease` item's `fenced_at`.
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
    """The state a run starts from: the persisted record (confirmed_at, fenced_at, pages), or
    nothing known."""
    record = record or {}
    return {
        "confirmed_at": record.get("confirmed_at"),
        "fenced_at": record.get("fenced_at"),
        "pages": dict(record.get("pages", {})),
        "first_failure": None,
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
    fenced = state["fenced_at"] is not None
    actions = []
    if obs.dr == arc.ON:
        state["verdict"] = DR_HOLDS
        if not fenced:
            actions.append(
                Action(
                    "fence",
                    "drgen: primary fenced itself, ARC names DR",
                    "ARC's DR routing control is On: the DR side holds the writer authority. The primary "
                    "replaced its security groups with the deny-all group and rebooted.",
                )
            )
        return state, actions
    if obs.dr == arc.OFF:
        state["verdict"] = CONFIRMED
        state["confirmed_at"] = obs.now
        state["first_failure"] = None
        if fenced:
            actions += _page(
                state,
                obs.now,
                rules,
                key="self-fenced",
                subject="drgen: primary self-fenced, ARC names the primary",
                message="The primary fenced itself earlier and stays fenced, but ARC's DR routing control is Off: "
                "self-fenced; ARC names the primary; restore by hand (RUNBOOK).",
            )
        elif obs.primary == arc.OFF:
            actions += _page(
                state,
                obs.now,
                rules,
                key="uninitialised",
                subject="drgen: routing controls not initialised",
                message="Both ARC routing controls are Off: routing controls not initialised: set the primary's On. "
                "The primary is not fenced.",
            )
        return state, actions
    state["verdict"] = UNREADABLE
    if state["first_failure"] is None:
        state["first_failure"] = obs.now
    since = state["confirmed_at"] if state["confirmed_at"] is not None else state["first_failure"]
    if not fenced and obs.now - since >= rules.lease_seconds:
        actions.append(
            Action(
                "fence",
                "drgen: primary fenced itself, lease ran out",
                f"The primary could not read ARC for the lease time ({rules.lease_seconds:.0f} s since "
                f"{'the last confirmation' if state['confirmed_at'] is not None else 'its first failed read'}): "
                "it replaced its security groups with the deny-all group and rebooted.",
            )
        )
    return state, actions


def record_of(state):
    """What persists across runs."""
    return {"confirmed_at": state["confirmed_at"], "fenced_at": state["fenced_at"], "pages": state["pages"]}


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

    def _fence(self, state, action):
        """Deny-all group, then reboot (cutting the open sessions); `fenced_at` once both are
        done. It pages when this fence replaced the primary's groups, or when an earlier attempt
        paged its failure; a primary that has the deny-all group already (an earlier run fenced it
        and its record was lost, or its reboot failed) is rebooted again without a second page. A
        failure pages at most once per repage interval (the primary may be taking writes the DR
        side will not have), and the next tick tries again."""
        cfg = self.cfg
        try:
            instance = self.aws.instance(cfg.primary_id)
            groups = [g["VpcSecurityGroupId"] for g in instance.get("VpcSecurityGroups", [])]
            replaced = groups != [cfg.fence_group]
            if replaced:
                self.aws.fence(None, cfg.primary_id, cfg.fence_group, immediately=True)
            self.aws.reboot(None, cfg.primary_id)
        except adapters.AwsError as e:
            log("error", "fence_failed", operation=e.operation, error=str(e))
            for page in _page(
                state,
                self.clock(),
                Rules(cfg.lease_seconds),
                key="fence-failed",
                subject="drgen: primary NOT fenced: its region's RDS API failed",
                message=f"The primary must fence itself ({action.message}), but {e}. "
                "It may be taking writes that the DR side will not have: fence it by hand from wherever its "
                "region's API answers (RUNBOOK). The keeper tries again on every tick.",
            ):
                self._page(page.subject, page.message)
            return state
        failed_before = "fence-failed" in state["pages"]
        state = dict(state, fenced_at=self.clock())
        if replaced or failed_before:
            self._page(action.subject, action.message)
        return state

    def tick(self, state):
        obs = self.observe()
        new, actions = step(state, obs, Rules(self.cfg.lease_seconds))
        log("info", "lease", verdict=new["verdict"], dr=obs.dr, primary=obs.primary, confirmed_at=new["confirmed_at"])
        for action in actions:
            log("info", "action", kind=action.kind, subject=action.subject)
            if action.kind == "fence":
                new = self._fence(new, action)
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
        return {"ticks": len(verdicts), "verdicts": verdicts, "fenced": state["fenced_at"] is not None}


def handler(event, context):
    """Lambda entry point: a scheduled run."""
    cfg = config.lease_config(os.environ)
    aws = adapters.Aws(config=adapters.GUARD_CLIENT)
    return Keeper(cfg, aws, adapters.Store(aws, cfg.table), arc.Arc(aws, cfg.arc.endpoints)).run()
