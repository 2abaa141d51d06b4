"""The pure failover step: every gate, every transition, and the scenarios an on-call SRE fears."""

from pathlib import Path

import pytest

from drgen_lambda import fsm

RULES = fsm.Rules(
    confirm_seconds=180,
    lag_threshold=60,
    lag_max_age=120,
    max_data_loss=60,
    event_expiry=1800,
    automatic=True,
    dry_run=False,
    repage_seconds=900,
    manual_command="aws lambda invoke ... promote",
)
AVAILABLE = fsm.Replica("available", True)
HIGH_LAG = fsm.Lag(250, 30)


def down(now, **kw):
    """An observation of a primary the DR side cannot reach, with every input a promotion needs."""
    values = {"replica": AVAILABLE, "lag": HIGH_LAG, "replica_lsn": 100}
    values.update(kw)
    return fsm.Observation(now, False, **values)


def up(now, primary_lsn=100, replica_lsn=100, **kw):
    return fsm.Observation(now, True, primary_lsn, replica_lsn, **kw)


def run(observations, state=None, rules=RULES):
    """Feeds the observations in order; returns the last state, every action and every sentence."""
    state = state or fsm.initial_state()
    actions, sentences = [], []
    for obs in observations:
        result = fsm.step(state, obs, rules)
        state = result.state
        actions.extend(result.actions)
        sentences.append(result.sentence)
    return state, actions, sentences


def healthy_then_down(start=1000, ticks=40, every=5, **kw):
    """The primary was healthy and caught up, then unreachable from `start` for `ticks` ticks."""
    history = [up(t) for t in range(start - 60, start, every)]
    return history + [down(start + i * every, **kw) for i in range(ticks)]


def kinds(actions):
    return [a.kind for a in actions]


def test_a_dead_primary_is_promoted_after_the_confirm_window_and_not_before():
    obs = healthy_then_down(ticks=37)
    state, actions, _ = run(obs[:-1])
    assert state["phase"] == fsm.UNREACHABLE and actions == []
    state, actions, sentences = run(obs[-1:], state)
    assert state["phase"] == fsm.PROMOTING
    assert kinds(actions) == ["promote"]
    assert "every gate holds" in sentences[-1]
    assert fsm.writer_is_dr(state)


def test_a_multi_az_failover_shorter_than_the_confirm_window_does_not_promote():
    obs = healthy_then_down(ticks=24) + [up(1120 + i * 5) for i in range(5)]
    state, actions, _ = run(obs)
    assert state["phase"] == fsm.HEALTHY
    assert "promote" not in kinds(actions)
    assert not fsm.writer_is_dr(state)


def test_a_partition_with_a_fresh_heartbeat_pages_and_does_not_promote():
    obs = healthy_then_down(ticks=60, heartbeat_at=1200)
    state, actions, _ = run(obs)
    assert state["phase"] == fsm.HELD and state["held"] == "partition"
    assert kinds(actions) == ["page"]
    assert "partition: primary alive in its region" in actions[0].message


def test_an_old_heartbeat_does_not_block():
    state, actions, _ = run(healthy_then_down(ticks=37, heartbeat_at=990))
    assert kinds(actions) == ["promote"]


def subjects(actions):
    return [a.subject for a in actions]


def test_an_open_recovery_event_vetoes_and_pages_once_per_repage_interval():
    # Held from 1180 (the window's end): paged then, and again 900 s later, at 2080.
    state, actions, _ = run(healthy_then_down(ticks=222, events=[("multi-az-failover", 1000)]))
    assert state["phase"] == fsm.HELD and state["held"] == "veto"
    assert subjects(actions) == ["drgen: failover held (veto)"] * 2
    assert "in-region recovery of the primary in progress (multi-az-failover)" in actions[0].message
    assert state["pages"]["veto"] == 2080


def test_an_expired_recovery_event_pages_and_starts_the_confirm_window_again():
    expiring = fsm.Rules(**dict(RULES._asdict(), event_expiry=200))
    events = [("multi-az-failover", 1000)]
    state, actions, sentences = run(healthy_then_down(ticks=41, events=events), rules=expiring)
    assert state["phase"] == fsm.UNREACHABLE and state["since"] == 1200
    assert sentences[-1] == "an in-region recovery closed or expired; the confirm window starts again"
    assert subjects(actions) == ["drgen: failover held (veto)", "drgen: recovery event expired"]
    assert "no longer vetoes" in actions[1].message
    # A whole new window: no promotion before 1380.
    state, actions, _ = run([down(1200 + i * 5, events=events) for i in range(1, 36)], state, expiring)
    assert state["phase"] == fsm.UNREACHABLE and actions == []
    state, actions, _ = run([down(1380, events=events)], state, expiring)
    assert state["phase"] == fsm.PROMOTING and kinds(actions) == ["promote"]


def test_a_recovery_that_closes_within_the_window_starts_it_again():
    state, _, _ = run(healthy_then_down(ticks=20, events=[("shutdown", 1000)]))
    assert state["open"] == ["shutdown@1000"] and state["since"] == 1000
    state, actions, sentences = run([down(1100)], state)
    assert (state["phase"], state["since"], state["open"], actions) == (fsm.UNREACHABLE, 1100, [], [])
    assert "in-region recovery closed" in sentences[0]
    state, _, _ = run([down(1100 + i * 5) for i in range(1, 36)], state)
    assert state["phase"] == fsm.UNREACHABLE
    assert run([down(1280)], state)[0]["phase"] == fsm.PROMOTING


def test_a_recovery_that_ends_on_a_tick_where_the_primary_answers_once_still_restarts_the_window():
    state, _, _ = run(healthy_then_down(ticks=60, events=[("multi-az-failover", 1000)]))
    assert state["phase"] == fsm.HELD and state["since"] == 1000
    # The Multi-AZ failover ends and the primary answers one probe, then fails again: the old
    # window (from 1000) must not count, or the replica would be promoted at once.
    state, actions, sentences = run([up(1300, replica=AVAILABLE)], state)
    assert (state["phase"], state["since"], actions) == (fsm.UNREACHABLE, 1300, [])
    assert "in-region recovery closed" in sentences[0]
    state, actions, _ = run([down(1300 + i * 5) for i in range(1, 36)], state)
    assert state["phase"] == fsm.UNREACHABLE and actions == []
    assert kinds(run([down(1480)], state)[1]) == ["promote"]


