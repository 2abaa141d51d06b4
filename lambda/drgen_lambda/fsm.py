"""The failover decision as a state machine: (persisted state, observation) -> (new state, actions).

Nothing here calls AWS or PostgreSQL. The monitor feeds it one observation per tick and carries
out the actions it returns; the unit tests and the failover drill feed it the same way. Every
transition is one row of TRANSITIONS: the phase it leaves, the phase it enters, the sentence it
logs, the condition that selects it and the function that makes its actions. The first row whose
phase matches and whose condition holds is taken. The RUNBOOK's state diagram is generated from
this table (`python3 -m drgen_lambda.fsm`).

Phases:
  healthy      the DR side reaches the primary; the writer authority says "primary".
  unreachable  the DR side has not reached the primary since `since`; the confirm window runs.
               It starts again when observation has a hole (a run skipped or late), when an
               in-region recovery closes or expires, and it ends only after the primary accepts
               several probes in a row.
  held         the confirm window has passed, but a gate refuses automatic promotion; paged.
  promoting    the writer authority says "DR" (recorded before PromoteReadReplica is called, here
               or by the monitor's promote command) for good; RDS may report a replica for minutes.
  fenced       the old primary is fenced and its connections have dropped.
"""

from collections.abc import Sequence
from typing import Callable, NamedTuple, Optional

HEALTHY = "healthy"
UNREACHABLE = "unreachable"
HELD = "held"
PROMOTING = "promoting"
FENCED = "fenced"
PHASES = (HEALTHY, UNREACHABLE, HELD, PROMOTING, FENCED)

# RDS events of the primary that open an in-region recovery, and the events that close each.
# From the RDS event list (Amazon RDS User Guide, "Amazon RDS event categories and event messages").
RECOVERY_EVENTS = {
    "RDS-EVENT-0013": ("multi-az-failover", ("RDS-EVENT-0015", "RDS-EVENT-0049")),
    "RDS-EVENT-0050": ("multi-az-activation", ("RDS-EVENT-0051",)),
    "RDS-EVENT-0004": ("shutdown", ("RDS-EVENT-0006",)),
    "RDS-EVENT-0026": ("offline-maintenance", ("RDS-EVENT-0027",)),
    "RDS-EVENT-0267": ("engine-upgrade", ("RDS-EVENT-0268",)),
}
CLOSING_EVENTS = {end: kind for kind, ends in RECOVERY_EVENTS.values() for end in ends}


class Rules(NamedTuple):
    """The decision's numbers, from the rendered configuration."""

    confirm_seconds: float
    lag_threshold: float
    lag_max_age: float
    max_data_loss: float
    event_expiry: float
    automatic: bool
    dry_run: bool
    repage_seconds: float
    manual_command: str
    # The longest pause between two observations that still counts as continuous: the gap
    # between one scheduled run's last tick and the next run's first, with slack. A longer
    # hole (a run skipped or late) starts the confirm window again.
    max_gap: float = 60.0
    # The primary region is silent when it has not spoken (its guard's report, its observer's
    # beat, the heartbeat) for this long; None when it has no guard (one path: the window).
    silence_seconds: Optional[float] = None
    # The longest a primary region whose guard works goes between two reports the DR side can
    # read: a region whose last word came longer than this before the DR side last reached the
    # primary went mute first. None: the silence window.
    guard_gap: Optional[float] = None
    # A promotion that has not made the instance a standalone writer by then pages, and again
    # every repage interval (the state machine's own bound, src/render/stepfunctions.rs).
    promotion_bound: float = 1800.0
    # The DR side's own window on the short path, and the long path's wait for the guard's own
    # window past the DR side's, and how long a streaming receiver may hear nothing before it is
    # quiet (SHORT_CONFIRM, GUARD_WAIT and STREAM_QUIET below; the drill scales them).
    short_confirm: float = 50.0
    guard_wait: float = 60.0
    stream_quiet: float = 10.0
    # With the ARC authority, the workflow promotes only this long after the promotion began (it
    # takes the authority, then waits out the old primary's lease): the fence and the call's
    # progress are judged from then. 0 with the table authority.
    authority_wait: float = 0.0


class Replica(NamedTuple):
    status: str
    is_replica: bool


class Lag(NamedTuple):
    """The newest ReplicaLag datapoint: its value and how old it is, in seconds."""

    value: float
    age: float


