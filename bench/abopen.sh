#!/usr/bin/env bash
# bench/abopen.sh: servers side by side under one open-loop load at a fixed
# arrival rate (bin/loadtest --engine epoll), in interleaved rounds (A B C,
# A B C, ...), each a fresh process pinned to CPU 0 with the generator on
# CPU 1; prints per round the achieved rate, P95 and the server's CPU µs per
# request over the measured part (utime+stime from /proc/PID/stat, and
# each on its own: user and system time, after
# WARMUP seconds of the same run: connection setup is left out). For
# comparing builds, or one build with different flags, where the CPU per
# request at a given rate matters more than the largest rate.
#
#   bench/abopen.sh ROUNDS SECONDS RATE USERS NAME=BINARY[:ARGS] ...
#   bench/abopen.sh 5 5 10000 2000 \
#     "old=/tmp/old/pricing-engine:--admin-addr 127.0.0.1:0 --lookup-latency seed" \
#     "new=bin/pricing-engine:--admin-addr 127.0.0.1:0 --lookup-latency seed"
#
# Every server gets --addr 127.0.0.1:PORT (a fresh port per cell) before its
# ARGS. SERVER_CPU and CLIENT_CPU override the CPUs, WARMUP the unmeasured
# seconds (default 2), LOADTEST the generator (default bin/loadtest) and
# LOADTEST_ARGS adds to its flags (e.g. "--products 0-9999 --locations
# NY,LA,MIA,SF,CHI,ZZ"). SYSCALLS=1 also counts the server's system calls
# per request over the measured part (perf stat on the syscall
# tracepoints; needs perf and permission to trace the process).
set -uo pipefail
if [[ $# -lt 5 ]]; then
  sed -n '2,20p' "$0" >&2
  exit 2
fi
rounds=$1 dur=$2 rate=$3 users=$4
shift 4
scpu=${SERVER_CPU:-0} ccpu=${CLIENT_CPU:-1} warm=${WARMUP:-2}
lt=${LOADTEST:-bin/loadtest}
body='{"product_id":"P-500","user_location":"NY","is_prime_member":true}'
hz=$(getconf CLK_TCK)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for r in $(seq 1 "$rounds"); do
  for spec in "$@"; do
    name=${spec%%=*} rest=${spec#*=}
    bin=${rest%%:*} args=""
    [[ "$rest" == *:* ]] && args=${rest#*:}
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    # shellcheck disable=SC2086 # ARGS are words
    taskset -c "$scpu" "$bin" --addr "127.0.0.1:$port" $args >"$tmp/server.log" 2>&1 &
    pid=$!
    for _ in $(seq 1 100); do
      curl -fs -o /dev/null -X POST -H 'Content-Type: application/json' -d "$body" "http://127.0.0.1:$port/api/v1/price" && break
      sleep 0.1
    done
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "round $r $name: the server exited:" >&2
      cat "$tmp/server.log" >&2
      continue
    fi
    # shellcheck disable=SC2086 # LOADTEST_ARGS are words
    taskset -c "$ccpu" "$lt" --engine epoll --tick 500us --rate "$rate" --users "$users" \
      --duration "$((warm + dur))s" --warmup "${warm}s" --quiet --json "$tmp/lt.json" \
      --url "http://127.0.0.1:$port/api/v1/price" ${LOADTEST_ARGS:-} >/dev/null 2>&1 &
    lpid=$!
    sleep "$warm"
    read -r u0 s0 < <(awk '{print $14, $15}' "/proc/$pid/stat")
    if [[ -n "${SYSCALLS:-}" ]]; then
      ev=raw_syscalls:sys_enter
      for sc in read write epoll_pwait futex; do ev="$ev,syscalls:sys_enter_$sc"; done
      perf stat -e "$ev" -p "$pid" -o "$tmp/perf.txt" -- sleep "$dur" >/dev/null 2>&1
    fi
    wait "$lpid"
    read -r u1 s1 < <(awk '{print $14, $15}' "/proc/$pid/stat")
    kill "$pid"
    wait "$pid" 2>/dev/null
    read -r n rps p95 fails < <(python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
n = d["requests"]
print(n, round(d["throughput_rps"]), d["latency"]["p95_ms"], d["failures"])
' "$tmp/lt.json" 2>/dev/null || echo "0 - - -")
    # CPU µs per request: user + system, and each on its own
    read -r cpu ucpu scpu_us < <(awk -v u0="$u0" -v s0="$s0" -v u1="$u1" -v s1="$s1" -v n="${n:-0}" -v hz="$hz" 'BEGIN {
      if (n > 0) { k = 1e6 / hz / n; printf "%.1f %.1f %.1f\n", (u1 - u0 + s1 - s0) * k, (u1 - u0) * k, (s1 - s0) * k } else print "- - -" }')
    printf 'round %d  %-12s %8s req/s  p95 %8s  fail %4s  %6s us/req (user %s, system %s)  load %s\n' "$r" "$name" "$rps" "$p95" "$fails" "$cpu" "$ucpu" "$scpu_us" "$(cut -d' ' -f1 /proc/loadavg)"
    if [[ -n "${SYSCALLS:-}" && -s "$tmp/perf.txt" ]]; then
      # syscalls per request: counted over SECONDS, requests over the run's measured part
      awk -v n="${n:-0}" '$2 ~ /sys_enter/ && n > 0 {gsub(",", "", $1); sub(/.*sys_enter_?/, "", $2); printf "    %s %.2f", ($2 == "" ? "all" : $2), $1 / n} END {print ""}' "$tmp/perf.txt"
    fi
  done
done
