#!/usr/bin/env bash
# Compiles the engine core with Emscripten's em++ (compile only): its libc++ lacks float
# to_chars, ranges, bit_cast and <format>, and the core must keep building there.
set -euo pipefail
cd "$(dirname "$0")/.."
export NODE_PATH=/usr/share/nodejs
emcmake cmake -S . -B build-em -DD1SYNC_TESTS=OFF -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-em -j"$(nproc)" --target d1sync_core
