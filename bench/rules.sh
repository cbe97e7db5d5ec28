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
# Needs wrk and taskset. Every wait is bounded.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
secs=${2:-5}
bin=$(mktemp -d)/pricing-engine
trap 'rm -rf "$(dirname "$bin")"; [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null || true' EXIT
go build -o "$bin" ./cmd/pricing-engine
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
tick=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
results=()
for r in $(seq "$rounds"); do
  for mode in none rules; do
    port=$(free_port)
    args=(--addr "127.0.0.1:$port" --admin-addr "" --loops 1 --log-level warn --drain-delay 0s)
    [ "$mode" = rules ] && args+=(--rules rules/testdata/example.yaml)
    taskset -c 0 "$bin" "${args[@]}" 2>/dev/null &
    pid=$!
    for _ in $(seq 200); do
      curl -s -o /dev/null -H 'Content-Type: application/json' -d '{"product_id":"P-1","user_location":"NY"}' "http://127.0.0.1:$port/api/v1/price" && break
      sleep 0.05 # poll interval while the server starts
    done
    kill -0 "$pid" 2>/dev/null || { echo "bench/rules.sh: the server did not start" >&2; exit 1; }
    t0=$(cpu_ticks "$pid")
    out=$(taskset -c 1 wrk -t1 -c100 -d"${secs}s" -s bench/wrk/post.lua "http://127.0.0.1:$port/api/v1/price")
    t1=$(cpu_ticks "$pid")
    kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
    rps=$(echo "$out" | awk '/^Requests\/sec/ {print $2}')
    reqs=$(echo "$out" | awk '/requests in/ {print $1}')
    errs=$(echo "$out" | awk '/Non-2xx/ {print $NF}')
    us=$(awk -v a="$t0" -v b="$t1" -v n="$reqs" -v hz="$tick" 'BEGIN {printf "%.2f", (b - a) / hz * 1e6 / n}')
    echo "round $r $mode: $rps req/s, server CPU $us us/req, non-2xx ${errs:-0}"
    results+=("$r $mode $rps $us")
  done
done
printf '%s\n' "${results[@]}" | python3 -c '
import sys, statistics as st
rows = [l.split() for l in sys.stdin]
by = lambda m, i: [float(x[i]) for x in rows if x[1] == m]
rn, rr = by("none", 2), by("rules", 2)
cn, cr = by("none", 3), by("rules", 3)
print(f"median req/s: none {st.median(rn):.0f}, rules {st.median(rr):.0f}; per-round rate ratio none/rules median {st.median([a/b for a, b in zip(rn, rr)]):.3f}")
print(f"median server CPU us/req: none {st.median(cn):.2f}, rules {st.median(cr):.2f}; per-round CPU ratio rules/none median {st.median([b/a for a, b in zip(cn, cr)]):.3f}")
'
