#!/usr/bin/env bash
# Builds the WASM engine into dist/ with Debian's Emscripten (the npm "build" script).
# Release (-O3), with the files off the hot path built for size (CMakeLists.txt).
set -euo pipefail
cd "$(dirname "$0")/.."
export NODE_PATH=/usr/share/nodejs  # Debian's emcc finds acorn there
emcmake cmake -S . -B build-wasm -DD1SYNC_TESTS=OFF -DCMAKE_BUILD_TYPE=Release \
  -DD1SYNC_PROFILING="${D1SYNC_PROFILING:-OFF}" >/dev/null
cmake --build build-wasm -j"$(nproc)" --target d1sync_engine
