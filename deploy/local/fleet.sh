#!/usr/bin/env bash
# The local fleet: Redis, N pricing-engine replicas and HAProxy in front, all
# on loopback. See docs/FLEET.md for the recipe and the reason for each choice.
#
#   deploy/local/fleet.sh up       start Redis (when the binary has --store),
#                                  import the embedded data, start the
#                                  replicas and HAProxy; wait until HAProxy
#                                  sees every replica up
#   deploy/local/fleet.sh down     stop exactly what "up" started (pid files)
#   deploy/local/fleet.sh roll     restart the replicas one at a time through
#                                  a drain (SIGTERM, exit, start, ready, up in
#                                  HAProxy), under load if you like
#   deploy/local/fleet.sh status   one line per process and replica state
#
# Settings (environment; "up" records them in $FLEET_DIR/fleet.env and the
# other commands read them back from there):
#   FLEET_DIR              run directory: logs, pid files, generated config
#                          (default deploy/local/run, ignored by git)
#   FLEET_PORT             HAProxy's API port (default 8080)
#   FLEET_STATS_PORT       HAProxy's stats page, /stats and /stats;csv (8404)
#   FLEET_REPLICAS         number of replicas (3)
#   FLEET_API_BASE         replica i (1..N) serves the API on FLEET_API_BASE+i (8100)
#   FLEET_ADMIN_BASE       and its admin port on FLEET_ADMIN_BASE+i (8200)
#   FLEET_STORE            auto (Redis when the binary has --store, else
#                          memory), redis or memory (auto)
#   FLEET_REDIS_PORT       Redis port; a cluster uses this port and the next
#                          two (6390)
#   FLEET_REDIS_CLUSTER    1: a 3-node Redis Cluster instead of one server (0)
#   FLEET_BIN              the server binary (bin/pricing-engine)
#   FLEET_DRAIN_DELAY      --drain-delay of the replicas (3s): longer than
#                          HAProxy takes to see /readyz fail (about 1.25 s)
#   FLEET_SHUTDOWN_TIMEOUT --shutdown-timeout of the replicas (15s)
#   FLEET_ARGS             more replica flags, e.g. --lookup-latency=seed
#   FLEET_WAIT             seconds to wait for any one step (30)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)

FLEET_DIR=${FLEET_DIR:-$here/run}
state=$FLEET_DIR/fleet.env

die() {
	echo "fleet: $*" >&2
	exit 1
}
say() { echo "fleet: $*" >&2; }

# settings fills in the defaults of every setting.
settings() {
	FLEET_PORT=${FLEET_PORT:-8080}
	FLEET_STATS_PORT=${FLEET_STATS_PORT:-8404}
	FLEET_REPLICAS=${FLEET_REPLICAS:-3}
	FLEET_API_BASE=${FLEET_API_BASE:-8100}
	FLEET_ADMIN_BASE=${FLEET_ADMIN_BASE:-8200}
	FLEET_STORE=${FLEET_STORE:-auto}
	FLEET_REDIS_PORT=${FLEET_REDIS_PORT:-6390}
	FLEET_REDIS_CLUSTER=${FLEET_REDIS_CLUSTER:-0}
	FLEET_BIN=${FLEET_BIN:-$root/bin/pricing-engine}
	FLEET_DRAIN_DELAY=${FLEET_DRAIN_DELAY:-3s}
	FLEET_SHUTDOWN_TIMEOUT=${FLEET_SHUTDOWN_TIMEOUT:-15s}
	FLEET_ARGS=${FLEET_ARGS:-}
	FLEET_WAIT=${FLEET_WAIT:-30}
	[[ $FLEET_REPLICAS =~ ^[1-9][0-9]?$ ]] || die "FLEET_REPLICAS=$FLEET_REPLICAS: want 1..99"
}

# load reads the settings "up" recorded.
load() {
	[[ -f $state ]] || die "nothing is running from $FLEET_DIR (no fleet.env); run: $0 up"
	# shellcheck source=/dev/null
	source "$state"
	FLEET_WAIT=${FLEET_WAIT:-30}
}

# record writes the resolved settings for down, roll and status.
record() {
	{
		for v in FLEET_PORT FLEET_STATS_PORT FLEET_REPLICAS FLEET_API_BASE FLEET_ADMIN_BASE \
			FLEET_STORE FLEET_REDIS_PORT FLEET_REDIS_CLUSTER FLEET_BIN FLEET_DRAIN_DELAY \
			FLEET_SHUTDOWN_TIMEOUT FLEET_ARGS FLEET_WAIT STORE_URL; do
			printf '%s=%q\n' "$v" "${!v}"
		done
	} >"$state"
}

# starttime prints the start time of process $1 (clock ticks since boot),
# which tells a process from a later one that reused its pid. It fails for
# a process that has exited, zombies included (whoever adopted our
# background processes may take a while to reap them).
starttime() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	set -- $stat
	[[ $1 != Z && $1 != X ]] || return 1
	echo "${20}"
}

