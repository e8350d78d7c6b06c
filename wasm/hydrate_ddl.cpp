#include "hydrate_ddl.hpp"

#include <vector>

#include "sql_text.hpp"

namespace d1sync {
namespace {

using Tokens = std::vector<Token>;

std::string text(std::string_view sql, const Tokens& t, size_t from, size_t to) {
  if (from >= to) return "";
  return std::string(sql.substr(t[from].begin, t[to - 1].end - t[from].begin));
}

bool names(const Tokens& t, size_t from, size_t to, std::string_view name) {
  for (size_t i = from; i < to; ++i)
    if ((t[i].kind == Token::Word || t[i].kind == Token::Quoted) &&
        equalsNoCase(identName(t[i]), name))
      return true;
  return false;
}

// The column names of a "PRIMARY KEY (a, b)" constraint (tokens from..to), or none.
std::vector<std::string> keyList(const Tokens& t, size_t from, size_t to) {
  std::vector<std::string> out;
  for (size_t i = from; i < to; ++i) {
    if (!t[i].isPunct('(')) continue;
    size_t close = matchParen(t, i);
    for (auto [b, e] : splitTopLevel(t, i + 1, close))
      if (b < e) out.push_back(identName(t[b]));
    break;
  }
  return out;
}

bool isConstraint(const Token& first) {
  return first.kind == Token::Word &&
         (first.is("PRIMARY") || first.is("UNIQUE") || first.is("CHECK") || first.is("FOREIGN") ||
          first.is("CONSTRAINT"));
}

}  // namespace

LocalDdl localDdlFromD1(const std::string& d1Sql, const std::string& name,
                        const std::optional<std::string>& tenant) {
  LocalDdl out;
  const Tokens t = tokenize(d1Sql);
  size_t open = 0;
  while (open < t.size() && !t[open].isPunct('(')) ++open;
  const size_t close = open < t.size() ? matchParen(t, open) : t.size();
  if (open >= t.size() || close >= t.size()) {
    out.error = "D1's definition of " + name + " has no column list";
    return out;
  }
  std::vector<std::string> columns, constraints, key;
  auto elements = splitTopLevel(t, open + 1, close);
  for (size_t n = 0; n < elements.size(); ++n) {
    auto [b, e] = elements[n];
    if (b >= e) continue;
    if (!isConstraint(t[b])) {
      const std::string column = identName(t[b]);
      if (tenant && equalsNoCase(column, *tenant)) continue;
      columns.push_back(text(d1Sql, t, b, e));
      continue;
    }
    // CONSTRAINT name PRIMARY KEY (...) too.
    size_t kw = b;
    if (t[kw].is("CONSTRAINT")) kw += 2;
    if (kw < e && t[kw].is("PRIMARY")) {
      key = keyList(t, kw, e);
      continue;
    }
    // A constraint over the tenant column is D1's business: the local table holds one tenant.
    if (tenant && names(t, b, e, *tenant)) continue;
    constraints.push_back(text(d1Sql, t, b, e));
  }
  if (tenant) {
    std::vector<std::string> rest;
    for (const auto& k : key)
      if (!equalsNoCase(k, *tenant)) rest.push_back(k);
    key = rest;
  }
  // The engine's explicit rowid column: the whole key, named as the engine names it.
  if (key.size() == 1 && (equalsNoCase(key[0], "rowid") || equalsNoCase(key[0], "_d1sync_rowid"))) {
    out.rowidColumn = key[0];
    std::vector<std::string> kept;
    for (const auto& c : columns) {
      const Tokens ct = tokenize(c);
      if (!ct.empty() && equalsNoCase(identName(ct[0]), out.rowidColumn)) continue;
      kept.push_back(c);
    }
    columns = kept;
    key.clear();
  }
  if (columns.empty()) {
    out.error = "D1's table " + name + " has no columns besides d1sync's own";
    return out;
  }
  std::string body;
  for (const auto& c : columns) body += (body.empty() ? "" : ", ") + c;
  if (!key.empty()) {
    std::string pk;
    for (const auto& k : key) pk += (pk.empty() ? "" : ", ") + quoteIdent(k);
    body += ", PRIMARY KEY (" + pk + ")";
  }
  for (const auto& c : constraints) body += ", " + c;
  std::string tail = text(d1Sql, t, close + 1, t.size());
  if (!tail.empty() && tail.back() == ';') tail.pop_back();
  out.sql = "CREATE TABLE IF NOT EXISTS " + quoteIdent(name) + " (" + body + ")" +
            (tail.empty() ? "" : " " + tail);
  return out;
}

}  // namespace d1sync
