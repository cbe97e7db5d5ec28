#!/usr/bin/env bash
# soak.sh: a long run of mixed load against the real binary, to show that
# memory and goroutines stay flat and that nothing unexpected fails.
#
#   loadtest/soak.sh SERVER_BIN LOADTEST_BIN [OUT_DIR]
#
# For SOAK_DURATION (default 30m) it runs, side by side, against one server
# with the seed latency profile (every price request goes through the pool):
#   - classic closed-loop users on keep-alive connections (SOAK_USERS, 2000);
#   - connection churn: a new connection per request;
#   - pipelined clients (8 requests per write);
#   - hostile clients: raw bytes with a known answer (400, 414, 431, 505,
#     413, 408 for a stalled header), checked status by status.
# Every SOAK_SAMPLE (5s) it samples the server's RSS, goroutines and open
# connections into OUT_DIR/samples.csv and draws OUT_DIR/soak.svg.
# It fails (exit 1) on any load-test failure, any unexpected hostile
# answer, an RSS or goroutine count that grows between the second and the
# last quarter of the run, or a shutdown that does not drain cleanly.
set -euo pipefail

server=${1:?usage: soak.sh SERVER_BIN LOADTEST_BIN [OUT_DIR]}
loadtest=${2:?usage: soak.sh SERVER_BIN LOADTEST_BIN [OUT_DIR]}
out=${3:-${SOAK_OUT:-soak-out}}
duration=${SOAK_DURATION:-30m}
users=${SOAK_USERS:-2000}
sample=${SOAK_SAMPLE:-5}
port=${SOAK_PORT:-18000}
admin=${SOAK_ADMIN_PORT:-18001}
mkdir -p "$out"
api="127.0.0.1:$port"
adm="127.0.0.1:$admin"

# Duration in seconds (accepts 90s, 3m, 1h, or plain seconds).
secs() {
	local d=$1
	case $d in
	*h) echo $((${d%h} * 3600)) ;;
	*m) echo $((${d%m} * 60)) ;;
	*s) echo "${d%s}" ;;
	*) echo "$d" ;;
	esac
}
total=$(secs "$duration")
end=$((SECONDS + total))

"$server" --addr "$api" --admin-addr "$adm" --lookup-latency seed \
	--header-timeout 2s --drain-delay 1s --shutdown-timeout 30s \
	>"$out/server.log" 2>&1 &
spid=$!
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	kill "$spid" 2>/dev/null || true
}
trap cleanup EXIT

for _ in $(seq 1 100); do
	curl -fs "http://$adm/readyz" >/dev/null 2>&1 && break
	sleep 0.1
done
curl -fs "http://$adm/readyz" >/dev/null || { echo "soak: server did not become ready" >&2; cat "$out/server.log" >&2; exit 1; }
echo "soak: server pid $spid on $api, $duration, output in $out"

# Sampler: elapsed seconds, RSS KiB, goroutines, open connections.
echo "t,rss_kib,goroutines,connections" >"$out/samples.csv"
(
	t0=$SECONDS
	while [ "$SECONDS" -lt "$end" ] && kill -0 "$spid" 2>/dev/null; do
		rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$spid/status")
		m=$(curl -fs "http://$adm/metrics" || true)
		g=$(awk '/^go_goroutines / {print $2}' <<<"$m")
		c=$(awk '/^pricing_connections_open / {print $2}' <<<"$m")
		echo "$((SECONDS - t0)),$rss,${g:-0},${c:-0}" >>"$out/samples.csv"
		sleep "$sample"
	done
) &
pids+=($!)

url="http://$api/api/v1/price"
lt() { # name, then loadtest flags
	local name=$1
	shift
	"$loadtest" --url "$url" --duration "${total}s" --quiet --json "$out/$name.json" \
		--slo 'failures=0' "$@" >"$out/$name.txt" 2>&1
}
lt classic --users "$users" --think 50ms-500ms &
ltpids=($!)
# Churn leaves a TIME_WAIT socket per request: spread it over several
# loopback source addresses so that it does not exhaust the ephemeral ports.
lt churn --users 20 --think 20ms-100ms --new-conn --bind 127.0.0.2,127.0.0.3,127.0.0.4,127.0.0.5 &
ltpids+=($!)
lt pipelined --users 10 --think 10ms-100ms --pipeline 8 &
ltpids+=($!)