class Observation(NamedTuple):
    """What one tick saw. None means "not observed" (not asked, or the call failed)."""

    now: float
    primary_reachable: bool
    primary_lsn: Optional[int] = None
    replica_lsn: Optional[int] = None
    replica: Optional[Replica] = None
    lag: Optional[Lag] = None
    heartbeat_at: Optional[float] = None
    events: Sequence = ()
    fence_confirmed: bool = False
    failed: Sequence = ()
    # The writer authority recorded in the state table says DR: a promotion has started, even
    # while RDS still reports the instance as a replica (the authority is recorded first).
    authority_dr: bool = False
    # The replica's WAL receiver is streaming from the primary (pg_stat_wal_receiver): the
    # primary is alive, whatever the DR side's probe says. None when not read.
    receiving: Optional[bool] = None
    # When the primary region last spoke (the newest of its guard's report, its observer's
    # `alive` beat and the heartbeat), and the guard's newest report: (verdict, since, at) and
    # optionally `closed`, the newest closing event of each recovery kind it read there.
    spoke_at: Optional[float] = None
    guard: Optional[tuple] = None
    # When the recorded promotion started (the writer authority's time), when one is recorded.
    promotion_at: Optional[float] = None
    # The replica's WAL receiver, read every tick: (streaming, when it last heard the primary),
    # None when not read. It bounds when the primary's commits ended (see `data_at_risk`).
    stream: Optional[tuple] = None
    # The primary's commit time of the newest transaction the replica replayed
    # (pg_last_xact_replay_timestamp): the replica has every commit up to then.
    replayed: Optional[float] = None


class Action(NamedTuple):
    """Something the monitor must do: page, promote, start_workflow or announce."""

    kind: str
    subject: str = ""
    message: str = ""


class Transition(NamedTuple):
    source: tuple
    target: str
    sentence: str
    when: Callable
    do: Callable


def initial_state():
    return {
        "phase": HEALTHY,
        "since": None,
        "last_seen": None,
        "samples": [],
        "caught_up_at": None,
        "last_sample": None,
        "held": None,
        "pages": {},
        "promoted_at": None,
        "expired": [],
        "last_tick": None,
        "accepting": 0,
        "resets": [],
        "open": [],
        "wal_failing_since": None,
        "last_alive": None,
        # The DR side's first failed probe after the primary last answered it (a hole or a
        # recovery's end does not move it).
        "lost_at": None,
        # Whether this spell has paged (a hole or an answer while held starts another).
        "spell_paged": False,
        # The page before the newest of each condition (see `_page`).
        "pages_before": {},
        # The replica's WAL receiver: the newest time it heard the primary, whether the newest
        # reading that found it streaming had heard it recently, and the first reading since
        # that found it stopped.
        "heard_at": None,
        "heard_fresh": False,
        "stream_stopped_at": None,
        # The guard's newest `unreachable` since.
        "next_by": None,
    }


# Accepting probes in a row that end an unreachable spell, and how many spells within the
# flapping window page "flapping".
RECOVER_PROBES = 3
FLAPS = 3
FLAP_WINDOW = 1800.0
# WAL positions unreadable this long while the primary answers pages.
WAL_FAILING_PAGE = 60.0
# The fence not confirmed this long after the promotion started pages "split-brain risk", and
# again every repage interval, whether the old primary is reachable or not.
FENCE_GRACE = 600.0
# A primary region that spoke later than this after the DR side lost the primary was up after the
# loss: its silence since is not the outage that took the primary (the writers' clocks may differ
# by a little).
SPOKE_AFTER_LOSS = 5.0
# The replica's receiver hears an active primary continuously: a streaming receiver that has
# heard nothing for this long is waiting on a primary that is idle, gone or cut off.
STREAM_QUIET = 10.0
# On the short path the region's silence is the evidence; the DR side's own probes must still
# have failed without a break for this long (several probes, not one lost packet).
SHORT_CONFIRM = 50.0
# On the long path the guard's own `unreachable` must have lasted the confirm window too. Its
# verdict may start a little later than the DR side's window; once it is later than this, the
# wait is a hold, paged, not a window that still runs.
GUARD_WAIT = 60.0


# --- data at risk -------------------------------------------------------------------------------


def _record_positions(state, obs, keep_seconds):
    """Keeps (time, primary WAL position) samples and when the replica last had everything the
    primary had reported: `caught_up_at`, the later of the newest sample its position reached and
    the newest commit it replayed. An unchanged position only moves its sample's time."""
    samples = [list(s) for s in state["samples"]]
    if obs.primary_lsn is not None:
        if samples and samples[-1][1] == obs.primary_lsn:
            samples[-1][0] = obs.now
        else:
            samples.append([obs.now, obs.primary_lsn])
        state["last_sample"] = obs.now
    reached = [t for t, lsn in samples if obs.replica_lsn is not None and lsn <= obs.replica_lsn]
    if obs.replayed is not None:
        reached.append(obs.replayed)
    if reached:
        state["caught_up_at"] = max(reached + [state["caught_up_at"] or reached[0]])
    cutoff = obs.now - keep_seconds
    state["samples"] = [s for s in samples if s[0] >= cutoff or s is samples[-1]]


def _record_stream(state, obs, rules):
    """Keeps what the replica's WAL receiver said (see `data_at_risk`)."""
    if obs.stream is None:
        return
    streaming, heard = obs.stream
    if streaming:
        if heard is not None:
            state["heard_at"] = max(heard, state["heard_at"] or heard)
        state["heard_fresh"] = heard is not None and obs.now - heard <= rules.stream_quiet
        state["stream_stopped_at"] = None
    elif state["stream_stopped_at"] is None:
        state["stream_stopped_at"] = obs.now


