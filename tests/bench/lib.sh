# Shared by the benchmark scripts (sourced; they define die() first).

# bench_build BUILD LOGS TARGET...: configures BUILD once (Release, with the
# benches and examples, without the tests) and builds the targets, logging
# to LOGS/cmake.log and LOGS/build.log.
bench_build() {
  local build=$1 logs=$2 root
  shift 2
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
  if [ ! -f "$build/CMakeCache.txt" ]; then
    cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DSSEPP_BUILD_BENCH=ON \
      -DSSEPP_BUILD_EXAMPLES=ON -DSSEPP_BUILD_TESTS=OFF >"$logs/cmake.log" 2>&1 ||
      die "configuring failed (see $logs/cmake.log)"
  fi
  cmake --build "$build" --target "$@" >"$logs/build.log" 2>&1 ||
    die "building failed (see $logs/build.log)"
}

# free_port: a loopback port nothing listens on now.
free_port() {
  local p
  for _ in $(seq 50); do
    p=$((20000 + RANDOM % 10000))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
  die "no free port found"
}
