#include "schema.hpp"

#include <algorithm>
#include <cstdlib>

#include "sql_text.hpp"

namespace d1sync {

bool Index::hasExpression() const {
  for (const auto& c : columns)
    if (c.name.empty()) return true;
  return false;
}

std::vector<size_t> Table::storedColumns() const {
  std::vector<size_t> out;
  for (size_t i = 0; i < columns.size(); ++i)
    if (!columns[i].isGenerated()) out.push_back(i);
  return out;
}

std::vector<std::string> Table::keyExprs(const std::string& alias) const {
  std::string prefix = alias.empty() ? "" : alias + ".";
  if (keyKind == KeyKind::Rowid) return {prefix + rowidName};
  std::vector<std::string> out;
  for (size_t k : key) out.push_back(prefix + quoteIdent(columns[k].name));
  return out;
}

std::string Table::keyValueExpr(const std::string& alias) const {
  auto e = keyExprs(alias);
  if (e.size() == 1) return e[0];
  std::string out;
  for (const auto& x : e) out += (out.empty() ? "(" : ",") + x;
  return out + ")";
}

std::string Table::keyValue(const std::string& literals) const {
  return keySize() == 1 ? literals : "(" + literals + ")";
}

std::vector<size_t> Table::tupleOrder() const {
  std::vector<size_t> out;
  if (keyKind == KeyKind::Declared) out = key;
  for (size_t i : storedColumns())
    if (std::find(out.begin(), out.end(), i) == out.end()) out.push_back(i);
  return out;
}

std::vector<std::string> Table::keyColumnNames() const {
  if (keyKind == KeyKind::Rowid) return {d1RowidColumn};
  std::vector<std::string> out;
  for (size_t k : key) out.push_back(columns[k].name);
  return out;
}

const Column* Table::column(const std::string& name) const {
  for (const auto& c : columns)
    if (equalsNoCase(c.name, name)) return &c;
  return nullptr;
}

const char* masterQuery() {
  return "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY rowid";
}

std::vector<MasterEntry> parseMaster(const Rows& rows) {
  std::vector<MasterEntry> out;
  for (size_t r = 0; r < rows.size(); ++r)
    out.push_back({rows.at(r, 0), rows.at(r, 1), rows.at(r, 2), rows.at(r, 3)});
  return out;
}

namespace {

const char* const kShadowSuffixes[] = {"_data",   "_idx",      "_content", "_docsize",
                                       "_config", "_segments", "_segdir",  "_stat",
                                       "_node",   "_parent",   "_rowid"};

bool isVirtual(const MasterEntry& e) {
  return startsWithNoCase(e.sql, "CREATE VIRTUAL TABLE");
}

}  // namespace

std::string skipReason(const MasterEntry& e, const std::vector<MasterEntry>& all) {
  if (e.type != "table") return "not a table";
  if (startsWithNoCase(e.name, "sqlite_")) return "SQLite internal table";
  if (startsWithNoCase(e.name, "_cf_")) return "Cloudflare internal table";
  if (startsWithNoCase(e.name, "_d1sync_")) return "d1sync bookkeeping table";
  if (isVirtual(e)) return "virtual table (D1 cannot hold virtual tables)";
  for (const auto& v : all) {
    if (v.type != "table" || !isVirtual(v)) continue;
    for (const char* suffix : kShadowSuffixes)
      if (equalsNoCase(e.name, v.name + suffix)) return "shadow table of virtual table " + v.name;
  }
  return {};
}

namespace {

bool isColumnConstraintStart(const Token& t) {
  return t.is("CONSTRAINT") || t.is("PRIMARY") || t.is("NOT") || t.is("NULL") || t.is("UNIQUE") ||
         t.is("CHECK") || t.is("DEFAULT") || t.is("COLLATE") || t.is("REFERENCES") ||
         t.is("GENERATED") || t.is("AS");
}

// Text of tokens [from, to); an unclosed parenthesis gives a `to` past the end: clamp it.
std::string span(const std::string& sql, const std::vector<Token>& tk, size_t from, size_t to) {
  to = std::min(to, tk.size());
  if (from >= to) return {};
  return sql.substr(tk[from].begin, tk[to - 1].end - tk[from].begin);
}

void parseColumnDef(const std::string& sql, const std::vector<Token>& tk, size_t from, size_t to,
                    Table& table) {
  std::string name = identName(tk[from]);
  Column* col = nullptr;
  for (auto& c : table.columns)
    if (equalsNoCase(c.name, name)) col = &c;
  if (!col) return;
  size_t i = from + 1;
  while (i < to && !isColumnConstraintStart(tk[i])) {
    if (tk[i].isPunct('(')) i = matchParen(tk, i);
    ++i;
  }
  while (i < to) {
    const Token& t = tk[i];
    if (t.is("COLLATE") && i + 1 < to) {
      col->collate = identName(tk[i + 1]);
      i += 2;
    } else if (t.is("CHECK") && i + 1 < to && tk[i + 1].isPunct('(')) {
      size_t close = matchParen(tk, i + 1);
      col->checks.push_back(span(sql, tk, i, close + 1));
      i = close + 1;
    } else if (t.is("REFERENCES")) {
      size_t j = i + 1;
      while (j < to) {
        if (tk[j].isPunct('(')) {
          j = matchParen(tk, j) + 1;
          continue;
        }
        bool notDeferrable = tk[j].is("NOT") && j + 1 < to && tk[j + 1].is("DEFERRABLE");
        if (isColumnConstraintStart(tk[j]) && !notDeferrable) break;
        j += notDeferrable ? 2 : 1;
      }
      col->references = span(sql, tk, i, j);
      i = j;
    } else if (t.is("AS") && i + 1 < to && tk[i + 1].isPunct('(')) {
      size_t close = matchParen(tk, i + 1);
      col->generated = span(sql, tk, i + 2, close);
      i = close + 1;
    } else if (t.is("DEFAULT") && i + 1 < to && tk[i + 1].isPunct('(')) {
      i = matchParen(tk, i + 1) + 1;
    } else {
      ++i;
    }
  }
}

}  // namespace

void parseCreateTable(const std::string& sql, Table& table) {
  auto tk = tokenize(sql);
  size_t open = 0;
  while (open < tk.size() && !tk[open].isPunct('(')) {
    if (tk[open].is("AS")) return;  // CREATE TABLE ... AS SELECT: nothing beyond the PRAGMAs
    ++open;
  }
  if (open == tk.size()) return;
  size_t close = matchParen(tk, open);
  for (auto [b, e] : splitTopLevel(tk, open + 1, close)) {
    size_t first = b;
    if (tk[first].is("CONSTRAINT")) first += 2;
    if (first >= e) continue;
    if (tk[first].is("CHECK")) {
      table.tableChecks.push_back(span(sql, tk, b, e));
    } else if (tk[first].is("FOREIGN")) {
      table.tableForeignKeys.push_back(span(sql, tk, b, e));
    } else if (!tk[first].is("PRIMARY") && !tk[first].is("UNIQUE")) {
      parseColumnDef(sql, tk, b, e, table);
    }
  }
  for (size_t i = close + 1; i < tk.size(); ++i) {
    if (tk[i].is("WITHOUT")) table.withoutRowid = true;
    if (tk[i].is("STRICT")) table.strict = true;
  }
}

namespace {

bool pragma(LocalDb& db, const std::string& sql, Rows& out, std::string& error) {
  auto r = db.exec(sql);
  if (!r.ok) {
    error = sql + ": " + r.error;
    return false;
  }
  out = std::move(r.rows);
  return true;
}

int toInt(const std::string& s) {
  return std::atoi(s.c_str());
}

bool readColumns(LocalDb& db, Table& t, std::string& error) {
  Rows cols;
  if (!pragma(db, "PRAGMA table_xinfo(" + quoteIdent(t.name) + ")", cols, error)) return false;
  for (size_t r = 0; r < cols.size(); ++r) {
    Column c;
    c.name = cols.at(r, 1);
    c.type = cols.at(r, 2);
    c.notNull = toInt(cols.at(r, 3)) != 0;
    if (!cols.isNull(r, 4)) c.defaultSql = cols.at(r, 4);
    c.pk = toInt(cols.at(r, 5));
    c.hidden = toInt(cols.at(r, 6));
    t.columns.push_back(std::move(c));
  }
  return true;
}

// Sets pkIndex when SQLite made an index for the primary key, which rules out a rowid alias.
bool readIndexes(LocalDb& db, const std::vector<MasterEntry>& all, Table& t, bool& pkIndex,
                 std::string& error) {
  Rows idx;
  if (!pragma(db, "PRAGMA index_list(" + quoteIdent(t.name) + ")", idx, error)) return false;
  pkIndex = false;
  for (size_t r = 0; r < idx.size(); ++r) {
    Index ix;
    ix.name = idx.at(r, 1);
    ix.unique = toInt(idx.at(r, 2)) != 0;
    ix.origin = idx.at(r, 3);
    ix.partial = toInt(idx.at(r, 4)) != 0;
    if (ix.origin == "pk") pkIndex = true;
    Rows xi;
    if (!pragma(db, "PRAGMA index_xinfo(" + quoteIdent(ix.name) + ")", xi, error)) return false;
    for (size_t k = 0; k < xi.size(); ++k) {
      if (toInt(xi.at(k, 5)) == 0) continue;  // the trailing rowid / key columns
      IndexColumn c;
      if (toInt(xi.at(k, 1)) >= 0) c.name = xi.at(k, 2);
      c.desc = toInt(xi.at(k, 3)) != 0;
      c.collate = xi.at(k, 4);
      ix.columns.push_back(std::move(c));
    }
    t.indexes.push_back(std::move(ix));
  }
  // PRAGMA index_list lists newest first; keep creation order for stable DDL.
  std::reverse(t.indexes.begin(), t.indexes.end());
  for (auto& ix : t.indexes)
    for (const auto& m : all)
      if (m.type == "index" && m.name == ix.name) ix.sql = m.sql;
  return true;
}

bool readParents(LocalDb& db, Table& t, std::string& error) {
  Rows fks;
  if (!pragma(db, "PRAGMA foreign_key_list(" + quoteIdent(t.name) + ")", fks, error)) return false;
  for (size_t r = 0; r < fks.size(); ++r) {
    const std::string& parent = fks.at(r, 2);
    if (std::find(t.parents.begin(), t.parents.end(), parent) == t.parents.end())
      t.parents.push_back(parent);
  }
  return true;
}

// A declared key is used when it identifies rows as SQLite does (WITHOUT ROWID, a rowid alias,
// or NOT NULL columns); otherwise rows are keyed by the rowid under a name no column hides.
bool chooseKey(Table& t, bool pkIndex, std::string& error) {
  std::vector<std::pair<int, size_t>> pk;
  for (size_t i = 0; i < t.columns.size(); ++i)
    if (t.columns[i].pk > 0) pk.emplace_back(t.columns[i].pk, i);
  std::sort(pk.begin(), pk.end());
  bool rowidAlias = !t.withoutRowid && pk.size() == 1 && !pkIndex &&
                    equalsNoCase(t.columns[pk[0].second].type, "INTEGER");
  bool keyNotNull = true;
  for (auto [pos, i] : pk)
    if (!t.columns[i].notNull) keyNotNull = false;
  if (!pk.empty() && (t.withoutRowid || rowidAlias || keyNotNull)) {
    t.keyKind = KeyKind::Declared;
    t.rowidAlias = rowidAlias;
    for (auto [pos, i] : pk) t.key.push_back(i);
    return true;
  }
  t.keyKind = KeyKind::Rowid;
  for (const char* alias : {"rowid", "_rowid_", "oid"}) {
    if (!t.column(alias)) {
      t.rowidName = alias;
      break;
    }
  }
  if (t.rowidName.empty()) {
    error = "table " + t.name +
            " has no usable primary key and columns named rowid, _rowid_ and oid hide its rowid";
    return false;
  }
  t.d1RowidColumn = t.column("rowid") ? "_d1sync_rowid" : "rowid";
  return true;
}

}  // namespace

std::optional<Table> readTable(LocalDb& db, const MasterEntry& entry,
                               const std::vector<MasterEntry>& all, std::string& error) {
  Table t;
  t.name = entry.name;
  t.sql = entry.sql;
  if (!readColumns(db, t, error)) return {};
  parseCreateTable(t.sql, t);
  bool pkIndex = false;
  if (!readIndexes(db, all, t, pkIndex, error) || !readParents(db, t, error) ||
      !chooseKey(t, pkIndex, error))
    return {};
  return t;
}

}  // namespace d1sync
