#!/bin/sh
# Builds the libFuzzer targets with clang (ASan + UBSan) and runs each for
# SECONDS seconds with its dictionary (fuzz.dict for the event-stream
# targets, http.dict for the HTTP ones), on a working copy of its seed corpus
# in tests/fuzz/corpus-work/ (gitignored; new inputs accumulate there).
# Exits nonzero when the build fails or any fuzzer finds a crash; crashing
# inputs are saved in tests/fuzz/corpus-work/<target>-artifacts/.
#
# usage: tests/fuzz/run.sh SECONDS [build-dir]     (default build-dir: build-fuzz)
# Environment: SSEPP_FUZZ_CXX, the compiler (default clang++). The fuzzers run
# side by side, so the wall time stays about SECONDS however many there are.
# fuzz_server is built and run when CMake finds standalone Asio.
set -eu

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
  echo "usage: $0 SECONDS [build-dir]" >&2
  exit 2
fi
seconds=$1
case $seconds in
  '' | *[!0-9]*) echo "$0: SECONDS must be a whole number, got '$seconds'" >&2; exit 2 ;;
esac
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${2:-$root/build-fuzz}
work=$here/corpus-work

cmake -S "$root" -B "$build" \
  -DCMAKE_CXX_COMPILER="${SSEPP_FUZZ_CXX:-clang++}" \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DSSEPP_BUILD_FUZZERS=ON \
  -DSSEPP_BUILD_TESTS=OFF -DSSEPP_BUILD_EXAMPLES=OFF -DSSEPP_BUILD_BENCH=OFF \
  -DSSEPP_WERROR=ON
# The targets this build has (fuzz_server only with Asio), as CMake wrote them.
targets=$(cat "$build/tests/fuzz/libfuzzer/targets.txt")
# shellcheck disable=SC2086 # $targets is a word list on purpose
cmake --build "$build" --parallel --target $targets

mkdir -p "$work"
pids=""
for target in $targets; do
  corpus=$work/$target
  artifacts=$work/$target-artifacts
  mkdir -p "$corpus"
  rm -rf "$artifacts"
  mkdir -p "$artifacts"
  cp "$here/corpus/$target"/* "$corpus"/
  case $target in
    fuzz_parser | fuzz_round_trip) dict=$here/fuzz.dict ;;
    *) dict=$here/http.dict ;;
  esac
  echo "== $target: ${seconds}s, log in $work/$target.log"
  # The targets run side by side; each gets the full time.
  "$build/tests/fuzz/libfuzzer/$target" \
    -max_total_time="$seconds" -timeout=20 -rss_limit_mb=2048 -max_len=4096 \
    -dict="$dict" -artifact_prefix="$artifacts/" -print_final_stats=1 \
    "$corpus" >"$work/$target.log" 2>&1 &
  pids="$pids $!:$target"
done

status=0
for entry in $pids; do
  pid=${entry%%:*}
  target=${entry#*:}
  log=$work/$target.log
  code=0
  wait "$pid" || code=$?
  crashes=$(find "$work/$target-artifacts" -type f | wc -l)
  if [ "$code" -ne 0 ] || [ "$crashes" -ne 0 ] || ! grep -q '^Done [0-9]* runs' "$log"; then
    echo "== $target FAILED (exit $code; $crashes inputs saved in $work/$target-artifacts):"
    tail -n 60 "$log"
    status=1
  else
    echo "== $target passed:"
    grep -E '^Done [0-9]* runs|^stat::(number_of_executed_units|new_units_added|peak_rss_mb)' "$log" || true
    grep -E '#[0-9]+.*(cov|ft):' "$log" | tail -n 1 || true
  fi
done
exit $status
