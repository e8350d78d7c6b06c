#include "sql_text.hpp"

#include <cctype>

namespace d1sync {

std::string quoteIdent(std::string_view name) {
  std::string out;
  out.reserve(name.size() + 2);
  out += '"';
  for (char c : name) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

std::string quoteText(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  out += '\'';
  for (char c : text) {
    if (c == '\'') out += '\'';
    out += c;
  }
  out += '\'';
  return out;
}

bool equalsNoCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  }
  return true;
}

bool containsNoCase(const std::vector<std::string>& names, std::string_view name) {
  for (const auto& n : names)
    if (equalsNoCase(n, name)) return true;
  return false;
}

bool startsWithNoCase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && equalsNoCase(s.substr(0, prefix.size()), prefix);
}

std::string toLower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool Token::is(std::string_view keyword) const {
  return kind == Word && equalsNoCase(text, keyword);
}

namespace {

bool isWordChar(unsigned char c) {
  return std::isalnum(c) || c == '_' || c == '$' || c >= 0x80;
}

// Skips a quoted run starting at `i` (the opening quote); doubled closers stay inside.
size_t skipQuoted(std::string_view s, size_t i, char close) {
  size_t j = i + 1;
  while (j < s.size()) {
    if (s[j] == close) {
      if (close != ']' && j + 1 < s.size() && s[j + 1] == close) {
        j += 2;
        continue;
      }
      return j + 1;
    }
    ++j;
  }
  return s.size();
}

}  // namespace

std::vector<Token> tokenize(std::string_view s) {
  std::vector<Token> out;
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = s[i];
    if (std::isspace(c)) {
      ++i;
      continue;
    }
    if (c == '-' && i + 1 < s.size() && s[i + 1] == '-') {
      while (i < s.size() && s[i] != '\n') ++i;
      continue;
    }
    if (c == '/' && i + 1 < s.size() && s[i + 1] == '*') {
      size_t e = s.find("*/", i + 2);
      i = e == std::string_view::npos ? s.size() : e + 2;
      continue;
    }
    size_t start = i;
    Token::Kind kind;
    if ((c == 'x' || c == 'X') && i + 1 < s.size() && s[i + 1] == '\'') {
      i = skipQuoted(s, i + 1, '\'');
      kind = Token::Blob;
    } else if (c == '\'') {
      i = skipQuoted(s, i, '\'');
      kind = Token::String;
    } else if (c == '"' || c == '`') {
      i = skipQuoted(s, i, static_cast<char>(c));
      kind = Token::Quoted;
    } else if (c == '[') {
      i = skipQuoted(s, i, ']');
      kind = Token::Quoted;
    } else if (std::isdigit(c) || (c == '.' && i + 1 < s.size() && std::isdigit(s[i + 1]))) {
      // A sign after e/E continues a decimal exponent, never a hex literal (0xE+1 is a sum).
      bool hex = c == '0' && i + 1 < s.size() && (s[i + 1] == 'x' || s[i + 1] == 'X');
      while (i < s.size() &&
             (std::isalnum(static_cast<unsigned char>(s[i])) || s[i] == '.' ||
              (!hex && (s[i] == '+' || s[i] == '-') && (s[i - 1] == 'e' || s[i - 1] == 'E'))))
        ++i;
      kind = Token::Number;
    } else if (isWordChar(c)) {
      while (i < s.size() && isWordChar(static_cast<unsigned char>(s[i]))) ++i;
      kind = Token::Word;
    } else {
      ++i;
      kind = Token::Punct;
    }
    out.push_back(Token{kind, s.substr(start, i - start), start, i});
  }
  return out;
}

std::string identName(const Token& t) {
  if (t.kind != Token::Quoted && t.kind != Token::String) return std::string(t.text);
  std::string_view body = t.text.substr(1, t.text.size() >= 2 ? t.text.size() - 2 : 0);
  char q = t.text[0];
  if (q == '[') return std::string(body);
  std::string out;
  for (size_t i = 0; i < body.size(); ++i) {
    out += body[i];
    if (body[i] == q && i + 1 < body.size() && body[i + 1] == q) ++i;
  }
  return out;
}

size_t matchParen(const std::vector<Token>& tokens, size_t open) {
  int depth = 0;
  for (size_t i = open; i < tokens.size(); ++i) {
    if (tokens[i].isPunct('(')) ++depth;
    if (tokens[i].isPunct(')') && --depth == 0) return i;
  }
  return tokens.size();
}

std::vector<std::pair<size_t, size_t>> splitTopLevel(const std::vector<Token>& tokens, size_t from,
                                                     size_t to) {
  std::vector<std::pair<size_t, size_t>> parts;
  int depth = 0;
  size_t start = from;
  for (size_t i = from; i < to; ++i) {
    if (tokens[i].isPunct('(')) ++depth;
    if (tokens[i].isPunct(')')) --depth;
    if (depth == 0 && tokens[i].isPunct(',')) {
      parts.emplace_back(start, i);
      start = i + 1;
    }
  }
  if (start < to) parts.emplace_back(start, to);
  return parts;
}

}  // namespace d1sync
