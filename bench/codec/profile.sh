#!/usr/bin/env bash
# Where the time goes in one benchmark row, by instruction counts (deterministic, unlike timings
# on a shared machine): runs the Release benchmark under callgrind with fixed work (--passes),
# collecting only inside FUNCTION, and prints instructions per call and the top functions.
#   bench/codec/profile.sh                                   0x13 decode -> JSON text
#   bench/codec/profile.sh "mix / decode ->"
#   bench/codec/profile.sh "0x13 realtime / encode (parsed" 'ykc::Codec::encode(*'
#   bench/codec/profile.sh "0x13 realtime / reader only" 'ykc::FrameReader::next*'
# Needs valgrind; builds with bench/codec/run.sh's settings first (BUILD_DIR, default build-bench).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${BUILD_DIR:-$root/build-bench}
filter=${1:-0x13 realtime / decode ->}
function=${2:-ykc::Codec::decode_to(*}
passes=${PASSES:-4}
top=${TOP:-20}

log=$(mktemp /tmp/ykc-bench-build.XXXXXX)
if ! { cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE="-O2 -DNDEBUG" \
         -DYKC_BUILD_TESTS=OFF -DYKC_BUILD_BENCH=ON &&
       cmake --build "$build" --target ykc_bench_codec -j"$(nproc)"; } >"$log" 2>&1; then
  cat "$log" >&2
  rm -f "$log"
  exit 1
fi
rm -f "$log"

out=$(mktemp /tmp/ykc-callgrind.XXXXXX)
trap 'rm -f "$out"' EXIT
valgrind --tool=callgrind --callgrind-out-file="$out" --toggle-collect="$function" \
  "$build/bench/ykc_bench_codec" --passes "$passes" --reps 1 --filter "$filter" >/dev/null 2>&1

# Calls of FUNCTION from its callers (the benchmark loop and the set-up, which decodes or encodes
# every frame once), and the instructions collected inside it.
name=${function%%(*}
name=${name%\*}
total=$(callgrind_annotate --auto=no "$out" | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
calls=$(callgrind_annotate --auto=no --inclusive=yes --tree=calling "$out" |
  awk -v f="$name" 'index($0, ">") && index($0, f "(") {
         if (match($0, /\(([0-9,]+)x\)/)) { c = substr($0, RSTART + 1, RLENGTH - 3); gsub(",", "", c); n += c } }
       END { print n + 0 }')
echo "row: $filter"
echo "collected inside: $function"
echo "instructions: $total in $calls calls of $name = $(( calls > 0 ? total / calls : 0 )) per call"
echo "(decode and encode rows: one call per frame, set-up included; reader rows: divide by the frames)"
"$build/bench/ykc_bench_codec" --passes "$passes" --reps 1 --filter "$filter" | grep -E '^\| (0x|mix)' | grep -v 'frames in set' || true
echo
echo "self instructions, top $top:"
callgrind_annotate --auto=no "$out" | sed -n '/file:function/,$p' | sed -n "3,$((top + 2))p" | grep -v -E '^ *$|^---|auto-annotation|\.S$' |
  sed -E 's/ \[[^]]*\]$//; s/std::__cxx11::basic_string<char, std::char_traits<char>, std::allocator<char> >/std::string/g' | cut -c1-150
echo
echo "inclusive, top $top:"
callgrind_annotate --auto=no --inclusive=yes "$out" | sed -n '/file:function/,$p' | sed -n "3,$((top + 12))p" |
  grep -v -E 'libc-start|libc_start_call_main|\(below main\)|0x0000|:main |measure\(|_Function_handler|make_workload|decode_text|lambda' |
  head -n "$top" |
  sed -E 's/ \[[^]]*\]$//; s/std::__cxx11::basic_string<char, std::char_traits<char>, std::allocator<char> >/std::string/g' | cut -c1-150
