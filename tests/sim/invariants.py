"""What must hold on every schedule. Each check reads the finished world's ground truth (the
schedule, the commits each database acknowledged, the calls that reached RDS, the pages) and
returns its violations as sentences; `limits` returns the documented limits a schedule hit,
which are counted, not failed.

I1 two writable databases: the old primary acknowledges a commit while the promoted replica is
   writable (outside a full inter-region partition: the documented limit).
I2 a promotion during an in-region recovery of a primary whose region is up, once the recovery
   could be known: the guard's next report after it began, or, while the region is mute, its
   forwarded event's delivery.
I3 loss above the RPO gate: an automatic promotion loses commits (acknowledged by the old
   primary, never received by the replica) spanning more than the gate's budget plus one
   sampling interval.
I4 a silent "no": the DR side cannot reach the primary for the confirm window and two schedule
   periods, and in that time nothing was promoted and nothing paged; or a promotion was called
   and the instance is not writable within the promotion bound, and nothing but the promotion's
   own announcement paged.
I5 too slow: in a clean regional outage (nothing else wrong) the promotion call comes later than
   explain's short-path bound (the region is silent), or the writer name moves later than its
   DNS bound.
I6 a page storm: one subject paged more than twice within the repage interval.
I7 an unfenced old primary, unpaged: a promotion was called and the fence is not confirmed
   within the fence grace and two schedule periods, and no "split-brain risk" page came by then
   (or, while the monitor itself failed, its Errors alarm, whose RUNBOOK row sends on-call to the
   fence).
I8 a promotion of a primary that serves (unfenced) in its own region while only the VPC peering is
   cut (the heartbeat and the replica's own stream can tell that apart from an outage).
I9 the short path taken while the primary's region was up: a promotion less than the confirm
   window after the DR side lost the primary, while its region was up and its backbone whole
   (the guard failing, or the region gone mute before it lost its primary, must not read as a
   silent region).

With the ARC authority (`failover.authority = "arc"`), besides, and with no exception for full
partitions:

I1 also: the old primary acknowledges a commit later than the DR side's switch of the routing
   controls plus the lease wait that explain states (the old primary must have fenced itself by
   then); and no promotion is called before the routing controls were switched.
   The switch is the decision: I2, I8 and I9 judge it, not the promotion call after the wait.
   Counted as a limit instead: the primary region's RDS API down, or its functions throttled,
   while the old primary must fence itself (`arc-fence-blocked`: the keeper cannot).
I10 a needless self-fence: the lease keeper fenced its primary while the DR routing control was
   Off, although for the whole lease before it the primary region was up, its functions ran and
   ARC answered there (a DR-region outage must not fence the primary).

Counted as limits, not failed: a full inter-region partition (the default authority cannot tell
it from an outage), and a region that went mute (its table copy impaired, its functions
throttled) less than its guard's longest pause (explain's guard_gap_seconds) before the DR side
last reached its primary, or later, or during a recovery whose forwarded event was lost or late:
from the DR side that is what a regional outage looks like.
"""

import bisect

from faults import RECOVERY as RECOVERY_KINDS

RECOVER_PROBES = 3  # fsm.RECOVER_PROBES: accepting probes in a row that end an unreachable spell
PROMOTION_BOUND = 1800.0  # the state machine pages a promotion that has not finished by then
SILENCE = 75.0  # explain's silence_seconds for the default model
# The guard's notice of a recovery on the DR side, worst case: the gap between two of its runs
# (a run's last tick at 39 s, the next run up to 20 s late), its tick (the probe, two reads and
# the write: 11 s), the table's replication (3 s), the monitor's next probe (5 s).
GUARD_NOTICE = (60.0 - 39.0 + 20.0) + 11.0 + 3.0 + 5.0
MUTE = ("primary-table-impaired", "primary-functions-throttled")
# After an outage the region speaks again within its guard's next run (a minute, 20 s late) and
# the replication of its report.
REGION_BACK = 60.0 + 20.0 + 15.0
FENCE_GRACE = 600.0  # fsm.FENCE_GRACE: the monitor pages an unconfirmed fence after it
# Whether the primary region speaks for itself (its guard); without it a late or lost recovery
# event is the documented limit of a confirm window that a long recovery outlasts.
GUARDED = True


