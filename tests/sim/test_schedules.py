"""Schedules written down: each failure the simulator (or an HA review) found, as the smallest
schedule that showed it, with what must happen instead. Every one runs the package's code in the
simulated account and must also pass every invariant, except a `test_limit_` one, which shows a
limit the README documents and what it costs."""

import functools
import sys
from pathlib import Path

import pytest

sys.path[:0] = [str(Path(__file__).resolve().parent)]

import faults  # noqa: E402
import invariants  # noqa: E402
import sim  # noqa: E402
import world  # noqa: E402
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
PARAMS_SG_APPLY = world.SG_APPLY_SECONDS  # the schedules here leave `sg_apply_seconds` to it


@functools.lru_cache(maxsize=2)
def explained(authority="table"):
    return sim.explain(sim.CONFIGS[authority])


def play(*fs, authority="table", **params):
    schedule = Schedule(0, 3000.0, dict(PARAMS, **params), tuple(Fault(*f) for f in fs))
    w = sim.run(explained(authority), schedule)
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


@pytest.mark.parametrize("length", [100, 400, 1400])
def test_a_multi_az_failover_listed_late_in_its_region_with_its_forwarded_event_lost_is_not_promoted(length):
    # The guard reads the events of its own region, where RDS lists them some time after the
    # fact: up to the stated allowance, the failover's opening event still vetoes in time.
    lag = faults.EVENTS_LISTED_LAG_MAX
    w = play(("multi-az-failover", 600, 600 + length), event_fate="lost", dns_tail=60.0, events_listed_lag=lag)
    assert w.promote_calls == []
    assert length < 180 or "drgen: failover held (veto)" in subjects(w)


def test_limit_a_multi_az_failover_with_no_event_anywhere_is_a_crash_to_the_long_path():
    # The documented limit (README): its forwarded event lost and its region never listing it, a
    # Multi-AZ failover longer than the confirm window looks like a crash, its status `available`
    # throughout. The long path promotes it, as it would a crash.
    schedule = Schedule(
        0,
        3000.0,
        dict(PARAMS, event_fate="lost", dns_tail=60.0, events_listed_lag=1e9),
        (Fault("multi-az-failover", 600, 1000),),
    )
    w = sim.run(explained(), schedule)
    called = invariants.promotion_call(w)
    assert called is not None and called - 600 >= explained()["decision"]["confirm_seconds"]
    assert [v for v in invariants.violations(w) if v.startswith("I2")]


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


def test_wal_positions_unreadable_while_the_primary_answers_page_and_the_gate_measures_on_the_replica():
    # The primary's WAL position cannot be sampled from 400; the replica's newest replayed commit
    # still says what it has, so the gate measures without the samples (I3 checks the loss).
    w = play(("wal-reads-fail", 400, 2400), ("primary-crash", 900, 2400))
    assert "drgen: WAL positions unreadable" in subjects(w)
    assert invariants.promotion_call(w) is not None


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


@pytest.mark.parametrize("seed", [2, 13, 153, 1133, 1680, 5868, 9077])
def test_schedules_the_generator_found_hold_every_invariant(seed):
    d = explained()["decision"]
    schedule = faults.generate(seed, d["confirm_seconds"], d["probe_interval_seconds"], d["guard_late_seconds"])
    w = sim.run(explained(), schedule)
    assert invariants.violations(w) == [], schedule.describe()


def test_a_region_that_went_mute_before_a_multi_az_failover_does_not_take_the_short_path():
    # Its table copy impaired for ten minutes, then a Multi-AZ failover whose event is lost: the
    # region is silent, but it fell silent long before the DR side lost the primary.
    w = play(("primary-table-impaired", 600, 2400), ("multi-az-failover", 1200, 1800), event_fate="lost")
    assert w.promote_calls == []
    assert "drgen: failover held (mute)" in subjects(w)


