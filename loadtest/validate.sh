#!/usr/bin/env bash
# validate.sh: the classic acceptance test of the pricing engine.
#
#   loadtest/validate.sh SERVER_BIN LOADTEST_BIN [OUT_DIR]
#
# Starts SERVER_BIN with the seed latency profile on core 0, runs
# LOADTEST_BIN on core 1 with the classic Locust workload (USERS users
# thinking 0.5-2 s, DURATION long, SLO p95<150ms and no failure), writes
# OUT_DIR (default docs/validation) with validation.json, validation.png,
# search.json and summary.md, then searches for the largest user count
# that still holds the SLO: doubling from USERS, then bisection, at most
# SEARCH_STEPS shorter runs of SEARCH_DURATION each. Traffic goes to
# 127.0.0.1 only. Exit status: that of the main run's verdict (0 pass,
# 1 fail), or 2 when the test could not be run.
#
# Environment (defaults): USERS (10000), DURATION (60s), SLO
# (p95<150ms,failures=0), SEARCH (1; 0 skips the search), SEARCH_STEPS
# (8), SEARCH_DURATION (20s), SEARCH_WARMUP (4s), MAX_USERS (160000),
# PORT (18000), ADMIN_PORT (18001), SERVER_CPU (0), LOADTEST_CPU (1),
# EXTRA_SERVER_ARGS, EXTRA_LOADTEST_ARGS.
set -euo pipefail

