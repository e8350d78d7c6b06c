#!/usr/bin/env bash
# Sets up, builds and runs every test. The single entry point for tests (CI runs exactly this).
set -euo pipefail
cd "$(dirname "$0")/.."
./tools/setup.sh
echo "== format check"
clang-format --dry-run --Werror $(git ls-files '*.cpp' '*.hpp')
node_modules/.bin/prettier --check --log-level=warn $(git ls-files '*.js' '*.mjs' '*.ts')
echo "== type tests: tests/types/*.ts against js/index.d.ts (tsc --strict)"
node_modules/.bin/tsc -p tests/types
echo "== the template type-checks (wrangler types, tsc --noEmit)"
node tools/template-types.mjs --check
echo "== native build and tests (GoogleTest, D1 simulator)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)"
ctest --test-dir build --output-on-failure -j"$(nproc)"
echo "== the native suite again under AddressSanitizer + UndefinedBehaviorSanitizer"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DD1SYNC_SANITIZE=ON >/dev/null
cmake --build build-asan -j"$(nproc)" --target d1sync_native_tests
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  ./build-asan/d1sync_native_tests --gtest_brief=1
echo "== fuzz targets (libFuzzer, clang-14): a fixed number of runs from the committed corpus"
CXX=clang++-14 cmake -S . -B build-fuzz -DD1SYNC_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build-fuzz -j"$(nproc)"
for name in sql_text literals rows_codec state changeset endpoint; do
  work=$(mktemp -d)
  UBSAN_OPTIONS=halt_on_error=1 ./build-fuzz/fuzz_$name -seed=1 -runs=50000 -max_len=4096 \
    -artifact_prefix="$work/" "$work" "tests/fuzz/corpus/$name" 2>&1 | tail -1
  rm -rf "$work"
done
echo "== WASM build (em++) into dist/"
./tools/build_wasm.sh
echo "== the README's benchmark tables are the ones docs/bench/results.json generates (the bench modules load the engine)"
node bench/readme.mjs --check
echo "== the template's own Vitest suite inside workerd (@cloudflare/vitest-pool-workers)"
node_modules/.bin/vitest run --config tests/template/vitest.config.ts
echo "== JS tests: Node against local D1, the command line, inside workerd, the packed tarball, Chromium"
dirs=()
for d in tests/node tests/cli tests/worker tests/template tests/pack tests/browser; do
  compgen -G "$d/*.test.mjs" >/dev/null && dirs+=("$d/")
done
node --test --test-concurrency=1 "${dirs[@]}"
