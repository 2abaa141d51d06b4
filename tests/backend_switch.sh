#!/usr/bin/env bash
# Terraform state during an outage: the rendered README's switch to the DR copy of the state
# and back, run command for command with Terraform's own S3 backend against moto in server
# mode on 127.0.0.1, over two outages. First the procedure that RUNBOOK.md gave before is run
# and must fail where it did: the S3 backend keeps an MD5 digest of each state object in the
# lock table (item `<bucket>/<key>-md5`) and refuses an object that does not match it.
# https://developer.hashicorp.com/terraform/language/backend/s3
# https://github.com/hashicorp/terraform/blob/v1.11.4/internal/backend/remote-state/s3/client.go
#
# Needs Terraform >= 1.6.1 (see below; the procedure itself holds for 1.5 too), the AWS CLI and
# moto_server (lambda/requirements-dev.txt). Without Terraform it says so and passes, except
# in CI (CI=true), where it fails.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

section="Terraform state during an outage"
suffix=switch

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# --- Terraform >= 1.6.1: $TERRAFORM, /usr/local/bin/terraform, any on PATH, then .tools -------
# Before 1.6 the S3 backend took its endpoints from other settings than the AWS SDKs' own
# AWS_ENDPOINT_URL, which this test relies on (it was written against 1.11.4; a Terraform that
# ignored it would meet the dead proxy, not AWS). 1.6.0 rejects the KMS alias that backend.tf
# names (README.md, "State backend").
terraform_version() {
  "$1" version -json 2>/dev/null | python3 -c 'import json, sys; print(json.load(sys.stdin)["terraform_version"])'
}
recent_enough() {
  local major minor patch
  IFS=.- read -r major minor patch _ <<<"$1"
  [ $((major * 1000000 + minor * 1000 + patch)) -ge 1006001 ]
}
terraform_bin=""
found=()
for candidate in "${TERRAFORM:-}" /usr/local/bin/terraform $(type -ap terraform) "$repo/.tools/terraform"; do
  [ -n "$candidate" ] && [ -x "$candidate" ] || continue
  version=$(terraform_version "$candidate") || continue
  found+=("$candidate $version")
  if recent_enough "$version"; then
    terraform_bin=$candidate
    break
  fi
done
if [ -z "$terraform_bin" ]; then
  why="no Terraform >= 1.6.1 (looked at \$TERRAFORM, /usr/local/bin/terraform, PATH, .tools; found: ${found[*]:-none})"
  if [ "${CI:-}" = true ]; then
    fail "$why"
  fi
  echo "backend switch: NOT RUN: $why"
  exit 0
fi
for tool in aws moto_server; do
  command -v "$tool" >/dev/null || fail "$tool is missing: bash .ci/install installs it"
done

work=$(mktemp -d)
source tests/backend/moto.sh
cleanup() {
  moto_stop
  rm -rf "$work"
}
trap cleanup EXIT

# The documented commands say `terraform` and `aws`: the chosen Terraform comes first on PATH.
mkdir "$work/bin"
ln -s "$terraform_bin" "$work/bin/terraform"
export PATH="$work/bin:$PATH"
: >"$work/terraformrc"
export TF_CLI_CONFIG_FILE="$work/terraformrc"
echo "backend switch: $(terraform version | head -n 1), $(aws --version 2>&1)"

# --- the rendering: its backend files are used as they are, its README gives the commands ---
cargo build --locked --quiet # the README below must come from this tree
target/debug/drgen render --env-suffix "$suffix" --out "$work/render" >/dev/null
readme="$work/render/README.md"
value() { # value FILE NAME: a string attribute of backend.tf or backend-dr.hcl
  sed -n "s/^ *$2 *= *\"\(.*\)\"\$/\1/p" "$work/render/$1"
}
bucket=$(value backend.tf bucket)
key=$(value backend.tf key)
region=$(value backend.tf region)
kms_alias=$(value backend.tf kms_key_id)
table=$(value backend.tf dynamodb_table)
dr_bucket=$(value backend-dr.hcl bucket)
dr_region=$(value backend-dr.hcl region)
dr_kms_alias=$(value backend-dr.hcl kms_key_id)
for name in bucket key region kms_alias table dr_bucket dr_region dr_kms_alias; do
  [ -n "${!name}" ] || fail "no $name in the rendered backend files"
done
[ "$(value backend-dr.hcl key)" = "$key" ] || fail "backend-dr.hcl names another key"
[ "$(value backend-dr.hcl dynamodb_table)" = "$table" ] || fail "backend-dr.hcl names another lock table"
export STATE_BUCKET=$bucket STATE_KEY=$key STATE_REGION=$region LOCK_TABLE=$table
export DR_STATE_BUCKET=$dr_bucket DR_STATE_REGION=$dr_region DR_STATE_KMS_ALIAS=$dr_kms_alias
account() {
  python3 tests/backend/account.py "$@"
}

moto_start "$work/moto.log"
echo "backend switch: moto at $MOTO_ENDPOINT; state $key in $bucket ($region) and $dr_bucket ($dr_region)"

