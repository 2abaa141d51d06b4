"""Schedules: the account's behaviour and the faults of one simulated run, all drawn from a
seed, so that every run is reproducible from its seed alone; and the shrinker, which makes a
failing schedule smaller (fewer faults, shorter ones, plainer parameters) while it still fails.
"""

import random
from typing import NamedTuple

# Fault kinds. "down" kinds make the primary refuse sessions in its own region.
RECOVERY = ("multi-az-failover", "engine-upgrade", "offline-maintenance")
KINDS = (
    "region-outage",  # the primary's region: database, APIs, functions, table copy
    "primary-crash",  # the primary stops answering in its region, no recovery under way
    "flapping",  # down for most of the confirm window, up for one to four probes, again
    *RECOVERY,  # an in-region recovery, with its RDS events; the primary answers later than the end event
    "peering-partition",  # the VPC peering path only (probe, WAL reads, replication)
    "full-partition",  # peering, table replication, forwarded events and cross-region API calls
    "heartbeat-broken",  # the primary-region observer cannot write its heartbeat
    "guard-broken",  # the primary-region guard does not run (throttled, erroring), its region up
    "dr-table-impaired",  # the DR region's table copy fails every call
    "primary-table-impaired",  # the primary region's table copy fails every call
    "primary-functions-throttled",  # no drgen function runs in the primary region (shared concurrency), its region up
    "promote-denied",  # PromoteReadReplica refused (IAM)
    "promote-ambiguous",  # PromoteReadReplica accepted, but its answer times out
    "replica-dead",  # the replica's database does not answer
    "replica-far-behind",  # replication slower by minutes
    "lag-missing",  # no ReplicaLag datapoints
    "wal-reads-fail",  # the primary answers probes, but its WAL position cannot be read
    "primary-api-down",  # the primary region's RDS and CloudWatch APIs only (the fence cannot run)
    "slow-calls",  # every AWS call five times slower
    "idle-application",  # no commits (the heartbeat's write alone moves the WAL)
    "state-lost",  # the monitor's saved state item disappears (instant)
)
# With the ARC authority, besides: the cluster's five endpoints unreachable from one side or
# both, and the DR region gone (nothing of drgen's runs there).
ARC_KINDS = (
    "arc-lost",  # no cluster endpoint answers, from either region
    "arc-cut-primary",  # no cluster endpoint answers the primary region's functions
    "arc-cut-dr",  # no cluster endpoint answers the DR region's functions
    "dr-region-outage",  # the DR region: replica, APIs, functions, table copy
)
WEIGHTS = {"region-outage": 4, "primary-crash": 3, "multi-az-failover": 3, "full-partition": 2, "peering-partition": 2}


class Fault(NamedTuple):
    kind: str
    start: float
    end: float

    def shorter(self):
        return self._replace(end=self.start + (self.end - self.start) / 2)


class Schedule(NamedTuple):
    seed: int
    horizon: float
    params: dict
    faults: tuple

    def primary_down(self, t):
        """The primary refuses sessions in its own region at t (its region aside)."""
        for f in self.faults:
            if f.kind == "primary-crash" and f.start <= t < f.end:
                return True
            if f.kind in RECOVERY and f.start <= t < f.end + self.params["dns_tail"]:
                return True
            if f.kind == "flapping" and f.start <= t < f.end:
                period = self.params["flap_down"] + self.params["flap_up"]
                if (t - f.start) % period < self.params["flap_down"]:
                    return True
        return False

    def recovery_at(self, t):
        """An in-region recovery is under way at t (until the primary answers again)."""
        return any(f.kind in RECOVERY and f.start <= t < f.end + self.params["dns_tail"] for f in self.faults)

    def describe(self):
        faults = ", ".join(f"{f.kind} {f.start:.0f}-{f.end:.0f} s" for f in self.faults)
        return f"seed {self.seed}: {faults or 'no faults'}"

    def to_json(self):
        return {
            "seed": self.seed,
            "horizon": self.horizon,
            "params": self.params,
            "faults": [list(f) for f in self.faults],
        }

    @classmethod
    def from_json(cls, data):
        return cls(data["seed"], data["horizon"], data["params"], tuple(Fault(*f) for f in data["faults"]))


# The stated allowance for DescribeEvents to list an event of the primary (see generate).
EVENTS_LISTED_LAG_MAX = 30.0


