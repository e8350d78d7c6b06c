// Values leave the local database as SQL literals rendered by the local SQLite itself, so no
// host number type ever holds them. Literal forms:
//   NULL | integer              quote() / CAST(x AS TEXT)
//   real, decimal               "N.0" (v integral) or "Ne-3" (v = N/1000 rounded), |N| < 2^53
//   real, exact                 (m*pow(2,e)) with m an integer below 2^55 and e >= -1022, or
//                               (m*pow(2,e+200)*pow(2,-200)) below that; any other finite REAL
//   9e999 / -9e999              the infinities; -0.0 where `signedZero` (else 0.0, as stored)
//   'text'                      ASCII text without NUL (quote())
//   CAST(X'<hex>' AS TEXT)      any other text: NUL stops quote(), and bytes that are not
//                               valid UTF-8 would not survive a JS string
//   X'<hex>'                    blob
// A value longer than the inline limit is not rendered but marked "~t<bytes>" or "~b<bytes>";
// the engine then reads it in hex pieces and sends it in parts.
//
// REALs. SQLite's decimal-to-double conversion (sqlite3AtoF) is not correctly rounded in the
// versions involved, so quote()'s text can arrive one or more ULP off: local D1 (SQLite 3.47)
// misreads over a quarter of random-bit doubles, Debian's 3.40 a few per thousand. Where both
// sides read the literal (D1 a value or a key, the local database a key), it must not depend on
// that conversion being exact, except where it provably is:
// - Exact form. m converts to a double exactly (a 53-bit integer times 1 or 2), pow(2,e) is
//   exact for -1022 <= e <= 1023 (the tests check it on every host through random-bit
//   doubles), and so is the product, which is v.
// - Decimal form, kept for the everyday values (prices, amounts, counts) because it is short
//   and cheap to render: v qualifies when |v| < 9e12 and, with N = round(v*1000), the IEEE
//   division N/1000 (correctly rounded by definition) gives v, so v is the double nearest N/1000.
//   The text "Ne-3" ("N.0" when v is integral) has a significand s = N/10^j after sqlite3AtoF
//   drops trailing zeros, with k = 3-j <= 3 decimals and s < 2^53, exact as a double. Every
//   sqlite3AtoF involved computes s/10^k within a relative error below 2^-61.4:
//     3.40 (long double): one division by 10^k, exact in long double: < 2^-64, then rounded;
//     3.47 with long double: k products by 0.1L, each within 2^-63: < 3 * 2^-63;
//     3.47 double-double (Dekker products; 0.1's high half has 26 bits, so the high product is
//          exact and the error is of the order of 2^-78 per product);
//     newer (sqlite-wasm 3.54): a scaled 128-bit integer conversion after Russ Cox's fpfmt,
//          meant to be correctly rounded; only keys are read there, and tests/node covers them.
//   And s/10^k lies further than 2^-(54 + k*log2(5)) >= 2^-60.97 (relative) from every midpoint
//   M between two doubles: with u the binary exponent of x's unit in the last place and
//   t = 1-u-k > 0, |x - M| = |s*2^t - odd*5^k| / (10^k*2^t) >= 1/(10^k*2^t) while
//   s*2^t < 2^54*5^k (for t <= 0, |x - M| >= 10^-k, relative > 2^-53). Since the error is
//   smaller than that distance, each parser rounds s/10^k to the double nearest it: v.
//   From 4 decimals on the long-double bound (4 * 2^-63) exceeds the distance (2^-63.3), and
//   5-decimal values do come out one ULP off that path, so 6-decimal coordinates, 1e-5 and the
//   like take the exact form.
// The exact form costs a correlated subquery, log2(), pow() and a few bytes more; the decimal
// test (a multiply, a round, a divide) is cheaper than the quote() it replaces.
#pragma once

#include <optional>
#include <string>
#include <string_view>
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

// VDBE ops an exact REAL costs D1 beyond a plain literal, per multiplication by pow(). Measured
// in 100-column upserts: 4 for (m*pow(2,e)) and 10 for the two-factor form on SQLite 3.40, 4.1
// and 10.4 on local D1 (3.47); the budget's margin (Limits::vdbeMargin) covers the fraction.
constexpr size_t kOpsPerPow = 5;
// Extra VDBE ops of the exact REALs in a literal or a tuple: kOpsPerPow per '*' (a '*' inside
// text counts too, which only errs on the safe side).
size_t exactRealOps(std::string_view text);

// Splits a comma-separated key literal list into its literals (an exact REAL's comma is inside
// its parentheses).
std::vector<std::string> splitKeyLiteral(const std::string& key);

// Current time in ms since the epoch, as SQLite 3.40, workerd and sqlite-wasm all compute it.
const char* nowMsExpr();

}  // namespace d1sync
