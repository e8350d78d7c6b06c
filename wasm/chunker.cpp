#include "chunker.hpp"

#include <algorithm>

#include "render.hpp"
#include "sql_text.hpp"

namespace d1sync {

namespace {

// VDBE ops a multi-row upsert needs beyond rows x (columns + 1): prologue, the ON CONFLICT
// update (a few ops per column) and the index maintenance.
size_t upsertOverhead(size_t columns) {
  return 64 + 4 * columns;
}

std::string columnList(const std::vector<std::string>& cols) {
  std::string out;
  for (const auto& c : cols) out += (out.empty() ? "" : ",") + quoteIdent(c);
  return out;
}

const char kHex[] = "0123456789ABCDEF";

}  // namespace

size_t RowLiteral::tupleBytes() const {
  if (!tuple.empty()) return tuple.size();
  size_t n = 2 + (values.empty() ? 0 : values.size() - 1);
  for (const auto& v : values) n += v.size();
  return n;
}

size_t RowLiteral::bytes() const {
  size_t n = tupleBytes();
  for (const auto& p : parts) n += p.hex.size();
  return n;
}

void RowLiteral::unpack() {
  if (tuple.size() < 2) return;
  // Literals of a packed row: numbers, NULL, 'text' (a quote doubled inside), X'hex', (m*pow(2,e)).
  values = splitKeyLiteral(tuple.substr(1, tuple.size() - 2));
  tuple.clear();
}

std::string literalToHex(const std::string& lit) {
  if (lit.size() >= 3 && lit[0] == 'X') return lit.substr(2, lit.size() - 3);
  if (lit.size() >= 17 && lit[0] == 'C') return lit.substr(7, lit.size() - 17);
  std::string out;
  if (lit.size() < 2 || lit[0] != '\'') return out;
  for (size_t i = 1; i + 1 < lit.size(); ++i) {
    unsigned char c = lit[i];
    if (c == '\'') ++i;  // '' stands for one quote
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

std::string Chunker::upsertPrefix(const TargetShape& s) const {
  std::string cols = columnList(s.columns);
  if (s.tenantColumn)
    return "INSERT INTO " + quoteIdent(s.table) + " (" + quoteIdent(*s.tenantColumn) + "," + cols +
           ") SELECT " + s.tenantLiteral + ",* FROM (VALUES ";
  return "INSERT INTO " + quoteIdent(s.table) + " (" + cols + ") VALUES ";
}

std::string Chunker::upsertSuffix(const TargetShape& s) const {
  std::string keys;
  if (s.tenantColumn) keys = quoteIdent(*s.tenantColumn);
  for (const auto& k : s.keyColumns) keys += (keys.empty() ? "" : ",") + quoteIdent(k);
  std::string set;
  for (const auto& c : s.columns) {
    if (!s.setKey && std::find(s.keyColumns.begin(), s.keyColumns.end(), c) != s.keyColumns.end())
      continue;
    set += (set.empty() ? "" : ",") + quoteIdent(c) + "=excluded." + quoteIdent(c);
  }
  // A table of key columns alone has nothing to set.
  return std::string(s.tenantColumn ? ") WHERE true" : "") + " ON CONFLICT (" + keys + ")" +
         (set.empty() ? " DO NOTHING" : " DO UPDATE SET " + set);
}

size_t Chunker::maxUpsertRows(const TargetShape& s) const {
  // The tenant literal sits once in the SELECT, not in every VALUES row: overhead only.
  size_t budget = limits_.vdbeBudget();
  size_t over = upsertOverhead(s.columns.size() + (s.tenantColumn ? 1 : 0));
  if (budget <= over) return 1;
  return std::max<size_t>(1, (budget - over) / (s.columns.size() + 1));
}

size_t Chunker::maxDeleteRows(const TargetShape& s) const {
  // Measured against SQLite's op cap: "k" IN (...) costs 3 ops a key, the row-value
  // IN (SELECT * FROM (VALUES ...)) form 2 per key column plus 2.
  size_t k = s.keyColumns.size();
  size_t per = k > 1 ? 2 * k + 2 : 3;
  size_t budget = limits_.vdbeBudget();
  return budget > 64 + per ? (budget - 64) / per : 1;
}

bool Chunker::isKeyColumn(const TargetShape& s, size_t value) const {
  for (const auto& k : s.keyColumns)
    if (s.columns[value] == k) return true;
  return false;
}

size_t Chunker::rowRoom(const TargetShape& s) const {
  size_t fixed = upsertPrefix(s).size() + upsertSuffix(s).size();
  return limits_.maxStatementBytes > fixed ? limits_.maxStatementBytes - fixed : 0;
}

void Chunker::fitRow(const TargetShape& s, RowLiteral& row, size_t maxTupleBytes) const {
  const size_t room = std::min(rowRoom(s), maxTupleBytes);
  if (row.tupleBytes() > room) row.unpack();
  while (row.tupleBytes() > room) {
    size_t best = row.values.size();
    for (size_t i = 0; i < row.values.size(); ++i) {
      const std::string& v = row.values[i];
      // A key value stays inline: the parts find their row by it.
      bool movable = !v.empty() && (v[0] == '\'' || v[0] == 'X' || v[0] == 'C') && v.size() > 3 &&
                     !isKeyColumn(s, i);
      if (movable && (best == row.values.size() || v.size() > row.values[best].size())) best = i;
    }
    if (best == row.values.size()) return;  // nothing left to move: D1 will refuse it
    std::string& v = row.values[best];
    bool text = v[0] != 'X';
    row.parts.push_back({best, text, literalToHex(v)});
    v = text ? "''" : "X''";
  }
}

std::vector<std::string> Chunker::upserts(const TargetShape& s,
                                          const std::vector<const RowLiteral*>& rows,
                                          size_t maxRows) const {
  // Rows held value by value are joined into a tuple first; packed ones are used as they are.
  std::vector<std::string> joined;
  joined.reserve(rows.size());
  std::vector<std::string_view> tuples;
  tuples.reserve(rows.size());
  for (const RowLiteral* r : rows) {
    if (!r->tuple.empty()) continue;
    std::string t = "(";
    for (size_t i = 0; i < r->values.size(); ++i) t += (i ? "," : "") + r->values[i];
    joined.push_back(t + ")");
  }
  size_t next = 0;
  for (const RowLiteral* r : rows) tuples.push_back(r->tuple.empty() ? joined[next++] : r->tuple);
  return upserts(s, tuples, maxRows);
}

std::vector<std::string> Chunker::upserts(const TargetShape& s,
                                          const std::vector<std::string_view>& tuples,
                                          size_t maxRows) const {
  std::vector<std::string> out;
  const std::string prefix = upsertPrefix(s);
  const std::string suffix = upsertSuffix(s);
  const size_t rowCap = std::max<size_t>(1, std::min(maxRows, maxUpsertRows(s)));
  const size_t budget = limits_.vdbeBudget();
  const size_t over = upsertOverhead(s.columns.size() + (s.tenantColumn ? 1 : 0));
  const size_t opsRoom = budget > over ? budget - over : 0;
  const size_t perRow = s.columns.size() + 1;
  std::string stmt;
  size_t n = 0, ops = 0;
  auto flush = [&] {
    if (n == 0) return;
    stmt += suffix;
    out.push_back(std::move(stmt));
    stmt.clear();
    n = 0;
    ops = 0;
  };
  for (std::string_view t : tuples) {
    size_t add = t.size() + (n ? 1 : 0);
    // One op per value and one for the row, plus what its exact REALs cost (render.hpp).
    size_t cost = perRow + exactRealOps(t);
    if (n > 0 && (n >= rowCap || ops + cost > opsRoom ||
                  stmt.size() + add + suffix.size() > limits_.maxStatementBytes))
      flush();
    ops += cost;
    if (n == 0) stmt = prefix;
    if (n) stmt += ',';
    stmt += t;
    ++n;
  }
  flush();
  return out;
}

std::string Chunker::keyWhere(const TargetShape& s, const std::string& key) const {
  std::string where;
  if (s.tenantColumn) where = quoteIdent(*s.tenantColumn) + "=" + s.tenantLiteral + " AND ";
  return where + "(" + columnList(s.keyColumns) + ")=(" + key + ")";
}

std::vector<std::string> Chunker::upsertWithParts(const TargetShape& s,
                                                  const RowLiteral& row) const {
  std::vector<std::string> out = upserts(s, {&row}, 1);
  const std::string where = keyWhere(s, row.key);
  for (const auto& p : row.parts) {
    const std::string col = quoteIdent(s.columns[p.column]);
    // Each UPDATE repeats the key: the piece gets what the statement has left, in whole bytes.
    size_t fixed = std::string("UPDATE  SET =CAST(||X'' AS BLOB) WHERE ").size() +
                   quoteIdent(s.table).size() + 2 * col.size() + where.size();
    size_t room = limits_.maxStatementBytes > fixed ? limits_.maxStatementBytes - fixed : 2;
    const size_t pieceHex = std::max<size_t>(2, std::min(limits_.partBytes * 2, room) & ~size_t{1});
    for (size_t off = 0; off < p.hex.size(); off += pieceHex) {
      std::string piece = "X'" + p.hex.substr(off, pieceHex) + "'";
      std::string value = p.text ? col + "||CAST(" + piece + " AS TEXT)"
                                 : "CAST(" + col + "||" + piece + " AS BLOB)";
      out.push_back("UPDATE " + quoteIdent(s.table) + " SET " + col + "=" + value + " WHERE " +
                    where);
    }
  }
  return out;
}

std::vector<std::string> Chunker::deletes(const TargetShape& s,
                                          const std::vector<std::string>& keys,
                                          size_t maxRows) const {
  return deletes(s, std::vector<std::string_view>(keys.begin(), keys.end()), maxRows);
}

std::vector<std::string> Chunker::deletes(const TargetShape& s,
                                          const std::vector<std::string_view>& keys,
                                          size_t maxRows) const {
  std::vector<std::string> out;
  const bool composite = s.keyColumns.size() > 1;
  std::string prefix = "DELETE FROM " + quoteIdent(s.table) + " WHERE ";
  if (s.tenantColumn) prefix += quoteIdent(*s.tenantColumn) + "=" + s.tenantLiteral + " AND ";
  prefix += composite ? "(" + columnList(s.keyColumns) + ") IN (SELECT * FROM (VALUES "
                      : columnList(s.keyColumns) + " IN (";
  const std::string suffix = composite ? "))" : ")";
  const size_t rowCap = std::max<size_t>(1, std::min(maxRows, maxDeleteRows(s)));
  const size_t k = s.keyColumns.size();
  const size_t perKey = k > 1 ? 2 * k + 2 : 3;
  const size_t opsRoom = limits_.vdbeBudget() > 64 ? limits_.vdbeBudget() - 64 : 0;
  std::string stmt;
  size_t n = 0, ops = 0;
  for (std::string_view key : keys) {
    size_t itemBytes = key.size() + (composite ? 2 : 0);
    size_t cost = perKey + exactRealOps(key);
    if (n > 0 && (n >= rowCap || ops + cost > opsRoom ||
                  stmt.size() + itemBytes + 1 + suffix.size() > limits_.maxStatementBytes)) {
      out.push_back(stmt + suffix);
      n = 0;
      ops = 0;
    }
    ops += cost;
    if (n == 0) stmt = prefix;
    if (n) stmt += ',';
    if (composite) stmt += '(';
    stmt += key;
    if (composite) stmt += ')';
    ++n;
  }
  if (n) out.push_back(stmt + suffix);
  return out;
}

std::string Chunker::rangeDelete(const TargetShape& s, const std::string* low,
                                 const std::string* high) const {
  auto view = [](const std::string* k) -> std::optional<std::string_view> {
    if (!k) return std::nullopt;
    return std::string_view(*k);
  };
  return rangeDelete(s, view(low), view(high));
}

std::string Chunker::rangeDelete(const TargetShape& s, std::optional<std::string_view> low,
                                 std::optional<std::string_view> high) const {
  const bool composite = s.keyColumns.size() > 1;
  std::string cols = composite ? "(" + columnList(s.keyColumns) + ")" : columnList(s.keyColumns);
  auto bound = [&](std::string_view k) {
    return composite ? "(" + std::string(k) + ")" : std::string(k);
  };
  std::vector<std::string> terms;
  if (s.tenantColumn) terms.push_back(quoteIdent(*s.tenantColumn) + "=" + s.tenantLiteral);
  if (low) terms.push_back(cols + ">" + bound(*low));
  if (high) terms.push_back(cols + "<=" + bound(*high));
  std::string out = "DELETE FROM " + quoteIdent(s.table);
  for (size_t i = 0; i < terms.size(); ++i) out += (i ? " AND " : " WHERE ") + terms[i];
  return out;
}

}  // namespace d1sync
