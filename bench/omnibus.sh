#!/usr/bin/env bash
# bench/omnibus.sh: the cost of the price history and of an announced
# reduction, in memory, through the binary. Each round runs the server
# (pinned to CPU 0, one event loop) under wrk (pinned to CPU 1, 100
# keep-alive connections, bench/wrk/post.lua: P-500 x NY) in each mode:
#
#   before     the binary built from git revision $BEFORE (when set), with
#              a rules file without an announced schedule: no history
#   plain      this tree, the same rules file: every price recorded
#   announced  this tree, an announced reduction on every product (all
#              day, every day but 23:59-24:00): every reply carries its
#              prior price
#
# It prints each cell's rate and server CPU per request, then the medians
# and the medians of the per-round ratios against plain.
#
#   BEFORE=<rev> bench/omnibus.sh [rounds] [seconds]     (defaults 5 and 5)
#
# Needs wrk, taskset and git. Every wait is bounded. The cell is
# bench/wrkcell.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
secs=${2:-5}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"; [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null || true; [ -n "${BEFORE:-}" ] && git worktree remove --force "$tmp/before-src" 2>/dev/null || true' EXIT
go build -o "$tmp/new" ./cmd/pricing-engine
modes="plain announced"
if [ -n "${BEFORE:-}" ]; then
  git worktree add --detach "$tmp/before-src" "$BEFORE" >/dev/null 2>&1
  (cd "$tmp/before-src" && go build -o "$tmp/before" ./cmd/pricing-engine)
  modes="before plain announced"
fi
cat > "$tmp/plain.yaml" <<'YAML'
version: "bench-plain"
schedules:
  - {name: elsewhere, products: ["Q-*"], from: "00:00", to: "23:59", multiplier: 0.9}
YAML
cat > "$tmp/announced.yaml" <<'YAML'
version: "bench-announced"
schedules:
  - {name: sale, products: ["P-*"], from: "00:00", to: "23:59", multiplier: 0.9, announce: true}
YAML
# shellcheck source=bench/wrkcell.sh
source bench/wrkcell.sh
for r in $(seq "$rounds"); do
  for mode in $modes; do
    bin=$tmp/new rules=$tmp/plain.yaml
    case $mode in
      before) bin=$tmp/before ;;
      announced) rules=$tmp/announced.yaml ;;
    esac
    wrk_cell bench/omnibus.sh "$r" "$mode" "$secs" "$bin" --rules "$rules"
  done
done
printf '%s\n' "${wrk_results[@]}" | python3 -c '
import sys, statistics as st
rows = [l.split() for l in sys.stdin]
modes = sorted({x[1] for x in rows}, key=["before", "plain", "announced"].index)
by = lambda m, i: [float(x[i]) for x in rows if x[1] == m]
for m in modes:
    print(f"{m}: median {st.median(by(m, 2)):.0f} req/s, {st.median(by(m, 3)):.2f} us of server CPU per request")
base = "plain"
for m in modes:
    if m != base:
        rate = st.median([a / b for a, b in zip(by(m, 2), by(base, 2))])
        cpu = st.median([a / b for a, b in zip(by(m, 3), by(base, 3))])
        print(f"{m}/{base}: median per-round rate ratio {rate:.3f}, CPU ratio {cpu:.3f}")
'
