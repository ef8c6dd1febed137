#!/usr/bin/env bash
# Installs every Debian package microfl needs to build, test, cross-compile,
# fuzz and benchmark. Idempotent: packages already present are not touched,
# and the script prints what it installs. Runs as root, or through sudo.
set -euo pipefail

packages=(
  # build
  build-essential cmake pkg-config git
  # libraries found through pkg-config by CMakeLists.txt
  libcoap3-dev libmbedtls-dev libssl-dev libcbor-dev libcmocka-dev libsqlite3-dev zlib1g-dev
  # the aggregator's /metrics endpoint, and the Prometheus that scrapes it in a test
  libmicrohttpd-dev prometheus
  # plots of simulation runs
  gnuplot-nox
  # data, and the SQLite shell the crash test inspects the store with
  sqlite3
  dataset-fashion-mnist
  # independent implementations for interop tests (COSE, CBOR, CoAP)
  python3 python3-cbor2 python3-cryptography libcoap3-bin
  # Cortex-M4 cross toolchain and emulator
  gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm
  # fuzzing (libFuzzer ships in clang's runtime) and instruction counts
  clang libclang-rt-14-dev valgrind bc
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages already installed"
  exit 0
fi

echo "setup: installing ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup: installed ${#missing[@]} packages"
