#!/usr/bin/env bash
# bench/shedcost.sh: what a shed request costs the server against a priced
# one, on the seed-profile path (the quantity that decides whether
# admission control can hold goodput under overload; docs/RELIABILITY.md).
#
#   bench/shedcost.sh
#
# For ROUNDS interleaved rounds, starts bin/pricing-engine --lookup-latency
# seed pinned to CPU 0, twice: with admission control off
# (--queue-target -1ns: every request priced) and with a 1 ms target (the
# lookups alone exceed it, so the controller sheds its maximum, 95 %, with
# a 503 + Retry-After answered before decoding). Each time, bin/loadtest
# --engine epoll (CPU 1) sends RATE req/s on CONNS keep-alive connections
# for 5 s after 3 s of warm-up, and the server's CPU time over the measured
# run (utime + stime from /proc/PID/stat) is divided by the requests sent.
# Knobs: RATE (8000), CONNS (1000), ROUNDS (3), PORT (18700). Bounded:
# about 20 s per round. Needs `make build`.
set -euo pipefail
cd "$(dirname "$0")/.."

rate=${RATE:-8000}
conns=${CONNS:-1000}
rounds=${ROUNDS:-3}
port=${PORT:-18700}
admin=$((port + 1))
tmp=$(mktemp -d)
pid=
cleanup() {
  if [[ -n "$pid" ]]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

cputicks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# run LABEL QUEUE_TARGET: one measured run, one result line.
run() {
  taskset -c 0 bin/pricing-engine --addr "127.0.0.1:$port" --admin-addr "127.0.0.1:$admin" \
    --lookup-latency seed --log-level warn --queue-target "$2" >"$tmp/server.log" 2>&1 &
  pid=$!
  for _ in $(seq 50); do
    curl -sf -o /dev/null "http://127.0.0.1:$admin/readyz" && break
    sleep 0.1
  done
  local url="http://127.0.0.1:$port/api/v1/price"
  # Warm-up: connections opened and the controller settled.
  taskset -c 1 bin/loadtest -engine epoll -tick 500us -url "$url" -rate "$rate" -users "$conns" \
    -duration 3s -warmup 0s -quiet -json /dev/null >/dev/null 2>&1 || true
  local t0 t1
  t0=$(cputicks "$pid")
  taskset -c 1 bin/loadtest -engine epoll -tick 500us -url "$url" -rate "$rate" -users "$conns" \
    -duration 5s -warmup 0s -quiet -json "$tmp/run.json" >/dev/null 2>&1 || true
  t1=$(cputicks "$pid")
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  pid=
  python3 - "$1" "$t0" "$t1" "$(getconf CLK_TCK)" "$tmp/run.json" <<'PY'
import json, sys
label, t0, t1, tck, path = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
r = json.load(open(path))
n = max(r["requests"], 1)
shed = r.get("failures_by_reason", {}).get("status_503", 0)
cpu = (t1 - t0) / tck
print(f"{label:6s} {r['requests']} requests, {100 * shed / n:.1f} % 503, server CPU {cpu:.2f} s: {1e6 * cpu / n:.1f} us/request", file=sys.stderr)
print(f"{1e6 * cpu / n:.3f}")
PY
}

for i in $(seq "$rounds"); do
  echo "round $i ($rate req/s, $conns connections)"
  priced=$(run priced -1ns 2>"$tmp/line") && cat "$tmp/line"
  shed=$(run shed 1ms 2>"$tmp/line") && cat "$tmp/line"
  awk -v p="$priced" -v s="$shed" 'BEGIN {printf "  CPU per request, mostly shed / all priced: %.2f\n", s / p}'
done