# Hostile clients: each case is raw bytes and the status it must get.
hostile_cases=(
	'400|GARBAGE\r\n\r\n'
	'400|POST /api/v1/price HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'
	'400|GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n 2\r\n\r\n'
	'400|GET /healthz HTTP/1.1\r\n\r\n'
	'505|GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n'
	'413|POST /api/v1/price HTTP/1.1\r\nHost: x\r\nContent-Length: 999999\r\n\r\n'
	"414|GET /$(printf 'a%.0s' $(seq 1 9000)) HTTP/1.1\r\nHost: x\r\n\r\n"
	"431|GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: $(printf 'b%.0s' $(seq 1 9000))\r\n\r\n"
	'408|GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: a'
	'200|GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'
)
hostile() {
	local n=0 bad=0 c want raw line fd
	while [ "$SECONDS" -lt "$end" ]; do
		# The 408 case holds its connection for the header timeout.
		for c in "${hostile_cases[@]}"; do
			want=${c%%|*}
			raw=${c#*|}
			n=$((n + 1))
			line=
			if exec {fd}<>"/dev/tcp/127.0.0.1/$port" 2>>"$out/hostile.txt"; then
				printf '%b' "$raw" >&"$fd" 2>/dev/null || true
				IFS= read -r -t 10 line <&"$fd" || true
				exec {fd}>&-
			fi
			if [[ $line != "HTTP/1.1 $want "* ]]; then
				bad=$((bad + 1))
				echo "unexpected answer to case $want: ${line:-<none>}" >>"$out/hostile.txt"
			fi
		done
		sleep 0.5
	done
	echo "hostile: $n requests, $bad unexpected" >>"$out/hostile.txt"
	[ "$bad" -eq 0 ]
}
: >"$out/hostile.txt"
hostile &
ltpids+=($!)

fail=0
for p in "${ltpids[@]}"; do
	wait "$p" || fail=1
done
for n in classic churn pipelined; do
	echo "--- $n"
	grep -E 'requests|failures|p95|p99|verdict|SLO' "$out/$n.txt" | head -8 || true
done
tail -1 "$out/hostile.txt"
[ "$fail" -eq 0 ] || echo "soak: FAIL: a load generator or the hostile client reported failures" >&2

# Graceful shutdown: SIGTERM must drain and exit 0.
kill -TERM "$spid"
if ! wait "$spid"; then
	echo "soak: FAIL: server did not shut down cleanly" >&2
	fail=1
fi
wait "${pids[@]}" 2>/dev/null || true
trap - EXIT

# Flatness: mean of the second quarter against the mean of the last one
# (the first quarter is warm-up). RSS may grow 25% + 16 MiB, goroutines
# 25% + 50 (the churn and pipelined clients fluctuate).
awk -F, -v out="$out" '
NR == 1 { next }
{ t[n] = $1; r[n] = $2; g[n] = $3; c[n] = $4; n++ }
END {
	if (n < 8) { print "soak: too few samples for a flatness verdict (" n ")"; exit 0 }
	q = int(n / 4)
	for (i = q; i < 2 * q; i++) { r2 += r[i]; g2 += g[i] }
	for (i = n - q; i < n; i++) { r4 += r[i]; g4 += g[i] }
	r2 /= q; r4 /= q; g2 /= q; g4 /= q
	printf "RSS MiB: second quarter %.1f, last quarter %.1f; goroutines: %.0f, %.0f\n", r2 / 1024, r4 / 1024, g2, g4
	if (r4 > r2 * 1.25 + 16384 || g4 > g2 * 1.25 + 50) { print "soak: FAIL: not flat"; exit 1 }
}' "$out/samples.csv" || fail=1

# Plot: RSS (MiB) and goroutines (/100) against time, as SVG.
awk -F, '
NR == 1 { next }
{ t[n] = $1; r[n] = $2 / 1024; g[n] = $3 / 100; n++; if (t[n-1] > tm) tm = t[n-1]; if (r[n-1] > m) m = r[n-1]; if (g[n-1] > m) m = g[n-1] }
END {
	if (tm == 0) tm = 1; if (m == 0) m = 1; m *= 1.1
	W = 800; H = 400; L = 60; B = 40
	printf "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-family=\"sans-serif\" font-size=\"12\">\n", W, H
	printf "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
	printf "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"black\"/>\n", L, H - B, W - 10, H - B
	printf "<line x1=\"%d\" y1=\"10\" x2=\"%d\" y2=\"%d\" stroke=\"black\"/>\n", L, L, H - B
	printf "<text x=\"%d\" y=\"%d\">0</text><text x=\"%d\" y=\"%d\">%ds</text>\n", L, H - B + 15, W - 50, H - B + 15, tm
	printf "<text x=\"5\" y=\"20\">%.0f</text><text x=\"5\" y=\"%d\">0</text>\n", m, H - B
	printf "<text x=\"%d\" y=\"25\" fill=\"blue\">RSS (MiB)</text><text x=\"%d\" y=\"40\" fill=\"red\">goroutines / 100</text>\n", L + 20, L + 20
	for (k = 0; k < 2; k++) {
		printf "<polyline fill=\"none\" stroke=\"%s\" points=\"", (k == 0 ? "blue" : "red")
		for (i = 0; i < n; i++) {
			v = (k == 0 ? r[i] : g[i])
			printf "%.1f,%.1f ", L + (W - 10 - L) * t[i] / tm, (H - B) - (H - B - 10) * v / m
		}
		printf "\"/>\n"
	}
	print "</svg>"
}' "$out/samples.csv" >"$out/soak.svg"

if [ "$fail" -ne 0 ]; then
	echo "soak: FAIL (details in $out)" >&2
	exit 1
fi
echo "soak: PASS ($out/samples.csv, $out/soak.svg)"
