#!/usr/bin/env bash
# Installs every build and test dependency of ykc-bridge from Debian 12 packages.
# Idempotent; works as root or through sudo; prints what it does.
set -euo pipefail

packages=(
  cmake g++ make pkg-config
  libboost-dev libpaho-mqttpp-dev libpaho-mqtt-dev libssl-dev
  nlohmann-json3-dev libyaml-cpp-dev doctest-dev libspdlog-dev
  mosquitto mosquitto-clients
  clang python3 python3-paho-mqtt
  # libFuzzer and the clang sanitizer runtimes (scripts/fuzz.sh): only a Recommends of clang,
  # which --no-install-recommends leaves out
  libclang-rt-dev
)

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
