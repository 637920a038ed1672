#!/usr/bin/env bash
# Builds and runs every test: the normal build, then the same suite under AddressSanitizer +
# UndefinedBehaviorSanitizer, then each libFuzzer target for 60 s (scripts/fuzz.sh). Fails when
# any test fails. Usage: scripts/test.sh [--fast] (--fast skips the sanitizer build and fuzzing).
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)

run_suite() {
  local dir=$1; shift
  echo "== configure $dir ($*)"
  cmake -S . -B "$dir" -DYKC_WERROR=ON "$@" >/dev/null
  echo "== build $dir"
  cmake --build "$dir" -j "$jobs"
  echo "== test $dir"
  ctest --test-dir "$dir" --output-on-failure -j "$jobs"
}

run_suite build -DCMAKE_BUILD_TYPE=RelWithDebInfo
if [ "${1:-}" != "--fast" ]; then
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    LSAN_OPTIONS="suppressions=$PWD/tests/lsan.supp:print_suppressions=0" \
    run_suite build-asan -DCMAKE_BUILD_TYPE=Debug -DYKC_SANITIZE=ON -DYKC_BUILD_BENCH=OFF
fi
if [ "${1:-}" != "--fast" ]; then
  echo "== fuzz (scripts/fuzz.sh 60)"
  bash scripts/fuzz.sh 60
fi
echo "== all tests passed"
