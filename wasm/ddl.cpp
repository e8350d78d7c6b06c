#include "ddl.hpp"

#include "sql_text.hpp"

namespace d1sync {

namespace {

// ALTER TABLE ADD COLUMN refuses a parenthesised default, CREATE TABLE wants one around an
// expression: keep a lone literal bare.
bool isBareLiteral(const std::string& sql) {
  auto tk = tokenize(sql);
  size_t i = 0;
  if (i < tk.size() && (tk[i].isPunct('-') || tk[i].isPunct('+'))) ++i;
  if (i + 1 != tk.size()) return false;
  const Token& t = tk[i];
  return t.kind == Token::Number || t.kind == Token::String || t.kind == Token::Blob ||
         t.is("NULL") || t.is("TRUE") || t.is("FALSE") || t.is("CURRENT_TIME") ||
         t.is("CURRENT_DATE") || t.is("CURRENT_TIMESTAMP");
}

std::string tenantPrefix(const D1Shape& s) {
  return s.tenant ? quoteIdent(s.tenant->column) + ", " : "";
}

// "CREATE [UNIQUE] INDEX x ON t (a, b) WHERE ..." with UNIQUE dropped in replica mode,
// IF NOT EXISTS added, the table renamed to d1Name and the tenant column leading the list.
std::string rewriteIndexSql(const Index& ix, const std::string& d1Name, const D1Shape& shape) {
  auto tk = tokenize(ix.sql);
  std::string out;
  size_t on = 0;
  while (on < tk.size() && !tk[on].is("ON")) ++on;
  if (on + 2 >= tk.size()) return {};
  size_t open = on + 2;
  while (open < tk.size() && !tk[open].isPunct('(')) ++open;
  if (open == tk.size()) return {};
  bool unique = ix.unique && shape.mode == SchemaMode::Strict;
  std::string name = quoteIdent(ix.name);
  out = std::string("CREATE ") + (unique ? "UNIQUE " : "") + "INDEX IF NOT EXISTS " + name +
        " ON " + quoteIdent(d1Name) + " (" + tenantPrefix(shape) + ix.sql.substr(tk[open].end);
  return out;
}

std::string autoIndexSql(const Table& t, const Index& ix, size_t n, const std::string& d1Name,
                         const D1Shape& shape) {
  bool unique = shape.mode == SchemaMode::Strict;
  std::string cols;
  for (const auto& c : ix.columns) {
    if (!cols.empty()) cols += ", ";
    cols += quoteIdent(c.name);
    if (!c.collate.empty() && !equalsNoCase(c.collate, "BINARY"))
      cols += " COLLATE " + quoteIdent(c.collate);
    if (c.desc) cols += " DESC";
  }
  return std::string("CREATE ") + (unique ? "UNIQUE " : "") + "INDEX IF NOT EXISTS " +
         quoteIdent("_d1sync_u" + std::to_string(n) + "_" + t.name) + " ON " + quoteIdent(d1Name) +
         " (" + tenantPrefix(shape) + cols + ")";
}

}  // namespace

std::string columnDefinition(const Column& c, const D1Shape& shape) {
  std::string out = quoteIdent(c.name);
  if (!c.type.empty()) out += " " + c.type;
  if (c.notNull) out += " NOT NULL";
  if (c.defaultSql && !c.isGenerated()) {
    bool bare = isBareLiteral(*c.defaultSql);
    out += " DEFAULT " + (bare ? *c.defaultSql : "(" + *c.defaultSql + ")");
  }
  if (!c.collate.empty()) out += " COLLATE " + quoteIdent(c.collate);
  if (c.isGenerated())
    out += " GENERATED ALWAYS AS (" + c.generated + (c.hidden == 3 ? ") STORED" : ") VIRTUAL");
  if (shape.mode == SchemaMode::Strict) {
    for (const auto& ck : c.checks) out += " " + ck;
    if (!c.references.empty()) out += " " + c.references;
  }
  return out;
}

std::vector<std::string> d1Columns(const Table& t, const D1Shape& shape) {
  std::vector<std::string> out;
  if (shape.tenant) out.push_back(shape.tenant->column);
  if (t.keyKind == KeyKind::Rowid) out.push_back(t.d1RowidColumn);
  for (size_t i : t.storedColumns()) out.push_back(t.columns[i].name);
  return out;
}

std::string createTableDdl(const Table& t, const std::string& d1Name, const D1Shape& shape) {
  std::string body;
  if (shape.tenant)
    body += quoteIdent(shape.tenant->column) + " " + shape.tenant->type + " NOT NULL, ";
  if (t.keyKind == KeyKind::Rowid) body += quoteIdent(t.d1RowidColumn) + " INTEGER NOT NULL, ";
  for (size_t i = 0; i < t.columns.size(); ++i) {
    body += columnDefinition(t.columns[i], shape) + ", ";
  }
  std::string pk;
  if (shape.tenant) pk += quoteIdent(shape.tenant->column);
  for (const auto& k : t.keyColumnNames()) pk += (pk.empty() ? "" : ", ") + quoteIdent(k);
  body += "PRIMARY KEY (" + pk + ")";
  if (shape.mode == SchemaMode::Strict) {
    for (const auto& ck : t.tableChecks) body += ", " + ck;
    for (const auto& fk : t.tableForeignKeys) body += ", " + fk;
  }
  std::string out = "CREATE TABLE IF NOT EXISTS " + quoteIdent(d1Name) + " (" + body + ")";
  std::string opts;
  if (t.withoutRowid) opts += " WITHOUT ROWID";
  if (t.strict) opts += std::string(opts.empty() ? "" : ",") + " STRICT";
  return out + opts;
}

std::vector<std::string> createIndexDdl(const Table& t, const std::string& d1Name,
                                        const D1Shape& shape) {
  std::vector<std::string> out;
  size_t n = 0;
  for (const auto& ix : t.indexes) {
    if (ix.origin == "pk") continue;
    if (!ix.sql.empty()) {
      auto s = rewriteIndexSql(ix, d1Name, shape);
      if (!s.empty()) out.push_back(s);
    } else {
      out.push_back(autoIndexSql(t, ix, ++n, d1Name, shape));
    }
  }
  return out;
}

std::vector<std::string> dropIndexDdl(const Table& t) {
  std::vector<std::string> out;
  size_t n = 0;
  for (const auto& ix : t.indexes) {
    if (ix.origin == "pk") continue;
    std::string name = ix.sql.empty() ? "_d1sync_u" + std::to_string(++n) + "_" + t.name : ix.name;
    out.push_back("DROP INDEX IF EXISTS " + quoteIdent(name));
  }
  return out;
}

std::string shapeProblem(const Table& t, const D1Shape& shape, int maxColumns) {
  size_t extra = (shape.tenant ? 1 : 0) + (t.keyKind == KeyKind::Rowid ? 1 : 0);
  if (t.columns.size() + extra > static_cast<size_t>(maxColumns))
    return "table " + t.name + " would need " + std::to_string(t.columns.size() + extra) +
           " columns in D1 (limit " + std::to_string(maxColumns) + ")" +
           (shape.tenant ? ", the tenant column included" : "") +
           (t.keyKind == KeyKind::Rowid ? ", the rowid column included" : "");
  if (shape.tenant && t.column(shape.tenant->column))
    return "table " + t.name + " already has a column named " + shape.tenant->column +
           ", the tenant column";
  if (t.keyKind == KeyKind::Rowid && shape.tenant &&
      equalsNoCase(shape.tenant->column, t.d1RowidColumn))
    return "tenant column " + shape.tenant->column + " collides with the rowid column";
  if (shape.mode == SchemaMode::Strict && shape.tenant)
    return "schema 'strict' cannot be combined with a tenant: foreign keys would not match the "
           "tenant-prefixed keys";
  return {};
}

}  // namespace d1sync
