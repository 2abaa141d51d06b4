"""Schedules written down: each failure the simulator (or an HA review) found, as the smallest
schedule that showed it, with what must happen instead. Every one runs the package's code in the
simulated account and must also pass every invariant."""

import functools
import sys
from pathlib import Path

import pytest

sys.path[:0] = [str(Path(__file__).resolve().parent)]

import faults  # noqa: E402
import invariants  # noqa: E402
import sim  # noqa: E402
from faults import Fault, Schedule  # noqa: E402

PARAMS = {
    "replication_lag": 1.0,
    "far_behind": 200.0,
    "promotion_seconds": 300.0,
    "authority_delay": 120.0,
    "event_fate": "delivered",
    "event_delay": 5.0,
    "table_delay": 1.0,
    "call_seconds": 0.05,
    "schedule_jitter": [0.5, 1.5, 2.5, 0.2],
    "heartbeat_offset": 20.0,
    "dns_tail": 0.0,
    "flap_down": 150.0,
    "flap_up": 6.0,
}


@functools.lru_cache(maxsize=1)
def explained():
    return sim.explain()


def play(*fs, **params):
    schedule = Schedule(0, 3000.0, dict(PARAMS, **params), tuple(Fault(*f) for f in fs))
    w = sim.run(explained(), schedule)
    assert invariants.violations(w) == [], schedule.describe()
    return w


def subjects(w):
    return [subject for _, _, subject, _ in w.pages]


def test_a_regional_outage_is_promoted_within_two_minutes_and_no_run_is_skipped():
    w = play(("region-outage", 600, 2400))
    called = invariants.promotion_call(w)
    assert called is not None and called - 600 <= min(120, explained()["rto"]["short_path_seconds"])
    moved = next(t for t, answer in w.dns_answers if answer == "dr")
    assert moved - 600 <= 60
    assert not [r for r in w.monitor_runs if r[2] == "skipped"]


@pytest.mark.parametrize("fate", ["delivered", "late", "lost"])
@pytest.mark.parametrize("kind", ["multi-az-failover", "engine-upgrade", "offline-maintenance"])
def test_an_in_region_recovery_of_any_length_is_never_promoted_whatever_became_of_its_event(kind, fate):
    w = play((kind, 600, 2000), event_fate=fate, event_delay=400.0 if fate == "late" else 5.0, dns_tail=60.0)
    assert w.promote_calls == []
    assert "drgen: failover held (veto)" in subjects(w)


def test_a_primary_lost_in_its_own_region_up_is_promoted_after_the_long_window_and_paged():
    w = play(("primary-crash", 600, 2400))
    called = invariants.promotion_call(w)
    assert called is not None and called - 600 >= explained()["decision"]["confirm_seconds"]


def test_a_failing_guard_in_a_region_that_is_up_is_not_a_silent_region():
    w = play(("guard-broken", 300, 2400), ("multi-az-failover", 600, 2000), event_fate="lost")
    assert w.promote_calls == []
    assert "drgen: failover held (guard)" in subjects(w)


def test_a_multi_az_failover_is_not_promoted_when_the_primary_answers_late_after_its_end_event():
    # The end event arrives; the recovered primary's name resolves two minutes later.
    w = play(("multi-az-failover", 600, 760), dns_tail=115.0)
    assert w.promote_calls == []


def test_an_ambiguous_promotion_call_counts_as_started_and_the_old_primary_never_gets_the_name_back():
    w = play(("primary-crash", 600, 900), ("promote-ambiguous", 600, 900))
    called = invariants.promotion_call(w)
    assert called is not None
    authority = [t for t, v in w.authority_points if v >= 1]
    assert authority and authority[0] <= called
    assert all(answer == "dr" for t, answer in w.dns_answers if t > called)


def test_a_lost_state_item_is_recovered_from_the_recorded_authority():
    w = play(("primary-crash", 600, 2400), ("state-lost", 1000, 1000))
    assert len([o for _, o in w.promote_calls if o == "accepted"]) == 1
    assert w.workflow_started


def test_wal_positions_unreadable_while_the_primary_answers_page_and_hold_the_rpo_gate():
    w = play(("wal-reads-fail", 400, 2400), ("primary-crash", 900, 2400))
    assert "drgen: WAL positions unreadable" in subjects(w)
    assert w.promote_calls == []
    assert "drgen: failover held (rpo)" in subjects(w)


def test_a_flapping_primary_pages_and_is_promoted_once_it_stays_away_long_enough():
    w = play(("flapping", 400, 2400), flap_down=150.0, flap_up=6.0)
    assert invariants.promotion_call(w) is not None


def test_a_primary_that_returns_for_whole_windows_pages_flapping():
    w = play(("flapping", 400, 2400), flap_down=150.0, flap_up=30.0)
    assert "drgen: primary flapping" in subjects(w)
    assert w.promote_calls == []


def test_a_full_partition_promotes_and_pages_split_brain_risk_while_the_fence_cannot_run():
    w = play(("full-partition", 600, 2400))
    assert invariants.promotion_call(w) is not None
    called = invariants.promotion_call(w)
    risk = [t for t, _, s, _ in w.pages if s == "drgen: split-brain risk"]
    assert risk and risk[0] - called <= invariants.FENCE_GRACE + 120
    assert invariants.limits(w) == ["full-partition-two-writers"]


def test_an_idle_primary_behind_a_peering_partition_is_kept_by_the_replicas_stream_without_a_heartbeat():
    w = play(("peering-partition", 600, 2400), ("heartbeat-broken", 300, 2400), ("idle-application", 300, 2400))
    assert w.promote_calls == []
    assert "drgen: failover held (partition)" in subjects(w)


def test_a_denied_promotion_pages_through_the_repage_throttle_and_succeeds_once_allowed():
    w = play(("primary-crash", 600, 2400), ("promote-denied", 600, 1700))
    refused = [t for t, _, s, _ in w.pages if s == "drgen: promotion call refused"]
    assert 1 <= len(refused) <= 2
    assert [o for _, o in w.promote_calls].count("accepted") == 1


def test_a_long_veto_pages():
    w = play(("multi-az-failover", 600, 1500))
    assert "drgen: failover held (veto)" in subjects(w)
    assert w.promote_calls == []


def test_an_impaired_table_copy_never_gives_the_old_primary_the_name_back():
    # The primary returns after the promotion call while its region's table copy and RDS API
    # are impaired: its observer cannot read the authority and answers 503.
    w = play(
        ("primary-crash", 600, 850),
        ("primary-table-impaired", 600, 2400),
        ("primary-api-down", 600, 2400),
        promotion_seconds=120.0,
    )
    called = invariants.promotion_call(w)
    assert called is not None
    assert all(t < called for t in w.primary.commits)


def test_a_dead_replica_is_not_promoted_and_the_refusal_pages():
    w = play(("replica-dead", 400, 2400), ("primary-crash", 600, 2400))
    assert w.promote_calls == []
    assert "drgen: failover held (cannot-decide)" in subjects(w)


def test_a_promotion_that_never_finishes_pages():
    w = play(("primary-crash", 600, 3000), promotion_seconds=5000.0)
    assert "drgen: promotion not complete" in subjects(w)


@pytest.mark.parametrize("seed", [2, 13, 153, 1133, 1680, 5868])
def test_schedules_the_generator_found_hold_every_invariant(seed):
    d = explained()["decision"]
    schedule = faults.generate(seed, d["confirm_seconds"], d["probe_interval_seconds"])
    w = sim.run(explained(), schedule)
    assert invariants.violations(w) == [], schedule.describe()
