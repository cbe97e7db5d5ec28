#!/bin/bash
# bench/slowloris.sh: out-of-process slowloris measurement (docs/RELIABILITY.md).
# Server on core 0 (header timeout 3 s); normal traffic
# (open loop, 5,000 req/s) and the attacker on core 1.
set -u
cd "$(dirname "$0")/.."
go build -o "${TMPDIR:-/tmp}/slowloris" ./bench/cmd/slowloris && make -s build
taskset -c 0 ./bin/pricing-engine --addr 127.0.0.1:19100 --admin-addr 127.0.0.1:19101 --header-timeout 3s --log-level warn > /tmp/sl-server.log 2>&1 &
srv=$!
sleep 1
normal() { taskset -c 1 ./bin/loadtest --url http://127.0.0.1:19100/api/v1/price --rate 5000 --users 200 --duration 10s --warmup 1s --quiet --json /tmp/sl-$1.json > /tmp/sl-$1.txt 2>&1; python3 -c "import json;d=json.load(open('/tmp/sl-$1.json'));l=d['latency'];print('$1', 'rps', round(d['throughput_rps']), 'p50', l['p50_ms'], 'p95', l['p95_ms'], 'p99', l['p99_ms'], 'failures', d['failures'])"; }
for r in 1 2; do
  normal base$r
  taskset -c 1 "${TMPDIR:-/tmp}/slowloris" --addr 127.0.0.1:19100 --conns 5000 --every 500ms --duration 14s --sources 2 > /tmp/sl-attacker$r.txt 2>&1 &
  att=$!
  sleep 2
  normal attack$r
  wait $att; echo "attacker$r: $(cat /tmp/sl-attacker$r.txt) exit $?"
done
kill $srv; wait $srv
