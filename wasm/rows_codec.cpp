#include "rows_codec.hpp"

namespace d1sync {

bool decodeRows(size_t columns, std::string_view cells, Rows& out) {
  out = Rows{};
  out.columns = columns;
  size_t start = 0;
  while (start < cells.size()) {
    size_t end = cells.find('\0', start);
    if (end == std::string_view::npos) end = cells.size();
    std::string_view cell = cells.substr(start, end - start);
    if (cell.size() == 1 && cell[0] == '\x01') {
      out.add("", true);
    } else {
      out.add(std::string(cell));
    }
    start = end + 1;
  }
  if (columns == 0 ? !out.cells.empty() : out.cells.size() % columns != 0) {
    out = Rows{};
    return false;
  }
  return true;
}

std::string encodeRows(const Rows& rows) {
  std::string out;
  for (size_t i = 0; i < rows.cells.size(); ++i) {
    if (rows.nulls[i]) {
      out += '\x01';
    } else {
      out += rows.cells[i];
    }
    out += '\0';
  }
  return out;
}

std::string encodeStatements(const std::vector<std::string>& statements) {
  size_t n = 0;
  for (const auto& s : statements) n += s.size() + 1;
  std::string out;
  out.reserve(n);
  for (const auto& s : statements) {
    out += s;
    out += '\0';
  }
  return out;
}

}  // namespace d1sync
