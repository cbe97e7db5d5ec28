#!/usr/bin/env bash
# bench/overload.sh: admission control under open-loop overload on the
# seed-profile path, with a verdict per phase.
#
#   bench/overload.sh [CAPACITY]
#
# Starts bin/pricing-engine --lookup-latency seed pinned to CPU 0 and, by
# default, inside a cgroup v1 CPU quota of QUOTA cores (default 0.2: 2 ms
# per 10 ms period) so that 5x its capacity fits one generator core; load
# comes from bin/loadtest --engine epoll --tick 500us (open loop, latency
# from each request's due time) pinned to CPU 1. Steps:
#   1. warm: 3 s at START/2 req/s;
#   2. capacity search under the same quota (unless CAPACITY is given):
#      STEP_DURATION runs from START req/s up by x1.25 while the server
#      holds the rate (goodput >= 95 % of offered, at most 0.5 % failed,
#      P99 of the 200s <= 150 ms); C is the goodput of the last held step;
#      every run but the C/2 ones leaves out its first 3 s (WARMUP): the
#      generator opens its CONNS connections then, which costs the server
#      about 0.1-0.25 ms of CPU each, seconds under the quota;
#   3. C for DURATION (RSS baseline), then 2x, 3x, 5x C for DURATION each,
#      each followed by 4 s at C/2 (recovery, 500 ms intervals).
# Verdict per overload phase (PASS/FAIL with the numbers): P99 of the 200s
# <= 150 ms, goodput >= 0.8 C, Retry-After on every 503 of a curl sample
# taken during the phase, peak RSS <= 1.5x the at-capacity peak, and the
# C/2 phase after it back to normal (every 500 ms interval's P99 within
# 1.5x + 5 ms of the warm phase's, no failure) within 2 s of the last
# overload reply. Exit 1 if a 3x target fails.
# Knobs: QUOTA (cores, "off" for no cgroup), PERIOD_US (10000), START
# (1000), DURATION (10s), STEP_DURATION (6s), CONNS (1000), PORT (18600),
# EXTRA_SERVER_ARGS, BIN (the server binary, default bin/pricing-engine). Bounded: about 3 min. Needs `make build` (or
# go build -o bin/ ./cmd/pricing-engine ./cmd/loadtest) and, for the quota,
# a writable /sys/fs/cgroup/cpu (cgroup v1).
set -euo pipefail
cd "$(dirname "$0")/.."

