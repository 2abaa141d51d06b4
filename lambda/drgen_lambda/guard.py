"""What the primary's own region sees, as one verdict per tick: the guard's decision, without AWS.

The guard runs in the primary region, inside the primary VPC, every few seconds. Each tick it
probes the primary and, while the probe fails, reads its own region's RDS API: the instance's
status and its recent events. `verdict` turns what one tick saw, and the previous verdict, into
the report the guard writes to the failover state table (a global table), where the DR side
reads it without a path into the primary region:

  reachable    the probe from inside the primary region is accepted.
  recovering   the probe fails and RDS says an in-region recovery is under way: an open recovery
               event (a Multi-AZ failover, a shutdown, offline maintenance, an upgrade) or a
               status that ends with the instance back by itself (rebooting, modifying, ...).
  unreachable  the probe fails and RDS answers with no recovery under way.
  unknown      the probe fails and RDS could not be read: the guard says so rather than guess.

`closed` holds, for each kind of recovery, the time of the newest closing event the guard has
read in its region's events of the primary (it reads them on the first tick of every run,
whatever its probe sees): the DR side uses it to end a forwarded opening event whose closing
event was lost on its way. Only a recognised closing event ends one, so a message the guard does
not recognise leaves the veto standing, never the other way round.

`since` is when the current verdict began: for an open recovery event, the event's time; else
the first tick that saw the verdict, carried from tick to tick and across runs through the
record as long as the ticks follow each other without a hole longer than `max_gap` (a hole in
observation restarts it, so it never claims more than was watched). An `unreachable` never
counts from before the newest closing event among the events read: a recovery that opened and
closed between two runs restarts it as one the guard watched would.

Nothing here calls AWS or PostgreSQL; `guard_run` does, and feeds this module.
"""

import re
from collections.abc import Sequence
from typing import NamedTuple, Optional

from .fsm import CLOSING_EVENTS, RECOVERY_EVENTS

REACHABLE = "reachable"
RECOVERING = "recovering"
UNREACHABLE = "unreachable"
UNKNOWN = "unknown"
VERDICTS = (REACHABLE, RECOVERING, UNREACHABLE, UNKNOWN)

# DB instance statuses that mean an in-region recovery is under way: work that RDS does on the
# instance and that ends with it available again, without anyone failing it over. From the
# status table of the Amazon RDS User Guide, "Viewing Amazon RDS DB instance status"
# (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/accessing-monitoring.html). Statuses in
# which the instance stays "fully operational" (backing-up, configuring-*, storage-optimization,
# resetting-master-credentials) are not here: a probe that fails then fails for another reason.
# Statuses from which RDS does not come back by itself (failed, storage-full,
# inaccessible-encryption-credentials, incompatible-*, restore-error, stopped, deleting) are not
# here either: the primary is unreachable, and nothing in its region is going to fix that.
RECOVERY_STATUSES = {
    "rebooting": "a reboot (with or without a Multi-AZ failover)",
    "modifying": "a modification, such as an instance class change with its Multi-AZ failover",
    "upgrading": "an engine version upgrade",
    "maintenance": "instance maintenance that RDS applies",
    "starting": "the instance is starting",
}

# DescribeEvents returns an event's message, not its RDS event ID
# (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_Event.html), so the events of
# fsm.RECOVERY_EVENTS are recognised by their messages: the descriptions of the RDS event list
# (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_Events.Messages.html) and the
# wording RDS shows in the event log, for example "Multi-AZ instance failover started" and
# "Multi-AZ instance failover completed"
# (https://repost.aws/knowledge-center/rds-connections-reboot-failover). Messages are not an API
# contract: the instance status above is the guard's dependable signal, the events add what the
# status does not show (a Multi-AZ failover can leave the instance `available` throughout). The
# engine upgrade events (RDS-EVENT-0267/0268) have no wording in those pages; their patterns are
# the likely one, and the `upgrading` status covers an upgrade whatever its events say.
EVENT_MESSAGES = {
    "RDS-EVENT-0013": r"multi-az (instance )?failover.*\bstart",
    "RDS-EVENT-0015": r"multi-az failover to standby complete|promotion of a standby instance is complete",
    "RDS-EVENT-0049": r"multi-az (instance )?failover (has )?complete",
    "RDS-EVENT-0050": r"multi-az (instance )?activation.*\bstart",
    "RDS-EVENT-0051": r"multi-az (instance )?activation (is |has )?complete",
    "RDS-EVENT-0004": r"^db instance shutdown",
    "RDS-EVENT-0006": r"^(the )?db instance restarted",
    "RDS-EVENT-0026": r"^(applying off-?line patches|offline maintenance of the db instance is taking place)",
    "RDS-EVENT-0027": r"^(finished applying off-?line patches|offline maintenance of the db instance is complete)",
    "RDS-EVENT-0267": r"engine version upgrade (has )?start",
    "RDS-EVENT-0268": r"engine version upgrade (is |has )?(complete|finished)",
}
_PATTERNS = [(event_id, re.compile(pattern, re.IGNORECASE)) for event_id, pattern in EVENT_MESSAGES.items()]


