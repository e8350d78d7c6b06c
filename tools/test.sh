#!/usr/bin/env bash
# Sets up, builds and runs every test. The single entry point for tests (CI runs exactly this).
set -euo pipefail
cd "$(dirname "$0")/.."
./tools/setup.sh
echo "== format check"
files=$(git ls-files '*.cpp' '*.hpp' 2>/dev/null || find wasm bindings tests tools -name '*.[ch]pp')
clang-format --dry-run --Werror $files
echo "== native build and tests"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)"
ctest --test-dir build --output-on-failure -j"$(nproc)"
echo "== the core compiles with Emscripten's em++"
./tools/check_em.sh
