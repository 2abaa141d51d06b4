#!/usr/bin/env bash
# The failover drill: the Lambda package's own code against two real PostgreSQL 15 servers in
# streaming replication on loopback, through every scenario of RUNBOOK.md. Writes
# target/drill/report.json; exits non-zero when any scenario's outcome differs from what it
# must show. Needs the drgen binary (cargo build) for `drgen explain`.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x target/debug/drgen ] || cargo build --locked --quiet
python3 tests/drill/drill.py