class GuardReport(NamedTuple):
    """The guard's record: its verdict, what it rests on, since when, and when it was made (the
    guard's clock, epoch seconds)."""

    verdict: str
    detail: str
    since: float
    at: float
    closed: dict = {}
    # The latest time the guard's next report is due (its run's next tick, or after its run's
    # last tick the next run's first): a primary alive then would have been reported by then.
    next_by: Optional[float] = None


class Seen(NamedTuple):
    """What one tick saw. `status` and `events` are None when they were not read (the probe was
    accepted; the events are read on a run's first tick all the same) or their read failed (then
    `failed` names the read and its error)."""

    now: float
    reachable: bool
    status: Optional[str] = None
    # (time, message) of the primary's events in the guard's window, oldest first.
    events: Optional[Sequence] = None
    failed: Sequence = ()


class OpenRecovery(NamedTuple):
    kind: str
    event_id: str
    opened_at: float


def event_id(message) -> Optional[str]:
    """The RDS event ID of a recovery event's message, or None for any other message."""
    text = " ".join(str(message).split())
    for found, pattern in _PATTERNS:
        if pattern.search(text):
            return found
    return None


def open_recoveries(events) -> list:
    """Every recovery whose newest opening event has no closing event after it. Events are
    (time, message); two events at the same time count in the order given (RDS lists them
    oldest first)."""
    opened = {}
    closed = {}
    for position, (at, message) in enumerate(events):
        found = event_id(message)
        key = (at, position)
        if found in RECOVERY_EVENTS:
            opened[RECOVERY_EVENTS[found][0]] = (key, found)
        elif found in CLOSING_EVENTS:
            closed[CLOSING_EVENTS[found]] = key
    return sorted(
        (OpenRecovery(kind, found, key[0]) for kind, (key, found) in opened.items() if closed.get(kind, key) <= key),
        key=lambda r: (r.opened_at, r.kind),
    )


def closes(events) -> dict:
    """The time of the newest closing event of each kind of recovery among `events`."""
    found = {}
    for at, message in events:
        kind = CLOSING_EVENTS.get(event_id(message))
        if kind is not None:
            found[kind] = max(at, found.get(kind, at))
    return found


def _carried(previous, verdict, now, max_gap):
    """`since` of a verdict that continues the previous one without a hole, else None."""
    if previous is None or previous.verdict != verdict:
        return None
    if not 0 <= now - previous.at <= max_gap:
        return None
    return previous.since


def verdict(previous: Optional[GuardReport], seen: Seen, max_gap: float) -> GuardReport:
    """The report of one tick, from what it saw and the previous report."""
    report = _verdict(previous, seen, max_gap)
    closed = dict(previous.closed) if previous is not None else {}
    for kind, at in closes(seen.events or ()).items():
        closed[kind] = max(at, closed.get(kind, at))
    return report._replace(closed=closed)


def _verdict(previous, seen, max_gap):
    now = seen.now
    if seen.reachable:
        return _report(previous, REACHABLE, "the probe from the primary region is accepted", now, max_gap)
    recoveries = open_recoveries(seen.events) if seen.events is not None else []
    recovering_status = seen.status in RECOVERY_STATUSES
    if recoveries or recovering_status:
        parts = [f"event {r.kind} ({r.event_id})" for r in recoveries]
        if recovering_status:
            parts.append(f"status {seen.status}")
        report = _report(previous, RECOVERING, "; ".join(parts), now, max_gap)
        if recoveries:
            report = report._replace(since=min(r.opened_at for r in recoveries))
        return report
    if seen.status is None or seen.events is None:
        failed = "; ".join(seen.failed) or "RDS was not read"
        return _report(previous, UNKNOWN, f"the primary's RDS status cannot be read: {failed}", now, max_gap)
    report = _report(previous, UNREACHABLE, f"status {seen.status}, no recovery under way", now, max_gap)
    ended = max(closes(seen.events).values(), default=report.since)
    return report._replace(since=max(report.since, ended))


def _report(previous, verdict_, detail, now, max_gap):
    since = _carried(previous, verdict_, now, max_gap)
    return GuardReport(verdict_, detail, now if since is None else since, now)
