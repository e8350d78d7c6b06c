#!/usr/bin/env bash
# Sets up, builds and runs the main job: a .sqlite file pushed into wrangler's local D1 by the
# command line (tools/demo-cli.sh), then worker-template/ rooms replicating into a local D1, the
# Worker given its AUTH_SECRET and the requests a token the demo mints itself (tools/demo.mjs).
set -euo pipefail
cd "$(dirname "$0")/.."
./tools/setup.sh
./tools/build_wasm.sh >/dev/null
# The command line (build/d1sync): a .sqlite file into wrangler's local D1.
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" --target d1sync >/dev/null
./tools/demo-cli.sh
node tools/demo.mjs "$@"
