#!/usr/bin/env bash
# Builds the codec benchmark in Release (-O2) in its own tree and runs it on one core.
#   bench/codec/run.sh            full run (0.5 s per repetition, best of 3)
#   bench/codec/run.sh --quick    short run
# Extra arguments go to ykc_bench_codec (--min-time S, --reps N, --filter TEXT).
# BUILD_DIR (default build-bench) and CPU (default 0) can be set in the environment.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${BUILD_DIR:-$root/build-bench}
cpu=${CPU:-0}

log=$(mktemp /tmp/ykc-bench-build.XXXXXX)
if ! { cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE="-O2 -DNDEBUG" \
         -DYKC_BUILD_TESTS=OFF -DYKC_BUILD_BENCH=ON &&
       cmake --build "$build" --target ykc_bench_codec -j"$(nproc)"; } >"$log" 2>&1; then
  cat "$log" >&2
  rm -f "$log"
  exit 1
fi
rm -f "$log"

cxx=$(sed -n 's/^CMAKE_CXX_COMPILER:[A-Z]*=//p' "$build/CMakeCache.txt")
echo "== machine"
echo "cpu:      $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)"
echo "nproc:    $(nproc)"
echo "kernel:   $(uname -srm)"
echo "compiler: $("${cxx:-c++}" --version | head -n1)"
echo "flags:    Release, -O2 -DNDEBUG"
if command -v git >/dev/null && git -C "$root" rev-parse --short HEAD >/dev/null 2>&1; then
  echo "commit:   $(git -C "$root" rev-parse --short HEAD)$(git -C "$root" diff --quiet HEAD -- protocol 2>/dev/null || echo ' (protocol/ modified)')"
fi

bin=$build/bench/ykc_bench_codec
if command -v taskset >/dev/null && taskset -c "$cpu" true 2>/dev/null; then
  echo "pinned:   taskset -c $cpu"
  echo
  exec taskset -c "$cpu" "$bin" "$@"
fi
echo "pinned:   no (taskset unavailable)"
echo
exec "$bin" "$@"