def data_at_risk(state) -> Optional[float]:
    """Seconds of the primary's commits the replica may lack: from the last time the replica had
    received every position the primary had reported, to the last moment the primary may have
    committed. None when not known.

    That moment is no earlier than the last sign of life: its last sample, the DR side's last
    successful probe, its own region's last heartbeat, its guard's last `reachable` and the
    replica's receiver's last message. What came after that sign, unseen, counts too, up to the
    first thing that bounds it:
      - the receiver found stopped, after it had last been found hearing the primary
        continuously: the stream carries every commit while the primary lives (only a full
        partition cuts it, and that is the documented limit);
      - a receiver last found streaming but quiet for STREAM_QUIET: no commit came after its
        last message, so the last sign of life already bounds it;
      - once the DR side has lost the primary, the guard's `unreachable` since: it saw the
        primary dead in its own region then. A report that did not come when due bounds
        nothing (a guard that broke or could not write leaves the same silence).
    Without any of these, the last sign of life is the end, if the DR side sampled the primary;
    without a sample either (the state item was lost), it is not known."""
    signs = [t for t in (state["last_sample"], state.get("last_alive"), state.get("heard_at")) if t is not None]
    if state["caught_up_at"] is None or not signs:
        return None
    alive = max(signs)
    bounds = []
    stopped = state.get("stream_stopped_at")
    if stopped is not None and state.get("heard_at") is not None:
        if not state.get("heard_fresh"):
            return max(0.0, alive - state["caught_up_at"])
        bounds.append(stopped)
    if state.get("accepting", 0) == 0 and state.get("next_by") is not None:
        bounds.append(state["next_by"])
    later = [b for b in bounds if b > alive]
    if not later and state["last_sample"] is None:
        return None
    end = min(later) if later else alive
    return max(0.0, end - state["caught_up_at"])


# --- gates --------------------------------------------------------------------------------------


class Gate(NamedTuple):
    """A reason not to promote; every one pages (see `_hold`)."""

    key: str
    message: str


def _open_events(obs, rules):
    """Forwarded recovery events still open: not expired, and not closed by a closing event that
    the guard read in the primary's own region (the forwarded one was lost or is late)."""
    closed = obs.guard[3] if obs.guard is not None and len(obs.guard) > 3 else {}
    return [(kind, at) for kind, at in obs.events if obs.now - at < rules.event_expiry and closed.get(kind, -1.0) < at]


def _gap(rules):
    return rules.silence_seconds if rules.guard_gap is None else rules.guard_gap


def _went_mute_first(state, obs, rules) -> bool:
    """The region's last word came longer before the DR side last reached the primary than its
    guard ever pauses between reports: it fell silent while the primary still answered. When the
    DR side did not watch between its last contact and its first failed probe for longer than a
    run's gap (runs failed or were skipped), the loss may have come late in that hole: the last
    word must then also be within the guard's pause and a run's gap of that first failure."""
    gap = _gap(rules)
    if state["last_seen"] is not None and obs.spoke_at < state["last_seen"] - gap:
        return True
    return state["lost_at"] is not None and obs.spoke_at < state["lost_at"] - gap - rules.max_gap


def _guard_current(obs, rules) -> bool:
    """The guard's report is its region's last word: no older than its longest pause before the
    region last spoke, and the region did not speak after the guard's next report was due (a
    guard that missed it while its region spoke has broken, and its last verdict is old news)."""
    if obs.guard is None or obs.guard[2] < obs.spoke_at - _gap(rules):
        return False
    due = obs.guard[4] if len(obs.guard) > 4 else None
    return due is None or obs.spoke_at <= due + SPOKE_AFTER_LOSS


def _spoke_after_loss(state, obs, rules) -> bool:
    """The region spoke after the DR side lost the primary, and its guard's last word then did
    not confirm the loss: it was up after the loss without saying what the loss was (its guard
    broken or unable to read RDS), so its silence since is not the outage that took the primary.
    A guard's `unreachable` (no recovery closed since) confirms it: the region's outage,
    staggered, or a crash, both for the short path; so does its `reachable` once the replica's
    stream has stopped too (the network went first, then the region)."""
    if state["lost_at"] is None or obs.spoke_at <= state["lost_at"] + SPOKE_AFTER_LOSS:
        return False
    last = obs.guard[0] if _guard_current(obs, rules) else None
    if last == "reachable":
        # The primary answered in its region after the DR side lost it: the peering cut first.
        # Since then the replica's stream, over RDS's own path, has stopped: the primary went
        # down with its region (a staggered outage), not behind a partition.
        return obs.receiving is not False
    # An `unreachable` after a recovery that closed since the loss is the recovered primary's
    # name not yet answering (its DNS tail), not a confirmation.
    closed = obs.guard[3] if last == "unreachable" and len(obs.guard) > 3 else {}
    return last != "unreachable" or any(at >= state["lost_at"] - SPOKE_AFTER_LOSS for at in closed.values())


