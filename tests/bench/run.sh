#!/usr/bin/env bash
# Runs ssepp's parser benchmark and its peers in one go and prints one table.
#
#   tests/bench/run.sh [build-dir]
#
# build-dir defaults to build-bench/ at the top of the source tree. It is
# configured with SSEPP_BUILD_BENCH=ON (a new one with tests and examples
# off, so it needs neither doctest nor Asio) and the bench target is built. Node's
# dependencies are installed from the committed package-lock.json with
# `npm ci` when tests/bench/node_modules is missing.
#
# Measured in the same run, on the same bytes:
#   ssepp               ssepp::parser (default options) / ssepp::format
#   eventsource-parser  the npm package, on Node
#   floor               a minimal non-compliant LF-only memchr splitter
#                       (and, for the formatter, plain appends)
# Each figure is the best of several runs, each repeating passes for a
# minimum time, in bytes per second of the process's CPU time (so a busy
# machine's waits for a core are not counted). Environment: SSEPP_BENCH_RUNS (5), SSEPP_BENCH_MIN_TIME (0.3
# seconds), SSEPP_BENCH_SIZE (4 MiB per input).
#
# It reports times and never judges them: the exit status is non-zero only
# when something failed to build or run, or a parser dispatched events other
# than the ones generated.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${1:-$root/build-bench}
runs=${SSEPP_BENCH_RUNS:-5}
min_time=${SSEPP_BENCH_MIN_TIME:-0.3}
size=${SSEPP_BENCH_SIZE:-4}

die() {
  echo "run.sh: $*" >&2
  exit 1
}

command -v cmake >/dev/null || die "cmake not found (apt-get install cmake g++)"
command -v node >/dev/null || die "node not found: the eventsource-parser peer needs Node.js and npm"

# --- build -----------------------------------------------------------------
# Configuring again is cheap and repairs a directory whose last configure
# failed; an existing directory keeps its own options, bench switched on.
extra=()
# A fresh directory needs nothing but the bench (no doctest, no Asio).
[ -f "$build/CMakeCache.txt" ] || extra=(-DSSEPP_BUILD_TESTS=OFF -DSSEPP_BUILD_EXAMPLES=OFF)
cmake -S "$root" -B "$build" -DSSEPP_BUILD_BENCH=ON "${extra[@]}" >/dev/null ||
  die "configuring $build failed (run: cmake -S $root -B $build -DSSEPP_BUILD_BENCH=ON)"
cmake --build "$build" --target ssepp-bench-parser >/dev/null ||
  die "building ssepp-bench-parser failed (run: cmake --build $build --target ssepp-bench-parser)"
bench=$(find "$build/tests/bench" -type f -name ssepp-bench-parser -perm -u+x | head -n 1)
[ -n "$bench" ] || die "ssepp-bench-parser not found under $build/tests/bench"

if [ ! -f "$here/node_modules/eventsource-parser/package.json" ]; then
  command -v npm >/dev/null || die "npm not found: needed once to install eventsource-parser"
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error) || die "npm ci in $here failed"
fi

# --- run ---------------------------------------------------------------------
inputs="$build/tests/bench/inputs"
mkdir -p "$inputs"
results=$(mktemp)
trap 'rm -f "$results"' EXIT

echo "running ssepp-bench-parser (ssepp, floor) ..." >&2
"$bench" --inputs "$inputs" --runs "$runs" --min-time "$min_time" --size "$size" >>"$results" ||
  die "ssepp-bench-parser failed"
echo "running eventsource-parser on node $(node --version) ..." >&2
node "$here/bench_eventsource_parser.mjs" "$inputs" --runs "$runs" --min-time "$min_time" >>"$results" ||
  die "bench_eventsource_parser.mjs failed"

# --- report ------------------------------------------------------------------
compiler=$(sed -n 's/^CMAKE_CXX_COMPILER:[A-Z]*=//p' "$build/CMakeCache.txt")
compiler_version=$("${compiler:-c++}" --version 2>/dev/null | head -n 1)
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -n 1)
esp_version=$(node -p "require('$here/node_modules/eventsource-parser/package.json').version")

