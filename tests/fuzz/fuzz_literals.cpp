// libFuzzer target: literal handling. Any bytes rendered as CAST(X'..' AS TEXT) and compacted
// must stand for the same bytes afterwards; moving a row's values into parts must keep every
// statement within the limit and reassemble the exact value.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

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