def promotion_call(w):
    """When the first PromoteReadReplica that RDS accepted was called (its answer may have been lost)."""
    return next((t for t, outcome in w.promote_calls if outcome == "accepted"), None)


def decided(w):
    """When the failover became irrevocable: the promotion call; with the ARC authority, the
    switch of the routing controls, after which the old primary fences itself (the call follows
    the lease wait)."""
    if w.arc_mode:
        return w.arc_switched_at
    return promotion_call(w)


def full_partition_overlaps(w, start, end):
    return any(f.kind == "full-partition" and f.start < end and start < f.end for f in w.schedule.faults)


def i1_two_writers(w):
    found = _i1_arc(w) if w.arc_mode else []
    p = w.promote_called_at
    if p is None:
        return found
    writable_from = p + w.p["promotion_seconds"]
    late = [t for t in w.primary.commits if t >= writable_from]
    if not late or (not w.arc_mode and full_partition_overlaps(w, p, late[-1] + 1)):
        return found
    if w.arc_mode:
        late = _unexcused(w, late)
        if not late:
            return found
    return found + [
        f"I1: the old primary acknowledged {len(late)} commits while the promoted replica was writable "
        f"(from {late[0]:.0f} s to {late[-1]:.0f} s; writable from {writable_from:.0f} s)"
    ]


BLOCKING = ("primary-api-down", "primary-functions-throttled")


def _blocked_until(w):
    """With the ARC authority: until when a blocked lease keeper excuses the old primary's
    commits, or None. A block (its region's RDS API down, its functions throttled) counts when it
    begins before the keeper's time to fence has run out (the switch plus the lease wait, or the
    end of an earlier block plus the lease wait) and excuses the commits until its own end plus
    the lease wait. A lease without a watchdog on the database's host cannot do better (a limit,
    counted); commits beyond that are a violation."""
    switch = w.arc_switched_at
    if switch is None:
        return None
    wait = float(w.e["authority"]["lease_wait_seconds"])
    until = None
    for f in sorted((f for f in w.schedule.faults if f.kind in BLOCKING), key=lambda f: f.start):
        if f.end > switch and f.start < (switch + wait if until is None else until):
            until = max(until or 0.0, f.end + wait)
    return until


def _unexcused(w, commits):
    until = _blocked_until(w)
    return commits if until is None else [t for t in commits if t > until]


def _i1_arc(w):
    found = []
    called = promotion_call(w)
    if called is not None and (w.arc_switched_at is None or w.arc_switched_at > called):
        found.append(f"I1: promoted at {called:.0f} s before the DR side took the authority in ARC")
    if w.arc_switched_at is not None:
        bound = w.arc_switched_at + float(w.e["authority"]["lease_wait_seconds"])
        late = _unexcused(w, [t for t in w.primary.commits if t > bound])
        if late:
            found.append(
                f"I1: the old primary acknowledged {len(late)} commits after the ARC authority switched at "
                f"{w.arc_switched_at:.0f} s plus the lease wait (from {late[0]:.0f} s to {late[-1]:.0f} s)"
            )
    return found


def i10_needless_self_fence(w):
    if not w.arc_mode:
        return []
    lease = float(w.e["authority"]["lease_seconds"])
    found = []
    for t, why in w.self_fences:
        if w.arc_switched_at is not None and w.arc_switched_at <= t:
            continue
        if all(_primary_keeper_could_read(w, t - lease + k) for k in range(int(lease) + 1)):
            found.append(f"I10: the primary fenced itself at {t:.0f} s ({why}) while ARC answered its region")
    return found


def _primary_keeper_could_read(w, u):
    """Ground truth at u: the primary region up, its functions running and ARC answering there."""
    s = w.schedule

    def on(kind):
        return any(f.kind == kind and f.start <= u < f.end for f in s.faults)

    return not (on("region-outage") or on("primary-functions-throttled") or on("arc-lost") or on("arc-cut-primary"))


