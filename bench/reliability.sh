#!/bin/bash
# bench/reliability.sh: the full-size memory and drain measurements of
# docs/RELIABILITY.md, bounded (about 40 s), verdicts printed.
#
#   1. 1,000 clients pipelining 16 requests and never reading, for 10 s,
#      against the default configuration: peak RSS <= 200 MB and a normal
#      keep-alive client's P99 < 5 ms meanwhile (bench/cmd/nonreaders).
#   2. SIGTERM under 5,000 req/s on 2,000 keep-alive connections whose
#      clients ignore readiness: 0 requests written before the listener
#      closed are lost (bench/cmd/drainload).
#
# The server runs on core 0 and the load on core 1 (taskset). BIN names
# another server binary (default: bin/pricing-engine, built first). Exit
# status: 1 if any verdict is FAIL.
set -u
cd "$(dirname "$0")/.."
tmp=${TMPDIR:-/tmp}
bin=${BIN:-}
if [ -z "$bin" ]; then
	make -s build || exit 2
	bin=./bin/pricing-engine
fi
go build -o "$tmp/nonreaders" ./bench/cmd/nonreaders &&
	go build -o "$tmp/drainload" ./bench/cmd/drainload || exit 2
status=0

echo "== 1,000 non-reading pipelining clients, 10 s (default configuration)"
taskset -c 0 "$bin" --addr 127.0.0.1:19500 --admin-addr 127.0.0.1:19501 --log-level warn > "$tmp/rel-server.log" 2>&1 &
srv=$!
for _ in $(seq 100); do curl -sf 127.0.0.1:19501/healthz > /dev/null && break; sleep 0.1; done
taskset -c 1 "$tmp/nonreaders" --addr 127.0.0.1:19500 --admin 127.0.0.1:19501 --pid $srv \
	--conns 1000 --depth 16 --duration 10s --max-rss 200 --max-p99 5ms || status=1
curl -s 127.0.0.1:19501/metrics | grep -E '^pricing_requests_rejected_total' | grep -v ' 0$'
kill $srv; wait $srv

echo "== SIGTERM under 5,000 req/s on 2,000 connections (drain delay 2 s)"
taskset -c 1 "$tmp/drainload" --bin taskset \
	--args "-c 0 $bin --addr 127.0.0.1:0 --admin-addr 127.0.0.1:0 --log-format json --drain-delay 2s" \
	--conns 2000 --rate 5000 --before 3s 2> "$tmp/rel-drain.log" || status=1
exit $status