def generate(
    seed, confirm_seconds, probe_interval, guard_late=20.0, horizon=3000.0, authority="table", sg_apply_max=60.0
):
    rng = random.Random(seed)
    fate = rng.choices(["delivered", "late", "lost"], [6, 2, 2])[0]
    params = {
        "replication_lag": rng.uniform(0.2, 3.0),
        "far_behind": rng.uniform(61.0, 300.0),
        "promotion_seconds": rng.uniform(60.0, 900.0),
        "authority_delay": rng.uniform(60.0, 180.0),
        "event_fate": fate,
        "event_delay": rng.uniform(120.0, 900.0) if fate == "late" else rng.uniform(1.0, 30.0),
        "table_delay": rng.uniform(0.5, 3.0),
        "call_seconds": rng.uniform(0.02, 0.3),
        # How late each scheduled monitor run starts (rto.rs, SCHEDULE_DELAY_SECONDS), and each
        # guard run, up to what the guard states (explain's `guard_late_seconds`).
        "schedule_jitter": [rng.uniform(0.0, 5.0) for _ in range(8)],
        "guard_jitter": [rng.uniform(0.0, guard_late) for _ in range(8)],
        # wal_receiver_timeout (PostgreSQL's default is 60 s): how long the replica's receiver
        # still says `streaming` after the primary went silent without closing the connection.
        "receiver_timeout": rng.uniform(1.0, 60.0),
        # A closing event travels on its own: lost on its own, or faster or slower than its
        # opening event (so a short recovery's end can arrive first).
        "close_lost": rng.random() < 0.15,
        "close_delay_factor": rng.uniform(0.1, 1.5),
        "heartbeat_offset": rng.uniform(0.0, 60.0),
        "dns_tail": rng.uniform(0.0, 120.0),
        "flap_down": confirm_seconds * rng.uniform(0.5, 0.95),
        "flap_up": probe_interval * rng.uniform(1.0, 4.0),
    }
    kinds = list(KINDS) + (list(ARC_KINDS) if authority == "arc" else [])
    weights = [WEIGHTS.get(k, 1) for k in kinds]
    faults = []
    for _ in range(rng.choice((1, 1, 2, 2, 3))):
        kind = rng.choices(kinds, weights)[0]
        start = rng.uniform(300.0, 1500.0)
        length = 0.0 if kind == "state-lost" else rng.choice((rng.uniform(10.0, 150.0), rng.uniform(150.0, 1400.0)))
        faults.append(Fault(kind, round(start, 1), round(min(start + length, horizon), 1)))
    # How long ModifyDBInstance to the deny-all group takes to apply (drawn last, so
    # that the draws above, and the schedules of earlier seeds, stay as they were), up to the
    # allowance the budget states (src/rto.rs SG_APPLY_SECONDS).
    params["sg_apply_seconds"] = rng.uniform(2.0, sg_apply_max)
    # How long RDS still reports the instance `available` after accepting the modification.
    params["modify_status_lag"] = rng.uniform(0.0, 10.0)
    # How long after its time an RDS event is first listed by DescribeEvents in its own region
    # (the guard's read). AWS documents no bound for it: the draw is up to a stated allowance of
    # 30 s. An event never listed, with its forwarded copy lost as well, leaves a Multi-AZ
    # failover without any signal; the README gives what that costs, measured.
    params["events_listed_lag"] = rng.uniform(0.0, EVENTS_LISTED_LAG_MAX)
    return Schedule(seed, horizon, params, _one_recovery_at_a_time(sorted(faults, key=lambda f: f.start)))


def _one_recovery_at_a_time(faults):
    """RDS runs one in-region recovery of an instance at a time: a recovery that would start
    during another is dropped."""
    kept, busy_until = [], -1.0
    for f in faults:
        if f.kind in RECOVERY:
            if f.start < busy_until:
                continue
            busy_until = f.end
        kept.append(f)
    return tuple(kept)


PLAIN = {
    "event_fate": "delivered",
    "event_delay": 5.0,
    "call_seconds": 0.05,
    "dns_tail": 0.0,
    "table_delay": 1.0,
    "close_lost": False,
    "close_delay_factor": 1.0,
    "receiver_timeout": 1.0,
}


def smaller(schedule):
    """Candidate schedules one step simpler than `schedule`, the most promising first."""
    faults = schedule.faults
    for i in range(len(faults)):
        yield schedule._replace(faults=faults[:i] + faults[i + 1 :])
    for i, f in enumerate(faults):
        if f.end - f.start > 20:
            yield schedule._replace(faults=faults[:i] + (f.shorter(),) + faults[i + 1 :])
    for key, value in PLAIN.items():
        if schedule.params.get(key, value) != value:
            yield schedule._replace(params=dict(schedule.params, **{key: value}))


def shrink(schedule, fails, budget=80):
    """The smallest schedule found (within `budget` runs) on which `fails` still holds."""
    for _ in range(budget):
        for candidate in smaller(schedule):
            budget -= 1
            if fails(candidate):
                schedule = candidate
                break
            if budget <= 0:
                return schedule
        else:
            return schedule
    return schedule
