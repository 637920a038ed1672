#!/usr/bin/env bash
# Builds ykc-bridge (Release) and starts the daemon with config.yaml. When nothing listens on
# 127.0.0.1:1883 it starts a private Mosquitto there first and stops it on exit.
# Arguments are passed to `ykc-bridge run` (e.g. --log-level debug); `scripts/run.sh decode HEX`
# and the other tools work too; `scripts/run.sh build` only builds (the Dockerfile's build stage).
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DYKC_BUILD_TESTS=OFF -DYKC_BUILD_BENCH=OFF >/dev/null
cmake --build build-release -j "$(nproc 2>/dev/null || echo 2)" --target ykc-bridge ykc-sim >/dev/null
bin=build-release/bridge/ykc-bridge
case "${1:-}" in
  build) exit 0 ;;
  decode|encode|catalogue|docs|health|--help|--version) exec "$bin" "$@" ;;
esac

mosquitto_pid=""
cleanup() {
  if [ -n "$mosquitto_pid" ]; then
    kill "$mosquitto_pid" 2>/dev/null || true
    wait "$mosquitto_pid" 2>/dev/null || true
  fi
}
trap cleanup EXIT
if ! (exec 3<>/dev/tcp/127.0.0.1/1883) 2>/dev/null; then
  dir=$(mktemp -d /tmp/ykc-mosquitto-XXXXXX)
  chmod 777 "$dir"
  printf 'listener 1883 127.0.0.1\nallow_anonymous true\npersistence false\n' > "$dir/mosquitto.conf"
  echo "run.sh: nothing listens on 127.0.0.1:1883: starting a private Mosquitto (log $dir/mosquitto.log)"
  # its own session: a Ctrl-C reaches the bridge only, which shuts down while the broker still
  # takes its last publishes; the broker is stopped after it (cleanup)
  setsid mosquitto -c "$dir/mosquitto.conf" > "$dir/mosquitto.log" 2>&1 &
  mosquitto_pid=$!
  for _ in $(seq 1 50); do
    (exec 3<>/dev/tcp/127.0.0.1/1883) 2>/dev/null && break
    sleep 0.1
  done
fi
"$bin" run -c config.yaml "$@" &
bridge_pid=$!
trap 'kill -TERM "$bridge_pid" 2>/dev/null || true' INT TERM HUP
wait "$bridge_pid" || true
wait "$bridge_pid" 2>/dev/null || true