def test_a_region_whose_functions_are_throttled_before_a_multi_az_failover_does_not_take_the_short_path():
    w = play(("primary-functions-throttled", 600, 2400), ("multi-az-failover", 1200, 1800), event_fate="lost")
    assert w.promote_calls == []


def test_a_late_forwarded_closing_event_does_not_restart_the_window_the_guard_watched():
    # A short Multi-AZ failover whose events arrive two minutes late, then a crash: the late
    # closing event does not restart the window (a silent "no" past the window and two runs).
    w = play(("multi-az-failover", 618, 637), ("primary-crash", 663, 1800), event_fate="late", event_delay=123.0)
    called = invariants.promotion_call(w)
    assert called is not None and called - 637 <= 180 + 120


def test_a_lost_closing_event_does_not_veto_a_later_regional_outage():
    # The guard read the closing event in its own region; the forwarded one was lost.
    w = play(("multi-az-failover", 600, 700), ("region-outage", 1000, 2400), close_lost=True)
    called = invariants.promotion_call(w)
    assert called is not None and called - 1000 <= explained()["rto"]["short_path_seconds"]
    assert "drgen: failover held (veto)" not in subjects(w)


def test_a_refused_promotion_is_not_called_again_while_the_old_primary_lives():
    # Denied while the primary was down; it returns, and the peering is cut later: the old
    # primary is fenced by the workflow before the calls resume, so nothing serves twice.
    w = play(("primary-crash", 880, 1148), ("promote-denied", 882, 1533), ("peering-partition", 1350, 1656))
    called = invariants.promotion_call(w)
    fenced = min(t for t, kind in w.fence_calls if kind == "fence")
    assert called is not None and called > fenced


def test_guard_runs_that_start_late_keep_their_verdict_and_the_crash_is_promoted():
    w = play(("primary-crash", 600, 2400), guard_jitter=[40.0, 0.0, 35.0, 5.0, 45.0])
    called = invariants.promotion_call(w)
    assert called is not None and called - 600 <= explained()["rto"]["long_path_seconds"] + 30


def test_a_replica_that_keeps_saying_streaming_until_its_timeout_does_not_delay_the_short_path():
    w = play(("region-outage", 600, 2400), receiver_timeout=60.0)
    called = invariants.promotion_call(w)
    assert called is not None and called - 600 <= explained()["rto"]["short_path_seconds"]
    assert "drgen: failover held (partition)" not in subjects(w)


def test_a_recovery_the_guard_slept_through_is_not_promoted_into():
    # A crash, then RDS's own Multi-AZ failover while a guard run is missing: the guard never
    # says `recovering`; the forwarded end of the failover starts the window again.
    w = play(
        ("primary-crash", 600, 662),
        ("multi-az-failover", 662, 712),
        ("guard-broken", 665, 669),
        dns_tail=120.0,
        guard_jitter=[15.0] * 8,
    )
    assert all(not (662 <= t < 832) for t, outcome in w.promote_calls if outcome == "accepted")


def test_a_late_opening_event_overtaken_by_its_end_does_not_block_a_later_outage():
    w = play(
        ("multi-az-failover", 600, 640),
        ("region-outage", 1000, 2400),
        event_fate="late",
        event_delay=150.0,
        close_delay_factor=0.2,
    )
    called = invariants.promotion_call(w)
    assert called is not None and called - 1000 <= explained()["rto"]["short_path_seconds"]


def test_a_stale_recovering_report_of_a_broken_guard_does_not_stop_a_later_outage():
    w = play(("multi-az-failover", 600, 700), ("guard-broken", 650, 2400), ("region-outage", 1200, 2400))
    called = invariants.promotion_call(w)
    assert called is not None and called - 1200 <= explained()["rto"]["short_path_seconds"]


def test_a_refused_call_in_a_regional_outage_is_not_paused_by_an_old_heartbeat():
    w = play(("region-outage", 600, 2400), ("promote-denied", 600, 750))
    assert "drgen: promotion paused, old primary alive" not in subjects(w)
    assert invariants.promotion_call(w) is not None


