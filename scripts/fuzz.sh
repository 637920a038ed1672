#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, -fsanitize=fuzzer,address,undefined) in build-fuzz and
# runs each for N seconds, one after the other, in one process each. Fails when a target
# crashes, leaks, trips a sanitizer or a property check; the crashing input's path is printed.
#
# Usage: scripts/fuzz.sh [seconds] [target…]     seconds: default 60; targets: frame json (default both)
#   Reproduce a failure:  build-fuzz/tests/fuzz/ykc_fuzz_<target> <crashing input>
#   Extra libFuzzer flags: FUZZ_FLAGS="-seed=1 -print_pcs=1" scripts/fuzz.sh 60 frame
#
# Corpora: build-fuzz/corpus/<target> grows across runs (new inputs are written there); seeds are
# regenerated from tests/fixtures and the catalogue on every run (build-fuzz/seeds), plus the
# hand-written ones in tests/fuzz/seeds/<target>; the inputs in tests/fuzz/regressions/<target>
# (crashes found earlier) are replayed too.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
[ $# -gt 0 ] && shift
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(frame json)
case $seconds in '' | *[!0-9]*) echo "fuzz: seconds must be a number, got '$seconds'" >&2; exit 2 ;; esac

dir=build-fuzz
if ! command -v clang++ >/dev/null 2>&1; then
  echo "fuzz: clang++ not found; run bash scripts/install-deps.sh" >&2
  exit 1
fi

echo "== configure $dir (clang++, YKC_FUZZ=ON)"
# -O1 -g without NDEBUG: asserts stay on, stacks stay readable
cmake -S . -B "$dir" -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" -DYKC_FUZZ=ON -DYKC_BUILD_TESTS=OFF -DYKC_BUILD_BENCH=OFF >/dev/null
echo "== build $dir"
cmake --build "$dir" -j "$(nproc 2>/dev/null || echo 2)" --target ykc_fuzz_seeds "${targets[@]/#/ykc_fuzz_}"

echo "== seeds"
"$dir/tests/fuzz/ykc_fuzz_seeds" tests/fixtures "$dir/seeds"
cat tests/fuzz/json-base.dict "$dir/seeds/json.dict" >"$dir/json.dict"

# ASan: leaks are failures; UBSan: stop at the first report (libFuzzer then writes the input).
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

failed=0
for t in "${targets[@]}"; do
  case $t in
    frame) max_len=1024; dict=() ;;
    json) max_len=8192; dict=(-dict="$dir/json.dict") ;;
    *) echo "fuzz: unknown target '$t' (frame, json)" >&2; exit 2 ;;
  esac
  bin=$dir/tests/fuzz/ykc_fuzz_$t
  corpus=$dir/corpus/$t
  artifacts=$dir/artifacts/$t
  log=$dir/logs/$t.log
  mkdir -p "$corpus" "$artifacts" "$dir/logs"
  dirs=("$corpus" "$dir/seeds/$t")
  [ -d "tests/fuzz/seeds/$t" ] && dirs+=("tests/fuzz/seeds/$t")
  [ -d "tests/fuzz/regressions/$t" ] && dirs+=("tests/fuzz/regressions/$t")
  echo "== fuzz $t for ${seconds}s (max_len $max_len; log $log)"
  set +e
  # shellcheck disable=SC2086
  "$bin" -max_total_time="$seconds" -max_len="$max_len" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$artifacts/" "${dict[@]}" ${FUZZ_FLAGS:-} "${dirs[@]}" >"$log" 2>&1
  rc=$?
  set -e
  done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -1 || true)
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -1)
  if [ $rc -eq 0 ]; then
    echo "fuzz: $t ok: ${runs:-?} runs in ${seconds}s (${rate:-?}/s, peak rss ${rss:-?} MB)"
    echo "fuzz: $t ${done_line#*DONE   }"
  else
    failed=1
    tail -n 60 "$log"
    crash=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
    echo "fuzz: $t FAILED (exit $rc) after ${runs:-?} runs"
    if [ -n "$crash" ]; then
      echo "fuzz: $t crashing input: $crash"
      echo "fuzz: reproduce with: $bin $crash"
    else
      echo "fuzz: $t no crashing input written; see $log"
    fi
  fi
done
exit $failed
