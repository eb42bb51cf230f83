#!/usr/bin/env bash
# Fan-out benchmark: ssepp's hub_server against a naive Node server,
# better-sse and nginx + nchan, under the workloads of issue 5, and the
# physical floor of loopback writes, in one run. Prints two tables with
# ratios against ssepp and the goals as met/missed.
#
#   tests/bench/fanout/run.sh [--quick] [--build DIR] [--servers LIST]
#                             [--workloads LIST] [--results FILE]
#
#   --quick        a smoke run of about two minutes (the full run takes
#                  six to seven): 2 s measurements, workloads 3 and 4 scaled
#                  down (2,000 and 4,000 streams), table 2 for workloads 1
#                  and 2b only
#   --build DIR    build directory (default build-fanout/ at the top of the
#                  source tree); configured with the bench and examples on
#   --servers LIST comma list of ssepp,naive,better-sse,nchan (default all)
#   --workloads    comma list of 1,2a,2b,2c,3,4,5,6 (default all)
#   --results FILE where the JSON lines go (default DIR/fanout-results.jsonl)
#
# Workloads (64 B payload; durations are 8 s per measurement, 2 s quick):
#   1   1,000 streams x 100 events/s
#   2a  1,000 streams x 400 events/s
#   2b  1,000 streams x 1,000 events/s (saturation)
#   2c  1,000 streams x 3,000 events/s, ssepp and nchan only: the ceiling
#       of a server that keeps up with 2b (the saturation goal takes each
#       server's best of 2b and 2c)
#   3   10,000 streams x 10 events/s
#   4   19,000 idle streams with heartbeats every second (held 5 s):
#       marginal RSS per stream
#   5   1,000 streams x 100 events/s of which 100 never read (receive buffer
#       4 KiB), for 15 s (quick: 2 s): the kernel holds about 50 KB per
#       stalled stream, so it takes some seconds before a server has to
#       queue; ssepp runs with --queue-events 256 --queue-bytes 65536, so its
#       bound is 100 x 64 KiB of queued events
#   6   1 stream x 100,000 events/s of 100 B, published in batches of up to
#       100 events per request (text/event-stream bodies: ssepp's batch
#       publishing, so ssepp only), default hub_server options
#
# Table 1: every server pinned to core 0 (taskset), the load tool to core 1.
# Table 2: ssepp with --threads 2 and no pinning (the load tool stays on
# core 1), against the same peers' pinned figures.
#
# CPU per delivery is the server's utime + stime (which the kernel scales to
# the scheduler's exact runtime) plus what the ksoftirqd thread of its core
# (both cores in table 2) spent, over the measuring window, divided by
# deliveries: loopback TCP does the receiving end's work in the sender's
# softirq, in the sender's context or, deferred under load, in ksoftirqd.
# The floor is measured the same way; the process-only figures are in the
# tables too.
#
# Installs what is missing (as root): nginx and libnginx-mod-nchan, Asio,
# Node's better-sse (npm ci from the committed package-lock.json). Reports,
# never judges: the exit status is non-zero only when something failed to
# build or start. Environment: SSEPP_FANOUT_NICE (niceness of servers and
# load tool; default -15 as root, so other work on a shared machine disturbs
# the figures less; 0 to leave it), SSEPP_FANOUT_DURATION (seconds per measurement).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../../.." && pwd)
build=$root/build-fanout
quick=0
servers=ssepp,naive,better-sse,nchan
workloads=1,2a,2b,2c,3,4,5,6
results=

die() {
  echo "run.sh: $*" >&2
  exit 1
}
source "$here/../lib.sh"

while [ $# -gt 0 ]; do
  case $1 in
    --quick) quick=1 ;;
    --build) build=$2; shift ;;
    --servers) servers=$2; shift ;;
    --workloads) workloads=$2; shift ;;
    --results) results=$2; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1 (try --help)" ;;
  esac
  shift
done
mkdir -p "$build"
build=$(cd "$build" && pwd)
results=${results:-$build/fanout-results.jsonl}
logs=$build/fanout-logs
mkdir -p "$logs"
: >"$results"

