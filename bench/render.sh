#!/usr/bin/env bash
# Benchmark: wall time of `drgen render` on the default topology beside `terraform fmt
# -recursive` on that same output, and render time as the model grows (1x, 10x, 100x alarm
# subscribers). Needs hyperfine (Debian) and .tools/terraform (.ci/install). Prints markdown.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cargo build --release --quiet --manifest-path "$root/Cargo.toml" -p drgen
drgen="$root/target/release/drgen"
terraform="${DRGEN_TERRAFORM:-$root/.tools/terraform}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$drgen" render --env-suffix bench --out "$work/default" >/dev/null
echo "### render vs terraform fmt (default topology)"
mkdir -p /dev/shm/drgen-bench-$$
hyperfine -N --warmup 5 --runs 60 --style none --export-markdown "$work/a.md" \
  -n "drgen render, fresh directory (ext4 disk)" --prepare "rm -rf $work/fresh" "$drgen render --env-suffix bench --out $work/fresh" \
  -n "drgen render, fresh directory (tmpfs)" --prepare "rm -rf /dev/shm/drgen-bench-$$/fresh" "$drgen render --env-suffix bench --out /dev/shm/drgen-bench-$$/fresh" \
  -n "drgen render, output already identical (no-op)" --prepare true "$drgen render --env-suffix bench --out $work/default" \
  -n "drgen render --check (no write)" --prepare true "$drgen render --env-suffix bench --out $work/default --check" \
  -n "terraform fmt -recursive" --prepare true "$terraform fmt -recursive $work/default" >/dev/null
rm -rf /dev/shm/drgen-bench-$$
cat "$work/a.md"

echo
echo "### render time as the model grows"
for n in 10 100 1000; do
  python3 - "$n" > "$work/scale-$n.json" <<'PY'
import json, sys
n = int(sys.argv[1])
print(json.dumps({"monitoring": {"alarm_emails": [f"oncall{i}@example.com" for i in range(n)]}}))
PY
  "$drgen" render --env-suffix bench --config "$work/scale-$n.json" --out "$work/scale-$n" >/dev/null
done
# --check renders and compares in full, whatever is on disk: the cost of the rendering itself.
hyperfine -N --warmup 3 --runs 30 --style none --export-markdown "$work/b.md" \
  -n "10 subscribers (x1)" "$drgen render --env-suffix bench --config $work/scale-10.json --out $work/scale-10 --check" \
  -n "100 subscribers (x10)" "$drgen render --env-suffix bench --config $work/scale-100.json --out $work/scale-100 --check" \
  -n "1000 subscribers (x100)" "$drgen render --env-suffix bench --config $work/scale-1000.json --out $work/scale-1000 --check" \
  >/dev/null
cat "$work/b.md"
for n in 10 100 1000; do
  echo "- x$((n / 10)): $(grep -c '^resource "aws_sns_topic_subscription"' "$work/scale-$n/alerts.tf") subscriptions, $(wc -c < "$work/scale-$n/alerts.tf") bytes of alerts.tf"
done
echo
echo "filesystem of $work: $(df -T "$work" | awk 'NR==2 {print $2}')"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/Mem/ {print $2}') GiB"
