#!/usr/bin/env bash
# bench/rules.sh: the cost of a realistic rules file (rules/testdata/example.yaml)
# against no rules, in memory, through the binary: for each round, the server
# without and then with --rules (pinned to CPU 0, one event loop) under wrk
# (pinned to CPU 1, 100 keep-alive connections, bench/wrk/post.lua); prints
# each cell's rate and server CPU per request, then the medians and the
# median of the per-round ratios.
#
#   bench/rules.sh [rounds] [seconds]     (defaults 5 and 5)
#
# Needs wrk and taskset. Every wait is bounded. The cell is bench/wrkcell.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
secs=${2:-5}
bin=$(mktemp -d)/pricing-engine
trap 'rm -rf "$(dirname "$bin")"; [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null || true' EXIT
go build -o "$bin" ./cmd/pricing-engine
# shellcheck source=bench/wrkcell.sh
source bench/wrkcell.sh
for r in $(seq "$rounds"); do
  wrk_cell bench/rules.sh "$r" none "$secs" "$bin"
  wrk_cell bench/rules.sh "$r" rules "$secs" "$bin" --rules rules/testdata/example.yaml
done
printf '%s\n' "${wrk_results[@]}" | python3 -c '
import sys, statistics as st
rows = [l.split() for l in sys.stdin]
by = lambda m, i: [float(x[i]) for x in rows if x[1] == m]
rn, rr = by("none", 2), by("rules", 2)
cn, cr = by("none", 3), by("rules", 3)
print(f"median req/s: none {st.median(rn):.0f}, rules {st.median(rr):.0f}; per-round rate ratio none/rules median {st.median([a/b for a, b in zip(rn, rr)]):.3f}")
print(f"median server CPU us/req: none {st.median(cn):.2f}, rules {st.median(cr):.2f}; per-round CPU ratio rules/none median {st.median([b/a for a, b in zip(cn, cr)]):.3f}")
'