def silent(state, obs, rules) -> bool:
    """The primary region has fallen silent: it has a guard, has spoken before, and has said
    nothing (guard, observer beat, heartbeat) for the silence window; it fell silent with the
    primary, no longer before the DR side last reached it than its guard's longest pause; and
    its guard's last word was not a recovery under way. A regional outage takes the database
    and the region's speakers down together; a region that went mute while its primary still
    answered (its table copy impaired, its functions throttled) is not an outage, and a primary
    lost later in it is held."""
    if rules.silence_seconds is None or obs.spoke_at is None:
        return False
    if _went_mute_first(state, obs, rules) or _spoke_after_loss(state, obs, rules):
        return False
    if obs.guard is not None and obs.guard[0] == "recovering" and obs.guard[2] >= obs.spoke_at - rules.silence_seconds:
        # Its last word (not a report its broken guard left long before) was a recovery under
        # way: silence after that is as likely its speakers failing during the recovery as an
        # outage. The long path, which holds and pages.
        return False
    return obs.now - obs.spoke_at >= rules.silence_seconds


def _mute(state, obs, rules) -> Optional[str]:
    """Why a primary region silent for the silence window is not silent as an outage is (see
    `silent`), or None when it speaks. Called only off the short path."""
    if rules.silence_seconds is None or obs.spoke_at is None or obs.now - obs.spoke_at < rules.silence_seconds:
        return None
    if _spoke_after_loss(state, obs, rules):
        return "it still spoke after the DR side lost the primary, so it was up then"
    if obs.guard is not None and obs.guard[0] == "recovering" and obs.guard[2] >= obs.spoke_at - rules.silence_seconds:
        return "its guard's last word was a recovery under way"
    return "it fell silent before the DR side lost the primary"


def _guard_says(obs, rules):
    """The guard's verdict while its report is fresh (younger than the silence window), with its
    `since`; ("stale", None) when the region speaks but its guard does not; None without a
    guard."""
    if rules.silence_seconds is None or obs.spoke_at is None:
        return None
    if obs.guard is None or obs.now - obs.guard[2] >= rules.silence_seconds:
        return ("stale", None)
    return obs.guard[0], obs.guard[1]


def window(state, obs, rules) -> float:
    """The DR side's confirm window of this tick: the short path's while the primary region is
    silent (its silence is the evidence, counted from its last word), the long path's otherwise."""
    return rules.short_confirm if silent(state, obs, rules) else rules.confirm_seconds


def gate(state, obs, rules) -> Optional[Gate]:  # noqa: PLR0911, PLR0912 - one return per gate, in order
    """The first reason not to promote now, or None when every condition for promotion holds."""
    if obs.failed or obs.replica is None or obs.replica_lsn is None:
        what = ", ".join(obs.failed) or ("replica" if obs.replica is None else "the replica's WAL position")
        return Gate("cannot-decide", f"cannot decide: reading {what} failed; not promoting, retrying")
    if obs.receiving:
        return Gate(
            "partition",
            "partition: the replica still streams WAL from the primary while the DR side cannot reach it; "
            "not promoting",
        )
    short = silent(state, obs, rules)
    if short and obs.receiving is None:
        return Gate("cannot-decide", "cannot decide: the replica's WAL receiver could not be read; not promoting")
    mute = None if short else _mute(state, obs, rules)
    if mute is not None:
        return Gate(
            "mute",
            f"the primary's region has been silent for {obs.now - obs.spoke_at:.0f} s, but {mute}: from here that "
            "is its speakers failing (its table copy impaired, its functions throttled) as much as an outage; not "
            "promoting automatically. If its region is down (AWS Health Dashboard, its console), promote by hand: "
            + rules.manual_command,
        )
    says = None if short else _guard_says(obs, rules)
    if says is not None:
        verdict = says[0]
        if verdict == "reachable":
            return Gate(
                "partition",
                "partition: the primary's own region reaches it (its guard) while the DR side cannot; not promoting",
            )
        if verdict == "recovering":
            return Gate(
                "veto",
                "in-region recovery of the primary under way, as its own region's RDS reports it (its guard); "
                "not promoting. The confirm window starts again when it ends",
            )
        if verdict != "unreachable":
            return Gate(
                "guard",
                f"the primary's region speaks, but its guard's verdict is {verdict}: it cannot tell a recovery "
                f"from a failure; not promoting automatically. To promote by hand: {rules.manual_command}",
            )
        if obs.now - says[1] < rules.confirm_seconds:
            return Gate(
                "guard-window",
                f"the primary's own region has seen it unreachable for {obs.now - says[1]:.0f} s only (its guard), "
                f"less than the {rules.confirm_seconds:.0f} s confirm window; not promoting yet",
            )
    if not short and obs.heartbeat_at is not None and obs.now - obs.heartbeat_at < rules.confirm_seconds:
        age = obs.now - obs.heartbeat_at
        return Gate(
            "partition",
            f"partition: primary alive in its region (its observer reached it {age:.0f} s ago) "
            "while the DR side cannot reach it; not promoting",
        )
    opened = _open_events(obs, rules)
    if opened:
        kinds = ", ".join(sorted({k for k, _ in opened}))
        return Gate(
            "veto",
            f"in-region recovery of the primary in progress ({kinds}); not promoting. The confirm window "
            "starts again when it ends",
        )
    if not short:
        if obs.lag is None or obs.lag.age > rules.lag_max_age:
            seen = "missing" if obs.lag is None else f"stale ({obs.lag.age:.0f} s old)"
            return Gate("lag-unknown", f"replica lag unknown: the newest ReplicaLag datapoint is {seen}")
        if obs.lag.value <= rules.lag_threshold:
            return Gate(
                "lag-low",
                f"replica lag {obs.lag.value:.0f} s is within {rules.lag_threshold:.0f} s: replication is "
                "alive, so the primary may be too; not promoting",
            )
    risk = data_at_risk(state)
    if risk is None or risk > rules.max_data_loss:
        measured = "unknown" if risk is None else f"about {risk:.0f} s"
        return Gate(
            "rpo",
            f"RPO gate: commits at risk {measured}, budget {rules.max_data_loss:.0f} s; "
            f"not promoting automatically. To promote by hand: {rules.manual_command}",
        )
    if obs.replica.status != "available":
        return Gate("replica-busy", f"replica is {obs.replica.status}, not available; retrying")
    if not rules.automatic:
        return Gate("manual", f"manual mode: promotion needs a human. To promote: {rules.manual_command}")
    if rules.dry_run:
        return Gate("dry-run", "dry run: every condition holds, the monitor would promote now")
    return None