echo
echo "ssepp parser benchmark: MB/s = 10^6 input bytes per CPU second, best of $runs runs of >= ${min_time} s each"
echo "  machine: ${cpu:-unknown CPU}, $(nproc) cores; $compiler_version"
echo "  peers: eventsource-parser $esp_version on node $(node --version); floor = LF-only memchr splitter"
echo "  whole = the whole input in one feed() call; 64k = 64 KiB chunks, as socket reads arrive"
echo
awk '
  $1 == "input" { bytes[$2] = $3; events[$2] = $4 }
  $1 == "result" { r[$2 "/" $3 "/" $4] = $5 }
  function mbps(key) { return (key in r) ? sprintf("%8.0f", r[key]) : sprintf("%8s", "-") }
  function ratio(a, b) {
    return (a in r && b in r && r[b] > 0) ? sprintf("%7.2fx", r[a] / r[b]) : sprintf("%8s", "-")
  }
  function row(label, name, goal_mbps) {
    printf "%-36s%s%s  %s%s  %s%s  %s%s  %s%s   %s\n", label,
      mbps(name "/ssepp/whole"), mbps(name "/ssepp/64k"),
      mbps(name "/eventsource-parser/whole"), mbps(name "/eventsource-parser/64k"),
      mbps(name "/floor/whole"), mbps(name "/floor/64k"),
      ratio(name "/ssepp/whole", name "/eventsource-parser/whole"),
      ratio(name "/ssepp/64k", name "/eventsource-parser/64k"),
      ratio(name "/ssepp/whole", name "/floor/whole"), ratio(name "/ssepp/64k", name "/floor/64k"),
      goal_mbps ? sprintf(">= %5d, >= 0.50x", goal_mbps) : "none set"
  }
  # The goals hold for both ways of feeding: a parser that is fast on one
  # big buffer but slow on socket-sized reads misses them.
  function verdict(label, name, goal_mbps,   mode, modes, i, speed, floor, s, f) {
    split("whole 64k", modes, " ")
    speed = "met"; floor = "met"
    for (i = 1; i <= 2; i++) {
      mode = modes[i]
      s = r[name "/ssepp/" mode] + 0; f = r[name "/floor/" mode] + 0
      if (s < goal_mbps) speed = (speed == "met" ? "NOT met:" : speed) " " mode
      if (f <= 0 || s < 0.5 * f) floor = (floor == "met" ? "NOT met:" : floor) " " mode
    }
    printf "  %-4s >= %5d MB/s: %-20s  >= 0.50x floor: %s\n", label, goal_mbps, speed, floor
  }
  END {
    printf "%-36s%16s  %16s  %16s  %16s  %16s   %s\n", "", "ssepp", "eventsource-p.", "floor",
      "ssepp/e-p", "ssepp/floor", "goal: MB/s, x floor"
    printf "%-36s%8s%8s  %8s%8s  %8s%8s  %8s%8s  %8s%8s\n", "", "whole", "64k", "whole", "64k",
      "whole", "64k", "whole", "64k", "whole", "64k"
    row("(a) LLM tokens, ~" int(bytes["a"] / events["a"]) " B events, LF", "a", 4000)
    row("(b) 64 KiB single-line data, LF", "b", 12000)
    row("(c) mixed CRLF, id/event/retry/: ...", "c", 1500)
    row("format (a) into a reused string", "fmt", 0)
    print ""
    print "Goals (issue 2), judged on both whole and 64k feeding:"
    verdict("(a)", "a", 4000)
    verdict("(b)", "b", 12000)
    verdict("(c)", "c", 1500)
    print ""
    print "ssepp with text_mode::raw (no UTF-8 check), MB/s whole / 64k:"
    printf "  (a) %s /%s   (b) %s /%s   (c) %s /%s\n",
      mbps("a/ssepp-raw/whole"), mbps("a/ssepp-raw/64k"), mbps("b/ssepp-raw/whole"),
      mbps("b/ssepp-raw/64k"), mbps("c/ssepp-raw/whole"), mbps("c/ssepp-raw/64k")
    print "The floor knows no CR: on (c) it finds no event and only walks the lines."
    print "eventsource-parser has no formatter; the format floor appends \"data: \", data, blank line."
  }
' "$results"