def _recovery_at(w, t):
    return next(
        (f for f in w.schedule.faults if f.kind in RECOVERY_KINDS and f.start <= t < f.end + w.p["dns_tail"]), None
    )


def _mute_recovery(w, recovery, p):
    """The region went mute from the silence window before the recovery began until before its
    guard could report it (a guard that said `recovering` last keeps the short path shut), and
    the DR side had no open forwarded event at `p` (lost, not there yet, or closed already, by
    its own closing event or by the guard's reading of it)."""
    fate = w.p["event_fate"]
    delay = w.p["event_delay"]
    opened = fate != "lost" and recovery.start + delay <= p
    forwarded_close = (
        fate != "lost" and not w.p.get("close_lost") and recovery.end + delay * w.p.get("close_delay_factor", 1.0) <= p
    )
    # RDS ended it (the primary answering up to dns_tail later): the guard's reading of the
    # closing event ends the forwarded opening event too.
    closed = forwarded_close or recovery.end + GUARD_NOTICE <= p
    unheard = not opened or closed
    contact = _last_contact(w, recovery.start + 1.0)
    early = _watched(w, contact, recovery.start) and any(
        f.kind in MUTE
        and _mute_begins(w, f) >= contact - _guard_gap(w)
        and f.start < recovery.start + GUARD_NOTICE
        and f.end > p - SILENCE
        for f in w.schedule.faults
    )
    return unheard and early


def i2_promotion_in_recovery(w):
    p = decided(w)
    if p is None:
        return []
    recovery = _recovery_at(w, p)
    if recovery is None:
        return []
    # An outage of the region (or a full partition) at the call, or so shortly before it that
    # the region could not have spoken again: its guard's next run and its report's replication.
    outage = any(
        f.kind in ("region-outage", "full-partition") and f.start <= p < f.end + REGION_BACK for f in w.schedule.faults
    )
    if outage:
        return []
    # A recovery that began less than its notice before the call could not be known yet: the
    # guard's worst-case report, or the forwarded event's delivery when that comes first.
    notice = GUARD_NOTICE
    if w.p["event_fate"] != "lost":
        notice = min(notice, w.p["event_delay"] + float(w.d["probe_interval_seconds"]))
    if p - recovery.start < notice:
        return []
    if not GUARDED or _mute_recovery(w, recovery, p):
        return []  # a limit: see limits()
    return [f"I2: promoted at {p:.0f} s during an in-region recovery of the primary, its region up"]


def i3_loss(w):
    p = w.promote_called_at
    if p is None or not w.rules.automatic:
        return []
    lost = [t for t in w.primary.commits if t > w.received]
    if not lost:
        return []
    span = lost[-1] - w.received
    budget = w.rules.max_data_loss + float(w.d["probe_interval_seconds"])
    # A full partition in the window that led to the decision (with ARC, to the switch, which
    # comes a lease wait before the call) is the documented limit; so is, with ARC, a keeper
    # that could not fence (counted as `arc-fence-blocked`).
    decision = decided(w) or p
    if span <= budget or full_partition_overlaps(w, decision - w.rules.confirm_seconds, lost[-1] + 1):
        return []
    if w.arc_mode:
        lost = _unexcused(w, lost)
        if not lost:
            return []
        span = lost[-1] - w.received
    return [f"I3: {len(lost)} commits lost spanning {span:.0f} s, above the {budget:.0f} s the gate allows"]


def _unreachable_spans(w):
    """Ground truth: spans in which no session from the DR side could reach the primary."""
    if getattr(w, "unreachable_spans", None) is None:
        w.unreachable_spans = _walk_unreachable(w)
    return w.unreachable_spans


def _walk_unreachable(w):
    spans, start = [], None
    step = 1.0
    t = 0.0
    while t < w.schedule.horizon:
        down = _dr_cannot_reach(w, t)
        if down and start is None:
            start = t
        elif not down and start is not None:
            spans.append((start, t))
            start = None
        t += step
    if start is not None:
        spans.append((start, w.schedule.horizon))
    return spans