# --- conditions and effects ---------------------------------------------------------------------


def _standalone(state, obs, rules):
    return obs.authority_dr or (obs.replica is not None and not obs.replica.is_replica)


def _reachable(state, obs, rules):
    return obs.primary_reachable


def _back(state, obs, rules):
    """The primary has accepted enough probes in a row to end the unreachable spell."""
    return obs.primary_reachable and state["accepting"] >= RECOVER_PROBES


def _hole(state, obs, rules):
    """Observation paused longer than a scheduled run's gap: the spell was not watched."""
    last = state["last_tick"]
    return last is not None and obs.now - last > rules.max_gap


def _recovery_ended(state, obs, rules):
    """An in-region recovery that was open last tick has closed or expired since. While the
    guard's fresh verdict is `unreachable`, a forwarded recovery whose closing event the guard read
    before its verdict began does not count: the guard watched it end, and its window follows."""
    ended = set(state["open"]) - set(_open_keys(obs, rules))
    says = _guard_says(obs, rules)
    if says is not None and says[0] == "unreachable":
        closed = obs.guard[3] if len(obs.guard) > 3 else {}
        ended = {key for key in ended if not _watched_end(key, closed, says[1])}
    return bool(ended)


def _watched_end(key, closed, since):
    """A forwarded recovery whose closing event the guard read at or before its `unreachable`
    began: its window, counted from then, already follows the recovery's end."""
    kind = key.split("@", 1)[0]
    return kind in closed and closed[kind] <= since


def _confirming(state, obs, rules):
    """The window still runs: the DR side's, and on the long path the guard's own (its
    `unreachable` must have lasted the window too) for at most GUARD_WAIT more; after that the
    guard-window gate holds, paged."""
    spell = obs.now - state["since"]
    if spell < window(state, obs, rules):
        return True
    says = None if silent(state, obs, rules) else _guard_says(obs, rules)
    return (
        says is not None
        and says[0] == "unreachable"
        and obs.now - says[1] < rules.confirm_seconds
        and spell < rules.confirm_seconds + rules.guard_wait
    )


def _cleared(state, obs, rules):
    return gate(state, obs, rules) is None


def _always(state, obs, rules):
    return True


def _nothing(state, obs, rules):
    return []


def _page(state, obs, rules, *, key, subject, message, new_spell=False):
    """Pages once per condition, and again every `repage_seconds` while it lasts; for a new spell
    also sooner, as long as the condition has not paged twice within the repage interval."""
    last = state["pages"].get(key)
    if last is not None and obs.now - last < rules.repage_seconds:
        before = state["pages_before"].get(key)
        if not new_spell or (before is not None and obs.now - before < rules.repage_seconds):
            return []
    if last is not None:
        state["pages_before"][key] = last
    state["pages"][key] = obs.now
    return [Action("page", subject, message)]


def _healthy(state, obs, rules):
    """While the primary answers: pages when its WAL position cannot be read (the RPO gate is
    then blind)."""
    failing = state["wal_failing_since"]
    if failing is None or obs.now - failing < WAL_FAILING_PAGE:
        return []
    return _page(
        state,
        obs,
        rules,
        key="wal",
        subject="drgen: WAL positions unreadable",
        message=f"The primary answers, but its WAL position has not been readable for {obs.now - failing:.0f} s: "
        "commits at risk are unknown and automatic failover would be refused. Check the monitor's "
        "credentials and the database.",
    )


def _start_unreachable(state, obs, rules):
    state["since"] = obs.now
    state["spell_paged"] = False
    return []


