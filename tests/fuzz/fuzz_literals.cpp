// libFuzzer target: literal handling. Any bytes rendered as CAST(X'..' AS TEXT) and compacted
// must stand for the same bytes afterwards; moving a row's values into parts must keep every
// statement within the limit and reassemble the exact value. Exact REALs, (m*pow(2,e)), built
// from the input's bits split out of a packed tuple whole, count their VDBE ops, 8 payload
// bytes each, and never move into parts.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "chunker.hpp"
#include "render.hpp"

namespace {

std::string hex(const std::string& bytes) {
  static const char k[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : bytes) {
    out += k[c >> 4];
    out += k[c & 15];
  }
  return out;
}

// The exact form the local SQLite renders for a finite non-zero double (render.hpp).
std::string exactReal(double d) {
  int e2 = 0;
  double f = std::frexp(std::fabs(d), &e2);  // |d| = f * 2^e2, f in [0.5, 1)
  int64_t m = static_cast<int64_t>(std::ldexp(f, 53));
  int e = e2 - 53;
  while (m % 2 == 0) m /= 2, ++e;
  if (d < 0) m = -m;
  if (e < -1022)
    return "(" + std::to_string(m) + "*pow(2," + std::to_string(e + 200) + ")*pow(2,-200))";
  return "(" + std::to_string(m) + "*pow(2," + std::to_string(e) + "))";
}

void checkExactReals(const uint8_t* data, size_t size, const std::string& text) {
  std::vector<std::string> reals;
  for (size_t i = 0; i + 8 <= size && reals.size() < 8; i += 8) {
    double d;
    std::memcpy(&d, data + i, 8);
    if (std::isfinite(d) && d != 0) reals.push_back(exactReal(d));
  }
  if (reals.empty()) return;
  // A packed tuple of the reals around a text literal holding the input.
  std::string quoted = "'";
  for (char c : text) quoted += c == '\'' ? std::string("''") : std::string(1, c);
  quoted += "'";
  std::vector<std::string> want = reals;
  want.insert(want.begin() + static_cast<long>(want.size() / 2), quoted);
  std::string tuple = "(";
  for (size_t i = 0; i < want.size(); ++i) tuple += (i ? "," : "") + want[i];
  tuple += ")";
  d1sync::RowLiteral row;
  row.tuple = tuple;
  row.unpack();
  if (row.values != want) std::abort();
  if (d1sync::splitKeyLiteral(tuple.substr(1, tuple.size() - 2)) != want) std::abort();
  size_t stars = 0;
  for (const auto& r : reals) {
    if (d1sync::literalPayloadBytes(r) != 8) std::abort();
    for (char c : r) stars += c == '*';
  }
  if (d1sync::exactRealOps(tuple) < d1sync::kOpsPerPow * stars) std::abort();
  // A row of reals only never has anything to move into parts.
  d1sync::Limits limits;
  limits.maxStatementBytes = 300;
  d1sync::Chunker chunker(limits);
  d1sync::TargetShape shape;
  shape.table = "t";
  shape.keyColumns = {"k"};
  d1sync::RowLiteral realsOnly;
  realsOnly.key = "1";
  realsOnly.values = {"1"};
  shape.columns = {"k"};
  for (size_t i = 0; i < reals.size(); ++i) {
    shape.columns.push_back("c" + std::to_string(i));
    realsOnly.values.push_back(reals[i]);
  }
  chunker.fitRow(shape, realsOnly);
  if (!realsOnly.parts.empty()) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string bytes(reinterpret_cast<const char*>(data), size);
  const std::string cast = "CAST(X'" + hex(bytes) + "' AS TEXT)";
  const std::string compact = d1sync::compactTextLiteral(cast);
  if (d1sync::literalToHex(compact) != hex(bytes)) std::abort();
  if (compact != cast && compact.find('\0') != std::string::npos) std::abort();
  (void)d1sync::literalPayloadBytes(compact);
  (void)d1sync::splitKeyLiteral(compact);
  (void)d1sync::parseBigMarker(bytes);
  checkExactReals(data, size, bytes.substr(0, 64));

  d1sync::Limits limits;
  limits.maxStatementBytes = 200 + size % 5000;
  d1sync::Chunker chunker(limits);
  d1sync::TargetShape shape;
  shape.table = "t";
  shape.columns = {"k", "v", "w"};
  shape.keyColumns = {"k"};
  d1sync::RowLiteral row;
  row.key = "1";
  row.values = {"1", compact, "X'" + hex(bytes) + "'"};
  chunker.fitRow(shape, row);
  for (const auto& s : chunker.upsertWithParts(shape, row))
    if (s.size() > limits.maxStatementBytes) std::abort();
  for (const auto& p : row.parts)
    if (p.hex != hex(bytes)) std::abort();
  return 0;
}