def _dr_cannot_reach(w, t):
    s = w.schedule
    region = any(f.kind == "region-outage" and f.start <= t < f.end for f in s.faults)
    path = any(f.kind in ("peering-partition", "full-partition") and f.start <= t < f.end for f in s.faults)
    # A primary that fenced itself (the ARC authority's lease keeper) admits no session from then
    # on. The workflow's fence is not counted: it follows the decision to promote, whose own
    # pages and calls I4 judges from the spell that led to it.
    fenced = any(at <= t for at, _ in w.self_fences)
    # While the DR region is down there is no DR side to reach the primary, decide or page.
    if any(f.kind == "dr-region-outage" and f.start <= t < f.end for f in s.faults):
        return False
    return region or path or fenced or s.primary_down(t)


def _accepted_between(w, start, end):
    """The monitor's probes accepted between two unreachable spans ending at `start` and
    beginning at `end`. The spans are walked a second at a time, so their edges are a second
    wide: a probe sent in the last second before a span began may have failed, and counting the
    probes sent, not those accepted, once ended a spell the monitor rightly held for one."""
    step = 1.0  # _walk_unreachable's step
    low, high = start - step, end + step
    return bisect.bisect_left(w.monitor_reached, high) - bisect.bisect_left(w.monitor_reached, low)


def _spells_as_watched(w):
    """The unreachable spans, two of them joined when the primary answered between them fewer of
    the monitor's probes than end a spell (three in a row, the design's rule against flapping;
    between two runs the monitor is blind) and no run of it failed: to the monitor that is one
    spell, and a page in the first still stands. A failed run leaves a hole the monitor sees."""
    spells = []
    for b, e in _unreachable_spans(w):
        if spells:
            gap = (spells[-1][1], b)
            probed = _accepted_between(w, *gap) >= RECOVER_PROBES
            failed = any(gap[0] <= start < gap[1] and a.startswith("failed") for start, _, a in w.monitor_runs)
            if not (probed or failed):
                spells[-1] = (spells[-1][0], e)
                continue
        spells.append((b, e))
    return spells


# Pages that say nothing is wrong: they do not answer for a spell.
ALL_CLEAR = ("drgen: primary reachable again", "drgen: old primary fenced")


def i4_silent_no(w):
    found = []
    period = float(w.d["schedule_seconds"])
    grace = w.rules.confirm_seconds + 2 * period
    # A lost state item, and the end of an in-region recovery, start the window again.
    restarts = [f.start for f in w.schedule.faults if f.kind == "state-lost"]
    restarts += [f.end for f in w.schedule.faults if f.kind in RECOVERY_KINDS]
    for began, end in _spells_as_watched(w):
        start = max([began] + [t for t in restarts if began <= t < end])
        if end - start <= grace:
            continue
        if w.promote_called_at is not None and w.promote_called_at <= start + grace:
            continue
        # A page earlier in the same spell still stands (pages repeat every repage interval); the
        # spells are walked a second at a time, so a page in the second before counts too.
        if any(began - 1.0 <= t <= start + grace and subject not in ALL_CLEAR for t, _, subject, _ in w.pages):
            continue
        # Failed monitor runs keep the function's Errors alarm in ALARM: that is not silent.
        if any(began <= t <= start + grace and a.startswith("failed") for t, _, a in w.monitor_runs):
            continue
        found.append(f"I4: the primary unreachable from {start:.0f} s to {end:.0f} s, and nothing promoted or paged")
    called = promotion_call(w)
    if called is not None and not w.replica_writable():
        deadline = called + PROMOTION_BOUND + 2 * period
        announcements = ("drgen failover started", "drgen: replica promoted outside the monitor")
        paged = any(t >= called and subject not in announcements for t, _, subject, _ in w.pages)
        if w.schedule.horizon > deadline and not paged:
            found.append(f"I4: promoted at {called:.0f} s, never writable, and nothing paged")
    return found


