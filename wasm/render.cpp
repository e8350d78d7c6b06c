#include "render.hpp"

#include <cstdlib>

namespace d1sync {

namespace {

std::string textLiteral(const std::string& x) {
  return "CASE WHEN instr(" + x + ",char(0))>0 THEN 'CAST(X'''||hex(" + x +
         ")||''' AS TEXT)' ELSE quote(" + x + ") END";
}

std::string realLiteral(const std::string& x, bool signedZero) {
  std::string zero = signedZero ? " WHEN " + x + "=0 AND atan2(" + x + ",-1)<0 THEN '-0.0'" : "";
  return "CASE WHEN " + x + "=9e999 THEN '9e999' WHEN " + x + "=-9e999 THEN '-9e999'" + zero +
         " ELSE quote(" + x + ") END";
}

}  // namespace

std::string literalExpr(const std::string& x, size_t inlineBytes, bool signedZero) {
  std::string n = std::to_string(inlineBytes);
  std::string textBytes = "length(CAST(" + x + " AS BLOB))";
  return "CASE typeof(" + x + ") WHEN 'integer' THEN CAST(" + x +
         " AS TEXT) WHEN 'text' THEN CASE WHEN " + textBytes + ">" + n + " THEN '~t'||" +
         textBytes + " ELSE " + textLiteral(x) + " END WHEN 'blob' THEN CASE WHEN length(" + x +
         ")>" + n + " THEN '~b'||length(" + x + ") ELSE quote(" + x + ") END WHEN 'real' THEN " +
         realLiteral(x, signedZero) + " ELSE 'NULL' END";
}

std::string keyLiteralExpr(const Table& table, const std::string& alias) {
  std::string out;
  for (const auto& e : table.keyExprs(alias)) {
    if (!out.empty()) out += "||','||";
    if (table.keyKind == KeyKind::Rowid) {
      out += "CAST(" + e + " AS TEXT)";
    } else {
      out += "CASE typeof(" + e + ") WHEN 'integer' THEN CAST(" + e +
             " AS TEXT) WHEN 'text' THEN " + textLiteral(e) + " WHEN 'real' THEN " +
             realLiteral(e, false) + " ELSE quote(" + e + ") END";
    }
  }
  return out;
}

std::optional<BigValue> parseBigMarker(const std::string& cell) {
  if (cell.size() < 3 || cell[0] != '~' || (cell[1] != 't' && cell[1] != 'b')) return {};
  return BigValue{cell[1] == 't',
                  static_cast<size_t>(std::strtoull(cell.c_str() + 2, nullptr, 10))};
}

size_t literalPayloadBytes(const std::string& lit) {
  if (lit.empty()) return 0;
  if (lit[0] == '\'') {
    size_t quotes = 0;  // '' inside stands for one byte
    for (size_t i = 1; i + 1 < lit.size(); ++i)
      if (lit[i] == '\'') ++quotes, ++i;
    return lit.size() >= 2 ? lit.size() - 2 - quotes : 0;
  }
  if (lit[0] == 'X') return lit.size() >= 3 ? (lit.size() - 3) / 2 : 0;
  if (lit[0] == 'C') return lit.size() >= 17 ? (lit.size() - 17) / 2 : 0;  // CAST(X'..' AS TEXT)
  if (lit == "NULL") return 0;
  return 8;
}

std::vector<std::string> splitKeyLiteral(const std::string& key) {
  std::vector<std::string> out;
  std::string cur;
  bool inQuote = false;
  for (size_t i = 0; i < key.size(); ++i) {
    char c = key[i];
    if (c == '\'') inQuote = !inQuote;  // a doubled quote toggles twice: still inside
    if (c == ',' && !inQuote) {
      out.push_back(cur);
      cur.clear();
      continue;
    }
    cur += c;
  }
  out.push_back(cur);
  return out;
}

const char* nowMsExpr() {
  return "CAST((julianday('now')-2440587.5)*86400000 AS INTEGER)";
}

}  // namespace d1sync
