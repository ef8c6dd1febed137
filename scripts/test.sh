#!/usr/bin/env bash
# Sets up a fresh Debian machine and passes microfl's tests: installs the
# packages (scripts/setup.sh), builds in build/, runs every ctest test.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build -j"$(nproc)"
ctest --test-dir build --output-on-failure
