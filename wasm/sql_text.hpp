// SQL text helpers: quoting and a small tokenizer for the CREATE statements SQLite keeps in
// sqlite_master. The tokenizer only has to find clause boundaries (column definitions,
// COLLATE, GENERATED ... AS (...), the column list of CREATE INDEX), never to validate SQL:
// SQLite already accepted these statements.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace d1sync {

// "name" with embedded quotes doubled.
std::string quoteIdent(std::string_view name);
// 'text' with embedded quotes doubled. For engine-made strings (names, ids, JSON), which never
// hold NUL; user values are rendered by SQLite itself (see render.hpp).
std::string quoteText(std::string_view text);

struct Token {
  enum Kind { Word, Quoted, String, Number, Punct, Blob } kind;
  std::string_view text;  // raw text of the token, quotes included
  size_t begin = 0;       // byte offset in the source
  size_t end = 0;
  // Case-insensitive keyword compare (only meaningful for Word).
  bool is(std::string_view keyword) const;
  bool isPunct(char c) const { return kind == Punct && text.size() == 1 && text[0] == c; }
};

std::vector<Token> tokenize(std::string_view sql);
// The identifier a Word or Quoted token names.
std::string identName(const Token& t);
// Index of the token closing the parenthesis opened at `open`, or tokens.size().
size_t matchParen(const std::vector<Token>& tokens, size_t open);
// Splits tokens[from, to) at commas outside parentheses; returns [begin, end) index pairs.
std::vector<std::pair<size_t, size_t>> splitTopLevel(const std::vector<Token>& tokens, size_t from,
                                                     size_t to);

bool startsWithNoCase(std::string_view s, std::string_view prefix);
bool equalsNoCase(std::string_view a, std::string_view b);
// Whether `names` holds `name`, ignoring ASCII case as SQLite does for identifiers.
bool containsNoCase(const std::vector<std::string>& names, std::string_view name);
std::string toLower(std::string_view s);

}  // namespace d1sync
