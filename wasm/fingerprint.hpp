// Key-range fingerprints in SQL that D1 (SQLite 3.47), the Debian SQLite (3.40) and sqlite-wasm
// (3.54) evaluate to the same integers, so verify() can compare a range of the local table with
// the same range in D1 without moving its rows. D1 allows no hash function and no extension:
// everything is built from typeof, length, hex, replace, substr, printf, integer arithmetic
// and, for REALs, log2/pow/floor whose results are corrected by exact comparisons.
//
//   row    -> D: a prefix-free digit string (per column: a type tag, a length, the content;
//             REALs as sign, 53-bit mantissa and exponent, never as decimal text; text and
//             blob bytes as hex re-coded into the digits 0-8 / 90-96)
//   D      -> E_m = sum of 9-digit chunks ('1'||chunk) times random weights (per chunk of a
//             block, per block, and for values over L bytes per column and 18,432-byte piece),
//             mod p_m, for p1 = 2^31-1 and p2 = 2^31-19
//   range  -> count(*), F_m = sum over rows of Z_m(key) * E_m mod p_m, Z_m the product of one
//             random weight per base-32 digit of the key (or of a 62-bit hash of it)
// Every weight is drawn per verification from a seed; both sides run the same SQL. By
// Schwartz-Zippel two different ranges agree with probability below 2^-53. The design, its
// measurements and what was tried and failed: bench/fingerprint/NOTES.md (its fingerprint.mjs
// is the prototype this module follows, weight for weight).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace d1sync {

struct FpWeights {
  int64_t p = 0;
  std::vector<int64_t> S, G0, G1, U, W0, W1;
  std::vector<std::vector<int64_t>> T;  // per base-32 digit of the key
};

struct FpParams {
  int K = 32;    // 9-digit chunks per block
  size_t L = 0;  // values over L bytes are folded in pieces, outside the row's digit string
  bool signedZero = true;
  int inlineBlocks = 1;  // blocks of a row's digit string folded inline (the rest in a loop)
  FpWeights tables[2];
  FpWeights keyTables[2];  // for hashing non-integer keys
};

// Independent uniform weights in [1, p) from `seed` (splitmix64), for rows of `columns` values.
FpParams makeFpParams(size_t columns, uint64_t seed, bool signedZero = true);

// What to fingerprint: a table read as `_t`, its key and column expressions (on `_t`), and
// filters (a tenant). `integerKey`: the single key is an integer (a rowid), compared and
// weighted as one; otherwise the key's own digit string is hashed.
struct FpSource {
  std::string table;  // quoted name
  std::vector<std::string> keys;
  std::vector<std::string> columns;  // every value of the row, in the same order on both sides
  bool integerKey = false;
  std::vector<std::string> filters;
  std::string keyLiteral;  // SQL rendering the key as literals (listings)
};

// A key range [lo, hi): SQL values (an integer, a literal, or a row value "(a,b)"); an open end
// when absent.
struct FpRange {
  std::optional<std::string> lo, hi;
};

// One statement answering (n, f1, f2) for the rows of `range`.
std::string fpRangeStatement(const FpSource& src, const FpParams& prm, const FpRange& range);
// One statement listing the rows of `range` in key order: (key literal, key weight input, e)
// with e = E1<<31|E2 as text.
std::string fpRowsStatement(const FpSource& src, const FpParams& prm, const FpRange& range);
// The digits of the key that differ between integer keys in [lo, hi) (exposed for tests).
std::vector<int> fpVaryingDigits(const FpRange& range);

}  // namespace d1sync