def test_a_light_observation_without_the_replica_leaves_the_open_recoveries_alone():
    # The monitor reads the replica and the events only on full observations; a tick without
    # them must not forget a recovery it did not look at.
    state = dict(fsm.initial_state(), open=["shutdown@1000"])
    result = fsm.step(state, up(1010), RULES)
    assert result.state["open"] == ["shutdown@1000"] and result.state["phase"] == fsm.HEALTHY


def test_a_hole_in_observation_starts_the_confirm_window_again():
    state, _, _ = run(healthy_then_down(ticks=20))  # unreachable since 1000, last tick at 1095
    # A pause of exactly max_gap still counts as continuous.
    kept, _, sentences = run([down(1095 + RULES.max_gap)], state)
    assert kept["since"] == 1000 and sentences == ["the confirm window is still running"]
    state, actions, sentences = run([down(1095 + RULES.max_gap + 1)], state)
    assert (state["phase"], state["since"], actions) == (fsm.UNREACHABLE, 1156, [])
    assert sentences == [
        "observation had a hole (a run skipped or late); the confirm window starts again, and a hold pages again"
    ]
    state, _, _ = run([down(1156 + i * 5) for i in range(1, 36)], state)
    assert state["phase"] == fsm.UNREACHABLE
    assert run([down(1336)], state)[0]["phase"] == fsm.PROMOTING


def test_a_hole_while_held_starts_the_window_again_even_when_the_primary_answers_that_tick():
    state, _, _ = run(healthy_then_down(ticks=40, lag=None))
    assert state["phase"] == fsm.HELD and state["last_tick"] == 1195
    state, actions, sentences = run([up(1300, replica=AVAILABLE)], state)
    assert (state["phase"], state["since"], actions) == (fsm.UNREACHABLE, 1300, [])
    assert "observation had a hole" in sentences[0]


def test_every_spell_pages_and_a_subject_pages_at_most_twice_in_the_repage_interval():
    # Held for unknown lag from 1180 (paged). The monitor's runs then fail twice in quick
    # succession (holes): in each hole the primary may have come back and gone again.
    state, actions, _ = run(healthy_then_down(ticks=40, lag=None))
    assert [a.subject for a in actions] == ["drgen: failover held (lag-unknown)"]
    # The first spell after a hole pages its gate again, though the repage interval (900 s) has
    # not passed: the second page of that subject in the interval.
    state, actions, _ = run([down(1300 + i * 5, lag=None) for i in range(40)], state)
    assert [a.subject for a in actions] == ["drgen: failover held (lag-unknown)"]
    # The next one pages `flapping` instead; the one after that its gate again, its first page
    # now out of the interval.
    state, actions, _ = run([down(1600 + i * 5, lag=None) for i in range(40)], state)
    assert [a.subject for a in actions] == ["drgen: primary flapping"]
    state, actions, _ = run([down(1900 + i * 5, lag=None) for i in range(40)], state)
    assert [a.subject for a in actions] == ["drgen: failover held (lag-unknown)"]
    # Within one spell the gate repeats only every repage interval.
    state, actions, _ = run([down(2100 + i * 5, lag=None) for i in range(40)], state)
    assert actions == []


def test_an_expired_event_pages_once():
    obs = [down(5000 + i, events=[("shutdown", 1000)]) for i in range(3)]
    state = dict(fsm.initial_state(), phase=fsm.HELD, since=4000, held="veto")
    _, actions, _ = run(obs, state)
    assert sum("no longer vetoes" in a.message for a in actions) == 1


@pytest.mark.parametrize(("lag", "word"), [(None, "missing"), (fsm.Lag(250, 500), "stale")])
def test_missing_or_stale_lag_is_unknown_and_pages(lag, word):
    state, actions, _ = run(healthy_then_down(ticks=40, lag=lag))
    assert state["held"] == "lag-unknown"
    assert kinds(actions) == ["page"] and word in actions[0].message


def test_low_lag_means_replication_is_alive_and_pages():
    state, actions, _ = run(healthy_then_down(ticks=40, lag=fsm.Lag(20, 10)))
    assert state["held"] == "lag-low" and kinds(actions) == ["page"]


def test_the_rpo_gate_pages_with_the_manual_command():
    # The replica stopped receiving at 800 while the primary went on to 2000.
    history = [up(t, primary_lsn=t, replica_lsn=min(t, 800)) for t in range(700, 1000, 5)]
    obs = history + [down(1000 + i * 5, replica_lsn=800) for i in range(40)]
    state, actions, _ = run(obs)
    assert state["held"] == "rpo"
    assert fsm.data_at_risk(state) == pytest.approx(195)
    assert "RPO gate" in actions[0].message and RULES.manual_command in actions[0].message


def test_unknown_data_at_risk_is_gated():
    state, actions, _ = run([down(1000 + i * 5) for i in range(40)])
    assert state["held"] == "rpo" and "unknown" in actions[0].message


def test_the_rpo_gate_opens_when_the_replica_catches_up_on_the_last_positions():
    history = [up(t, primary_lsn=t, replica_lsn=t - 100) for t in range(900, 1000, 5)]
    behind = run(history + [down(1000 + i * 5, replica_lsn=800) for i in range(40)])[0]
    assert behind["held"] == "rpo"
    caught = run([down(1200, replica_lsn=995)], behind)
    assert caught[0]["phase"] == fsm.PROMOTING


@pytest.mark.parametrize("status", ["backing-up", "modifying"])
def test_a_busy_replica_pages_and_is_retried(status):
    obs = healthy_then_down(ticks=40, replica=fsm.Replica(status, True))
    state, actions, _ = run(obs)
    assert state["held"] == "replica-busy" and kinds(actions) == ["page"]
    state, actions, _ = run([down(1200)], state)
    assert state["phase"] == fsm.PROMOTING


def test_a_failed_read_cannot_decide():
    state, actions, _ = run(healthy_then_down(ticks=40, failed=("heartbeat",)))
    assert state["held"] == "cannot-decide" and "heartbeat" in actions[0].message
    state, actions, _ = run(healthy_then_down(ticks=40, replica=None))
    assert state["held"] == "cannot-decide" and "reading replica failed" in actions[0].message