def test_a_region_mute_long_before_its_primary_is_lost_holds_and_pages_mute():
    w = play(("primary-functions-throttled", 300, 2400), ("primary-crash", 700, 2400))
    assert invariants.promotion_call(w) is None
    assert "drgen: failover held (mute)" in subjects(w)


def test_a_guard_run_under_way_when_its_functions_are_throttled_dates_the_mute_from_its_last_word():
    # Seed 7692: the run that started at 367 speaks to about 417; the primary is lost 53 s later,
    # within the silence window of the region's last word: from the DR side, an outage.
    w = play(("primary-functions-throttled", 380, 2400), ("primary-crash", 470, 2400), guard_jitter=[0.0] * 8)
    assert max(t for t in w.primary_words if t < 470) > 400
    assert "mute-region-at-loss" in invariants.limits(w)


def test_a_region_mute_longer_than_its_guards_longest_pause_before_a_multi_az_failover_is_held():
    # Its functions throttled at 320 (the guard's run under way speaks to about 342), a Multi-AZ
    # failover at 480 whose event is lost: the monitor last reached the primary at about 462,
    # more than explain's guard_gap_seconds after the region's last word. Under the silence rule
    # alone (75 s) this took the short path.
    w = play(
        ("primary-functions-throttled", 320, 2400),
        ("multi-az-failover", 480, 1500),
        event_fate="lost",
        guard_jitter=[0.0] * 8,
    )
    assert w.promote_calls == []
    assert "drgen: failover held (mute)" in subjects(w)


def test_a_region_mute_within_its_guards_longest_pause_of_the_monitors_last_contact_is_a_limit():
    # The review's schedule: throttled at 380 (last word 402), a Multi-AZ failover at 480 whose
    # event is lost. The monitor's last contact (462, its run ended) is less than guard_gap after
    # the region's last word: to the monitor that is an outage whose guard was between two runs.
    # Promoted, and counted as the documented limit, not passed as correct.
    w = sim.run(
        explained(),
        Schedule(
            0,
            3000.0,
            dict(PARAMS, event_fate="lost", guard_jitter=[0.0] * 8),
            (Fault("primary-functions-throttled", 380, 2400), Fault("multi-az-failover", 480, 1500)),
        ),
    )
    assert invariants.violations(w) == []
    assert "mute-region-at-loss" in invariants.limits(w)
    assert max(t for t in w.monitor_reached if t < 480) < 470


def test_a_hold_stands_while_the_primary_answers_only_between_two_monitor_runs():
    # Seed 8892: held (mute) during maintenance; the primary answers for 20 s between two runs,
    # then its region goes down. To the DR side that is one spell, and its page still stands.
    w = play(
        ("primary-functions-throttled", 300, 2400),
        ("offline-maintenance", 600, 1002),
        ("region-outage", 1018, 2400),
        schedule_jitter=[0.0] * 4,
    )
    runs = [(a, b) for a, b, _ in w.monitor_runs]
    assert not any(a < 1018 and b > 1002 for a, b in runs)
    assert invariants.promotion_call(w) is None
    assert "drgen: failover held (mute)" in subjects(w)


def test_a_region_that_speaks_after_the_loss_and_then_goes_quiet_is_not_an_outage():
    # The guard broken (or its RDS API down), a Multi-AZ failover whose event is lost, and the
    # region's functions throttled 200 s into it: its observer's beats went on well after the DR
    # side lost the primary, so its silence later is not the outage that took the primary.
    for broken in ("guard-broken", "primary-api-down"):
        w = play(
            (broken, 300, 2400),
            ("multi-az-failover", 600, 2000),
            ("primary-functions-throttled", 800, 2400),
            event_fate="lost",
        )
        assert w.promote_calls == []
        assert "drgen: failover held (mute)" in subjects(w)