if [[ $# -lt 2 ]]; then
	sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'
	exit 2
fi
server_bin=$1
loadtest_bin=$2
out_dir=${3:-docs/validation}

USERS=${USERS:-10000}
DURATION=${DURATION:-60s}
SLO=${SLO:-p95<150ms,failures=0}
SEARCH=${SEARCH:-1}
SEARCH_STEPS=${SEARCH_STEPS:-8}
SEARCH_DURATION=${SEARCH_DURATION:-20s}
SEARCH_WARMUP=${SEARCH_WARMUP:-4s}
MAX_USERS=${MAX_USERS:-160000}
PORT=${PORT:-18000}
ADMIN_PORT=${ADMIN_PORT:-18001}
SERVER_CPU=${SERVER_CPU:-0}
LOADTEST_CPU=${LOADTEST_CPU:-1}
EXTRA_SERVER_ARGS=${EXTRA_SERVER_ARGS:-}
EXTRA_LOADTEST_ARGS=${EXTRA_LOADTEST_ARGS:-}

for b in "$server_bin" "$loadtest_bin"; do
	if [[ ! -x $b ]]; then
		echo "validate: $b is not an executable" >&2
		exit 2
	fi
done
pin() { # pin CPU CMD...: exec CMD on one core when taskset exists
	local cpu=$1
	shift
	if command -v taskset >/dev/null; then
		exec taskset -c "$cpu" "$@"
	fi
	exec "$@"
}

# Every user holds a connection, and so does the server for it: raise the
# open-file limit for both (the hard limit too, when allowed, i.e. as root).
want_files=$((MAX_USERS * 2 + 1024))
if [[ $(ulimit -Hn) != unlimited && $(ulimit -Hn) -lt $want_files ]]; then
	ulimit -Hn "$want_files" 2>/dev/null || true
fi
ulimit -Sn "$(ulimit -Hn)" 2>/dev/null || true
files=$(ulimit -Sn)
if [[ $files != unlimited && $files -lt $((USERS + 1024)) ]]; then
	echo "validate: open-file limit $files is too low for $USERS users" >&2
	exit 2
fi
if [[ $files != unlimited && $MAX_USERS -gt $((files - 1024)) ]]; then
	MAX_USERS=$((files - 1024))
	echo "validate: search capped at $MAX_USERS users by the open-file limit $files"
fi

mkdir -p "$out_dir"
work=$(mktemp -d)
server_pid=
cleanup() {
	stop_server
	rm -rf "$work"
}
trap cleanup EXIT

# stop_server: SIGTERM, then SIGKILL after 10 s.
stop_server() {
	if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
		kill -TERM "$server_pid" 2>/dev/null || true
		for _ in $(seq 100); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$server_pid" 2>/dev/null || true
		wait "$server_pid" 2>/dev/null || true
	fi
	server_pid=
}

# start_server: a fresh server (so that every run starts from the same
# state), ready when it prices a request.
start_server() {
	stop_server
	echo "validate: starting $server_bin on core $SERVER_CPU (127.0.0.1:$PORT, seed latency)"
	# shellcheck disable=SC2086 # EXTRA_SERVER_ARGS is a list of words
	(pin "$SERVER_CPU" "$server_bin" --lookup-latency=seed --addr "127.0.0.1:$PORT" \
		--admin-addr "127.0.0.1:$ADMIN_PORT" --drain-delay 0s $EXTRA_SERVER_ARGS) >"$work/server.log" 2>&1 &
	server_pid=$!
	local ready=0
	for _ in $(seq 100); do # up to 10 s
		if ! kill -0 "$server_pid" 2>/dev/null; then
			break
		fi
		if curl -fsS -o /dev/null --max-time 1 "http://127.0.0.1:$ADMIN_PORT/readyz" 2>/dev/null &&
			curl -fsS -o /dev/null --max-time 1 -H 'Content-Type: application/json' \
				-d '{"product_id":"P-100","user_location":"NY","is_prime_member":false}' \
				"http://127.0.0.1:$PORT/api/v1/price" 2>/dev/null; then
			ready=1
			break
		fi
		sleep 0.1
	done
	if [[ $ready != 1 ]]; then
		echo "validate: server did not become ready; its log:" >&2
		cat "$work/server.log" >&2
		exit 2
	fi
}
start_server

# Loopback source addresses, one per 20,000 users, so that no source runs
# out of ephemeral ports (about 28,000 per source and server port), and a
# fresh set for every run (127.0.RUN.x): the previous runs' connections
# wait in TIME_WAIT on the client side for a minute, and a run that had to
# share their ports would connect more slowly than the one before it.
# bind_for USERS RUN prints the list.
bind_for() {
	local n=$(($1 / 20000 + 1)) list= i
	for ((i = 1; i <= n; i++)); do list+="${list:+,}127.0.$(($2 % 250 + 1)).$i"; done
	echo "$list"
}
runs=0 # run_load calls so far

# run_load USERS DURATION WARMUP JSON [PLOT]: one run; prints its summary,
# returns the loadtest exit code.
run_load() {
	local users=$1 duration=$2 warmup=$3 json=$4 plot=${5:-}
	runs=$((runs + 1))
	local args=(--url "http://127.0.0.1:$PORT/api/v1/price" --users "$users" --think 0.5s-2s
		--duration "$duration" --warmup "$warmup" --slo "$SLO" --json "$json" --quiet
		--bind "$(bind_for "$users" "$runs")")
	if [[ -n $plot ]]; then
		args+=(--plot "$plot")
	fi
	local rc=0
	# shellcheck disable=SC2086 # EXTRA_LOADTEST_ARGS is a list of words
	(pin "$LOADTEST_CPU" "$loadtest_bin" "${args[@]}" $EXTRA_LOADTEST_ARGS) || rc=$?
	if ! kill -0 "$server_pid" 2>/dev/null; then
		echo "validate: the server died; its log:" >&2
		tail -50 "$work/server.log" >&2
		exit 2
	fi
	return "$rc"
}

# field JSON EXPR: a value from a report (jq when present, else python3).
field() {
	if command -v jq >/dev/null; then
		jq -r "$2" "$1"
	else
		python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {}, {"d": d}))' "$1" "$3"
	fi
}

echo
echo "validate: classic run, $USERS users, think 0.5-2 s, $DURATION, SLO $SLO"
main_rc=0
run_load "$USERS" "$DURATION" 0s "$out_dir/validation.json" "$out_dir/validation.png" || main_rc=$?
if [[ $main_rc -gt 1 ]]; then
	echo "validate: loadtest could not run (exit $main_rc)" >&2
	exit 2
fi
verdict=PASS
[[ $main_rc == 0 ]] || verdict=FAIL