def _restart(state, obs, rules):
    """The confirm window starts again: what was seen before cannot count as continuous."""
    state["since"] = obs.now
    return []


def _fresh_pages(state):
    """The paging of the spell starts again: a later failure must not hide behind a page about
    an earlier one. `_hold` pages the new spell's gate unless it paged twice within the repage
    interval, and then `flapping` (under the same rule) instead."""
    state["spell_paged"] = False


def _after_hole(state, obs, rules):
    """The window starts again, and so does the paging of a hold: in the hole the primary may
    have come back and gone again, unseen."""
    _restart(state, obs, rules)
    return _answered(state, obs, rules)


def _answered(state, obs, rules):
    """The primary answered while held, not yet enough to end the spell: if it fails again, that
    may be another failure, which pages (see `_fresh_pages`)."""
    _fresh_pages(state)
    return []


def _recovered(state, obs, rules):
    was_held = state["held"] is not None
    state["since"] = None
    state["held"] = None
    state["lost_at"] = None
    # The next spell pages afresh (see `_fresh_pages`).
    _fresh_pages(state)
    state["resets"] = [t for t in state["resets"] if obs.now - t < FLAP_WINDOW] + [obs.now]
    actions = []
    if was_held:
        actions.extend(
            _page(
                state,
                obs,
                rules,
                key="back",
                subject="drgen: primary reachable again",
                message="The primary is reachable from the DR side again.",
            )
        )
    if len(state["resets"]) >= FLAPS:
        actions.extend(
            _page(
                state,
                obs,
                rules,
                key="flapping",
                subject="drgen: primary flapping",
                message=f"The primary has been unreachable from the DR side and back {len(state['resets'])} times in "
                f"{FLAP_WINDOW:.0f} s: every return starts the confirm window again. Find the cause; the "
                "writer name moves with it.",
            )
        )
    return actions


def _hold(state, obs, rules):
    """Pages the gate that holds. A new spell pages its gate unless that already paged twice
    within the repage interval (spells coming and going), and then `primary flapping` under the
    same rule, so that every spell pages and no subject pages more than twice in the interval."""
    g = gate(state, obs, rules)
    state["held"] = g.key
    if g.key == "dry-run":
        actions = _page(
            state,
            obs,
            rules,
            key=g.key,
            subject="drgen failover dry run",
            message=g.message,
            new_spell=not state["spell_paged"],
        )
        return _or_flapping(state, obs, rules, actions, g)
    actions = _page(
        state,
        obs,
        rules,
        key=g.key,
        subject=f"drgen: failover held ({g.key})",
        message=g.message,
        new_spell=not state["spell_paged"],
    )
    return _or_flapping(state, obs, rules, actions, g)


def _or_flapping(state, obs, rules, actions, g):
    """The hold's page, or `primary flapping` when a new spell's hold is still throttled."""
    if not actions and not state["spell_paged"]:
        actions = _page(
            state,
            obs,
            rules,
            key="flapping",
            subject="drgen: primary flapping",
            message=f"The primary is unreachable from the DR side again, soon after an earlier spell; held: "
            f"{g.message}",
            new_spell=True,
        )
    if actions:
        state["spell_paged"] = True
    return actions


def _promote(state, obs, rules):
    state["promoted_at"] = obs.now
    state["held"] = None
    risk = data_at_risk(state)
    return [
        Action(
            "promote",
            "drgen failover started",
            f"The primary has been unreachable for {obs.now - state['since']:.0f} s"
            + (" and its region silent" if silent(state, obs, rules) else "")
            + f"; promoting the replica (commits at risk about {risk:.0f} s).",
        )
    ]


def _adopt(state, obs, rules):
    # From the recorded start, so that the fence's grace and the promotion's bound count from
    # when the promotion began, also after the saved state was lost.
    state["promoted_at"] = obs.now if obs.promotion_at is None else min(obs.now, obs.promotion_at)
    return [
        Action(
            "start_workflow",
            "drgen: replica promoted outside the monitor",
            "The writer authority says DR or the replica is standalone: a promotion has started; fencing the "
            "old primary.",
        )
    ]


def _promoting(state, obs, rules):
    """While the fence is not confirmed: pages "split-brain risk" (when the old primary answers,
    or once the fence is late, reachable or not); calls PromoteReadReplica again while RDS
    reports an available replica (a refused or lost call; RDS refuses a second call while a
    promotion is under way); pages while the promotion has not finished within its bound."""
    actions = []
    started = state["promoted_at"] if state["promoted_at"] is not None else obs.now
    if obs.primary_reachable:
        actions.extend(_split_brain(state, obs, rules))
    elif obs.now - started >= FENCE_GRACE + rules.authority_wait:
        actions.extend(_fence_late(state, obs, rules))
    return actions + _progress(state, obs, rules)