capgiven=${1:-}
quota=${QUOTA:-0.2}
period=${PERIOD_US:-10000}
start=${START:-1000}
dur=${DURATION:-10s}
step=${STEP_DURATION:-6s}
conns=${CONNS:-1000}
port=${PORT:-18600}
admin=$((port + 1))
tmp=$(mktemp -d)
pid=
cg=
cleanup() {
  if [[ -n "$pid" ]]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  [[ -n "$cg" ]] && rmdir "$cg" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

pre=()
if [[ "$quota" != off ]]; then
  cg=/sys/fs/cgroup/cpu/pricing-overload-$$
  mkdir "$cg"
  echo "$period" >"$cg/cpu.cfs_period_us"
  awk -v q="$quota" -v p="$period" 'BEGIN {printf "%d\n", q * p}' >"$cg/cpu.cfs_quota_us"
  echo "server cgroup $cg: cpu.cfs_quota_us $(cat "$cg/cpu.cfs_quota_us") per cpu.cfs_period_us $period"
  # The shell joins the cgroup, then becomes the server.
  pre=(sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$cg")
fi
# shellcheck disable=SC2086
"${pre[@]}" taskset -c 0 "${BIN:-bin/pricing-engine}" --addr "127.0.0.1:$port" --admin-addr "127.0.0.1:$admin" \
  --lookup-latency seed --log-level warn --drain-delay 0s ${EXTRA_SERVER_ARGS:-} >"$tmp/server.log" 2>&1 &
pid=$!
for _ in $(seq 100); do
  curl -sf -o /dev/null "http://127.0.0.1:$admin/readyz" && break
  sleep 0.1
done
curl -sf -o /dev/null "http://127.0.0.1:$admin/readyz" || { cat "$tmp/server.log"; exit 1; }
if [[ -n "$cg" ]] && grep -qx "$pid" "$cg/cgroup.procs"; then echo "server pid $pid is in the cgroup"; fi

rss_watch() {
  while kill -0 "$pid" 2>/dev/null; do
    awk '/VmRSS/ {print $2}' "/proc/$pid/status" >>"$1" 2>/dev/null || true
    sleep 0.1
  done
}

# probe NAME: up to 40 price requests by curl, one per 50 ms, recording
# each 503's Retry-After header (a sample of the phase's rejections).
probe() {
  for _ in $(seq 40); do
    curl -s -m 2 -o /dev/null -D - -H 'Content-Type: application/json' \
      -d '{"product_id":"P-100","user_location":"NY","is_prime_member":false}' \
      "http://127.0.0.1:$port/api/v1/price" | tr -d '\r' |
      awk 'NR == 1 {s = $2} tolower($1) == "retry-after:" {r = 1} END {if (s == 503) print (r ? "with" : "without")}' >>"$tmp/$1.probe" || true
    sleep 0.05
  done
}

# phase NAME RATE DURATION [WARMUP]: one open-loop run; JSON into
# $tmp/NAME.json, RSS samples into $tmp/NAME.rss, end time into NAME.end.
phase() {
  : >"$tmp/$1.rss"
  : >"$tmp/$1.probe"
  rss_watch "$tmp/$1.rss" &
  local watch=$! pr=
  if [[ "$1" == x? ]]; then probe "$1" & pr=$!; fi
  date +%s.%N >"$tmp/$1.start"
  taskset -c 1 bin/loadtest -engine epoll -tick 500us -url "http://127.0.0.1:$port/api/v1/price" -rate "$2" \
    -users "$conns" -duration "$3" -warmup "${4:-3s}" -interval 500ms -quiet -json "$tmp/$1.json" -timeout 10s \
    >/dev/null 2>&1 || true
  date +%s.%N >"$tmp/$1.end"
  kill "$watch" 2>/dev/null; wait "$watch" 2>/dev/null || true
  if [[ -n "$pr" ]]; then wait "$pr" 2>/dev/null || true; fi
}

# held NAME RATE: prints the goodput if the run held RATE, else nothing.
held() {
  python3 - "$tmp/$1.json" "$2" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); rate = float(sys.argv[2])
good = r["successes"] / max(r["elapsed_seconds"] - r["warmup_seconds"], 1e-9)
p99 = (r.get("latency_200") or {}).get("p99_ms", 1e9)
print(f"  step {rate:.0f} req/s: goodput {good:.0f}, failures {r['failures']}, P99 of 200s {p99:.1f} ms", file=sys.stderr)
if r["failures"] <= 0.005 * r["requests"] and good >= 0.95 * rate and p99 <= 150:
    print(f"{good:.0f}")
PY
}

throttled() { if [[ -n "$cg" ]]; then awk '/nr_throttled/ {print $2}' "$cg/cpu.stat"; else echo 0; fi; }

phase warm "$((start / 2))" 3s 0s
t0=$(throttled)
if [[ -n "$capgiven" ]]; then
  cap=$capgiven
else
  echo "capacity search (same server, same quota), $step per step:"
  rate=$start cap=0
  for _ in $(seq 12); do
    phase "step$rate" "$rate" "$step"
    g=$(held "step$rate" "$rate")
    [[ -z "$g" ]] && break
    cap=$g
    rate=$((rate * 5 / 4))
  done
  [[ "$cap" -gt 0 ]] || { echo "the server did not hold $start req/s: lower START"; exit 1; }
fi
echo "capacity C = $cap req/s; periods throttled during the search: $(($(throttled) - t0))"
phase capacity "$cap" "$dur"
for k in 2 3 5; do
  phase "x$k" "$((cap * k))" "$dur"
  phase "x$k-after" "$((cap / 2))" 4s 0s
done
echo "server CPU periods throttled in total: $(throttled)"
echo "rejections by reason: $(curl -s "http://127.0.0.1:$admin/metrics" | grep '^pricing_requests_rejected_total' | tr '\n' ' ')"

python3 - "$tmp" "$cap" <<'PY'
import json, sys, os
tmp, cap = sys.argv[1], float(sys.argv[2])
def f(name, ext): return os.path.join(tmp, name + ext)
def load(name):
    r = json.load(open(f(name, ".json")))
    rss = [int(x) for x in open(f(name, ".rss")).read().split() if x.strip()]
    return r, max(rss or [0]) / 1024
def good(r): return r["successes"] / max(r["elapsed_seconds"] - r["warmup_seconds"], 1e-9)
def p99(r): return (r.get("latency_200") or {}).get("p99_ms", float("nan"))
warm, _ = load("warm")
normal = 1.5 * warm["latency"]["p99_ms"] + 5
base, base_rss = load("capacity")
print(f"at capacity: offered {cap:.0f}, goodput {good(base):.0f} req/s, P99 {p99(base):.1f} ms, peak RSS {base_rss:.1f} MiB; "
      f"normal at C/2: P99 <= {normal:.1f} ms")
fail3 = False
for k in (2, 3, 5):
    r, rss = load(f"x{k}")
    a, _ = load(f"x{k}-after")
    g = good(r)
    shed = r.get("failures_by_reason", {}).get("status_503", 0)
    other = r["failures"] - shed
    probes = open(f(f"x{k}", ".probe")).read().split()
    without = probes.count("without")
    gap = float(open(f(f"x{k}-after", ".start")).read()) - float(open(f(f"x{k}", ".end")).read())
    last_bad = 0.0
    for s in a.get("series", []):
        if s["failures"] > 0 or s["p99_ms"] > normal:
            last_bad = s["t_seconds"]
    rec = gap + last_bad
    checks = [
        (p99(r) <= 150, f"P99 of 200s {p99(r):.1f} ms (<= 150)"),
        (g >= 0.8 * cap, f"goodput {g:.0f} req/s = {g / cap:.2f} C (>= 0.8)"),
        (without == 0 and other == 0, f"Retry-After on {len(probes) - without} of {len(probes)} sampled 503s, {other} non-503 failures"),
        (rss <= 1.5 * base_rss, f"peak RSS {rss:.1f} MiB = {rss / max(base_rss, 1e-9):.2f}x (<= 1.5)"),
        (rec <= 2, f"back to normal after {rec:.1f} s (<= 2)"),
    ]
    ok = all(c for c, _ in checks)
    fail3 |= k == 3 and not ok
    print(f"{k}x ({cap * k:.0f} req/s offered, {100 * shed / max(r['requests'], 1):.1f} % 503): "
          f"{'PASS' if ok else 'FAIL'}: " + "; ".join(("" if c else "FAIL ") + t for c, t in checks))
sys.exit(1 if fail3 else 0)
PY