def test_a_loss_while_the_monitor_was_blind_gets_no_short_path():
    # The monitor's runs fail from 250 to 500 (its table copy impaired); the region went mute
    # at 200 and its primary is lost at 480 in a Multi-AZ failover: the monitor cannot date the
    # loss against the silence.
    w = play(
        ("primary-functions-throttled", 200, 2400),
        ("dr-table-impaired", 250, 500),
        ("multi-az-failover", 480, 1500),
        event_fate="lost",
        guard_jitter=[0.0] * 8,
    )
    assert w.promote_calls == []
    assert "drgen: failover held (mute)" in subjects(w)


def test_commits_while_the_monitor_was_blind_count_against_the_rpo_gate():
    # No heartbeat, the monitor blind from 250 to 500, the replica minutes behind, the region
    # down at 480: the guard saw the primary alive (`reachable`) until the outage, far beyond
    # the gate's budget after the last WAL sample. Held, never promoted with "about 0 s" at risk.
    w = play(
        ("heartbeat-broken", 200, 2400),
        ("dr-table-impaired", 250, 500),
        ("replica-far-behind", 300, 2400),
        ("region-outage", 480, 1500),
    )
    assert w.promote_calls == []


def test_an_outage_after_the_primary_answered_once_while_held_pages():
    # Held (mute) from 685; the monitor reaches the primary once at about 1037, then the region
    # goes down: another failure, paged within the window and two runs, not at the next repage.
    w = play(
        ("primary-functions-throttled", 300, 2800),
        ("multi-az-failover", 500, 1030),
        ("region-outage", 1040, 2800),
        event_fate="lost",
    )
    assert any(1040 <= t <= 1040 + 300 for t, _, subject, _ in w.pages if subject != "drgen: primary reachable again")


def test_partitions_that_come_and_go_page_each_subject_at_most_twice_in_the_repage_interval():
    # Six peering partitions of 190 s, 20 s apart (I6 checks the storm).
    w = play(*[("peering-partition", 400 + k * 210, 590 + k * 210) for k in range(6)])
    assert "drgen: failover held (partition)" in subjects(w)


@pytest.mark.parametrize("after", [12, 40, 90])
def test_an_outage_that_takes_the_database_first_and_its_region_seconds_later_is_promoted(after):
    # The primary fails, its guard says `unreachable` (no recovery), and the rest of its region
    # goes down seconds later: a staggered regional outage, for the short path.
    w = play(("primary-crash", 600, 2400), ("region-outage", 600 + after, 2400))
    called = invariants.promotion_call(w)
    assert called is not None and called - (600 + after) <= explained()["rto"]["short_path_seconds"]


def test_an_outage_after_one_failed_monitor_run_is_promoted():
    # The run at about 541 fails (the DR table copy refuses its write); the region goes down at
    # 570. The hole is a little longer than a run's gap, and the region fell silent with the
    # primary: the short path.
    w = play(("dr-table-impaired", 539, 545), ("region-outage", 570, 2400))
    called = invariants.promotion_call(w)
    assert called is not None and called - 570 <= 120


def test_an_outage_during_a_multi_az_failover_pages_within_the_window_and_two_runs():
    # The guard's `recovering` goes stale when the region goes down: nobody saw the recovery end,
    # so the window does not start again, and the hold (mute) pages.
    w = play(("multi-az-failover", 600, 2400), ("region-outage", 700, 2400))
    assert w.promote_calls == []
    assert any(600 <= t <= 900 for t, _, subject, _ in w.pages if subject == "drgen: failover held (mute)")


def test_a_primary_back_for_two_probes_is_one_spell_to_the_monitor():
    # Flapping, up about 18 s each time: the monitor gets two answers, fewer than end a spell,
    # and its window runs on (I9 joins what the monitor joins).
    play(("flapping", 400, 2600), flap_down=151.22, flap_up=17.91)


