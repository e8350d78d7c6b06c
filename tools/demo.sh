#!/usr/bin/env bash
# Sets up, builds and runs the demo: a local .sqlite replicated into the D1 simulator.
set -euo pipefail
cd "$(dirname "$0")/.."
./tools/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" --target d1sync_demo
./build/d1sync_demo "${1:-build/demo-local.sqlite}" "${2:-build/demo-d1.sqlite}"