# --- a root with the rendered backend and one terraform_data resource (no provider) ---------
root=""
new_root() {
  root="$work/$1"
  mkdir "$root"
  cp "$work/render/backend.tf" "$work/render/backend-dr.hcl" "$root/"
  moto_reset
  account create
}
set_input() {
  printf 'resource "terraform_data" "marker" {\n  input = "%s"\n}\n' "$1" >"$root/main.tf"
}
tf() {
  (cd "$root" && timeout 300 terraform "$@" -no-color </dev/null)
}
apply() {
  set_input "$1"
  tf apply -auto-approve -input=false -lock-timeout=60s >"$work/apply.log" 2>&1 || {
    cat "$work/apply.log" >&2
    fail "terraform apply of $1"
  }
}
# Commands as an operator pastes them: under bash -e in the root, bounded in time; the
# output goes to run.log.
paste() {
  printf '  $ %s\n' "${1//$'\n'/$'\n'  $ }"
  (cd "$root" && timeout 180 bash -euo pipefail -c "$1" </dev/null >"$work/run.log" 2>&1)
}
run() {
  paste "$1" || {
    cat "$work/run.log" >&2
    fail "the commands above failed"
  }
}
# The commands of one step of the rendered README's procedure.
procedure() {
  python3 tests/backend/procedure.py "$readme" "$section" "$1" || fail "README: no commands for \"$1\""
}
documented() {
  local commands
  commands=$(procedure "$1")
  echo "- README, \"$1\":"
  run "$commands"
}
# `terraform plan -detailed-exitcode` must say "no changes" (0): the state read is the newest.
plan_clean() {
  local code=0
  tf plan -detailed-exitcode -input=false -lock-timeout=60s >"$work/plan.log" 2>&1 || code=$?
  if [ "$code" -ne 0 ]; then
    cat "$work/plan.log" >&2
    fail "plan after $1 exited $code, not 0 (no changes)"
  fi
  echo "  plan: no changes ($1)"
}
# The old procedure's commands must be refused on the digest: `terraform init` itself reads the
# state and fails, or else the next `terraform plan` does.
digest_error="state data in S3 does not have the expected content"
refused() { # refused WHY COMMANDS
  local code=0 step="its commands"
  paste "$2" || code=$?
  if [ "$code" -eq 0 ]; then
    step="terraform plan"
    tf plan -detailed-exitcode -input=false >"$work/run.log" 2>&1 || code=$?
  fi
  if [ "$code" -eq 0 ] || ! grep -q "$digest_error" "$work/run.log"; then
    cat "$work/run.log" >&2
    fail "$step exited $code without the digest error: the old procedure was expected to fail ($1)"
  fi
  echo "  refused by $step, as expected: $digest_error ($1)"
}
started=$SECONDS

# The procedure RUNBOOK.md gave before, with this rendering's names.
old_switch="terraform init -reconfigure -backend-config=backend-dr.hcl"
old_switch_back="aws s3 cp --region $dr_region s3://$dr_bucket/$key ./dr.tfstate
aws s3 cp --region $region ./dr.tfstate s3://$bucket/$key \\
  --sse aws:kms --sse-kms-key-id $kms_alias
terraform init -reconfigure"

# Normal operation, then the primary region fails and Terraform runs from the DR copy.
first_outage() {
  tf init -input=false >/dev/null
  apply v1
  account replicate
  echo "- outage 1: switch to the DR copy"
  "$@"
  apply v2
  account expect dr=v2 primary=v1
}

echo "== old procedure, outage 1: copy the DR state back by hand"
new_root old-copy-back
first_outage run "$old_switch"
echo "- switch back:"
refused "the hand copy: the digest of the primary copy is the one from before the outage" "$old_switch_back"
account expect primary=v2

echo "== the README's procedure over two outages"
new_root documented
first_outage documented "Switch to the DR copy"
documented "Switch back"
account expect primary=v2
plan_clean "switching back after outage 1"
account replicate
apply v3
account replicate
account expect dr=v3
[ "$(account digest dr)" != none ] || fail "no DR digest left from outage 1: the next step would prove nothing"
echo "- outage 2: the old switch to the DR copy first:"
refused "replication replaced the DR copy under the digest outage 1 left" "$old_switch"
echo "- then the README's:"
documented "Switch to the DR copy"
plan_clean "switching to the DR copy in outage 2"
apply v4
account expect dr=v4 primary=v3
documented "Switch back"
account expect primary=v4
plan_clean "switching back after outage 2"
[ ! -e "$root/dr.tfstate" ] || fail "the README leaves dr.tfstate behind"

echo "== the README's switch back after a write that never replicated"
new_root lost-write
tf init -input=false >/dev/null
apply v1
account replicate
apply v1-late # the outage begins before replication copies this one
account expect dr=v1 primary=v1-late
documented "Switch to the DR copy"
apply v2
commands=$(procedure "Switch back")
echo "- README, \"Switch back\":"
code=0
paste "$commands" || code=$?
if [ "$code" -eq 0 ] || ! grep -q "cannot overwrite existing state with serial" "$work/run.log"; then
  cat "$work/run.log" >&2
  fail "the switch back exited $code without refusing to overwrite the write that never replicated"
fi
echo "  refused, as the README says: cannot overwrite existing state with the same serial"
account expect primary=v1-late dr=v2

echo "backend switch: passed in $((SECONDS - started)) s"