def _progress(state, obs, rules):
    """Until the DR instance is a standalone writer, promoting or fenced: PromoteReadReplica again
    while RDS reports an available replica, and a page once the promotion bound has passed."""
    actions = []
    started = state["promoted_at"] if state["promoted_at"] is not None else obs.now
    replica = obs.replica
    last_call = state["pages"].get("promote-call", started + rules.authority_wait)
    if replica is not None and replica.is_replica and replica.status == "available" and obs.now - last_call >= 60:
        state["pages"]["promote-call"] = obs.now
        # Once the old primary is confirmed fenced it takes no writes, whatever else it does.
        alive = _alive(obs, rules) if state["phase"] == PROMOTING else None
        if alive is None:
            actions.append(Action("promote_again"))
        else:
            # No call has been accepted yet and the old primary lives: calling again would make
            # two writers of what may have been a passing fault. A human decides.
            actions.extend(
                _page(
                    state,
                    obs,
                    rules,
                    key="promote-paused",
                    subject="drgen: promotion paused, old primary alive",
                    message=f"The writer authority says DR, but RDS still reports an available replica (no promotion "
                    f"call was accepted) and the old primary lives: {alive}. Not calling PromoteReadReplica again. "
                    "Keep the old primary (failback: reset the authority) or finish the failover by hand; see "
                    "the RUNBOOK.",
                )
            )
    writer = replica is not None and not replica.is_replica and replica.status == "available"
    if not writer and obs.now - started >= rules.promotion_bound:
        seen = (
            "unreadable"
            if replica is None
            else f"{replica.status}, {'a replica' if replica.is_replica else 'standalone'}"
        )
        actions.extend(
            _page(
                state,
                obs,
                rules,
                key="promotion-late",
                subject="drgen: promotion not complete",
                message=f"The promotion started {obs.now - started:.0f} s ago and the DR instance is not a writer "
                f"yet ({seen}). Writes are unavailable; see the RUNBOOK.",
            )
        )
    return actions


def _alive(obs, rules) -> Optional[str]:
    """What says the old primary lives this tick, or None: the DR side reaches it, the replica
    streams from it, its guard's fresh verdict reaches it, or its heartbeat is younger than the
    silence window (the confirm window without a guard): an older one is what a region that went
    down at once leaves behind."""
    if obs.primary_reachable:
        return "the DR side reaches it"
    if obs.receiving:
        return "the replica streams WAL from it"
    says = _guard_says(obs, rules)
    if says is not None and says[0] == "reachable":
        return "its own region's guard reaches it"
    fresh = rules.confirm_seconds if rules.silence_seconds is None else rules.silence_seconds
    if obs.heartbeat_at is not None and obs.now - obs.heartbeat_at < fresh:
        return f"its heartbeat is {obs.now - obs.heartbeat_at:.0f} s old"
    return None


def _split_brain_page(key, what):
    """The effect that pages "split-brain risk" (repeated every repage interval) about `what`."""

    def page(state, obs, rules):
        message = f"split-brain risk: {what}. Fence it now (see the RUNBOOK)."
        return _page(state, obs, rules, key=key, subject="drgen: split-brain risk", message=message)

    return page


_split_brain = _split_brain_page("split-brain", "old primary reachable and unfenced")
_fence_late = _split_brain_page(
    "fence-late", "the old primary is not confirmed fenced, reachable or not; it must not come back unfenced"
)
_fence_broken_page = _split_brain_page("fence-broken", "the fenced old primary accepts connections again")


def _fence_broken(state, obs, rules):
    return _fence_broken_page(state, obs, rules) + _progress(state, obs, rules)


def _fence_done(state, obs, rules):
    return [Action("announce", "drgen: old primary fenced", "The old primary is fenced and its connections dropped.")]


def _fence_confirmed(state, obs, rules):
    return obs.fence_confirmed


TRANSITIONS = (
    Transition(
        (HEALTHY, UNREACHABLE, HELD),
        PROMOTING,
        "the authority says DR or the replica is standalone: a promotion was started outside the monitor",
        _standalone,
        _adopt,
    ),
    Transition((HEALTHY,), HEALTHY, "the primary is reachable", _reachable, _healthy),
    Transition(
        (HEALTHY,),
        UNREACHABLE,
        "the primary is unreachable from the DR side; the confirm window starts",
        _always,
        _start_unreachable,
    ),
    Transition(
        (UNREACHABLE, HELD),
        HEALTHY,
        "the primary accepted several probes in a row; no promotion",
        _back,
        _recovered,
    ),
    # Before the rows for a primary that answers: a hole or a recovery's end seen on a tick
    # when the primary answers once must still start the window again, or a primary that
    # fails again on the next tick would be promoted on the old window.
    Transition(
        (UNREACHABLE, HELD),
        UNREACHABLE,
        "observation had a hole (a run skipped or late); the confirm window starts again, and a hold pages again",
        _hole,
        _after_hole,
    ),
    Transition(
        (UNREACHABLE, HELD),
        UNREACHABLE,
        "an in-region recovery closed or expired; the confirm window starts again",
        _recovery_ended,
        _restart,
    ),
    Transition(
        (UNREACHABLE,),
        UNREACHABLE,
        "the primary answered, not yet several probes in a row; the window keeps running",
        _reachable,
        _nothing,
    ),
    Transition(
        (HELD,),
        HELD,
        "the primary answered, not yet several probes in a row; still held, and a hold pages again",
        _reachable,
        _answered,
    ),
    Transition((UNREACHABLE,), UNREACHABLE, "the confirm window is still running", _confirming, _nothing),
    Transition(
        (UNREACHABLE, HELD),
        PROMOTING,
        "unreachable for the whole confirm window and every gate holds: promoting the replica",
        _cleared,
        _promote,
    ),
    Transition(
        (UNREACHABLE, HELD), HELD, "unreachable for the confirm window, but a gate refuses promotion", _always, _hold
    ),
    Transition(
        (PROMOTING,),
        FENCED,
        "the old primary is fenced and its connections have dropped",
        _fence_confirmed,
        _fence_done,
    ),
    Transition(
        (PROMOTING,),
        PROMOTING,
        "waiting for the promotion and the fence; split-brain risk paged while the old primary answers or the "
        "fence is late",
        _always,
        _promoting,
    ),
    Transition((FENCED,), FENCED, "split-brain risk: the fenced old primary is reachable", _reachable, _fence_broken),
    Transition((FENCED,), FENCED, "the old primary stays fenced", _always, _progress),
)


