#!/usr/bin/env bash
# Reproduces microfl's full Fashion-MNIST base model (about 4 minutes on 2
# cores): trains the default architecture for 10 epochs on all 60,000
# images, quantizes it to int8, and reports both accuracies.
# Output: build/models/fmnist_base.mflf and build/models/fmnist_base.mfl.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh >/dev/null
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" --target mfl >/dev/null
mkdir -p build/models
build/bin/mfl train -o build/models/fmnist_base.mflf --epochs 10 --seed 1
build/bin/mfl quantize build/models/fmnist_base.mflf build/models/fmnist_base.mfl
build/bin/mfl eval build/models/fmnist_base.mfl
build/bin/mfl model info build/models/fmnist_base.mfl | tail -4
