// The bulk format of the JS <-> WASM seam. A page of rows or a batch of statements crosses as
// one string, so a call costs one conversion however many cells it carries.
//
//   rows:        cells row-major, each followed by U+0000; a NULL cell is the single character
//                U+0001 before its terminator. Cells are what the engine's own queries return
//                (literals rendered by SQLite, PRAGMA output, counts), none of which holds U+0000.
//   statements:  each statement followed by U+0000. Statements hold no U+0000: text with NUL
//                bytes travels as CAST(X'..' AS TEXT).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "host.hpp"

namespace d1sync {

// Fills `out` from `columns` and `cells`. Returns false when the cell count is not a multiple
// of `columns` (a host bug), leaving `out` empty.
bool decodeRows(size_t columns, std::string_view cells, Rows& out);
std::string encodeRows(const Rows& rows);
std::string encodeStatements(const std::vector<std::string>& statements);

}  // namespace d1sync
