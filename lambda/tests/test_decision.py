"""The full decision table of the promotion rule."""

import pytest

from drgen_lambda.decision import decide

UP, DOWN = True, False


@pytest.mark.parametrize(
    ("probes", "lag", "promote", "why"),
    [
        ([DOWN, DOWN, DOWN], 120.0, True, "exceeds"),
        ([DOWN, DOWN, DOWN], None, True, "missing"),
        ([DOWN, DOWN, DOWN], 60.0, False, "within"),
        ([DOWN, DOWN, DOWN], 5.0, False, "replication is alive"),
        ([UP, UP, UP], 300.0, False, "answered"),
        ([UP, UP, UP], None, False, "answered"),
        ([DOWN, DOWN, UP], 300.0, False, "answered"),
        ([UP, DOWN, DOWN], 300.0, False, "answered"),
        ([DOWN, UP, DOWN], None, False, "answered"),
        ([DOWN, DOWN], 300.0, False, "only 2 of 3"),
        ([], None, False, "only 0 of 3"),
    ],
)
def test_decision_table(probes, lag, promote, why):
    decision = decide(probes, lag, 60.0, 3)
    assert decision.promote is promote
    assert why in decision.reason


def test_an_idle_primary_with_high_lag_is_not_promoted():
    # ReplicaLag can read minutes on an idle primary; a reachable primary wins.
    assert decide([UP, UP, UP], 290.0, 60.0, 3).promote is False


def test_only_the_most_recent_probes_count():
    assert decide([UP, DOWN, DOWN, DOWN], None, 60.0, 3).promote is True
