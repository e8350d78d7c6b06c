#!/usr/bin/env bash
# Sets up, builds and runs every test. The single entry point for tests (CI runs exactly this).
set -euo pipefail
cd "$(dirname "$0")/.."
./tools/setup.sh
echo "== format check"
clang-format --dry-run --Werror $(git ls-files '*.cpp' '*.hpp')
echo "== native build and tests (GoogleTest, D1 simulator)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)"
ctest --test-dir build --output-on-failure -j"$(nproc)"
echo "== WASM build (em++) into dist/"
./tools/build_wasm.sh
echo "== JS tests: Node against local D1, inside workerd, the packed tarball"
dirs=()
for d in tests/node tests/worker tests/template tests/pack; do
  compgen -G "$d/*.test.mjs" >/dev/null && dirs+=("$d/")
done
node --test --test-concurrency=1 "${dirs[@]}"