def i5_timing(w):
    s = w.schedule
    if len(s.faults) != 1 or s.faults[0].kind != "region-outage":
        return []
    f = s.faults[0]
    rto = w.e["rto"]
    found = []
    # The whole region is silent: the short path's bound, which the model keeps within the RTO.
    bound = rto["short_path_seconds"]
    if f.end - f.start > bound + 10 and w.rules.automatic:
        called = promotion_call(w)
        if called is None or called - f.start > bound:
            took = "never" if called is None else f"after {called - f.start:.0f} s"
            found.append(f"I5: regional outage at {f.start:.0f} s, promotion called {took}, bound {bound} s")
    moved = next((t for t, a in w.dns_answers if a == "dr" and t >= f.start), None)
    dns_bound = rto["dns_reroute_seconds"]
    if f.end - f.start > dns_bound + 10 and (moved is None or moved - f.start > dns_bound):
        took = "never" if moved is None else f"after {moved - f.start:.0f} s"
        found.append(f"I5: regional outage at {f.start:.0f} s, writer name moved {took}, bound {dns_bound} s")
    return found


def i6_page_storm(w):
    found = []
    by_subject = {}
    # A lost state item forgets when each subject paged: pages before and after it are counted
    # apart.
    losses = sorted(f.start for f in w.schedule.faults if f.kind == "state-lost")
    for t, _, subject, _ in w.pages:
        by_subject.setdefault((subject, bisect.bisect_right(losses, t)), []).append(t)
    for (subject, _), times in by_subject.items():
        for i in range(len(times) - 2):
            if times[i + 2] - times[i] < w.rules.repage_seconds:
                found.append(f"I6: {subject!r} paged 3 times within {times[i + 2] - times[i]:.0f} s")
                break
    return found


def i7_fence_unpaged(w):
    called = decided(w)
    if called is None or promotion_call(w) is None:
        return []
    # With the ARC authority the monitor counts the fence's grace from its decision, plus the
    # lease wait before the promotion.
    wait = float(w.e["authority"]["lease_wait_seconds"]) if w.arc_mode else 0.0
    by = called + FENCE_GRACE + wait + 2 * float(w.d["schedule_seconds"])
    # A DR region that is down meanwhile runs no monitor to page.
    if any(f.kind == "dr-region-outage" and f.start < by and called < f.end for f in w.schedule.faults):
        return []
    if by > w.schedule.horizon:
        return []
    fenced = any(subject == "drgen: old primary fenced" and t <= by for t, _, subject, _ in w.pages)
    # The monitor's own page; or, while the monitor itself fails (and so watches no fence), its
    # Errors alarm, whose RUNBOOK row sends on-call to the fence.
    about_the_fence = ("drgen: split-brain risk", "ALARM: monitor-errors")
    paged = any(subject in about_the_fence and called <= t <= by for t, _, subject, _ in w.pages)
    if fenced or paged:
        return []
    return [f"I7: promoted at {called:.0f} s; the fence not confirmed by {by:.0f} s, and no split-brain page"]


def i8_partial_partition(w):
    called = decided(w)
    if called is None or not w.rules.automatic:
        return []
    s = w.schedule
    fenced = any(kind == "fence" and t <= called for t, kind in w.fence_calls)
    serving = (
        not fenced
        and not s.primary_down(called)
        # An outage of the region (or a full partition) at the decision, or so shortly before it
        # that the region could not have spoken again (its guard's next run, its report's
        # replication), as for I2.
        and not any(
            f.kind in ("region-outage", "full-partition") and f.start <= called < f.end + REGION_BACK for f in s.faults
        )
    )
    cut = any(f.kind == "peering-partition" and f.start <= called < f.end for f in s.faults)
    if not (serving and cut):
        return []
    return [f"I8: promoted at {called:.0f} s a primary serving in its own region (only the peering was cut)"]


