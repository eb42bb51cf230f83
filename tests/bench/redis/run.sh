#!/usr/bin/env bash
# Redis backplane benchmark (issue 12), in one run on one machine, against
# one local redis-server started here (no persistence):
#
#   1. publish throughput through Redis: the backplane of one node
#      publishing 100 B events to one channel, one event per script (64
#      scripts in flight) and 100 per script (16 in flight): events/s, and
#      the CPU Redis and the node spend per event;
#   2. fan-out on a node with the backplane against without: 1,000 streams
#      x 100 events/s and x 1,000 events/s, and 1 stream x 100/s (the hop
#      through Redis alone), on hub_server B, published
#      through hub_server A (which forwards through Redis) against the same
#      streams and publishes on one hub_server without Redis: B's CPU per
#      delivery (with its core's ksoftirqd), and the latency from publish
#      to delivery (p50/p99), so the difference is what the backplane adds;
#   3. Redis round trips per publish and per subscriber, from Redis's own
#      command counters (INFO commandstats) over run 2.
#
#   tests/bench/redis/run.sh [--build DIR] [--results FILE] [--quick]
#
# The node measured (B, or the single node) runs with --threads 1 pinned to
# core 0; the load tool, node A and Redis share core 1. Reports ratios,
# never judges: the exit status is non-zero only when something failed to
# build or start. Installs redis-server and libhiredis-dev if missing (root).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../../.." && pwd)
build=$root/build-redis-bench
results=
duration=8
events_single=100000
events_batched=1000000
while [ $# -gt 0 ]; do
  case $1 in
    --build) build=$2; shift ;;
    --results) results=$2; shift ;;
    --quick) duration=2; events_single=20000; events_batched=200000 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "run.sh: unknown option $1" >&2; exit 1 ;;
  esac
  shift
done
die() { echo "run.sh: $*" >&2; exit 1; }
source "$here/../lib.sh"

if ! command -v redis-server >/dev/null || [ ! -f /usr/include/hiredis/async.h ]; then
  [ "$(id -u)" = 0 ] || die "redis-server and libhiredis-dev are needed"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server \
    libhiredis-dev libasio-dev util-linux >/dev/null
fi
logs=$build/redis-bench-logs
mkdir -p "$logs"
results=${results:-$build/redis-results.jsonl}
: >"$results"
bench_build "$build" "$logs" ssepp-bench-fanout-load ssepp-bench-redis-publish hub_server
load_tool=$build/tests/bench/fanout/ssepp-bench-fanout-load
publish_tool=$build/tests/bench/redis/ssepp-bench-redis-publish
hub_server=$build/examples/hub_server/hub_server
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

pids=()
cleanup() { for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

redis_port=$(free_port)
rm -rf "$logs/redis"; mkdir -p "$logs/redis"
taskset -c 1 redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
  --dir "$logs/redis" --logfile "$logs/redis.log" &
redis_pid=$!
pids+=("$redis_pid")
for _ in $(seq 100); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.05; done
redis-cli -p "$redis_port" ping >/dev/null || die "redis-server did not start"

# --- 1. publish throughput -----------------------------------------------------
for spec in "1 64 $events_single" "100 16 $events_batched"; do
  read -r batch in_flight events <<<"$spec"
  taskset -c 0 "$publish_tool" --port "$redis_port" --redis-pid "$redis_pid" --events "$events" \
    --batch "$batch" --in-flight "$in_flight" --label "batch $batch" >>"$results" ||
    die "the publish tool failed"
done
redis-cli -p "$redis_port" flushall >/dev/null

# --- 2. fan-out with and without the backplane -----------------------------------
server_port=
start_node() {  # start_node NAME CPU [options...]: sets server_port and node_pid
  local name=$1 cpu=$2
  shift 2
  taskset -c "$cpu" "$hub_server" --port 0 --threads 1 --max-connections 5000 "$@" \
    >"$logs/$name.out" 2>"$logs/$name.err" &
  node_pid=$!
  pids+=("$node_pid")
  server_port=
  for _ in $(seq 200); do
    server_port=$(sed -n 's#.*listening on http://[^ ]*:\([0-9][0-9]*\)/.*#\1#p' "$logs/$name.out" | head -1)
    [ -n "$server_port" ] && return 0
    sleep 0.05
  done
  die "$name did not start: $(cat "$logs/$name.err")"
}
stop_node() { kill -TERM "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
commandstats() { redis-cli -p "$redis_port" info commandstats | tr -d '\r' | grep '^cmdstat_'; }

for spec in "1000 100" "1000 1000" "1 100"; do
  read -r clients rate <<<"$spec"
  # Without the backplane.
  start_node single 0
  single_port=$server_port single_pid=$node_pid
  taskset -c 1 "$load_tool" --port "$single_port" --server-pid "$single_pid" --server-cpus 0 \
    --clients "$clients" --rate "$rate" --duration "$duration" --label "single node, $clients x $rate/s" \
    >>"$results" 2>>"$logs/load.err" || die "the load tool failed (single node)"
  stop_node "$single_pid"
  # With it: streams on B, publishes on A.
  start_node a 1 --redis "redis://127.0.0.1:$redis_port" --redis-prefix "b$clients-$rate:"
  a_port=$server_port a_pid=$node_pid
  start_node b 0 --redis "redis://127.0.0.1:$redis_port" --redis-prefix "b$clients-$rate:"
  b_port=$server_port b_pid=$node_pid
  redis-cli -p "$redis_port" config resetstat >/dev/null
  taskset -c 1 "$load_tool" --port "$b_port" --publish-port "$a_port" --server-pid "$b_pid" \
    --server-cpus 0 --clients "$clients" --rate "$rate" --duration "$duration" \
    --label "backplane, $clients x $rate/s" >"$logs/load-backplane.json" 2>>"$logs/load.err" ||
    die "the load tool failed (backplane)"
  stats=$(commandstats | sed -n 's/^cmdstat_\([a-z]*\):calls=\([0-9]*\),.*/"\1":\2/p' | paste -sd, -)
  sed "s/}\$/,\"redis_calls\":{$stats}}/" "$logs/load-backplane.json" >>"$results"
  stop_node "$b_pid"
  stop_node "$a_pid"
done

python3 "$here/report.py" "$results"