def test_an_unreadable_replica_wal_position_cannot_decide():
    state, actions, _ = run(healthy_then_down(ticks=40, replica_lsn=None))
    assert state["phase"] == fsm.HELD and state["held"] == "cannot-decide"
    assert subjects(actions) == ["drgen: failover held (cannot-decide)"]
    assert "reading the replica's WAL position failed" in actions[0].message


def test_a_replica_still_streaming_from_the_primary_is_a_partition():
    state, actions, _ = run(healthy_then_down(ticks=40, receiving=True))
    assert state["phase"] == fsm.HELD and state["held"] == "partition"
    assert subjects(actions) == ["drgen: failover held (partition)"]
    assert "the replica still streams WAL from the primary" in actions[0].message


@pytest.mark.parametrize("receiving", [False, None])
def test_a_wal_receiver_that_is_not_streaming_or_not_read_does_not_block(receiving):
    state, actions, _ = run(healthy_then_down(ticks=37, receiving=receiving))
    assert state["phase"] == fsm.PROMOTING and kinds(actions) == ["promote"]


def test_manual_mode_pages_the_command_and_dry_run_announces():
    manual = fsm.Rules(**dict(RULES._asdict(), automatic=False))
    state, actions, _ = run(healthy_then_down(ticks=40), rules=manual)
    assert state["held"] == "manual" and RULES.manual_command in actions[0].message
    dry = fsm.Rules(**dict(RULES._asdict(), dry_run=True))
    state, actions, _ = run(healthy_then_down(ticks=40), rules=dry)
    assert state["held"] == "dry-run" and actions[0].subject == "drgen failover dry run"


def test_a_held_decision_pages_again_after_the_repage_interval_and_on_a_new_reason():
    state, actions, _ = run(healthy_then_down(ticks=40, lag=None))
    assert subjects(actions) == ["drgen: failover held (lag-unknown)"]  # at 1180
    state, quiet, _ = run([down(t, lag=None) for t in range(1200, 2080, 5)], state)
    assert quiet == []
    state, again, _ = run([down(2080, lag=None)], state)
    assert subjects(again) == ["drgen: failover held (lag-unknown)"]
    state, other, _ = run([down(2085, lag=fsm.Lag(10, 10))], state)
    assert state["held"] == "lag-low" and subjects(other) == ["drgen: failover held (lag-low)"]


def test_a_held_primary_must_answer_three_probes_in_a_row_to_be_healthy_again():
    state, _, _ = run(healthy_then_down(ticks=40, lag=None))
    assert state["phase"] == fsm.HELD
    state, actions, sentences = run([up(1200), up(1205), down(1210, lag=None), up(1215), up(1220)], state)
    # Unreachable again after answering: possibly another failure, which pages (its gate's second
    # page in the repage interval).
    assert state["phase"] == fsm.HELD and subjects(actions) == ["drgen: failover held (lag-unknown)"]
    assert sentences[1] == "the primary answered, not yet several probes in a row; still held, and a hold pages again"
    assert state["accepting"] == 2
    state, actions, sentences = run([up(1225)], state)
    assert state["phase"] == fsm.HEALTHY and subjects(actions) == ["drgen: primary reachable again"]
    assert sentences == ["the primary accepted several probes in a row; no promotion"]
    assert (state["since"], state["held"], state["lost_at"]) == (None, None, None)
    # Pages keep their throttle across spells.
    assert set(state["pages"]) == {"lag-unknown", "back"}


def test_one_or_two_answers_keep_the_confirm_window_running():
    state, _, _ = run(healthy_then_down(ticks=10))  # unreachable since 1000
    state, actions, sentences = run([up(1050), up(1055), down(1060), up(1065), up(1070)], state)
    assert (state["phase"], state["since"], actions) == (fsm.UNREACHABLE, 1000, [])
    assert sentences[0] == "the primary answered, not yet several probes in a row; the window keeps running"
    # The window still counts from 1000: promotion once it has passed, without a fresh window.
    state, actions, _ = run([down(t) for t in range(1075, 1180, 5)], state)
    assert state["phase"] == fsm.UNREACHABLE and actions == []
    state, actions, _ = run([down(1180)], state)
    assert state["phase"] == fsm.PROMOTING and kinds(actions) == ["promote"]


def test_an_unreachable_primary_that_answers_three_probes_is_healthy_without_a_page():
    state, _, _ = run(healthy_then_down(ticks=10))
    state, actions, sentences = run([up(1050), up(1055), up(1060)], state)
    assert (state["phase"], state["since"], actions) == (fsm.HEALTHY, None, [])
    assert sentences[-1] == "the primary accepted several probes in a row; no promotion"
    assert state["resets"] == [1060]


def spell(start):
    """The primary fails one probe at `start`, then answers three: one unreachable spell."""
    return [down(start), up(start + 5), up(start + 10), up(start + 15)]


def test_three_returns_within_the_flap_window_page_flapping_once_per_repage_interval():
    state, actions, _ = run(spell(1000) + spell(1100))
    assert state["phase"] == fsm.HEALTHY and state["resets"] == [1015, 1115] and actions == []
    state, actions, _ = run(spell(1200), state)
    assert subjects(actions) == ["drgen: primary flapping"]
    assert "3 times in 1800 s" in actions[0].message
    # Still flapping: not paged again within the repage interval, though every return clears the
    # other pages.
    state, actions, _ = run(spell(1300), state)
    assert actions == [] and state["pages"] == {"flapping": 1215}
    state, actions, _ = run(spell(2100), state)
    assert subjects(actions) == ["drgen: primary flapping"] and "5 times" in actions[0].message


def test_returns_spread_wider_than_the_flap_window_do_not_page():
    state, actions, _ = run(spell(1000) + spell(2000) + spell(3000) + spell(4000))
    assert actions == []
    assert state["resets"] == [3015, 4015]


def test_a_primary_whose_wal_position_stays_unreadable_pages_after_a_minute():
    state, actions, _ = run([up(t, primary_lsn=None) for t in range(1000, 1060, 5)])
    assert actions == [] and state["wal_failing_since"] == 1000
    state, actions, _ = run([up(1060, primary_lsn=None)], state)
    assert subjects(actions) == ["drgen: WAL positions unreadable"]
    assert "not been readable for 60 s" in actions[0].message
    # Throttled like every page, then cleared by one readable position.
    state, actions, _ = run([up(t, primary_lsn=None) for t in range(1065, 1960, 5)], state)
    assert actions == []
    state, actions, _ = run([up(1960, primary_lsn=None), up(1965)], state)
    assert subjects(actions) == ["drgen: WAL positions unreadable"]
    assert state["wal_failing_since"] is None
    assert run([up(1970, primary_lsn=None)], state)[1] == []


