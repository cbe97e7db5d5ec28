# bench/wrkcell.sh: sourced by bench/rules.sh and bench/omnibus.sh, the
# measurement they share: one cell is a server started pinned to CPU 0
# (one event loop, in memory, no admin port), waited for (bounded), loaded
# by wrk pinned to CPU 1 (100 keep-alive connections, bench/wrk/post.lua)
# and killed; it prints the cell's rate and server CPU per request.
#
#   source bench/wrkcell.sh
#   wrk_cell <name> <round> <mode> <seconds> <binary> [server args...]
#   printf '%s\n' "${wrk_results[@]}"     # "<round> <mode> <req/s> <us/req>"
#
# The caller runs from the repository root, with set -euo pipefail, and its
# EXIT trap kills "$pid" when set (the server of a cell that did not end).

# wrk_results holds one line per cell: round, mode, req/s, server CPU us/req.
wrk_results=()

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# cpu_ticks prints utime+stime of process $1 in clock ticks: fields 14 and
# 15 of /proc/PID/stat, counted after the command name's closing ')'.
cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }

wrk_cell() {
  local name=$1 round=$2 mode=$3 secs=$4 bin=$5
  shift 5
  local port t0 t1 out rps reqs errs us tick
  tick=$(getconf CLK_TCK)
  port=$(free_port)
  taskset -c 0 "$bin" --addr "127.0.0.1:$port" --admin-addr "" --loops 1 --log-level warn --drain-delay 0s "$@" 2>/dev/null &
  pid=$!
  for _ in $(seq 200); do
    curl -s -o /dev/null -H 'Content-Type: application/json' -d '{"product_id":"P-1","user_location":"NY"}' "http://127.0.0.1:$port/api/v1/price" && break
    sleep 0.05 # poll interval while the server starts
  done
  kill -0 "$pid" 2>/dev/null || { echo "$name: the server did not start" >&2; exit 1; }
  t0=$(cpu_ticks "$pid")
  out=$(taskset -c 1 wrk -t1 -c100 -d"${secs}s" -s bench/wrk/post.lua "http://127.0.0.1:$port/api/v1/price")
  t1=$(cpu_ticks "$pid")
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
  rps=$(echo "$out" | awk '/^Requests\/sec/ {print $2}')
  reqs=$(echo "$out" | awk '/requests in/ {print $1}')
  errs=$(echo "$out" | awk '/Non-2xx/ {print $NF}')
  us=$(awk -v a="$t0" -v b="$t1" -v n="$reqs" -v hz="$tick" 'BEGIN {printf "%.2f", (b - a) / hz * 1e6 / n}')
  echo "round $round $mode: $rps req/s, server CPU $us us/req, non-2xx ${errs:-0}"
  wrk_results+=("$round $mode $rps $us")
}
