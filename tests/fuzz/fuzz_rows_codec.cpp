// libFuzzer target: the seam's bulk format. Decoding never crashes; whatever decodes encodes
// back to a form that decodes to the same rows.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "rows_codec.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  size_t columns = data[0] % 8;
  std::string cells(reinterpret_cast<const char*>(data + 1), size - 1);
  d1sync::Rows rows;
  if (!d1sync::decodeRows(columns, cells, rows)) return 0;
  d1sync::Rows again;
  if (!d1sync::decodeRows(columns, d1sync::encodeRows(rows), again)) std::abort();
  if (again.cells != rows.cells || again.nulls != rows.nulls) std::abort();
  return 0;
}
