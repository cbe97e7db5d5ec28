#!/usr/bin/env bash
# Measures the figures docs/CAPACITY.md is built on, on this machine:
#   1. Redis's own cost per GET and SET (redis-benchmark, server pinned to
#      CPU 0, benchmark to CPU 1), unpipelined and pipelined 16 deep: ops/s
#      and the server's CPU time per operation (from /proc/PID/stat);
#   2. one replica's CPU time per request at a fixed rate: in memory, Redis
#      cached, Redis uncached, seed profile (and Redis's CPU per request),
#      and its rate at full speed on one core (wrk, 100 connections);
#   3. 1 vs 2 vs 3 replicas behind HAProxy (fleet.sh), wrk at full speed
#      through HAProxy: req/s, P99, and CPU time per request of the replicas
#      and of HAProxy. Rounds are interleaved (1,2,3,1,2,3,...) and medians
#      reported, because the machine's speed drifts between runs.
#
#   deploy/local/capacity.sh [ROUNDS] [SECONDS]     (default 3 rounds of 8 s)
#   CAPACITY_PARTS="redis cost fleet" (default: all three) picks the parts.
#
# Needs redis-server, redis-benchmark, haproxy, wrk, bin/pricing-engine.
# Prints a markdown report on stdout; progress on stderr.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
rounds=${1:-3}
parts=${CAPACITY_PARTS:-redis cost fleet}
secs=${2:-8}
work=$(mktemp -d /tmp/capacity.XXXXXX)
trap 'FLEET_DIR=$work/fleet "$here/fleet.sh" down >/dev/null 2>&1 || true; [[ -n ${rpid:-} ]] && kill "$rpid" 2>/dev/null; rm -rf "$work"' EXIT
hz=$(getconf CLK_TCK)

# cputicks prints utime+stime of process $1 in clock ticks.
cputicks() {
	local stat
	stat=$(cat "/proc/$1/stat")
	stat=${stat##*) }
	set -- $stat
	echo $((${12} + ${13}))
}

median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else printf "%.6g\n", (a[NR/2]+a[NR/2+1])/2}'; }

echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

# 1. Redis.
# Ports below the kernel's ephemeral range (32768 and up), where outgoing
# connections could hold them.
port=$((20000 + RANDOM % 10000))
mkdir -p "$work/redis"
taskset -c 0 redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no --dir "$work/redis" >"$work/redis/log" 2>&1 &
rpid=$!
for _ in $(seq 100); do [[ $(redis-cli -p "$port" ping 2>/dev/null) == PONG ]] && break; sleep 0.05; done
redis_rows=()
for P in 1 16; do
	[[ $parts == *redis* ]] || break
	for t in get set; do
		n=$((P == 1 ? 30000 : 400000))
		c0=$(cputicks "$rpid")
		line=$(taskset -c 1 redis-benchmark -p "$port" -t "$t" -n "$n" -c 50 -P "$P" -r 100000 --csv 2>/dev/null | tail -n 1)
		c1=$(cputicks "$rpid")
		rps=$(echo "$line" | cut -d, -f2 | tr -d '"')
		p99=$(echo "$line" | cut -d, -f7 | tr -d '"')
		us=$(echo "scale=2; ($c1 - $c0) * 1000000 / $hz / $n" | bc)
		redis_rows+=("| ${t^^} | $P | $rps | $p99 | $us |")
		echo "redis $t P=$P: $rps ops/s, p99 $p99 ms, $us us CPU/op" >&2
	done
done

