// Values leave the local database as SQL literals rendered by the local SQLite itself, so no
// host number type ever holds them. Literal forms:
//   NULL | integer | real (quote(), exact round trip; 9e999 / -9e999 for infinities)
//   'text'                      ASCII text without NUL (quote())
//   CAST(X'<hex>' AS TEXT)      any other text: NUL stops quote(), and bytes that are not
//                               valid UTF-8 would not survive a JS string
//   X'<hex>'                    blob
// A value longer than the inline limit is not rendered but marked "~t<bytes>" or "~b<bytes>";
// the engine then reads it in hex pieces and sends it in parts.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "schema.hpp"

namespace d1sync {

// SQL expression rendering the value of `expr` as a literal (or a big-value marker).
// `signedZero` renders -0.0 (kept in columns without REAL affinity) with its sign; it needs
// SQLite's math functions (atan2), which not every host has.
std::string literalExpr(const std::string& expr, size_t inlineBytes, bool signedZero = false);
// SQL expression rendering a whole row as one tuple "(lit,lit,...)" for the common case, at
// a fraction of literalExpr's cost: valid text stays quote()d whatever its characters, and a
// value that needs more care (TEXT holding NUL, a value over `inlineBytes`) renders as a bare
// "~", sending its row to the exact per-value path. printf(), not ||, so a 100-column row
// stays within the expression depth limit.
std::string packedRowExpr(const std::vector<std::string>& exprs, size_t inlineBytes,
                          bool signedZero);
// True when a packed tuple can be sent as it stands: well-formed UTF-8 without U+FFFD (what a
// host's string conversion puts where the bytes were not UTF-8) and without a "~" marker.
bool plainTuple(const std::string& tuple);

// SQL expression rendering the key of a row as comma-separated literals ("1,'a'").
std::string keyLiteralExpr(const Table& table, const std::string& alias);

struct BigValue {
  bool text = false;
  size_t bytes = 0;
};
std::optional<BigValue> parseBigMarker(const std::string& cell);

// CAST(X'..' AS TEXT) as a quoted literal when its bytes are valid UTF-8 without NUL (safe
// in a JS string, half the size); any other literal unchanged.
std::string compactTextLiteral(const std::string& literal);

// Bytes the literal occupies once stored (what D1's row-size limit counts), from its text.
size_t literalPayloadBytes(const std::string& literal);

// Splits a comma-separated key literal list into its literals.
std::vector<std::string> splitKeyLiteral(const std::string& key);

// Current time in ms since the epoch, as SQLite 3.40, workerd and sqlite-wasm all compute it.
const char* nowMsExpr();

}  // namespace d1sync
