"""The promotion rule, as a pure function.

Promote only when the primary failed every one of the required consecutive probes from the
DR side AND the replica's lag is above the threshold or missing. Lag alone is not enough:
ReplicaLag can read minutes on an idle primary, and promoting the replica of a live primary
splits the database in two.
"""

from collections.abc import Sequence
from typing import NamedTuple, Optional


class Decision(NamedTuple):
    promote: bool
    reason: str


def decide(probes: Sequence[bool], lag: Optional[float], lag_threshold: float, required: int) -> Decision:
    """`probes` holds True for each probe that reached the primary, oldest first."""
    recent = list(probes)[-required:]
    if len(recent) < required:
        return Decision(False, f"only {len(recent)} of {required} probes ran")
    if any(recent):
        return Decision(False, "the primary answered a probe")
    if lag is None:
        return Decision(True, f"the primary failed {required} consecutive probes and replica lag is missing")
    if lag > lag_threshold:
        return Decision(
            True,
            f"the primary failed {required} consecutive probes and "
            f"replica lag {lag:.0f} s exceeds {lag_threshold:.0f} s",
        )
    return Decision(
        False,
        f"the primary failed {required} probes but replica lag {lag:.0f} s is within {lag_threshold:.0f} s: "
        "replication is alive",
    )