def test_a_replica_promoted_by_hand_makes_the_authority_dr_and_starts_the_fence():
    state, actions, _ = run([up(1000, replica=fsm.Replica("modifying", False))])
    assert state["phase"] == fsm.PROMOTING and kinds(actions) == ["start_workflow"]


def test_after_promotion_the_authority_is_sticky_and_a_returning_primary_pages_split_brain():
    state, _, _ = run(healthy_then_down(ticks=37))
    returning = [up(1300 + i * 5, replica=fsm.Replica("available", False)) for i in range(3)]
    state, actions, sentences = run(returning, state)
    assert state["phase"] == fsm.PROMOTING and fsm.writer_is_dr(state)
    assert kinds(actions) == ["page"] and "old primary reachable and unfenced" in actions[0].message
    state, actions, _ = run([up(1400, fence_confirmed=True)], state)
    assert state["phase"] == fsm.FENCED and kinds(actions) == ["announce"]
    state, actions, _ = run([down(1500, replica=fsm.Replica("available", False)), up(1600)], state)
    assert state["phase"] == fsm.FENCED and fsm.writer_is_dr(state)
    assert "accepts connections again" in actions[0].message


def test_a_fenced_old_primary_does_not_end_the_watch_over_a_promotion_rds_refused():
    state = dict(fsm.initial_state(), phase=fsm.FENCED, promoted_at=1000.0)
    state, actions, _ = run([down(1100)], state)
    assert kinds(actions) == ["promote_again"]
    state, actions, _ = run([down(1000 + RULES.promotion_bound)], state)
    assert [a.subject for a in actions if a.kind == "page"] == ["drgen: promotion not complete"]


PROMOTING_REPLICA = fsm.Replica("modifying", True)


def promoting(**kw):
    """A promotion that started at 1000, its fence not confirmed."""
    return dict(fsm.initial_state(), phase=fsm.PROMOTING, promoted_at=1000, **kw)


def test_a_promoting_monitor_waits_quietly_while_the_old_primary_is_down():
    state, _, _ = run(healthy_then_down(ticks=37))
    state, actions, sentences = run([down(1400, replica=PROMOTING_REPLICA)], state)
    assert (state["phase"], actions) == (fsm.PROMOTING, [])
    assert sentences == [
        "waiting for the promotion and the fence; split-brain risk paged while the old primary answers or the "
        "fence is late"
    ]


def test_promote_read_replica_is_called_again_at_most_every_minute_while_rds_reports_an_available_replica():
    state, actions, _ = run([down(1059)], promoting())
    assert actions == []
    state, actions, _ = run([down(1060)], state)
    assert kinds(actions) == ["promote_again"] and state["pages"]["promote-call"] == 1060
    state, actions, _ = run([down(t) for t in range(1061, 1120)], state)
    assert actions == []
    state, actions, _ = run([down(1120)], state)
    assert kinds(actions) == ["promote_again"]


@pytest.mark.parametrize(
    "replica", [None, fsm.Replica("modifying", True), fsm.Replica("available", False), fsm.Replica("modifying", False)]
)
def test_a_promotion_under_way_or_done_is_not_called_again(replica):
    _, actions, _ = run([down(1100, replica=replica)], promoting())
    assert "promote_again" not in kinds(actions)


def test_an_unconfirmed_fence_pages_split_brain_risk_after_its_grace_whether_the_primary_answers_or_not():
    state, actions, _ = run([down(1000 + fsm.FENCE_GRACE - 1, replica=PROMOTING_REPLICA)], promoting())
    assert actions == []
    state, actions, _ = run([down(1600, replica=PROMOTING_REPLICA)], state)
    assert subjects(actions) == ["drgen: split-brain risk"]
    assert "not confirmed fenced, reachable or not" in actions[0].message
    state, actions, _ = run([down(1700, replica=PROMOTING_REPLICA)], state)
    assert actions == []
    # The old primary answers: the reachable split-brain page, with its own repeat.
    state, actions, _ = run([up(1705, replica=PROMOTING_REPLICA)], state)
    assert subjects(actions) == ["drgen: split-brain risk"]
    assert "old primary reachable and unfenced" in actions[0].message
    state, actions, _ = run([down(2500, replica=PROMOTING_REPLICA)], state)
    assert subjects(actions) == ["drgen: split-brain risk"] and state["pages"]["fence-late"] == 2500


@pytest.mark.parametrize(
    ("replica", "seen"),
    [
        (None, "unreadable"),
        (fsm.Replica("modifying", True), "modifying, a replica"),
        (fsm.Replica("modifying", False), "modifying, standalone"),
    ],
)
def test_a_promotion_that_has_not_made_a_writer_within_its_bound_pages(replica, seen):
    # The fence page is already out, so the promotion's own page stands alone.
    state = promoting(pages={"fence-late": 2700})
    state, actions, _ = run([down(1000 + RULES.promotion_bound - 1, replica=replica)], state)
    assert actions == []
    state, actions, _ = run([down(2800, replica=replica)], state)
    assert subjects(actions) == ["drgen: promotion not complete"]
    assert f"started 1800 s ago and the DR instance is not a writer yet ({seen})" in actions[0].message
    state, actions, _ = run([down(2900, replica=replica)], state)
    assert actions == []
    assert subjects(run([down(3700, replica=replica)], state)[1])[-1] == "drgen: promotion not complete"


def test_a_standalone_available_writer_is_not_late():
    state = promoting(pages={"fence-late": 4900})
    _, actions, _ = run([down(5000, replica=fsm.Replica("available", False))], state)
    assert actions == []


def test_a_promotion_without_a_recorded_start_counts_from_the_tick_that_sees_it():
    state = dict(fsm.initial_state(), phase=fsm.PROMOTING)
    # Long after any bound, an available replica: nothing is late and no call is due yet.
    _, actions, _ = run([down(10**6)], state)
    assert actions == []