if [ "$quick" = 1 ]; then
  duration=${SSEPP_FANOUT_DURATION:-2}; hold=2; drain=2; connect_timeout=20; duration5=$duration
  clients3=2000; clients4=4000; table2_workloads=1,2a,2b,2c,6
else
  duration=${SSEPP_FANOUT_DURATION:-8}; hold=5; drain=5; connect_timeout=60; duration5=15
  clients3=10000; clients4=19000; table2_workloads=$workloads
fi
if [ "$(id -u)" = 0 ]; then nice_level=${SSEPP_FANOUT_NICE:--15}; else nice_level=${SSEPP_FANOUT_NICE:-0}; fi
has() { case ",$1," in *",$2,"*) return 0 ;; esac; return 1; }

# --- install what is missing -------------------------------------------------
nchan_module=/usr/lib/nginx/modules/ngx_nchan_module.so
apt_install() {
  [ "$(id -u)" = 0 ] || { echo "run.sh: not root: cannot apt-get install $*" >&2; return 1; }
  if [ -z "${apt_updated:-}" ]; then apt-get update -qq >/dev/null 2>&1 || true; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}
command -v cmake >/dev/null && command -v c++ >/dev/null || apt_install cmake g++ || die "cmake and a C++ compiler are needed"
command -v taskset >/dev/null || apt_install util-linux || die "taskset is needed"
[ -f /usr/include/asio.hpp ] || apt_install libasio-dev || die "Asio (libasio-dev) is needed for hub_server"
if has "$servers" nchan && { ! command -v nginx >/dev/null || [ ! -f "$nchan_module" ]; }; then
  apt_install nginx libnginx-mod-nchan || { echo "run.sh: nginx + nchan unavailable; skipping it" >&2; servers=${servers//nchan/}; }
  # The package starts a system nginx on port 80; the benchmark runs its own.
  { systemctl stop nginx || service nginx stop || true; } >/dev/null 2>&1
fi
if has "$servers" naive || has "$servers" better-sse; then
  command -v node >/dev/null && command -v npm >/dev/null || apt_install nodejs npm || die "Node.js and npm are needed for the Node peers"
  if [ ! -d "$here/node_modules/better-sse" ]; then
    (cd "$here" && npm ci --no-audit --no-fund --loglevel=error >/dev/null) || die "npm ci failed in $here"
  fi
fi

# --- build -------------------------------------------------------------------
bench_build "$build" "$logs" ssepp-bench-fanout-load ssepp-bench-fanout-floor hub_server
load_tool=$build/tests/bench/fanout/ssepp-bench-fanout-load
floor_tool=$build/tests/bench/fanout/ssepp-bench-fanout-floor
hub_server=$build/examples/hub_server/hub_server

# Streams need descriptors: every process started here inherits the limit.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
[ "$(ulimit -n)" -ge 19100 ] 2>/dev/null || echo "run.sh: warning: descriptor limit $(ulimit -n) is below what workload 4 needs" >&2
cores=$(nproc)
pin_server=(taskset -c 0)
pin_load=(taskset -c 1)
if [ "$cores" -lt 2 ]; then
  echo "run.sh: warning: one core: nothing is pinned, figures are not comparable" >&2
  pin_server=(); pin_load=()
fi
# Priority on a shared machine: with autogroup scheduling (the default on
# Debian kernels) niceness only orders processes within one session, so the
# servers, the load tool and the floor each run in a session of their own
# (setsid) whose autogroup gets the niceness; it ends with them.
niced=()
[ "$nice_level" != 0 ] && niced=(nice -n "$nice_level")
boost() {
  [ "$nice_level" != 0 ] && [ -w "/proc/$1/autogroup" ] || return 0
  # Only once the process leads its own session: before setsid() it still
  # shares this script's autogroup, which must not be changed.
  local _ session
  for _ in $(seq 100); do
    session=$(cut -d' ' -f6 "/proc/$1/stat" 2>/dev/null) || return 0
    if [ "$session" = "$1" ]; then
      echo "$nice_level" >"/proc/$1/autogroup" 2>/dev/null
      return 0
    fi
    sleep 0.01
  done
}

# --- servers -------------------------------------------------------------------
server_pid=
server_pids=()
server_port=
run_tag=
# start_server NAME PINNED THREADS HEARTBEAT_MS [hub_server options...]
start_server() {
  local name=$1 pinned=$2 threads=$3 heartbeat=$4
  shift 4
  local out=$logs/$name$run_tag.out err=$logs/$name$run_tag.err cmd=() port=0
  case $name in
    ssepp) cmd=("$hub_server" --port 0 --threads "$threads" --max-connections 19500 --heartbeat-ms "$heartbeat" "$@") ;;
    naive) cmd=(node "$here/peers/naive.mjs" --port 0 --heartbeat-ms "$heartbeat") ;;
    better-sse) cmd=(node "$here/peers/better_sse.mjs" --port 0 --heartbeat-ms "$heartbeat") ;;
    nchan)
      local prefix=$logs/nginx$run_tag
      rm -rf "$prefix"; mkdir -p "$prefix"
      port=$(free_port)
      sed -e "s#@MODULE@#$nchan_module#; s#@PREFIX@#$prefix#g; s#@PORT@#$port#; s#@HEARTBEAT_S@#$(((heartbeat + 999) / 1000))#" \
        "$here/peers/nginx-nchan.conf" >"$prefix/nginx.conf"
      cmd=(nginx -p "$prefix" -c "$prefix/nginx.conf" -e "$prefix/error.log")
      ;;
    *) die "unknown server $name" ;;
  esac
  [ "$pinned" = 1 ] && cmd=("${pin_server[@]}" "${cmd[@]}")
  setsid "${niced[@]}" "${cmd[@]}" >"$out" 2>"$err" &
  server_pid=$!
  boost "$server_pid"
  server_pids=("$server_pid")
  server_port=
  for _ in $(seq 200); do
    if [ "$name" = nchan ]; then
      if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then server_port=$port; break; fi
    else
      server_port=$(sed -n 's#.*listening on http://[^ ]*:\([0-9][0-9]*\)/.*#\1#p' "$out" | head -1)
      [ -n "$server_port" ] && break
    fi
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.05
  done
  if [ -z "$server_port" ]; then
    echo "run.sh: $name did not start; its stderr:" >&2
    cat "$err" >&2
    stop_server
    return 1
  fi
  if [ "$name" = nchan ]; then
    local worker
    worker=$(pgrep -P "$server_pid" | head -1 || true)
    [ -n "$worker" ] && server_pids+=("$worker")
  fi
}

