#!/usr/bin/env bash
# locust.sh SERVER_BIN: the classic Locust workload (loadtest/locustfile.py)
# against a fresh server with the seed latency profile, headless.
#
#   loadtest/locust.sh bin/pricing-engine        (make locust)
#
# The server listens on 127.0.0.1:18100 (admin 18101); Locust runs
# USERS users (default 200) spawned at SPAWN_RATE per second (50) for
# RUN_TIME (30s) and prints its summary. The exit status is Locust's: 0
# when no request failed. Without Locust installed (apt install
# python3-locust, or pip install locust) the run is skipped with exit 0.
# LOADTEST_BATCH=N (read by the locustfile) runs batches of N items instead.
set -euo pipefail

usage() { echo "usage: $0 SERVER_BIN" >&2; exit 2; }
[[ $# -eq 1 ]] || usage
server_bin=$1
[[ -x $server_bin ]] || { echo "locust.sh: $server_bin is not an executable" >&2; exit 2; }

if ! command -v locust >/dev/null 2>&1; then
  echo "locust.sh: locust is not installed (apt install python3-locust, or pip install locust): skipped"
  exit 0
fi

here=$(cd "$(dirname "$0")" && pwd)
api=127.0.0.1:18100
admin=127.0.0.1:18101
users=${USERS:-200}
spawn_rate=${SPAWN_RATE:-50}
run_time=${RUN_TIME:-30s}

log=$(mktemp -t pricing-engine-locust.XXXXXX)
server_pid=
cleanup() {
  if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -f "$log"
}
trap cleanup EXIT

"$server_bin" --addr "$api" --admin-addr "$admin" --lookup-latency=seed \
  --drain-delay=0s --shutdown-timeout=10s --log-format=json 2>"$log" &
server_pid=$!

# Wait for the "serving" line (the listeners are bound), or for the server
# to exit; 300 x 0.1 s bounds the wait.
for ((i = 0; i < 300; i++)); do
  if grep -q '"msg":"serving"' "$log"; then
    break
  fi
  if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "locust.sh: the server exited before serving:" >&2
    cat "$log" >&2
    server_pid=
    exit 1
  fi
  sleep 0.1
done
if ! grep -q '"msg":"serving"' "$log"; then
  echo "locust.sh: the server did not start within 30 s:" >&2
  cat "$log" >&2
  exit 1
fi
echo "locust.sh: server $server_bin on $api (admin $admin), seed latency; locust $users users, $spawn_rate/s, $run_time"

status=0
locust -f "$here/locustfile.py" --headless -u "$users" -r "$spawn_rate" -t "$run_time" \
  --host "http://$api" --only-summary --exit-code-on-error 1 || status=$?

kill -TERM "$server_pid"
server_status=0
wait "$server_pid" || server_status=$?
server_pid=
if [[ $server_status -ne 0 ]]; then
  echo "locust.sh: the server exited with status $server_status:" >&2
  tail -n 20 "$log" >&2
fi
echo "locust.sh: locust exit status $status"
exit "$status"