# 2. One replica's CPU per request at a fixed open-loop rate (below
# saturation, so the figure is a cost, not a queueing effect): in memory,
# Redis with every key in the client-side cache, Redis with the cache off
# (every request reads its two keys), and the seed latency profile.
"$root/bin/pricing-engine" import --store "redis://127.0.0.1:$port" --embedded >/dev/null
api=$((port + 1))
admin=$((port + 2))
rate=${CAPACITY_RATE:-4000}
cost_rows=()
for mode in memory redis-cached redis-uncached seed; do
	[[ $parts == *cost* ]] || break
	args=(--addr "127.0.0.1:$api" --admin-addr "127.0.0.1:$admin" --loops 1 --drain-delay 0s)
	case $mode in
	memory) ;;
	redis-cached) args+=(--store "redis://127.0.0.1:$port") ;;
	redis-uncached) args+=(--store "redis://127.0.0.1:$port" --store-cache-entries 0) ;;
	seed) args+=(--lookup-latency seed) ;;
	esac
	taskset -c 0 "$root/bin/pricing-engine" "${args[@]}" >"$work/replica-$mode.log" 2>&1 &
	epid=$!
	for _ in $(seq 200); do [[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$admin/readyz") == 200 ]] && break; sleep 0.05; done
	[[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$admin/readyz") == 200 ]] ||
		{ echo "the $mode replica is not ready:" >&2; tail -n 5 "$work/replica-$mode.log" >&2; exit 1; }
	# Warm the cache (and the connections) before measuring.
	# The seed profile holds a request 30-90 ms: enough connections for
	# the rate (open loop: a connection carries one request at a time).
	users=64
	[[ $mode == seed ]] && users=$((rate / 10))
	taskset -c 1 "$root/bin/loadtest" -url "http://127.0.0.1:$api/api/v1/price" -rate "$rate" -users "$users" -duration 2s -quiet >/dev/null || true
	e0=$(cputicks "$epid")
	r0=$(cputicks "$rpid")
	taskset -c 1 "$root/bin/loadtest" -url "http://127.0.0.1:$api/api/v1/price" -rate "$rate" -users "$users" -duration "${secs}s" -quiet -json "$work/lt.json" >/dev/null || true
	e1=$(cputicks "$epid")
	r1=$(cputicks "$rpid")
	# Then at full speed (not for seed: its rate is bound by the simulated
	# latency, not by CPU): wrk, 100 connections.
	peak="–"
	peak_us="–"
	if [[ $mode != seed ]]; then
		pe0=$(cputicks "$epid")
		out=$(taskset -c 1 wrk -t1 -c100 -d"${secs}s" -s "$root/bench/wrk/classic.lua" "http://127.0.0.1:$api/api/v1/price")
		pe1=$(cputicks "$epid")
		peak=$(echo "$out" | awk '/Requests\/sec/ {printf "%.0f", $2}')
		preqs=$(echo "$out" | awk '/requests in/ {print $1}')
		peak_us=$(echo "scale=1; ($pe1 - $pe0) * 1000000 / $hz / $preqs" | bc)
		if echo "$out" | grep -q 'Non-2xx'; then echo "$mode: non-2xx replies at full speed" >&2; fi
	fi
	kill "$epid"
	wait "$epid" 2>/dev/null || true
	n=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["requests"])' "$work/lt.json")
	fails=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["failures"])' "$work/lt.json")
	p99=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["latency"]["p99_ms"])' "$work/lt.json")
	eus=$(echo "scale=1; ($e1 - $e0) * 1000000 / $hz / $n" | bc)
	rus=$(echo "scale=1; ($r1 - $r0) * 1000000 / $hz / $n" | bc)
	cost_rows+=("| $mode | $n | $fails | $p99 | $eus | $rus | $peak | $peak_us |")
	echo "$mode: $n requests, $fails failed, p99 $p99 ms, engine $eus us CPU/req, redis $rus us CPU/req; full speed $peak req/s at $peak_us us CPU/req" >&2
done

kill "$rpid"
wait "$rpid" 2>/dev/null || true
rpid=""

# 3. Replicas behind HAProxy.
declare -A rps p99 rep_us hap_us
base=$((12000 + RANDOM % 800 * 10))
for ((r = 1; r <= rounds; r++)); do
	[[ $parts == *fleet* ]] || break
	for n in 1 2 3; do
		export FLEET_DIR=$work/fleet FLEET_REPLICAS=$n FLEET_PORT=$base FLEET_STATS_PORT=$((base + 1)) \
			FLEET_API_BASE=$((base + 1)) FLEET_ADMIN_BASE=$((base + 5)) FLEET_REDIS_PORT=$((base + 10)) \
			FLEET_BIN=$root/bin/pricing-engine FLEET_STORE=memory
		"$here/fleet.sh" up >/dev/null 2>&1 || { echo "fleet.sh up failed" >&2; exit 1; }
		pids=()
		for ((i = 1; i <= n; i++)); do pids+=("$(cut -d' ' -f1 "$FLEET_DIR/replica-$i.pid")"); done
		hpid=$(cut -d' ' -f1 "$FLEET_DIR/haproxy.pid")
		c0=0
		for p in "${pids[@]}"; do c0=$((c0 + $(cputicks "$p"))); done
		h0=$(cputicks "$hpid")
		out=$(wrk -t1 -c64 -d"${secs}s" --latency -s "$root/bench/wrk/classic.lua" "http://127.0.0.1:$base/api/v1/price")
		c1=0
		for p in "${pids[@]}"; do c1=$((c1 + $(cputicks "$p"))); done
		h1=$(cputicks "$hpid")
		"$here/fleet.sh" down >/dev/null 2>&1
		reqs=$(echo "$out" | awk '/requests in/ {print $1}')
		x=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
		q=$(echo "$out" | awk '$1 == "99%" {print $2}')
		if echo "$out" | grep -q 'Non-2xx'; then echo "round $r n=$n: non-2xx replies: $out" >&2; fi
		rps[$n]+="$x "
		p99[$n]+="$q "
		rep_us[$n]+="$(echo "scale=2; ($c1 - $c0) * 1000000 / $hz / $reqs" | bc) "
		hap_us[$n]+="$(echo "scale=2; ($h1 - $h0) * 1000000 / $hz / $reqs" | bc) "
		echo "round $r, $n replica(s): $x req/s, p99 $q" >&2
	done
done

echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC') at commit \`$(git -C "$root" rev-parse --short HEAD)\`; $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')); load average before: $load_before, after: $(cut -d' ' -f1-3 /proc/loadavg)."
echo
[[ $parts == *redis* ]] && echo "Redis $(redis-server --version | awk '{print $3}' | cut -d= -f2) alone (server on CPU 0, redis-benchmark on CPU 1, 50 connections, 100,000 random keys):"
echo
echo "| op | pipeline | ops/s | P99 ms | server CPU µs/op |"
echo "|---|--:|--:|--:|--:|"
printf '%s\n' "${redis_rows[@]}"
echo
echo "One replica (1 event loop, pinned to CPU 0), open loop at $rate req/s for ${secs}s (bin/loadtest on CPU 1, 64 connections; $((rate / 10)) for seed), CPU time per request at that rate:"
echo
echo "| lookups | requests | failed | P99 ms | engine CPU µs/req | Redis CPU µs/req | full speed req/s (one core, wrk -c100) | engine CPU µs/req at full speed |"
echo "|---|--:|--:|--:|--:|--:|--:|--:|"
printf '%s\n' "${cost_rows[@]}"
echo
echo "Replicas (in memory) behind HAProxy, wrk -t1 -c64 for ${secs}s through HAProxy, no pinning (everything shares the CPUs); medians of $rounds interleaved rounds:"
echo
echo "| replicas | req/s | replicas' CPU µs/req | HAProxy CPU µs/req | req/s per round | P99 per round |"
echo "|--:|--:|--:|--:|--:|---|"
for n in 1 2 3; do
	[[ $parts == *fleet* ]] || break
	m=$(echo "${rps[$n]}" | tr ' ' '\n' | grep . | median)
	echo "| $n | $m | $(echo "${rep_us[$n]}" | tr ' ' '\n' | grep . | median) | $(echo "${hap_us[$n]}" | tr ' ' '\n' | grep . | median) | ${rps[$n]}| ${p99[$n]}|"
done
