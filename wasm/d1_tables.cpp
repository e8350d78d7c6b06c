#include "d1_tables.hpp"

#include "sql_text.hpp"

namespace d1sync {

namespace {

bool isConstraintWord(const Token& t) {
  for (const char* w : {"CONSTRAINT", "PRIMARY", "NOT", "NULL", "UNIQUE", "CHECK", "DEFAULT",
                        "COLLATE", "REFERENCES", "GENERATED", "AS"})
    if (t.is(w)) return true;
  return false;
}

}  // namespace

D1Table parseD1Table(const std::string& sql) {
  D1Table out;
  auto tk = tokenize(sql);
  size_t open = 0;
  while (open < tk.size() && !tk[open].isPunct('(')) ++open;
  if (open == tk.size()) return out;
  size_t close = matchParen(tk, open);
  for (auto [b, e] : splitTopLevel(tk, open + 1, close)) {
    size_t first = b;
    if (tk[first].is("CONSTRAINT")) first += 2;
    if (first >= e) continue;
    if (tk[first].is("PRIMARY") && first + 2 < e && tk[first + 2].isPunct('(')) {
      size_t pc = matchParen(tk, first + 2);
      for (auto [kb, ke] : splitTopLevel(tk, first + 3, pc)) out.key.push_back(identName(tk[kb]));
      continue;
    }
    if (tk[first].is("UNIQUE") || tk[first].is("CHECK") || tk[first].is("FOREIGN")) continue;
    out.columns.push_back(identName(tk[b]));
    size_t t = b + 1;
    while (t < e && !isConstraintWord(tk[t])) ++t;
    std::string type;
    for (size_t i = b + 1; i < t; ++i)
      type += std::string(i > b + 1 ? " " : "") + std::string(tk[i].text);
    out.types.push_back(type);
    for (size_t i = b + 1; i + 1 < e; ++i)
      if (tk[i].is("PRIMARY") && tk[i + 1].is("KEY")) out.key.push_back(identName(tk[b]));
  }
  return out;
}

bool sameType(const std::string& a, const std::string& b) {
  auto ta = tokenize(a), tb = tokenize(b);
  if (ta.size() != tb.size()) return false;
  for (size_t i = 0; i < ta.size(); ++i)
    if (!equalsNoCase(ta[i].text, tb[i].text)) return false;
  return true;
}

bool sameNames(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (!equalsNoCase(a[i], b[i])) return false;
  return true;
}

}  // namespace d1sync