def test_a_state_saved_before_the_newer_fields_is_completed_with_their_defaults():
    newer = ("last_tick", "accepting", "resets", "open", "wal_failing_since", "last_alive")
    old = {k: v for k, v in fsm.initial_state().items() if k not in newer}
    old.update(phase=fsm.UNREACHABLE, since=1000)
    result = fsm.step(old, down(1010), RULES)
    assert result.state["phase"] == fsm.UNREACHABLE and result.sentence == "the confirm window is still running"
    assert (result.state["last_tick"], result.state["accepting"], result.state["resets"]) == (1010, 0, [])
    # A state without last_alive counts the data at risk to the last sample.
    assert fsm.data_at_risk({"last_sample": 1000, "caught_up_at": 990}) == 10


def test_the_data_at_risk_counts_to_the_last_sign_of_life_after_the_last_wal_sample():
    # WAL positions are read until 1000 (the replica has them all); the primary answers until
    # 1040 with its position unreadable: its commits since 1000 may be missing.
    readable = [up(t) for t in range(900, 1005, 5)]
    state, _, _ = run(readable + [up(t, primary_lsn=None) for t in range(1005, 1045, 5)])
    assert state["last_sample"] == 1000 and state["last_alive"] == 1040
    assert fsm.data_at_risk(state) == 40
    # Its own region's heartbeat saw it alive later still.
    state, _, _ = run([down(1080, heartbeat_at=1065)], state)
    assert state["last_alive"] == 1065 and fsm.data_at_risk(state) == 65
    # An older heartbeat does not move it back.
    state, _, _ = run([down(1085, heartbeat_at=1010)], state)
    assert fsm.data_at_risk(state) == 65


def test_the_rpo_gate_holds_a_primary_that_answered_long_after_its_last_wal_sample():
    readable = [up(t) for t in range(900, 1005, 5)]
    blind = [up(t, primary_lsn=None) for t in range(1005, 1100, 5)]
    state, actions, _ = run(readable + blind + [down(1100 + i * 5) for i in range(37)])
    assert state["phase"] == fsm.HELD and state["held"] == "rpo"
    assert "commits at risk about 95 s" in actions[-1].message


def test_positions_of_an_idle_primary_keep_the_risk_at_zero():
    state, _, _ = run([up(t, primary_lsn=500, replica_lsn=500) for t in range(0, 600, 5)])
    assert fsm.data_at_risk(state) == 0
    assert len(state["samples"]) == 1


def test_old_samples_are_dropped():
    state, _, _ = run([up(t, primary_lsn=t, replica_lsn=t) for t in range(0, 2000, 5)])
    assert state["samples"][0][0] >= 2000 - (2 * RULES.max_data_loss + RULES.confirm_seconds) - 5


def test_the_diagram_has_every_transition():
    text = fsm.diagram()
    assert text.startswith("stateDiagram-v2\n")
    assert text.count("-->") == 1 + sum(len(t.source) for t in fsm.TRANSITIONS)
    for phase in fsm.PHASES:
        assert phase in text


def test_every_recovery_event_has_a_closing_event():
    for kind, ends in fsm.RECOVERY_EVENTS.values():
        assert ends and all(fsm.CLOSING_EVENTS[e] == kind for e in ends)


def test_the_runbook_diagram_is_generated_from_the_table():
    runbook = (Path(__file__).resolve().parents[2] / "RUNBOOK.md").read_text()
    begin, end = "<!-- fsm:begin -->\n```mermaid\n", "```\n<!-- fsm:end -->"
    region = runbook[runbook.index(begin) + len(begin) : runbook.index(end)]
    assert region == fsm.diagram(), "RUNBOOK.md's state diagram is stale: paste `python3 -m drgen_lambda.fsm`"


GUARDED = fsm.Rules(**dict(RULES._asdict(), silence_seconds=75))


def spoken(start=1000, ticks=40, every=5, spoke_at=None, guard=None, **kw):
    """Healthy, then unreachable from `start`; the primary region last spoke at `spoke_at`
    (a fixed time: silent once it is old) or on every tick (`spoke_at=None`), with `guard` as its
    guard's report (verdict, since), made on every tick. The replica's stream was heard while
    the primary answered and is found stopped after."""
    history = [up(t, stream=(True, t)) for t in range(start - 60, start, every)]
    kw.setdefault("stream", (False, None))
    for i in range(ticks):
        now = start + i * every
        report = None if guard is None else (guard[0], guard[1], now)
        history.append(down(now, spoke_at=now if spoke_at is None else spoke_at, guard=report, **kw))
    return history


def test_a_silent_primary_region_takes_the_short_path_without_waiting_for_the_lag():
    obs = spoken(ticks=20, spoke_at=990, lag=None, receiving=False)
    state, actions, _ = run(obs, rules=GUARDED)
    assert kinds(actions) == ["promote"]
    promoted_at = state["promoted_at"]
    # Silent 75 s after its last word (990), the DR side's own probes failing for 30 s by then.
    assert promoted_at == 990 + GUARDED.silence_seconds
    assert promoted_at - 1000 >= fsm.SHORT_CONFIRM
    assert "and its region silent" in actions[0].message


def test_the_dr_sides_own_window_still_runs_when_the_region_was_silent_before():
    # The region's last word (940) is within the silence window of the DR side's last success
    # (995), so it fell silent with its primary; silent from 1015, but the DR side's own probes
    # have failed for SHORT_CONFIRM only at 1050.
    obs = spoken(ticks=12, spoke_at=940, lag=None, receiving=False)
    state, actions, _ = run(obs, rules=GUARDED)
    assert kinds(actions) == ["promote"]
    assert state["promoted_at"] == 1000 + fsm.SHORT_CONFIRM


def test_a_region_that_went_mute_before_its_primary_was_lost_gets_the_long_path():
    # Silent since 900, while the DR side reached the primary until 995: a table copy impaired
    # or its functions throttled, not an outage. No short path: the guard's report is stale,
    # which holds and pages.
    history = [up(t, spoke_at=900) for t in range(940, 1000, 5)]
    history += [down(t, spoke_at=900, lag=None, receiving=False) for t in range(1000, 1300, 5)]
    state, actions, _ = run(history, rules=GUARDED)
    assert "promote" not in kinds(actions)
    assert state["phase"] == fsm.HELD
    assert state["held"] == "mute"
    assert actions[0].subject == "drgen: failover held (mute)"
    assert "fell silent before the DR side lost the primary" in actions[0].message


