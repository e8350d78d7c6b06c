#!/usr/bin/env bash
# Sets up, builds and runs the main job: a sqlite-wasm database replicated into a local D1.
set -euo pipefail
cd "$(dirname "$0")/.."
./tools/setup.sh
./tools/build_wasm.sh >/dev/null
node tools/demo.mjs "$@"