# pidof_name prints the pid recorded for component $1 when that very
# process is still running.
pidof_name() {
	local f=$FLEET_DIR/$1.pid pid start
	[[ -f $f ]] || return 1
	read -r pid start <"$f" || return 1
	[[ $(starttime "$pid" 2>/dev/null) == "$start" ]] || return 1
	echo "$pid"
}

# launch starts component $1 with the command "${@:2}" in the background,
# output to $FLEET_DIR/$1.log (appended), and records its pid file.
launch() {
	local name=$1
	shift
	nohup "$@" </dev/null >>"$FLEET_DIR/$name.log" 2>&1 &
	local pid=$!
	echo "$pid $(starttime "$pid")" >"$FLEET_DIR/$name.pid"
}

# halt stops component $1: SIGTERM, then up to $2 seconds for it to exit,
# then SIGKILL. A pid file whose process is gone is removed.
halt() {
	local name=$1 grace=$2 pid
	if pid=$(pidof_name "$name"); then
		kill -TERM "$pid" 2>/dev/null || true
		if ! wait_until "$grace" gone "$name"; then
			say "$name (pid $pid) still running after ${grace}s: SIGKILL"
			kill -KILL "$pid" 2>/dev/null || true
			wait_until 5 gone "$name" || die "$name (pid $pid) survives SIGKILL"
		fi
	fi
	rm -f "$FLEET_DIR/$name.pid"
}

gone() { ! pidof_name "$1" >/dev/null; }

# wait_until polls the command "${@:2}" every 50 ms for at most $1 seconds.
wait_until() {
	local deadline=$((SECONDS + $1))
	shift
	until "$@"; do
		((SECONDS < deadline)) || return 1
		sleep 0.05
	done
}

# running fails, naming the log, when component $1 has exited.
running() {
	pidof_name "$1" >/dev/null && return 0
	say "$1 exited; last lines of $FLEET_DIR/$1.log:"
	tail -n 20 "$FLEET_DIR/$1.log" >&2 || true
	exit 1
}

http_code() { curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$1" 2>/dev/null; }

ready() {
	running "$1"
	[[ $(http_code "http://127.0.0.1:$2/readyz") == 200 ]]
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# server_status prints HAProxy's view of replica r$1 (UP, DOWN, MAINT, ...).
server_status() {
	curl -s --max-time 1 "http://127.0.0.1:$FLEET_STATS_PORT/stats;csv" 2>/dev/null |
		awk -F, -v s="r$1" '$1 == "pricing" && $2 == s { print $18 }'
}

up_in_haproxy() {
	running haproxy
	[[ $(server_status "$1") == UP ]]
}

redis_ports() {
	if [[ $FLEET_REDIS_CLUSTER == 1 ]]; then
		echo "$FLEET_REDIS_PORT" $((FLEET_REDIS_PORT + 1)) $((FLEET_REDIS_PORT + 2))
	else
		echo "$FLEET_REDIS_PORT"
	fi
}

redis_pong() {
	running "redis-$1"
	[[ $(redis-cli -p "$1" ping 2>/dev/null) == PONG ]]
}

cluster_ok() {
	[[ $(redis-cli -p "$1" cluster info 2>/dev/null | tr -d '\r' | grep '^cluster_state:') == cluster_state:ok ]]
}

has_store_flag() { "$FLEET_BIN" --help 2>&1 | grep -q -- '--store '; }
has_import() { "$FLEET_BIN" import --help 2>&1 | grep -q -- '--embedded'; }

start_redis() {
	local p
	command -v redis-server >/dev/null || die "redis-server is not installed (Debian: apt-get install redis-server)"
	for p in $(redis_ports); do
		mkdir -p "$FLEET_DIR/redis-$p"
		local args=(--bind 127.0.0.1 --port "$p" --dir "$FLEET_DIR/redis-$p" --save '' --appendonly no)
		if [[ $FLEET_REDIS_CLUSTER == 1 ]]; then
			args+=(--cluster-enabled yes --cluster-config-file "nodes-$p.conf")
		fi
		launch "redis-$p" redis-server "${args[@]}"
	done
	for p in $(redis_ports); do
		wait_until "$FLEET_WAIT" redis_pong "$p" || die "redis on port $p does not answer PING"
	done
	if [[ $FLEET_REDIS_CLUSTER == 1 ]]; then
		local nodes=()
		for p in $(redis_ports); do nodes+=("127.0.0.1:$p"); done
		redis-cli --cluster create "${nodes[@]}" --cluster-replicas 0 --cluster-yes >>"$FLEET_DIR/redis-cluster.log" 2>&1 ||
			die "redis-cli --cluster create failed: see $FLEET_DIR/redis-cluster.log"
		for p in $(redis_ports); do
			wait_until "$FLEET_WAIT" cluster_ok "$p" || die "redis cluster node $p is not ok"
		done
		STORE_URL="redis://${nodes[0]}?addr=${nodes[1]}&addr=${nodes[2]}"
	else
		STORE_URL="redis://127.0.0.1:$FLEET_REDIS_PORT"
	fi
	say "redis up: $STORE_URL"
}

# replica_args prints the flags of replica $1, one per line.
replica_args() {
	local i=$1
	printf '%s\n' --addr="127.0.0.1:$((FLEET_API_BASE + i))" --admin-addr="127.0.0.1:$((FLEET_ADMIN_BASE + i))" \
		--drain-delay="$FLEET_DRAIN_DELAY" --shutdown-timeout="$FLEET_SHUTDOWN_TIMEOUT"
	if [[ -n $STORE_URL ]]; then printf '%s\n' --store="$STORE_URL"; fi
	local a
	for a in $FLEET_ARGS; do printf '%s\n' "$a"; done
}

start_replica() {
	local i=$1 args
	mapfile -t args < <(replica_args "$i")
	launch "replica-$i" "$FLEET_BIN" "${args[@]}"
}

wait_replica() {
	local i=$1
	wait_until "$FLEET_WAIT" ready "replica-$i" $((FLEET_ADMIN_BASE + i)) ||
		die "replica $i is not ready on admin port $((FLEET_ADMIN_BASE + i)) within ${FLEET_WAIT}s"
}

# seconds converts a Go duration of whole or fractional seconds ("3s",
# "1.5s", "500ms") to whole seconds, rounded up.
seconds() {
	local d=$1
	case $d in
	*ms) echo $(((${d%ms} + 999) / 1000)) ;;
	*s) local s=${d%s}; echo $((${s%.*} + 1)) ;;
	*m) echo $((${d%m} * 60)) ;;
	*) echo 60 ;;
	esac
}

