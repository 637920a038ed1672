#!/usr/bin/env bash
# Installs the dependencies of ykc-bridge from Debian 12 packages.
#   install-deps.sh            what building and every test need (the README's set-up, CI)
#   install-deps.sh --build    only what building the release binaries needs (Dockerfile build stage)
#   install-deps.sh --runtime  only the shared libraries the ykc-bridge binary runs on (Dockerfile
#                              runtime stage; tests/docker/check_docker.py checks them against ldd)
# Idempotent; works as root or through sudo; prints what it does.
set -euo pipefail

build=(
  cmake g++ make pkg-config
  libboost-dev libpaho-mqttpp-dev libpaho-mqtt-dev libssl-dev
  nlohmann-json3-dev libyaml-cpp-dev doctest-dev libspdlog-dev zlib1g-dev
)
tests=(
  mosquitto mosquitto-clients
  # other brokers the integration tests run the bridge against (MQTT 3.1.1): NATS server (over
  # JetStream; also the three-node cluster of the scale-out test) and RabbitMQ (rabbitmq_mqtt)
  nats-server rabbitmq-server
  # the TCP load balancer in front of two bridges in the scale-out test (tests/soak/cluster.py)
  haproxy
  clang python3 python3-paho-mqtt python3-jinja2
  # libFuzzer and the clang sanitizer runtimes (scripts/fuzz.sh): only a Recommends of clang,
  # which --no-install-recommends leaves out
  libclang-rt-dev
  # validates docker-compose.yml (tests/docker); no Docker engine is needed for that
  docker-compose
)
runtime=(
  libpaho-mqttpp3-1 libpaho-mqtt1.3 libssl3 libyaml-cpp0.7 libspdlog1.10 libfmt9
  libstdc++6 libgcc-s1 libc6 zlib1g
  ca-certificates
)

# The Node-RED test installs node-red from the npm registry: Debian's Node.js and npm, unless the
# machine has them already (another Node.js, e.g. a newer one, is kept as it is).
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  tests+=(nodejs npm)
fi

case "${1:-}" in
  "") packages=("${build[@]}" "${tests[@]}") ;;
  --build) packages=("${build[@]}") ;;
  --runtime) packages=("${runtime[@]}") ;;
  *)
    echo "usage: install-deps.sh [--build|--runtime]" >&2
    exit 2
    ;;
esac

if [ "$(id -u)" -eq 0 ]; then
  sudo=()
elif command -v sudo >/dev/null 2>&1; then
  sudo=(sudo)
else
  echo "install-deps: run as root or install sudo" >&2
  exit 1
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages already installed"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
echo "+ apt-get update"
"${sudo[@]}" apt-get update -q
echo "+ apt-get install -y --no-install-recommends ${missing[*]}"
"${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
echo "install-deps: done"
