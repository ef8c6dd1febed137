#!/usr/bin/env bash
# microfl's main job: the federated demo. A base model is trained where its
# makers live (the "home" region, where T-shirts, pullovers and shirts are
# rare); 100 simulated devices in four regions (home, low contrast, bright,
# noisy sensors) run the real device library and talk to a real
# mfl-aggregator over CoAP/DTLS on loopback. Frozen devices, devices that
# only learn locally, federated learning (with and without group fairness)
# and a centralized oracle are compared on the same devices; the table of
# per-region accuracy is printed and plots are written (docs/sim.md).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh >/dev/null
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
out=build/demo
mkdir -p "$out"
# the base model is trained once (about half a minute) and reused while the
# inputs it was made from (seed, data, base settings) stay the same
build/bin/mfl-sim sim/scenarios/demo.ini --out "$out/sim" --replace --set base="$out/base.mfl" "$@"
echo
echo "Per-round figures: $out/sim/rounds.csv; plots: $out/sim/*.png; summary: $out/sim/summary.json"
echo "Reprint with: build/bin/mfl-sim report $out/sim"