def _short_path_in_up_region(w):
    """(lost, called) when the promotion came less than the confirm window after the DR side
    lost the primary while its region was up and its backbone whole; else None."""
    called = decided(w)
    if called is None:
        return None
    s = w.schedule
    # The region cannot speak: gone or cut off.
    region_gone = any(
        f.kind in ("region-outage", "full-partition") and f.start < called and f.end > called - w.rules.confirm_seconds
        for f in s.faults
    )
    if region_gone:
        return None
    # Spells between which the monitor got fewer probes than end one are one spell.
    spells = []
    for b, e in _unreachable_spans(w):
        if spells and _accepted_between(w, spells[-1][1], b) < RECOVER_PROBES:
            spells[-1] = (spells[-1][0], e)
        else:
            spells.append((b, e))
    lost = max((b for b, e in spells if b <= called), default=None)
    if lost is None or called - lost >= w.rules.confirm_seconds:
        return None
    return lost, called


def i9_short_path_in_a_speaking_region(w):
    found = _short_path_in_up_region(w)
    if found is None or _mute_at_loss(w, *found):
        return []  # a mute region at the loss: a limit, see limits()
    lost, called = found
    return [f"I9: promoted {called - lost:.0f} s after the primary was lost, its region up: the short path"]


def _mute_at_loss(w, lost, called):
    """The region went mute after the DR side's monitor last reached the primary before `lost`,
    or less than the guard's longest pause before it (explain's guard_gap_seconds, the allowance
    that keeps an outage whose guard was between two runs on the short path): to the monitor, an
    outage (it watches the primary only while its runs tick: between two runs it is blind). It
    falls mute with its last word, not at the fault's start: a guard run under way when its
    functions are throttled speaks to its end."""
    contact = _last_contact(w, lost)
    return _watched(w, contact, lost) and any(
        f.kind in MUTE and _mute_begins(w, f) >= contact - _guard_gap(w) and f.start < called for f in w.schedule.faults
    )


def _watched(w, contact, lost):
    """The monitor watched the primary up to its loss: its last contact no longer before it than
    the gap between two of its runs (a longer hole hides when the loss came)."""
    return lost - contact <= w.rules.max_gap


def _guard_gap(w):
    return float(w.d["guard_gap_seconds"])


def _last_contact(w, t):
    """The last time before `t` that a probe of the DR side's monitor was accepted."""
    i = bisect.bisect_right(w.monitor_reached, t)
    return w.monitor_reached[i - 1] if i else 0.0


def _mute_begins(w, fault):
    """When the region's last word during `fault` was spoken (the fault's start if none was)."""
    return max([fault.start] + [t for t in w.primary_words if fault.start <= t < fault.end])


CHECKS = (
    i1_two_writers,
    i2_promotion_in_recovery,
    i3_loss,
    i4_silent_no,
    i5_timing,
    i6_page_storm,
    i7_fence_unpaged,
    i8_partial_partition,
    i9_short_path_in_a_speaking_region,
    i10_needless_self_fence,
)


def violations(w):
    return [v for check in CHECKS for v in check(w)]


def limits(w):
    """The documented limits this schedule hit: a full inter-region partition in which the old
    primary took commits after the replica became writable (the default authority cannot stop
    it), and a lost or late recovery event of a recovery longer than the confirm window."""
    hit = []
    called = decided(w)
    recovery = None if called is None else _recovery_at(w, called)
    if recovery is not None and GUARDED and _mute_recovery(w, recovery, called):
        hit.append("mute-region-during-recovery")
    short = _short_path_in_up_region(w)
    if short is not None and _mute_at_loss(w, *short):
        hit.append("mute-region-at-loss")
    p = w.promote_called_at
    if p is not None:
        writable_from = p + w.p["promotion_seconds"]
        late = [t for t in w.primary.commits if t >= writable_from]
        if late and not w.arc_mode and full_partition_overlaps(w, p, late[-1] + 1):
            hit.append("full-partition-two-writers")
    if w.arc_switched_at is not None:
        bound = w.arc_switched_at + float(w.e["authority"]["lease_wait_seconds"])
        late = [t for t in w.primary.commits if t > bound]
        if late and len(_unexcused(w, late)) < len(late):
            hit.append("arc-fence-blocked")
    return hit