def test_a_recovery_that_ends_and_a_region_that_goes_mute_in_its_dns_tail_is_not_promoted():
    # A short Multi-AZ failover; its guard then says `unreachable` while the recovered primary's
    # name does not answer yet (120 s of DNS tail), and the region's functions are throttled:
    # that `unreachable` follows a closed recovery and confirms nothing.
    w = play(("multi-az-failover", 600, 700), ("primary-functions-throttled", 705, 2400), dns_tail=120.0)
    assert w.promote_calls == []


def test_a_third_spell_within_the_repage_interval_pages():
    w = play(("peering-partition", 400, 650), ("peering-partition", 690, 940), ("peering-partition", 980, 1500))
    assert any(980 <= t <= 1280 for t, _, subject, _ in w.pages if subject != "drgen: primary reachable again")


@pytest.mark.parametrize("after", [15, 40, 120])
def test_an_outage_that_cuts_the_network_first_and_the_region_later_is_not_held_as_mute(after):
    # The peering is cut (the guard still reaches the primary: a partition, held), then the
    # region goes down: the replica's stream stops with it, which a partition does not do. The
    # monitor samples no WAL position across the cut peering, but the replica's newest replayed
    # commit says it has everything up to the outage, so the RPO gate passes it however long
    # the partition came first.
    w = play(("peering-partition", 600, 2400), ("region-outage", 600 + after, 2400), receiver_timeout=20.0)
    called = invariants.promotion_call(w)
    held = {subject for _, _, subject, _ in w.pages if subject.startswith("drgen: failover held")}
    assert "drgen: failover held (mute)" not in held
    assert called is not None and called - (600 + after) <= 120 + 20


def test_commits_after_the_regions_last_word_count_for_the_rpo_gate():
    # The replica falls minutes behind at 524; the monitor's run at about 541 fails (the DR table
    # copy refuses it), so its last WAL sample is from before; the guard's last report (582) is
    # its run's last tick; the region goes down at 588. The primary committed until 588, 65 s
    # past what the replica has: the gate counts to the first reading that found the replica's
    # receiver stopped, not to the region's last word, and holds.
    w = play(
        ("dr-table-impaired", 539, 545),
        ("replica-far-behind", 524, 2400),
        ("region-outage", 588, 2400),
        guard_jitter=[0.0] * 8,
    )
    assert w.promote_calls == []
    assert "drgen: failover held (rpo)" in subjects(w)


@pytest.mark.parametrize("lost", [590, 598])
def test_a_state_item_lost_just_before_an_outage_holds_and_pages_the_rpo_gate(lost):
    # The monitor's saved state disappears seconds before the region goes down: no WAL sample of
    # the primary is left, and nothing bounds when its commits ended (a guard report that does
    # not come when due is no bound: a broken guard leaves the same silence). Held, paged.
    w = play(("state-lost", lost, lost), ("region-outage", 600, 2400))
    assert w.promote_calls == []
    assert "drgen: failover held (rpo)" in subjects(w)


@pytest.mark.parametrize(
    ("faults", "params"),
    [
        (
            (
                ("replica-far-behind", 300, 2400),
                ("guard-broken", 780, 2400),
                ("region-outage", 849, 2400),
                ("state-lost", 892, 892),
            ),
            {"far_behind": 75.0, "receiver_timeout": 3.0},
        ),
        (
            (("replica-far-behind", 300, 2400), ("dr-table-impaired", 720, 900), ("region-outage", 832, 2400)),
            {"far_behind": 70.0, "guard_jitter": [0.0, 0.0, 50.0, 0.0]},
        ),
    ],
)
def test_a_guard_report_that_never_came_does_not_bound_the_commits_at_risk(faults, params):
    # The guard breaks (or runs late) while the replica is minutes behind, the region goes down
    # later, and the monitor saw nothing in between (its state lost, or its runs failing): the
    # primary committed until the outage, long after the guard's next report was due.
    play(*faults, **params)


# With the ARC authority (examples/arc-authority.hcl).