def test_a_region_mute_for_longer_than_its_guards_longest_pause_before_the_loss_is_held():
    # Its functions throttled: its last word at 930, 65 s before the DR side last reached the
    # primary (995). Within the silence window, but longer than its guard ever pauses (61 s):
    # it went mute first, and the primary lost at 1000 (a Multi-AZ failover starting) is held.
    gapped = fsm.Rules(**dict(GUARDED._asdict(), guard_gap=61))
    history = [up(t, spoke_at=930) for t in range(940, 1000, 5)]
    history += [down(t, spoke_at=930, lag=None, receiving=False) for t in range(1000, 1300, 5)]
    state, actions, _ = run(history, rules=gapped)
    assert "promote" not in kinds(actions)
    assert state["held"] == "mute"
    assert "fell silent before the DR side lost the primary" in actions[0].message
    assert "If its region is down" in actions[0].message
    # The same region with its last word 55 s before (940): an outage's guard may pause so long.
    state, actions, _ = run(spoken(ticks=12, spoke_at=940, lag=None, receiving=False), rules=gapped)
    assert kinds(actions) == ["promote"]


def test_a_region_that_spoke_after_the_primary_was_lost_is_held_when_it_falls_silent():
    # The DR side lost the primary at 1000; its region kept speaking (its observer's beat) until
    # 1100, then fell silent (its functions throttled): it was up after the loss, which was a
    # crash or a recovery it could not report, not its outage.
    history = [up(t) for t in range(940, 1000, 5)]
    history += [down(t, spoke_at=min(t, 1100), lag=None, receiving=False) for t in range(1000, 1400, 5)]
    state, actions, _ = run(history, rules=GUARDED)
    assert "promote" not in kinds(actions)
    assert state["held"] == "mute"
    assert any("still spoke after the DR side lost the primary" in a.message for a in actions)


def test_a_loss_late_in_a_hole_in_observation_gets_no_short_path_when_the_region_fell_silent_early():
    # The DR side reached the primary until 995; its runs then failed until 1300 (its table copy
    # impaired). The region fell silent at 990, but the primary may have been lost late in the
    # hole: a last word more than the guard's pause and a run's gap before the first failed
    # probe cannot be set against the loss.
    gapped = fsm.Rules(**dict(GUARDED._asdict(), guard_gap=61))
    history = [up(t) for t in range(940, 1000, 5)]
    history += [down(t, spoke_at=990, lag=None, receiving=False) for t in range(1300, 1600, 5)]
    state, actions, _ = run(history, rules=gapped)
    assert "promote" not in kinds(actions)
    assert state["lost_at"] == 1300 and state["held"] == "mute"
    assert "fell silent before the DR side lost the primary" in actions[0].message
    # One run lost (a hole just past a run's gap) before an outage whose region fell silent with
    # the primary: the short path.
    history = [up(t) for t in range(940, 1000, 5)]
    history += [down(t, spoke_at=1030, lag=None, receiving=False) for t in range(1075, 1300, 5)]
    state, actions, _ = run(history, rules=gapped)
    assert kinds(actions)[0] == "promote"


@pytest.mark.parametrize(("last_word", "promoted"), [(1020, True), (1040, False)])
def test_a_guard_that_missed_its_due_report_while_its_region_spoke_confirms_nothing(last_word, promoted):
    # The guard's last report (1012, `unreachable`) said the next was due by 1020. The region
    # spoke last at `last_word` (its observer's beat): at 1020 the guard's word is its last one;
    # at 1040 the guard had broken while its region went on speaking, so its `unreachable` is
    # old news and the region's silence after is no outage that it confirms (held, mute).
    history = [up(t) for t in range(940, 1000, 5)]
    report = ("unreachable", 1003, 1012, {}, 1020)
    history += [
        down(t, spoke_at=min(t, last_word), guard=report if t >= 1012 else None, lag=None, receiving=False)
        for t in range(1000, 1200, 5)
    ]
    state, actions, _ = run(history, rules=GUARDED)
    assert ("promote" in kinds(actions)) is promoted
    if not promoted:
        assert state["held"] == "mute"


def test_a_region_whose_guard_said_unreachable_after_the_loss_is_an_outage_when_it_falls_silent():
    # The primary crashed at 1000; its guard said `unreachable` (no recovery) until its region
    # went down at 1012: a staggered outage, for the short path.
    history = [up(t) for t in range(940, 1000, 5)]
    history += [
        down(t, spoke_at=min(t, 1012), guard=("unreachable", 1003, min(t, 1012)), lag=None, receiving=False)
        for t in range(1000, 1200, 5)
    ]
    state, actions, _ = run(history, rules=GUARDED)
    assert kinds(actions)[0] == "promote"


@pytest.mark.parametrize(("receiving", "promoted"), [(False, True), (True, False)])
def test_a_guards_reachable_after_the_loss_confirms_it_once_the_replicas_stream_has_stopped(receiving, promoted):
    # The peering cut at 1000 (its guard still reaches the primary) and the region down at 1020:
    # the replica's stream stops with it. A stream still running is a partition.
    history = [up(t) for t in range(940, 1000, 5)]
    history += [
        down(t, spoke_at=min(t, 1020), guard=("reachable", 900, min(t, 1020)), lag=None, receiving=receiving)
        for t in range(1000, 1200, 5)
    ]
    state, actions, _ = run(history, rules=GUARDED)
    assert ("promote" in kinds(actions)) is promoted
    if not promoted:
        assert state["held"] == "partition"


def test_the_guards_reachable_counts_as_the_primary_alive_for_the_rpo_gate():
    state, _, _ = run([up(1000), down(1005, guard=("reachable", 900, 1100))])
    assert state["last_alive"] == 1100


def test_a_silent_region_with_an_unreadable_wal_receiver_cannot_decide():
    state, actions, _ = run(spoken(ticks=20, spoke_at=990, receiving=None), rules=GUARDED)
    assert state["held"] == "cannot-decide" and "WAL receiver" in actions[0].message