stop_server() {
  [ -n "$server_pid" ] || return 0
  kill -TERM "$server_pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.05; done
  kill -KILL "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=
}
trap stop_server EXIT

# measure TABLE WORKLOAD SERVER PINNED THREADS -- load options...
measure() {
  local table=$1 workload=$2 name=$3 pinned=$4 threads=$5
  shift 6
  local heartbeat=15000 extra=()
  run_tag=-t$table-w$workload
  [ "$workload" = 4 ] && heartbeat=1000
  [ "$workload" = 5 ] && [ "$name" = ssepp ] && extra=(--queue-events 256 --queue-bytes 65536)
  if ! start_server "$name" "$pinned" "$threads" "$heartbeat" "${extra[@]}"; then
    printf '{"table":%s,"workload":"%s","server":"%s","error":"did not start"}\n' "$table" "$workload" "$name" >>"$results"
    return
  fi
  local pid_args=() p json
  for p in "${server_pids[@]}"; do pid_args+=(--server-pid "$p"); done
  # The ksoftirqd of the server's cores counts as its own (load.cpp says
  # why); unpinned, both cores' count, an upper bound.
  if [ "$pinned" = 1 ] && [ "$cores" -ge 2 ]; then pid_args+=(--server-cpus 0); else pid_args+=(--server-cpus "$(seq -s, 0 $((cores - 1)))"); fi
  setsid "${niced[@]}" "${pin_load[@]}" "$load_tool" --port "$server_port" --label "$name" \
    "${pid_args[@]}" --connect-timeout "$connect_timeout" --drain-timeout "$drain" "$@" \
    >"$logs/load.json" 2> >(sed "s/^/  [table $table, workload $workload] /" >&2) &
  local load_pid=$!
  boost "$load_pid"
  if wait "$load_pid" && json=$(tail -1 "$logs/load.json") && [ -n "$json" ]; then
    printf '{"table":%s,"workload":"%s","server":"%s","threads":%s,"result":%s}\n' \
      "$table" "$workload" "$name" "$threads" "$json" >>"$results"
  else
    printf '{"table":%s,"workload":"%s","server":"%s","error":"load tool failed"}\n' "$table" "$workload" "$name" >>"$results"
  fi
  # A server that died under load is reported, not hidden.
  if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "  [table $table, workload $workload] $name exited during the run; its stderr ends:" >&2
    tail -3 "$logs/$name$run_tag.err" >&2
  fi
  stop_server
  sleep 0.3  # let the ports' TIME_WAIT load of the last run settle
}

