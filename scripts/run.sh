#!/usr/bin/env bash
# Builds ykc-bridge (Release) and runs it. With arguments, they are passed to the program
# (e.g. `scripts/run.sh decode 680D…`). Without arguments it decodes a real login capture —
# the MQTT daemon arrives with the [bridge] issue and will then be what this starts.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DYKC_BUILD_TESTS=OFF -DYKC_BUILD_BENCH=OFF >/dev/null
cmake --build build-release -j "$(nproc 2>/dev/null || echo 2)" --target ykc-bridge >/dev/null
if [ $# -eq 0 ]; then
  set -- decode 6822000000011000100100000101010F312E31302E323300010000000000000000000004D1AA \
                68A28001003B18220000000155021673797553635328182200000001550208CF1C16170A19D0841517170A19400D0300000000000000000000000000400D0300000000000000000000000000400D0300000000000000000000000000A85B01007375000000000000876800000A000000007D75000000737500000000000087680000000000000000000000000000000000000001D0841517170A19450000000000000000A5B3
fi
exec build-release/bridge/ykc-bridge "$@"