def test_with_arc_a_full_partition_promotes_only_after_the_old_primary_fenced_itself():
    w = play(("full-partition", 600, 2400), authority="arc")
    called = invariants.promotion_call(w)
    assert called is not None and w.arc_switched_at is not None
    assert called >= w.arc_switched_at + explained("arc")["authority"]["lease_wait_seconds"]
    fenced = [t for t, _ in w.self_fences]
    reboots = [t for t, kind in w.fence_calls if kind == "reboot"]
    assert fenced and reboots and fenced[0] < reboots[0] < called
    assert not [t for t in w.primary.commits if t > reboots[0]]
    assert invariants.limits(w) == []
    assert "drgen: primary fenced itself, ARC names DR" in subjects(w)


def test_with_arc_a_regional_outage_promotes_within_the_stated_short_path():
    w = play(("region-outage", 600, 2400), authority="arc")
    called = invariants.promotion_call(w)
    assert called is not None and called - 600 <= explained("arc")["rto"]["short_path_seconds"]
    # Its region is down meanwhile; it is fenced as soon as it is back, by its own keeper or by
    # the DR side's workflow, whichever comes first, and rebooted once the group has applied.
    fence = [t for t, kind in w.fence_calls if kind == "fence"]
    reboots = [t for t, kind in w.fence_calls if kind == "reboot"]
    assert fence and 2400 <= fence[0] <= 2400 + 60 + 20 + 10
    assert reboots and fence[0] + PARAMS_SG_APPLY <= reboots[0]
    assert not [s for s in subjects(w) if "NOT" in s and "fence" in s]
    assert all(answer == "dr" for t, answer in w.dns_answers if t > w.arc_switched_at)


def test_with_arc_lost_from_both_sides_an_outage_is_not_promoted_and_pages():
    w = play(("arc-lost", 500, 2400), ("region-outage", 600, 2400), authority="arc")
    assert w.promote_calls == [] and w.arc_switched_at is None
    assert "drgen: workflow step take_authority failed" in subjects(w)


def test_with_arc_a_dr_region_outage_never_fences_the_primary():
    w = play(("dr-region-outage", 600, 2400), authority="arc")
    assert w.self_fences == [] and w.promote_calls == []
    assert w.primary.commits and w.primary.commits[-1] > 2300


def test_with_arc_cut_off_from_the_primary_region_the_primary_fences_itself_and_pages():
    w = play(("arc-cut-primary", 600, 2400), authority="arc")
    fenced = [t for t, _ in w.self_fences]
    lease = explained("arc")["authority"]["lease_seconds"]
    assert fenced and 600 + lease <= fenced[0] <= 600 + lease + 120
    assert "drgen: primary fenced itself, lease ran out" in subjects(w)


@pytest.mark.parametrize("apply", [3.0, 55.0])
def test_with_arc_the_keeper_reboots_only_once_the_deny_all_group_has_applied(apply):
    # RDS keeps the instance `modifying` while the security-group change applies and refuses a
    # reboot meanwhile: the keeper waits for it instead of paging a failed fence, and the old
    # primary still takes no commit once the lease wait has passed.
    w = play(("full-partition", 600, 2400), authority="arc", sg_apply_seconds=apply)
    fence = [t for t, kind in w.fence_calls if kind == "fence"]
    reboots = [t for t, kind in w.fence_calls if kind == "reboot" and t < 2400]
    assert len(fence) == 1 and len(reboots) == 1
    # Seen `modifying`, the reboot follows the apply within a tick; never seen (a change that
    # applied between two ticks), it waits out the allowance.
    allowance = max(apply, explained("arc")["decision"]["fence_apply_seconds"])
    assert fence[0] + apply <= reboots[0] <= fence[0] + allowance + 80 + 33
    assert not [s for s in subjects(w) if "NOT fenced" in s]


