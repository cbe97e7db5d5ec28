#!/usr/bin/env bash
# bench/ab.sh: servers side by side under one wrk load, in interleaved rounds
# (A B C, A B C, ...), each a fresh process pinned to CPU 0 with wrk on CPU 1;
# prints req/s and the server's CPU µs per request (utime+stime from
# /proc/PID/stat) per round. For comparing two builds, or one build with
# different flags; docs/BENCHMARKS.md says where it was used.
#
#   bench/ab.sh ROUNDS SECONDS SCRIPT CONNS NAME=BINARY[:ARGS] ...
#   bench/ab.sh 3 5 bench/wrk/close.lua 100 \
#     "old=/tmp/old/pricing-engine:--admin-addr 127.0.0.1:0 --lookup-latency none" \
#     "new=bin/pricing-engine:--admin-addr 127.0.0.1:0 --lookup-latency none"
#
# Every server gets --addr 127.0.0.1:PORT (a fresh port per cell) before its
# ARGS. SERVER_CPU and CLIENT_CPU override the CPUs.
set -uo pipefail
if [[ $# -lt 5 ]]; then
  sed -n '2,14p' "$0" >&2
  exit 2
fi
rounds=$1 dur=$2 script=$3 conns=$4
shift 4
scpu=${SERVER_CPU:-0} ccpu=${CLIENT_CPU:-1}
body='{"product_id":"P-500","user_location":"NY","is_prime_member":true}'
port=$((20000 + RANDOM % 20000))
for r in $(seq 1 "$rounds"); do
  for spec in "$@"; do
    name=${spec%%=*} rest=${spec#*=}
    bin=${rest%%:*} args=""
    [[ "$rest" == *:* ]] && args=${rest#*:}
    port=$((port + 1))
    # shellcheck disable=SC2086 # ARGS are words
    taskset -c "$scpu" "$bin" --addr "127.0.0.1:$port" $args >/dev/null 2>&1 &
    pid=$!
    for _ in $(seq 1 100); do
      curl -fs -o /dev/null -X POST -H 'Content-Type: application/json' -d "$body" "http://127.0.0.1:$port/api/v1/price" && break
      sleep 0.1
    done
    url="http://127.0.0.1:$port/api/v1/price"
    taskset -c "$ccpu" wrk -t1 -c"$conns" -d1s -s "$script" "$url" >/dev/null 2>&1
    t0=$(awk '{print $14 + $15}' "/proc/$pid/stat")
    out=$(taskset -c "$ccpu" wrk -t1 -c"$conns" -d"${dur}s" -s "$script" "$url" 2>&1)
    t1=$(awk '{print $14 + $15}' "/proc/$pid/stat")
    kill "$pid"
    wait "$pid" 2>/dev/null
    n=$(awk '/requests in/ {print $1}' <<<"$out")
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    errs=$(grep -E 'Socket errors|Non-2xx' <<<"$out" | tr '\n' ' ')
    hz=$(getconf CLK_TCK)
    cpu=$(awk -v a="$t0" -v b="$t1" -v n="${n:-0}" -v hz="$hz" 'BEGIN { if (n > 0) printf "%.2f", (b - a) * 1e6 / hz / n; else print "-" }')
    printf 'round %d  %-12s %10s req/s  %6s us/req  load %s %s\n' "$r" "$name" "$rps" "$cpu" "$(cut -d' ' -f1 /proc/loadavg)" "$errs"
  done
done
