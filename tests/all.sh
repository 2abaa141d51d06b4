#!/usr/bin/env bash
# Runs every test of the project. Needs the tools that .ci/install installs.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== rust: format, lints, unit, snapshot and CLI tests"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
INSTA_UPDATE=no cargo test --workspace --locked

echo "== lambda: lint, Python 3.9 compatibility, tests against moto and PostgreSQL 15, 100 % branch coverage"
(
  cd lambda
  python3 -m ruff check .
  python3 -m ruff format --check .
  # vermin has no `python -m` entry; pip puts its script beside the interpreter.
  "$(python3 -c 'import os, sys; print(os.path.dirname(sys.executable))')/vermin" \
    --target=3.9- --no-tips --violations drgen_lambda
  python3 -m pytest -q -p no:cacheprovider --cov --cov-branch --cov-report=term-missing --cov-fail-under=100
)

echo "== fault simulator: the package's code under 10,000 generated schedules, every invariant checked"
python3 -m ruff check --config lambda/pyproject.toml --extend-ignore S,PLR,PLW,E501 tests/sim
python3 -m ruff format --config lambda/pyproject.toml --check tests/sim
cargo build --locked --quiet
bash tests/sim.sh

echo "== failover drill: the package's code against two real PostgreSQL 15 servers"
python3 -m ruff check --config lambda/pyproject.toml --extend-ignore S,PLR,PLW,E501 tests/drill
python3 -m ruff format --config lambda/pyproject.toml --check tests/drill
cargo build --locked --quiet
bash tests/drill.sh

echo "== Terraform state during an outage: the README's switch to the DR copy and back, with Terraform's S3 backend against moto"
python3 -m ruff check --config lambda/pyproject.toml tests/backend
python3 -m ruff format --config lambda/pyproject.toml --check tests/backend
bash tests/backend_switch.sh

echo "== the rendered RUNBOOK of every example: every command run (the AWS CLI against moto, drgen), DR-only sections checked per endpoint"
python3 -m ruff check --config lambda/pyproject.toml tests/runbook
python3 -m ruff format --config lambda/pyproject.toml --check tests/runbook
cargo build --locked --quiet
python3 -m pytest -q -p no:cacheprovider tests/runbook

echo "== terraform fmt, terraform validate, checkov on every example"
python3 -m ruff check --config lambda/pyproject.toml --extend-ignore S,PLR,PLW,E501 tests/verify/test_find_terraform.py
python3 -m pytest -q -p no:cacheprovider tests/verify/test_find_terraform.py
cargo build --workspace --locked --quiet
python3 tests/verify/verify.py

echo "== pre-commit hook, CI recipes"
bash tests/ecosystem.sh
