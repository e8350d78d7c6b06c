// What a JS target's batch() resolved to, as the engine's Rows: `results` is an array of
// { columns, cells, rowsRead, rowsWritten }, one per statement (cells in the format of
// wasm/rows_codec.hpp; absent or odd row counts are 0). Shared by the engine's and the sync
// endpoint's bindings.
#pragma once

#include <emscripten/val.h>

#include <algorithm>
#include <cstdint>

#include "rows_codec.hpp"
#include "target.hpp"

namespace d1sync::wasm {

// A row count from D1's meta: a finite, non-negative number, else 0.
inline int64_t rowCount(const emscripten::val& v) {
  if (!v.isNumber()) return 0;
  const double d = v.as<double>();
  return d >= 0 && d < 9007199254740992.0 ? static_cast<int64_t>(d) : 0;
}

// Fills `r.results`, `r.rowsRead` and `r.rowsWritten` from a committed batch's results.
inline void readResults(const emscripten::val& results, BatchResult& r) {
  const size_t n = results["length"].as<size_t>();
  r.results.resize(n);
  for (size_t i = 0; i < n; ++i) {
    emscripten::val item = results[i];
    decodeRows(item["columns"].as<size_t>(), item["cells"].as<std::string>(), r.results[i]);
    r.rowsRead += rowCount(item["rowsRead"]);
    r.rowsWritten += rowCount(item["rowsWritten"]);
  }
}

}  // namespace d1sync::wasm
