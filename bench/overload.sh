#!/usr/bin/env bash
# bench/overload.sh: admission control under open-loop overload on the
# seed-profile path (issue: "shed instead of queue").
#
#   bench/overload.sh CAPACITY [DURATION]
#
# CAPACITY is the largest open-loop rate (req/s) the server holds with
# P95 < 150 ms (the seed ladder: bench/run.sh, or
# go run ./bench/cmd/benchrun --seed-ladder --servers pricing-engine).
# The script starts bin/pricing-engine --lookup-latency seed pinned to CPU 0
# and drives bin/loadtest pinned to CPU 1 in open loop: CAPACITY for
# DURATION (default 10s), then 2x, 3x and 5x CAPACITY for DURATION each,
# every one followed by 3 s at half CAPACITY. For each phase it prints the
# offered rate, the goodput (200s per second) and its ratio to the
# at-capacity goodput, the share answered 503, the P99 of accepted
# requests counted from their intended send times, the peak RSS of the
# server and its ratio to the at-capacity peak, and for the half-capacity
# phase after it the P99 of its first 2 s (recovery). Bounded: about
# 5 x (DURATION + 4 s). Needs `make build` first.
set -euo pipefail
cd "$(dirname "$0")/.."

cap=${1:?usage: bench/overload.sh CAPACITY [DURATION]}
dur=${2:-10s}
port=${PORT:-18600}
bin=bin
users=${USERS:-6000}
tmp=$(mktemp -d)
pid=
cleanup() {
  [[ -n "$pid" ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT

taskset -c 0 "$bin/pricing-engine" --addr "127.0.0.1:$port" --admin-addr "127.0.0.1:$((port + 1))" \
  --lookup-latency seed --log-level warn --drain-delay 0s >"$tmp/server.log" 2>&1 &
pid=$!
for _ in $(seq 100); do
  curl -sf -o /dev/null "http://127.0.0.1:$((port + 1))/readyz" && break
  sleep 0.1
done

# rss_watch FILE: sample the server's VmRSS (kB) every 100 ms into FILE.
rss_watch() {
  while kill -0 "$pid" 2>/dev/null; do
    awk '/VmRSS/ {print $2}' "/proc/$pid/status" >>"$1" 2>/dev/null || true
    sleep 0.1
  done
}

# phase NAME RATE DURATION [WARMUP]: one open-loop phase (requests
# completing in the first WARMUP, default 1s, are left out: the
# generator's connections are being opened); JSON into $tmp/NAME.json.
phase() {
  : >"$tmp/$1.rss"
  rss_watch "$tmp/$1.rss" &
  local watch=$!
  taskset -c 1 "$bin/loadtest" -url "http://127.0.0.1:$port/api/v1/price" -rate "$2" -users "$users" \
    -duration "$3" -warmup "${4:-1s}" -quiet -json "$tmp/$1.json" -timeout 10s >/dev/null 2>&1 || true
  kill "$watch" 2>/dev/null; wait "$watch" 2>/dev/null || true
}

phase warm "$((cap / 2))" 3s 0s
phase capacity "$cap" "$dur"
for k in 2 3 5; do
  phase "x$k" "$((cap * k))" "$dur"
  phase "x$k-after" "$((cap / 2))" 2s 0s
done

python3 - "$tmp" "$cap" <<'PY'
import json, sys, os
tmp, cap = sys.argv[1], float(sys.argv[2])
def load(name):
    r = json.load(open(os.path.join(tmp, name + ".json")))
    rss = [int(x) for x in open(os.path.join(tmp, name + ".rss")).read().split() if x.strip()]
    return r, max(rss or [0]) / 1024
base, base_rss = load("capacity")
base_good = base["successes"] / base["elapsed_seconds"]
print(f"capacity given: {cap:.0f} req/s; at capacity: goodput {base_good:.0f} req/s, "
      f"P99 {base['latency']['p99_ms']:.1f} ms, peak RSS {base_rss:.1f} MiB")
print("| load | offered req/s | goodput req/s | vs capacity | 503 share | accepted P99 ms | peak RSS MiB | vs capacity | P99 ms of the next 2 s at 0.5x |")
print("|---|---|---|---|---|---|---|---|---|")
for k in (2, 3, 5):
    r, rss = load(f"x{k}")
    a, _ = load(f"x{k}-after")
    good = r["successes"] / r["elapsed_seconds"]
    shed = r.get("failures_by_reason", {}).get("status_503", 0)
    other = r["failures"] - shed
    print(f"| {k}x | {cap * k:.0f} | {good:.0f} | {good / base_good:.2f}x | {100 * shed / max(r['requests'], 1):.1f} % | "
          f"{r['latency']['p99_ms']:.1f} | {rss:.1f} | {rss / max(base_rss, 1e-9):.2f}x | {a['latency']['p99_ms']:.1f}"
          + (f" (other failures: {other})" if other else "") + " |")
PY