def test_with_arc_a_keeper_that_can_read_neither_arc_nor_its_record_fences_at_once():
    # Its own region's table copy impaired: each run starts without the last confirmation. With
    # ARC unreadable too, nothing says the DR side has not taken over: fenced, not counted anew
    # from each run's first failed read (a run's ticks cover less than the lease).
    w = play(
        ("full-partition", 600, 2400),
        ("arc-cut-primary", 600, 2400),
        ("primary-table-impaired", 600, 2400),
        authority="arc",
    )
    fenced = [t for t, _ in w.self_fences]
    assert fenced and fenced[0] <= 600 + 60 + 20 + 33
    assert "drgen: primary fenced itself, lease ran out" in subjects(w)


@pytest.mark.parametrize("authority", ["table", "arc"])
def test_a_recovery_the_guard_saw_only_closed_restarts_its_window(authority):
    # A flapping primary; a 17 s Multi-AZ failover falls between two guard runs, so the guard's
    # next tick finds it opened and closed. Its `unreachable` must count from the close, not carry
    # on from before the failover: promoted 80 s after the close, in the failover's DNS tail.
    schedule = sim.generate(explained("arc"), 3965)
    assert [f.kind for f in schedule.faults] == ["flapping", "multi-az-failover"]
    w = sim.run(explained(authority), schedule)
    assert invariants.violations(w) == [], schedule.describe()


def test_with_arc_a_partition_loss_counts_from_the_switch_and_a_blocked_fence_is_the_counted_limit():
    # The promotion call comes a lease wait after the switch: the partition that led to the
    # decision ended before the call's confirm window, and the keeper could not fence meanwhile
    # (its region's RDS API down), so the old primary's commits until then are the limit.
    w = play(("full-partition", 1162, 1304), ("primary-api-down", 1215, 1556), authority="arc")
    assert w.arc_switched_at is not None and "arc-fence-blocked" in invariants.limits(w)


def test_with_arc_the_keeper_does_not_take_a_late_modifying_status_for_an_applied_group():
    # RDS still reports the instance `available` for a few seconds after accepting the change: a
    # reboot then comes before the group applies, and sessions opened in between survive it.
    w = play(("full-partition", 600, 2400), authority="arc", sg_apply_seconds=40.0, modify_status_lag=6.0)
    fence = [t for t, kind in w.fence_calls if kind == "fence"]
    reboots = [t for t, kind in w.fence_calls if kind == "reboot" and t < 2400]
    assert fence and reboots and reboots[0] >= fence[0] + 40.0


def test_with_arc_the_workflow_does_not_reboot_before_a_group_the_keeper_set_has_applied():
    # The primary's region comes back after a long outage: its keeper sets the deny-all group,
    # and the workflow's fence, polling, finds it listed while RDS still says `available`. A
    # reboot then would come before the group applies, and the returning sessions would page
    # split-brain risk again and again.
    schedule = sim.generate(explained("arc"), 720)
    assert [f.kind for f in schedule.faults] == ["region-outage"]
    w = sim.run(explained("arc"), schedule)
    assert invariants.violations(w) == [], schedule.describe()
    fence = [t for t, kind in w.fence_calls if kind == "fence"]
    reboots = [t for t, kind in w.fence_calls if kind == "reboot"]
    assert reboots and reboots[0] >= fence[0] + schedule.params["sg_apply_seconds"]


@pytest.mark.parametrize("seed", [266, 2914])
def test_a_primary_that_answers_two_probes_and_falls_as_the_third_is_sent_is_one_spell(seed):
    # Flaps up for 13-20 s: the monitor's third probe of an up spell is sent in the second the
    # primary falls again, and fails. The monitor rightly keeps its window (two accepted probes
    # do not end it); the invariants, counting the probes sent, had split the spell (seed 266:
    # a long-path promotion taken for the short path, I9) or joined two that three accepted
    # probes had ended (seed 2914: I4).
    schedule = sim.generate(explained(), seed)
    assert "flapping" in [f.kind for f in schedule.faults]
    assert schedule.params["flap_up"] > 12.5
    w = sim.run(explained(), schedule)
    assert invariants.violations(w) == [], schedule.describe()