write_haproxy_cfg() {
	local servers="" i
	for ((i = 1; i <= FLEET_REPLICAS; i++)); do
		servers+="server r$i 127.0.0.1:$((FLEET_API_BASE + i)) port $((FLEET_ADMIN_BASE + i))\\n    "
	done
	sed -e "s|@FLEET_PORT@|$FLEET_PORT|g" -e "s|@FLEET_STATS_PORT@|$FLEET_STATS_PORT|g" \
		-e "s|@FLEET_DIR@|$FLEET_DIR|g" -e "s|@TEMPLATE_DIR@|$here|g" \
		-e "s|^    @SERVERS@$|    ${servers%\\n    }|" "$here/haproxy.cfg" >"$FLEET_DIR/haproxy.cfg"
}

cmd_up() {
	settings
	mkdir -p "$FLEET_DIR"
	FLEET_DIR=$(cd "$FLEET_DIR" && pwd)
	state=$FLEET_DIR/fleet.env
	local name
	for f in "$FLEET_DIR"/*.pid; do
		[[ -e $f ]] || continue
		name=$(basename "$f" .pid)
		pidof_name "$name" >/dev/null && die "$name is already running from $FLEET_DIR; run: $0 down"
		rm -f "$f"
	done
	[[ -x $FLEET_BIN ]] || die "no server binary at $FLEET_BIN (make build)"
	command -v haproxy >/dev/null || die "haproxy is not installed (Debian: apt-get install haproxy)"

	local ports=("$FLEET_PORT" "$FLEET_STATS_PORT") i p
	for ((i = 1; i <= FLEET_REPLICAS; i++)); do ports+=($((FLEET_API_BASE + i)) $((FLEET_ADMIN_BASE + i))); done
	STORE_URL=""
	case $FLEET_STORE in
	memory) ;;
	redis) has_store_flag || die "FLEET_STORE=redis but $FLEET_BIN has no --store flag" ;;
	auto)
		if has_store_flag; then
			FLEET_STORE=redis
		else
			FLEET_STORE=memory
			say "$FLEET_BIN has no --store flag yet: the replicas serve the embedded data from memory and no Redis is started"
		fi
		;;
	*) die "FLEET_STORE=$FLEET_STORE: want auto, redis or memory" ;;
	esac
	if [[ $FLEET_STORE == redis ]]; then
		for p in $(redis_ports); do
			ports+=("$p")
			# A cluster node also listens on its bus port, port + 10000.
			if [[ $FLEET_REDIS_CLUSTER == 1 ]]; then ports+=($((p + 10000))); fi
		done
	fi
	for p in "${ports[@]}"; do port_free "$p" || die "port $p on 127.0.0.1 is in use (see the FLEET_* port settings)"; done
	record # now, so that "down" knows the settings if "up" fails half-way

	if [[ $FLEET_STORE == redis ]]; then
		start_redis
		if has_import; then
			"$FLEET_BIN" import --store "$STORE_URL" --embedded >>"$FLEET_DIR/import.log" 2>&1 ||
				die "import failed: see $FLEET_DIR/import.log"
			say "imported the embedded data: $(tail -n 1 "$FLEET_DIR/import.log")"
		else
			die "$FLEET_BIN has --store but no 'import --embedded': cannot load the data into Redis"
		fi
	fi
	record

	for ((i = 1; i <= FLEET_REPLICAS; i++)); do start_replica "$i"; done
	for ((i = 1; i <= FLEET_REPLICAS; i++)); do wait_replica "$i"; done
	say "$FLEET_REPLICAS replicas ready (store: ${STORE_URL:-memory})"

	write_haproxy_cfg
	haproxy -c -f "$FLEET_DIR/haproxy.cfg" >>"$FLEET_DIR/haproxy.log" 2>&1 ||
		die "haproxy refuses $FLEET_DIR/haproxy.cfg: see $FLEET_DIR/haproxy.log"
	launch haproxy haproxy -db -f "$FLEET_DIR/haproxy.cfg"
	for ((i = 1; i <= FLEET_REPLICAS; i++)); do
		wait_until "$FLEET_WAIT" up_in_haproxy "$i" || die "haproxy does not see replica $i up"
	done
	say "up: http://127.0.0.1:$FLEET_PORT/api/v1/price (stats http://127.0.0.1:$FLEET_STATS_PORT/stats, run directory $FLEET_DIR)"
}

# cmd_down stops every process with a pid file in $FLEET_DIR (each checked
# to be the very process "up" started), so that an "up" that failed half-way
# is cleaned up too: HAProxy first (no new requests), then the replicas
# (drained in parallel), then Redis.
cmd_down() {
	local grace=20 f name pid
	if [[ -f $state ]]; then
		load
		grace=$(($(seconds "$FLEET_SHUTDOWN_TIMEOUT") + 5))
	fi
	halt haproxy 10
	for f in "$FLEET_DIR"/replica-*.pid; do
		[[ -e $f ]] || continue
		if pid=$(pidof_name "$(basename "$f" .pid)"); then kill -TERM "$pid" 2>/dev/null || true; fi
	done
	for f in "$FLEET_DIR"/replica-*.pid "$FLEET_DIR"/*.pid; do
		[[ -e $f ]] || continue
		name=$(basename "$f" .pid)
		case $name in replica-*) halt "$name" "$grace" ;; *) halt "$name" 10 ;; esac
	done
	rm -f "$state"
	say "down (logs kept in $FLEET_DIR)"
}

cmd_roll() {
	load
	local i grace t0 pid
	grace=$(($(seconds "$FLEET_SHUTDOWN_TIMEOUT") + 5))
	for ((i = 1; i <= FLEET_REPLICAS; i++)); do
		t0=$SECONDS
		pid=$(pidof_name "replica-$i") || die "replica $i is not running"
		# SIGTERM: /readyz fails at once, HAProxy stops sending within
		# about a second, the replica serves what still arrives for the
		# drain delay, then finishes in-flight requests and exits.
		kill -TERM "$pid"
		wait_until "$grace" gone "replica-$i" || die "replica $i (pid $pid) did not exit within ${grace}s"
		if grep -q 'level=ERROR' <(tail -n 5 "$FLEET_DIR/replica-$i.log"); then
			say "replica $i logged an error while stopping: see $FLEET_DIR/replica-$i.log"
		fi
		start_replica "$i"
		wait_replica "$i"
		wait_until "$FLEET_WAIT" up_in_haproxy "$i" || die "haproxy does not see replica $i up again"
		say "replica $i rolled in $((SECONDS - t0))s"
	done
	say "roll done"
}

cmd_status() {
	load
	local i p pid
	for name in haproxy $(for p in $(redis_ports); do [[ $FLEET_STORE == redis ]] && echo "redis-$p"; done); do
		if pid=$(pidof_name "$name"); then echo "$name pid $pid running"; else echo "$name not running"; fi
	done
	for ((i = 1; i <= FLEET_REPLICAS; i++)); do
		local st="not running" admin=$((FLEET_ADMIN_BASE + i))
		if pid=$(pidof_name "replica-$i"); then st="pid $pid running"; fi
		echo "replica-$i $st api 127.0.0.1:$((FLEET_API_BASE + i)) readyz $(http_code "http://127.0.0.1:$admin/readyz") haproxy $(server_status "$i")"
	done
	echo "front http://127.0.0.1:$FLEET_PORT store ${STORE_URL:-memory}"
}

case ${1:-} in
up) cmd_up ;;
down) cmd_down ;;
roll) cmd_roll ;;
status) cmd_status ;;
*)
	sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'
	exit 2
	;;
esac