run_workload() {  # TABLE SERVER PINNED THREADS WORKLOAD
  local t=$1 s=$2 pinned=$3 threads=$4 w=$5
  case $w in
    1) measure "$t" 1 "$s" "$pinned" "$threads" -- --clients 1000 --rate 100 --duration "$duration" ;;
    2a) measure "$t" 2a "$s" "$pinned" "$threads" -- --clients 1000 --rate 400 --duration "$duration" ;;
    2b) measure "$t" 2b "$s" "$pinned" "$threads" -- --clients 1000 --rate 1000 --duration "$duration" ;;
    2c)
      # The Node peers are far below 2b's rate already.
      case $s in ssepp | nchan) measure "$t" 2c "$s" "$pinned" "$threads" -- --clients 1000 --rate 3000 --duration "$duration" ;; esac
      ;;
    3) measure "$t" 3 "$s" "$pinned" "$threads" -- --clients "$clients3" --rate 10 --duration "$duration" ;;
    4) measure "$t" 4 "$s" "$pinned" "$threads" -- --clients "$clients4" --rate 0 --duration "$hold" ;;
    5) measure "$t" 5 "$s" "$pinned" "$threads" -- --clients 1000 --stalled 100 --stalled-rcvbuf 4096 --rate 100 --duration "$duration5" ;;
    6)
      # Batch publishing is hub_server's own.
      if [ "$s" = ssepp ]; then
        measure "$t" 6 "$s" "$pinned" "$threads" -- --clients 1 --rate 100000 --payload 100 --batch 100 --duration "$duration"
      fi
      ;;
    *) die "unknown workload $w" ;;
  esac
}

# --- the run ---------------------------------------------------------------------
started=$(date +%s)
echo "fan-out benchmark: $cores cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at start; results in $results" >&2

echo "floor: one process writing 100 B events to 1,000 loopback sockets" >&2
setsid "${niced[@]}" "$floor_tool" --connections 1000 --seconds "$([ "$quick" = 1 ] && echo 1 || echo 2)" >"$logs/floor.out" &
floor_pid=$!
boost "$floor_pid"
wait "$floor_pid" || die "the floor program failed"
head -n -1 "$logs/floor.out" >&2
tail -1 "$logs/floor.out" >>"$results"

IFS=, read -r -a server_list <<<"$servers"
IFS=, read -r -a workload_list <<<"$workloads"
for w in "${workload_list[@]}"; do
  for s in "${server_list[@]}"; do
    [ -n "$s" ] && run_workload 1 "$s" 1 1 "$w"
  done
done
if has "$servers" ssepp; then
  for w in "${workload_list[@]}"; do
    has "$table2_workloads" "$w" && run_workload 2 ssepp 0 2 "$w"
  done
fi

echo "load average $(cut -d' ' -f1-3 /proc/loadavg) at the end; $(($(date +%s) - started)) s in all" >&2
echo >&2
node "$here/report.mjs" "$results" --quick "$quick"
