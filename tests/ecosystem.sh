#!/usr/bin/env bash
# drgen in its users' tools: the pre-commit hook run by the real pre-commit on a scratch
# repository (passes on fresh output, fails on stale output), the GitHub Actions workflow
# checked by actionlint, the GitLab job checked for the keys GitLab requires.
# Needs .tools/lint (pre-commit, actionlint, PyYAML; .ci/install) and a built drgen.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
lint="$root/.tools/lint/bin"
drgen="$root/target/debug/drgen"
[ -x "$drgen" ] || cargo build --locked --quiet
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "-- actionlint examples/ci/github-actions.yml"
"$lint/actionlint" "$root/examples/ci/github-actions.yml"
# actionlint must reject a planted mistake (an undefined context in an expression).
printf 'on: push\njobs:\n  x:\n    runs-on: ubuntu-24.04\n    steps:\n      - run: echo "${{ nope.value }}"\n' > "$work/bad.yml"
if "$lint/actionlint" "$work/bad.yml" > "$work/bad.log" 2>&1; then
  echo "actionlint accepted a workflow with an undefined context"; exit 1
fi

echo "-- GitLab job keys"
"$lint/python" "$root/tests/ecosystem/gitlab_keys.py" "$root/examples/ci/gitlab-ci.yml"

echo "-- pre-commit hook on a scratch repository"
# The hook repository: this checkout's hook definition, committed as pre-commit wants a rev.
hooks="$work/hooks"
mkdir -p "$hooks"
cp "$root/.pre-commit-hooks.yaml" "$hooks/"
git -C "$hooks" init -q
git -C "$hooks" -c user.name=drgen -c user.email=drgen@localhost add .
git -C "$hooks" -c user.name=drgen -c user.email=drgen@localhost commit -qm hooks
rev=$(git -C "$hooks" rev-parse HEAD)

repo="$work/repo"
mkdir -p "$repo/infra"
git -C "$repo" init -q
"$drgen" init "$repo/infra/drgen.hcl" >/dev/null
"$drgen" render --config "$repo/infra/drgen.hcl" --env-suffix prod --out "$repo/infra/terraform" >/dev/null
cat > "$repo/.pre-commit-config.yaml" <<YAML
repos:
  - repo: $hooks
    rev: $rev
    hooks:
      - id: drgen-render-check
        args: [--config, infra/drgen.hcl, --env-suffix, prod, --out, infra/terraform]
YAML
git -C "$repo" add -A
export PATH="$(dirname "$drgen"):$PATH" PRE_COMMIT_HOME="$work/cache"
(cd "$repo" && "$lint/pre-commit" run --all-files) > "$work/fresh.log" 2>&1 || {
  cat "$work/fresh.log"; echo "the hook failed on fresh output"; exit 1; }
grep -q "drgen output is up to date.*Passed" "$work/fresh.log" || {
  cat "$work/fresh.log"; echo "the hook did not run on fresh output"; exit 1; }

# A hand edit of one rendered file, staged: the hook runs on it and fails.
sed -i 's/^  ttl             = 30$/  ttl = 20/' "$repo/infra/terraform/dns.tf"
git -C "$repo" add infra/terraform/dns.tf
if (cd "$repo" && "$lint/pre-commit" run) > "$work/stale.log" 2>&1; then
  cat "$work/stale.log"; echo "the hook passed on stale output"; exit 1
fi
grep -q "changed: infra/terraform/dns.tf" "$work/stale.log" || {
  cat "$work/stale.log"; echo "the hook failed without naming the stale file"; exit 1; }
echo "ecosystem: 3 passed, 0 failed"
