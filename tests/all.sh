#!/usr/bin/env bash
# Runs every test of the project. Needs the tools that .ci/install installs.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== rust: format, lints, unit, snapshot and CLI tests"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
INSTA_UPDATE=no cargo test --workspace --locked

echo "== terraform fmt, terraform validate, checkov on every example"
cargo build --workspace --locked --quiet
python3 tests/verify/verify.py
