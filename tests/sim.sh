#!/usr/bin/env bash
# The fault simulator: the Lambda package's own code in a simulated account on one clock,
# through generated schedules of faults, every invariant checked on each (tests/sim/). First the
# written-down schedules (each must hold every invariant), then the generated ones. Writes
# target/sim/report.json; fails on any violation. Needs the drgen binary (cargo build) for
# `drgen explain`.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x target/debug/drgen ] || cargo build --locked --quiet
python3 -m pytest -q -p no:cacheprovider tests/sim/test_schedules.py
# Both writer authorities, 10,000 schedules each; the open defects listed in known-open.json are
# reported, anything else fails.
python3 tests/sim/sim.py --schedules "${SIM_SCHEDULES:-10000}" --known tests/sim/known-open.json