# Search: the largest user count that holds the SLO.
steps=()
best=0
if [[ $SEARCH == 1 ]]; then
	echo
	echo "validate: searching for the largest user count holding $SLO ($SEARCH_STEPS runs at most, $SEARCH_DURATION each)"
	lo=0 hi=0
	if [[ $main_rc == 0 ]]; then lo=$USERS; else hi=$USERS; fi
	n=$USERS
	for ((step = 1; step <= SEARCH_STEPS; step++)); do
		if [[ $hi == 0 ]]; then
			n=$((lo * 2)) # doubling until a failure
			if [[ $n -gt $MAX_USERS ]]; then n=$MAX_USERS; fi
			if [[ $n -le $lo ]]; then break; fi
		else
			n=$(((lo + hi) / 2)) # bisection
			# Stop when the bracket is within 5% (or 10 users).
			if [[ $((hi - lo)) -le $((lo / 20)) || $((hi - lo)) -le 10 ]]; then break; fi
		fi
		json="$work/search-$step.json"
		echo "--- step $step: $n users"
		rc=0
		start_server >/dev/null
		run_load "$n" "$SEARCH_DURATION" "$SEARCH_WARMUP" "$json" >"$work/search-$step.txt" || rc=$?
		grep -E '^(requests|failures|latency|verdict)' "$work/search-$step.txt" | sed 's/^/    /'
		if [[ $rc -gt 1 ]]; then
			echo "validate: loadtest could not run (exit $rc)" >&2
			cat "$work/search-$step.txt" >&2
			exit 2
		fi
		pass=true
		if [[ $rc == 0 ]]; then lo=$n; else hi=$n; pass=false; fi
		steps+=("{\"users\":$n,\"pass\":$pass,\"throughput_rps\":$(field "$json" .throughput_rps "d['throughput_rps']"),\"p95_ms\":$(field "$json" .latency.p95_ms "d['latency']['p95_ms']"),\"failures\":$(field "$json" .failures "d['failures']")}")
		if [[ $lo -ge $MAX_USERS ]]; then break; fi
	done
	best=$lo
fi

# Reports.
{
	printf '{"users":%s,"duration":"%s","slo":"%s","verdict":"%s","max_users_holding_slo":%s,"search_duration":"%s","search_steps":[' \
		"$USERS" "$DURATION" "$SLO" "$verdict" "$best" "$SEARCH_DURATION"
	(IFS=,; printf '%s' "${steps[*]:-}")
	printf ']}\n'
} >"$out_dir/search.json"

j=$out_dir/validation.json
rps=$(field "$j" .throughput_rps "d['throughput_rps']")
p50=$(field "$j" .latency.p50_ms "d['latency']['p50_ms']")
p95=$(field "$j" .latency.p95_ms "d['latency']['p95_ms']")
p99=$(field "$j" .latency.p99_ms "d['latency']['p99_ms']")
reqs=$(field "$j" .requests "d['requests']")
fails=$(field "$j" .failures "d['failures']")
search_line="not searched"
if [[ $SEARCH == 1 ]]; then
	search_line="$best users held the SLO (largest passing run of the search; ${#steps[@]} runs of $SEARCH_DURATION)"
	if [[ $best == 0 ]]; then search_line="no user count tried held the SLO (${#steps[@]} runs of $SEARCH_DURATION)"; fi
	if [[ $best -ge $MAX_USERS ]]; then search_line+=", the search cap"; fi
fi
cat >"$out_dir/summary.md" <<EOF
# Validation: classic workload, seed latency profile

- Server: \`$(basename "$server_bin") --lookup-latency=seed\` on core $SERVER_CPU; generator on core $LOADTEST_CPU (\`$(basename "$loadtest_bin")\`).
- Workload: $USERS users, think 0.5-2 s uniform, products P-100..P-999, NY/LA/MIA, member 50%, every reply checked; $DURATION.
- Result: **$verdict** ($SLO): $reqs requests, $(printf '%.0f' "$rps") req/s, p50 $(printf '%.1f' "$p50") ms, p95 $(printf '%.1f' "$p95") ms, p99 $(printf '%.1f' "$p99") ms, $fails failures.
- Capacity: $search_line.
- Files: validation.json (full report), validation.png (latency over time and by percentile), search.json (search steps).
EOF

echo
echo "==================== validation summary ===================="
cat "$out_dir/summary.md"
exit "$main_rc"