@pytest.mark.parametrize(
    ("verdict", "held"), [("reachable", "partition"), ("recovering", "veto"), ("unknown", "guard")]
)
def test_a_speaking_region_holds_on_its_guards_verdict(verdict, held):
    state, actions, _ = run(spoken(ticks=60, guard=(verdict, 990)), rules=GUARDED)
    assert state["phase"] == fsm.HELD and state["held"] == held
    assert kinds(actions) == ["page"]


def test_a_speaking_region_whose_guard_is_silent_holds_and_pages():
    obs = spoken(ticks=60)  # the observer's beat speaks; the guard has no report
    state, actions, _ = run(obs, rules=GUARDED)
    assert state["held"] == "guard" and "verdict is stale" in actions[0].message


def test_the_long_path_waits_for_the_guards_own_unreachable_to_last_the_window():
    # The DR side lost the primary at 1000; its own region saw it unreachable only from 1030.
    obs = spoken(ticks=60, guard=("unreachable", 1030))
    state, actions, _ = run(obs[:-20], rules=GUARDED)
    assert state["phase"] == fsm.UNREACHABLE and actions == []
    state, actions, _ = run(obs[-20:], state, rules=GUARDED)
    assert kinds(actions)[0] == "promote" and state["promoted_at"] == 1030 + GUARDED.confirm_seconds


def test_a_guard_far_behind_the_dr_sides_window_is_a_hold_that_pages():
    # Its own region saw the primary unreachable only from 1100: after the DR side's window and
    # GUARD_WAIT more, the wait is a hold, paged; promotion once the guard's window has passed.
    obs = spoken(ticks=60, guard=("unreachable", 1100))
    state, actions, _ = run(obs, rules=GUARDED)
    assert kinds(actions) == ["page", "promote"]
    assert actions[0].subject == "drgen: failover held (guard-window)"
    assert "unreachable for 140 s only" in actions[0].message
    assert state["promoted_at"] == 1100 + GUARDED.confirm_seconds


def test_the_window_starts_again_when_the_guards_recovery_ends():
    during = spoken(ticks=40, guard=("recovering", 990))
    after = [down(1200 + i * 5, spoke_at=1200 + i * 5, guard=("unreachable", 1200, 1200 + i * 5)) for i in range(3)]
    state, _, sentences = run(during + after, rules=GUARDED)
    assert "recovery closed or expired" in sentences[-3]
    assert state["since"] == 1200


def test_a_forwarded_event_whose_end_was_lost_is_closed_by_the_guards_reading():
    # A Multi-AZ failover at 400 whose closing event never reached the DR region; its own
    # region's guard read the closing event (at 520). At 1000 the region falls silent with its
    # primary: the short path, not a veto.
    history = [up(t, spoke_at=t) for t in range(940, 1000, 5)]
    report = ("reachable", 10, 995, {"multi-az-failover": 520.0})
    history += [
        down(t, spoke_at=995, guard=report, events=[("multi-az-failover", 400)], receiving=False)
        for t in range(1000, 1200, 5)
    ]
    state, actions, _ = run(history, rules=GUARDED)
    assert kinds(actions)[0] == "promote"
    assert state["promoted_at"] == 995 + GUARDED.silence_seconds


def test_a_closing_event_older_than_the_forwarded_opening_does_not_close_it():
    history = [up(t, spoke_at=t) for t in range(940, 1000, 5)]
    report = ("reachable", 10, 995, {"multi-az-failover": 300.0})
    history += [
        down(t, spoke_at=995, guard=report, events=[("multi-az-failover", 990)], receiving=False)
        for t in range(1000, 1200, 5)
    ]
    state, actions, _ = run(history, rules=GUARDED)
    assert "promote" not in kinds(actions)
    assert state["held"] == "veto"


@pytest.mark.parametrize(
    ("obs", "sign"),
    [
        (up(1060, replica=AVAILABLE), "the DR side reaches it"),
        (down(1060, receiving=True), "the replica streams WAL from it"),
        (down(1060, guard=("reachable", 900, 1055), spoke_at=1055), "its own region's guard reaches it"),
        (down(1060, heartbeat_at=1050), "its heartbeat is 10 s old"),
    ],
)
def test_a_promotion_no_call_started_is_paused_and_paged_while_the_old_primary_lives(obs, sign):
    state, actions, _ = run([obs], promoting(), rules=GUARDED)
    assert "promote_again" not in kinds(actions)
    pauses = [a for a in actions if a.subject == "drgen: promotion paused, old primary alive"]
    assert len(pauses) == 1 and sign in pauses[0].message
    # Paged through the repage throttle, and the calls resume once nothing says it lives.
    state, actions, _ = run([obs._replace(now=1120)], state, rules=GUARDED)
    assert not [a for a in actions if a.subject == "drgen: promotion paused, old primary alive"]
    state, actions, _ = run([down(1180)], state, rules=GUARDED)
    assert kinds(actions) == ["promote_again"]


def test_a_fenced_old_primary_that_lives_does_not_pause_the_promotion():
    state = dict(fsm.initial_state(), phase=fsm.FENCED, promoted_at=1000.0)
    _, actions, _ = run([down(1100, heartbeat_at=1090)], state)
    assert kinds(actions) == ["promote_again"]


def test_a_forwarded_event_closing_late_does_not_restart_the_window_the_guard_watched():
    # A Multi-AZ failover from 990 to 1010: the guard said `recovering`, then `unreachable`
    # from 1012, having read the closing event; the forwarded opening event arrives late (1050)
    # and its end later still (1100).
    history = [up(t, spoke_at=t) for t in range(940, 990, 5)]
    for t in range(990, 1400, 5):
        guard = ("recovering", 990, t, {}) if t < 1012 else ("unreachable", 1012, t, {"multi-az-failover": 1010.0})
        events = [("multi-az-failover", 990)] if 1050 <= t < 1100 else []
        history.append(down(t, spoke_at=t, guard=guard, events=events))
    state, actions, sentences = run(history, rules=GUARDED)
    restarts = [s for s in sentences if "closed or expired" in s]
    assert len(restarts) == 1  # the guard's own recovery ending, not the forwarded event's
    assert kinds(actions)[0] == "promote"
    assert state["promoted_at"] == 1015 + GUARDED.confirm_seconds


