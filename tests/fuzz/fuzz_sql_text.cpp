// libFuzzer target: the tokenizer and the CREATE TABLE / column-definition parser must accept
// any text without crashing, and report token spans inside the input, in order.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "schema.hpp"
#include "sql_text.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string sql(reinterpret_cast<const char*>(data), size);
  auto tokens = d1sync::tokenize(sql);
  size_t last = 0;
  for (const auto& t : tokens) {
    if (t.begin < last || t.end < t.begin || t.end > sql.size()) std::abort();
    last = t.end;
    (void)d1sync::identName(t);
  }
  if (!tokens.empty()) {
    (void)d1sync::matchParen(tokens, 0);
    (void)d1sync::splitTopLevel(tokens, 0, tokens.size());
  }
  d1sync::Table table;
  table.columns.push_back({});
  table.columns.back().name = "a";
  d1sync::parseCreateTable(sql, table);
  return 0;
}
