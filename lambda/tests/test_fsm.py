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


def test_an_open_recovery_event_vetoes_without_paging_until_it_expires():
    obs = healthy_then_down(ticks=60, events=[("multi-az-failover", 1000)])
    state, actions, _ = run(obs)
    assert state["phase"] == fsm.HELD and state["held"] == "veto"
    assert actions == []
    expired = fsm.Rules(**dict(RULES._asdict(), event_expiry=200))
    state, actions, _ = run(obs, rules=expired)
    assert kinds(actions) == ["page", "promote"]
    assert any("no longer vetoes" in a.message for a in actions)
    assert state["phase"] == fsm.PROMOTING


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
    state, actions, _ = run([down(1300)], state)
    assert state["phase"] == fsm.PROMOTING


def test_a_failed_read_cannot_decide():
    state, actions, _ = run(healthy_then_down(ticks=40, failed=("heartbeat",)))
    assert state["held"] == "cannot-decide" and "heartbeat" in actions[0].message
    state, actions, _ = run(healthy_then_down(ticks=40, replica=None))
    assert state["held"] == "cannot-decide" and "replica" in actions[0].message


def test_manual_mode_pages_the_command_and_dry_run_announces():
    manual = fsm.Rules(**dict(RULES._asdict(), automatic=False))
    state, actions, _ = run(healthy_then_down(ticks=40), rules=manual)
    assert state["held"] == "manual" and RULES.manual_command in actions[0].message
    dry = fsm.Rules(**dict(RULES._asdict(), dry_run=True))
    state, actions, _ = run(healthy_then_down(ticks=40), rules=dry)
    assert state["held"] == "dry-run" and actions[0].subject == "drgen failover dry run"


def test_a_held_decision_pages_again_after_the_repage_interval_and_on_a_new_reason():
    state, actions, _ = run(healthy_then_down(ticks=40, lag=None))
    state, again, _ = run([down(1000 + 200 + 900, lag=None)], state)
    assert kinds(again) == ["page"]
    state, other, _ = run([down(2101, lag=fsm.Lag(10, 10))], state)
    assert state["held"] == "lag-low" and kinds(other) == ["page"]


def test_a_held_primary_that_returns_is_announced():
    state, _, _ = run(healthy_then_down(ticks=40, lag=None))
    state, actions, sentences = run([up(1300)], state)
    assert state["phase"] == fsm.HEALTHY and "reachable again" in actions[0].subject
    assert "no promotion" in sentences[0]


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
    state, actions, _ = run([down(1500), up(1600)], state)
    assert state["phase"] == fsm.FENCED and fsm.writer_is_dr(state)
    assert "accepts connections again" in actions[0].message


def test_a_promoting_monitor_waits_quietly_while_the_old_primary_is_down():
    state, _, _ = run(healthy_then_down(ticks=37))
    state, actions, sentences = run([down(1400)], state)
    assert (state["phase"], actions, sentences) == (fsm.PROMOTING, [], ["waiting for the fence"])


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