def test_a_recovering_report_its_broken_guard_left_long_ago_does_not_shut_the_short_path():
    # The guard said `recovering` at 600 and broke; the observer's beats kept the region
    # speaking until the outage at 1000: the region fell silent with its primary.
    history = [up(t, spoke_at=t - 5, guard=("recovering", 590, 600)) for t in range(940, 1000, 5)]
    history += [down(t, spoke_at=990, guard=("recovering", 590, 600), receiving=False) for t in range(1000, 1200, 5)]
    state, actions, _ = run(history, rules=GUARDED)
    assert kinds(actions)[0] == "promote"
    assert state["promoted_at"] == 990 + GUARDED.silence_seconds


def test_a_recovering_last_word_shuts_the_short_path():
    history = [up(t, spoke_at=t) for t in range(940, 1000, 5)]
    history += [down(t, spoke_at=990, guard=("recovering", 985, 990), receiving=False) for t in range(1000, 1300, 5)]
    state, actions, _ = run(history, rules=GUARDED)
    assert "promote" not in kinds(actions)
    assert state["held"] == "mute"
    assert "its guard's last word was a recovery under way" in actions[0].message


def test_a_forwarded_recovery_the_guard_did_not_see_end_restarts_the_window():
    # The guard's `unreachable` began at 622, before the forwarded Multi-AZ failover's end at 712
    # (its closing event not among the guard's readings): the end restarts the window.
    history = [up(t, spoke_at=t) for t in range(560, 600, 5)]
    for t in range(600, 1100, 5):
        events = [("multi-az-failover", 662)] if 670 <= t < 720 else []
        history.append(down(t, spoke_at=t, guard=("unreachable", 622, t, {}), events=events))
    state, actions, sentences = run(history, rules=GUARDED)
    assert sum("closed or expired" in s for s in sentences) == 1
    assert state["promoted_at"] >= 720 + GUARDED.confirm_seconds


def test_the_rules_default_to_the_modules_short_window_and_guard_wait():
    assert (RULES.short_confirm, RULES.guard_wait) == (fsm.SHORT_CONFIRM, fsm.GUARD_WAIT)


# --- the end of the primary's commits, for the RPO gate -------------------------------------------


def risk_after(history):
    return fsm.data_at_risk(run(history)[0])


def streamed(t, heard=None):
    return up(t, stream=(True, t if heard is None else heard))


def test_the_stream_found_stopped_after_hearing_the_primary_bounds_the_commits_after_its_last_sign():
    # Samples and a live stream until 995; the primary's region last spoke at 1010 (its guard's
    # `reachable`); the receiver is found stopped at 1040: the primary may have committed until
    # then, unseen.
    history = [streamed(t) for t in range(940, 1000, 5)]
    history += [down(t, stream=(False, None), guard=("reachable", 900, 1010)) for t in (1040, 1045)]
    assert risk_after(history) == 1040 - 995


def test_a_stream_found_quiet_before_it_stopped_had_no_commit_after_its_last_message():
    # The receiver still said `streaming` at 1030 but had heard nothing since 1000 (idle, or
    # waiting out its timeout on a primary gone at 1000): nothing was committed after that.
    history = [streamed(t) for t in range(940, 1000, 5)]
    history += [down(1030, stream=(True, 1000)), down(1040, stream=(False, None))]
    assert risk_after(history) == 1000 - 995


def test_a_guards_report_that_did_not_come_when_due_bounds_nothing():
    # The guard's report at 1010 said the next would come by 1020; none came. A guard that broke
    # or could not write leaves the same silence, so that is no bound: the stream found stopped
    # is, and without it the last sign of life is the end.
    report = ("reachable", 900, 1010, {}, 1020)
    history = [streamed(t) for t in range(940, 1000, 5)]
    assert risk_after(history + [down(1015, stream=(False, None), guard=report)]) == 1015 - 995
    history = [up(t) for t in range(940, 1000, 5)]
    assert risk_after(history + [down(1040, stream=None, guard=report)]) == 1010 - 995


def test_bounds_older_than_a_sign_of_life_do_not_count_and_a_stop_without_a_stream_is_no_bound():
    history = [up(t) for t in range(940, 1000, 5)]
    # A report whose next was due at 990, older than the last sample (995): the sample is the end.
    assert risk_after(history + [down(1040, guard=("unknown", 1000, 985, {}, 990))]) == 0
    # Never found streaming (the state is new, or the receiver never ran): the stop bounds nothing.
    assert risk_after(history + [down(1040, stream=(False, None))]) == 0
    # Found streaming without a last message's time: not hearing it recently, no bound either.
    history = [streamed(t) for t in range(940, 1000, 5)] + [up(1000, stream=(True, None))]
    assert risk_after(history + [down(1040, stream=(False, None))]) == 0


def test_a_guard_that_sees_the_primary_dead_bounds_its_commits_by_then_however_long_it_reports():
    history = [up(t) for t in range(940, 1000, 5)]
    history += [down(t, guard=("unreachable", 1003, t, {}, t + 22)) for t in range(1005, 1200, 5)]
    assert risk_after(history) == 1003 - 995


def test_the_replicas_newest_replayed_commit_is_caught_up_without_a_sample_it_reached():
    # The replica's position is past every sample (the samples stopped); its newest replayed
    # commit (1030) says it has everything up to then.
    history = [up(t) for t in range(940, 1000, 5)]
    history += [down(1040, replica_lsn=500, replayed=1030.0, guard=("reachable", 900, 1035))]
    assert risk_after(history) == 1035 - 1030


def test_without_a_sample_the_commits_at_risk_need_a_bound_on_the_unseen_time():
    # The state item was lost: no sample of the primary. The replica's newest replayed commit
    # and its guard's report still measure; without a bound after the last sign of life, unknown.
    history = [down(t, replica_lsn=None, replayed=1000.0, heartbeat_at=1002, stream=None) for t in (1010, 1015)]
    assert risk_after(history) is None
    report = ("reachable", 900, 1004, {}, 1012)
    history = [down(t, replica_lsn=None, replayed=1000.0, guard=report, stream=None) for t in (1010, 1015)]
    assert risk_after(history) is None
    report = ("unreachable", 1008, 1012, {}, 1020)
    history = [
        down(t, replica_lsn=None, replayed=1000.0, guard=report, heartbeat_at=1002, stream=None) for t in (1010, 1015)
    ]
    assert risk_after(history) == 1008 - 1000
