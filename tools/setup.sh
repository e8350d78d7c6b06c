#!/usr/bin/env bash
# Installs what a fresh Debian machine lacks for building and testing d1sync. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v cmake >/dev/null || need+=(cmake)
command -v g++ >/dev/null || need+=(g++)
command -v clang-format >/dev/null || need+=(clang-format)
command -v em++ >/dev/null || need+=(emscripten)
[ -f /usr/include/sqlite3.h ] || need+=(libsqlite3-dev)
[ -f /usr/include/nlohmann/json.hpp ] || need+=(nlohmann-json3-dev)
[ -d /usr/include/gtest ] || need+=(libgtest-dev)
[ -f /usr/include/gmock/gmock.h ] || need+=(libgmock-dev)
command -v clang++-14 >/dev/null || need+=(clang-14)
# The command line: HTTP, arguments, wrangler's TOML; the sqlite3 shell and sqldiff for its tests.
[ -f /usr/include/x86_64-linux-gnu/curl/curl.h ] || [ -f /usr/include/curl/curl.h ] ||
  need+=(libcurl4-openssl-dev)
[ -f /usr/include/CLI/CLI.hpp ] || need+=(libcli11-dev)
[ -f /usr/include/toml++/toml.h ] || need+=(libtomlplusplus-dev)
command -v sqlite3 >/dev/null || need+=(sqlite3)
command -v sqldiff >/dev/null || need+=(sqlite3-tools)
# Debian's Chromium runs the browser tests (driven headless by playwright-core).
command -v chromium >/dev/null || need+=(chromium)
ls /usr/lib/llvm-14/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1 || need+=(libclang-rt-14-dev)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
if ! command -v node >/dev/null || [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
  echo "d1sync needs Node.js 20 or later (wrangler 4.86 and Miniflare run on it)" >&2
  exit 1
fi
# The lockfile pins every npm dependency; reinstall only when it changed.
if [ ! -f node_modules/.package-lock.json ] || ! cmp -s package-lock.json node_modules/.d1sync-lock; then
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json node_modules/.d1sync-lock
fi
