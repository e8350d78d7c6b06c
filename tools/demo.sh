#!/usr/bin/env bash
# Sets up, builds and runs the main job: worker-template/ rooms replicating into a local D1, the
# Worker given its AUTH_SECRET and the requests a token the demo mints itself (tools/demo.mjs).
set -euo pipefail
cd "$(dirname "$0")/.."
./tools/setup.sh
./tools/build_wasm.sh >/dev/null
node tools/demo.mjs "$@"