class Step(NamedTuple):
    state: dict
    actions: list
    sentence: str


def _open_keys(obs, rules):
    """The recoveries open this tick: forwarded events, and the guard's own "recovering", also
    once its report is stale (the region silent): nobody saw that recovery end, so its going
    stale does not start the window again."""
    keys = [f"{kind}@{at:.0f}" for kind, at in _open_events(obs, rules)]
    if rules.silence_seconds is not None and obs.guard is not None and obs.guard[0] == "recovering":
        keys.append(f"guard@{obs.guard[1]:.0f}")
    return sorted(keys)


def step(state, obs: Observation, rules: Rules) -> Step:
    """One tick: the new state, the actions to carry out, and the sentence to log."""
    state = dict(initial_state(), **state)
    state.update(
        pages=dict(state["pages"]),
        pages_before=dict(state["pages_before"]),
        expired=list(state["expired"]),
        resets=list(state["resets"]),
    )
    if not obs.primary_reachable and (state["accepting"] > 0 or state["lost_at"] is None):
        state["lost_at"] = obs.now
    if obs.primary_reachable:
        state["last_seen"] = obs.now
        state["accepting"] += 1
        if obs.primary_lsn is None:
            state["wal_failing_since"] = state["wal_failing_since"] or obs.now
        else:
            state["wal_failing_since"] = None
    else:
        state["accepting"] = 0
    # The guard's `reachable`: the primary accepted a session in its own region then.
    in_region = obs.guard[2] if obs.guard is not None and obs.guard[0] == "reachable" else None
    alive = [t for t in (state["last_alive"], state["last_seen"], obs.heartbeat_at, in_region) if t is not None]
    state["last_alive"] = max(alive) if alive else None
    _record_positions(state, obs, keep_seconds=2 * rules.max_data_loss + rules.confirm_seconds)
    _record_stream(state, obs, rules)
    if obs.guard is not None:
        # The guard's `unreachable` saw the primary dead in its own region since then. A missing
        # report bounds nothing: a guard that broke or could not write leaves the same silence.
        state["next_by"] = obs.guard[1] if obs.guard[0] == "unreachable" else None
    actions = _expiries(state, obs, rules)
    for row in TRANSITIONS:
        if state["phase"] in row.source and row.when(state, obs, rules):
            actions.extend(row.do(state, obs, rules))
            state["phase"] = row.target
            break
    else:  # pragma: no cover - every phase ends in _always
        raise AssertionError(f"no transition from {state['phase']}")
    state["last_tick"] = obs.now
    if obs.replica is not None:
        state["open"] = _open_keys(obs, rules)
    return Step(state, actions, row.sentence)


def _expiries(state, obs, rules):
    """Pages once for every recovery event left open past its expiry (its end event was lost)."""
    actions = []
    for kind, at in obs.events:
        key = f"{kind}@{at:.0f}"
        if obs.now - at >= rules.event_expiry and key not in state["expired"]:
            state["expired"].append(key)
            actions.append(
                Action(
                    "page",
                    "drgen: recovery event expired",
                    f"The primary's {kind} event has been open {obs.now - at:.0f} s without its end event; "
                    "it no longer vetoes promotion.",
                )
            )
    return actions


def writer_is_dr(state) -> bool:
    """What the monitor publishes as the writer authority."""
    return state["phase"] in (PROMOTING, FENCED)


def diagram():
    """The state diagram in Mermaid, generated from TRANSITIONS."""
    lines = ["stateDiagram-v2", f"    [*] --> {HEALTHY}"]
    for row in TRANSITIONS:
        for source in row.source:
            lines.append(f"    {source} --> {row.target}: {row.sentence}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # pragma: no cover - prints the diagram for the docs
    import sys

    sys.stdout.write(diagram())
