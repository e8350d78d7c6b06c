#include "changeset.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <unordered_set>

#include "sql_text.hpp"

namespace d1sync {

namespace {

constexpr std::string_view kMagic = "D1SYNC-CHANGESET ";
constexpr std::string_view kCastHead = "CAST(X'";
constexpr std::string_view kCastTail = "' AS TEXT)";
constexpr std::string_view kPow = "*pow(2,";
constexpr size_t kMaxDecimalBytes = 64;
constexpr int64_t kMaxExactMantissa = int64_t{1} << 55;  // exclusive bound
constexpr int64_t kMinPow = -1022, kMaxPow = 1023;
constexpr int kSubnormalShift = 200;  // the exact form's split for e < -1022
constexpr uint64_t kOnes = 0x0101010101010101ULL, kHighs = 0x8080808080808080ULL;

struct HexTable {
  int8_t value[256];
  constexpr HexTable() : value() {
    for (int c = 0; c < 256; ++c) value[c] = -1;
    for (int c = 0; c < 10; ++c) value['0' + c] = static_cast<int8_t>(c);
    for (int c = 0; c < 6; ++c) {
      value['A' + c] = static_cast<int8_t>(10 + c);
      value['a' + c] = static_cast<int8_t>(10 + c);
    }
  }
};
constexpr HexTable kHex;

// Whether 8 bytes are all hex digits, a word at a time: for bytes below 0x80, adding
// 0x80 - lo sets a byte's high bit when it is >= lo, and adding 0x7F - hi leaves it clear when
// it is <= hi; no byte carries into the next. A BLOB's hex is most of a row's literal text.
bool eightHexDigits(const unsigned char* p) {
  uint64_t w;
  std::memcpy(&w, p, 8);
  if (w & kHighs) return false;
  auto in = [w](uint64_t lo, uint64_t hi) {
    return (w + kOnes * (0x80 - lo)) & ~(w + kOnes * (0x7F - hi)) & kHighs;
  };
  return (in('0', '9') | in('A', 'F') | in('a', 'f')) == kHighs;
}

bool isDigit(unsigned char c) {
  return c >= '0' && c <= '9';
}

// Bytes as printable ASCII for a message: anything else as \xNN, long runs cut.
std::string printable(std::string_view s, size_t max = 64) {
  std::string out;
  for (size_t i = 0; i < s.size() && i < max; ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7F && c != '\\') {
      out += static_cast<char>(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02X", c);
      out += buf;
    }
  }
  if (s.size() > max) out += "...";
  return out;
}

enum class Form { Null, Integer, Decimal, Exact, Text, CastText, Blob };

// Integer text -?(0|[1-9][0-9]*) and its value. "-0" is left to the caller: it begins "-0.0".
struct IntText {
  size_t start = 0;   // where the sign or first digit is
  bool fits = false;  // within int64
  bool minusZero = false;
  int64_t value = 0;  // when it fits
};

// One pass over input that must follow the grammar of changeset.hpp. Each method consumes
// what it recognizes and returns true, or records what was wrong and where and returns false.
class Scanner {
 public:
  Scanner(std::string_view in, size_t maxValueBytes)
      : p_(reinterpret_cast<const unsigned char*>(in.data())),
        n_(in.size()),
        maxValue_(maxValueBytes) {}

  size_t pos = 0;
  ChangesetError error = ChangesetError::Ok;
  size_t errorAt = 0;
  std::string what;

  bool atEnd() const { return pos >= n_; }
  unsigned char peek() const { return p_[pos]; }
  const unsigned char* data() const { return p_; }
  size_t size() const { return n_; }

  bool fail(ChangesetError e, size_t at, std::string w) {
    error = e;
    errorAt = at;
    what = std::move(w);
    return false;
  }
  std::string found() const {
    if (pos >= n_) return "the end";
    return "'" + printable(std::string_view(reinterpret_cast<const char*>(p_ + pos), 1)) + "'";
  }

  // The exact bytes `word`.
  bool expect(std::string_view word, ChangesetError code, const char* where) {
    if (n_ - pos >= word.size() && std::memcmp(p_ + pos, word.data(), word.size()) == 0) {
      pos += word.size();
      return true;
    }
    const size_t start = pos;
    for (char w : word) {
      if (pos >= n_)
        return fail(ChangesetError::Truncated, start, std::string("cut short in ") + where);
      if (p_[pos] != static_cast<unsigned char>(w))
        return fail(code, pos,
                    "expected \"" + printable(word) + "\" in " + where + ", found " + found());
      ++pos;
    }
    return true;
  }

  bool intText(IntText& t, ChangesetError code, const char* where) {
    t.start = pos;
    const bool negative = pos < n_ && p_[pos] == '-';
    if (negative) ++pos;
    const size_t first = pos;
    uint64_t v = 0;
    for (; pos < n_ && isDigit(p_[pos]); ++pos)
      if (pos - first < 19) v = v * 10 + (p_[pos] - '0');
    const size_t digits = pos - first;
    if (digits == 0) {
      if (pos >= n_)
        return fail(ChangesetError::Truncated, t.start, std::string("cut short in ") + where);
      return fail(code, pos, std::string("expected a digit in ") + where + ", found " + found());
    }
    if (p_[first] == '0' && digits > 1)
      return fail(code, first, std::string("leading zero in ") + where);
    const uint64_t limit = negative ? uint64_t{1} << 63 : (uint64_t{1} << 63) - 1;
    t.fits = digits <= 19 && v <= limit;
    t.value = t.fits ? static_cast<int64_t>(negative ? 0 - v : v) : 0;
    t.minusZero = negative && v == 0;
    return true;
  }

  // A field count: 0 <= n < 2^63.
  bool count(int64_t& out, const char* where) {
    if (pos < n_ && p_[pos] == '-')
      return fail(ChangesetError::Syntax, pos, std::string("negative ") + where);
    IntText t;
    if (!intText(t, ChangesetError::Syntax, where)) return false;
    if (!t.fits)
      return fail(ChangesetError::Syntax, t.start, std::string(where) + " out of the 64-bit range");
    out = t.value;
    return true;
  }

  // A double-quoted name; `raw` is its quoted spelling (unique per name).
  bool name(std::string& out, std::string_view& raw, size_t maxBytes, const char* where,
            bool mayBeEmpty = false) {
    const size_t start = pos;
    if (pos >= n_)
      return fail(ChangesetError::Truncated, pos, std::string("cut short before ") + where);
    if (p_[pos] != '"')
      return fail(ChangesetError::Syntax, pos,
                  std::string("expected a quoted ") + where + ", found " + found());
    ++pos;
    out.clear();
    for (;;) {
      const void* q = std::memchr(p_ + pos, '"', n_ - pos);
      const size_t end = q ? static_cast<size_t>(static_cast<const unsigned char*>(q) - p_) : n_;
      if (const void* z = std::memchr(p_ + pos, 0, end - pos))
        return fail(ChangesetError::Syntax, static_cast<const unsigned char*>(z) - p_,
                    std::string(where) + " holds a NUL byte");
      out.append(reinterpret_cast<const char*>(p_ + pos), end - pos);
      if (!q) return fail(ChangesetError::Truncated, start, std::string("unterminated ") + where);
      const bool doubled = end + 1 < n_ && p_[end + 1] == '"';
      if (doubled) out += '"';
      pos = end + (doubled ? 2 : 1);
      if (out.size() > maxBytes)
        return fail(ChangesetError::Limit, start,
                    std::string(where) + " longer than " + std::to_string(maxBytes) + " bytes");
      if (!doubled) break;
    }
    if (out.empty() && !mayBeEmpty)
      return fail(ChangesetError::Syntax, start, std::string(where) + " is empty");
    raw = std::string_view(reinterpret_cast<const char*>(p_ + start), pos - start);
    return true;
  }

  bool literal(Form& form) {
    if (pos >= n_) return fail(ChangesetError::Truncated, pos, "cut short where a value begins");
    const size_t start = pos;
    switch (p_[pos]) {
      case '\'':
        form = Form::Text;
        return text();
      case 'X':
        form = Form::Blob;
        return expect("X'", ChangesetError::Literal, "a blob literal") &&
               hex(start, "blob literal");
      case 'C':
        form = Form::CastText;
        return expect(kCastHead, ChangesetError::Literal, "a CAST(X'..' AS TEXT) literal") &&
               hex(start, "CAST(X'..' AS TEXT) literal") &&
               expect(kCastTail.substr(1), ChangesetError::Literal,
                      "a CAST(X'..' AS TEXT) literal");
      case 'N':
        form = Form::Null;
        return expect("NULL", ChangesetError::Literal, "NULL");
      case '(':
        form = Form::Exact;
        return exact();
      default:
        if (p_[pos] == '-' || isDigit(p_[pos])) return number(form);
        return fail(ChangesetError::Literal, pos,
                    "expected a value (NULL, a number, 'text', X'hex', CAST(X'hex' AS TEXT) or "
                    "(m*pow(2,e))), found " +
                        found());
    }
  }

  // Literals separated by commas, `width` of them, then ')' (parenthesized) or the end.
  bool tupleBody(size_t width, bool rowid, const char* kind, bool parenthesized) {
    size_t count = 0;
    for (;;) {
      const size_t at = pos;
      Form form;
      if (!literal(form)) return false;
      if (++count > width)
        return fail(ChangesetError::Width, at,
                    std::string(kind) + " holds more than " + std::to_string(width) + " value(s)");
      if (rowid && count == 1 && form != Form::Integer)
        return fail(ChangesetError::Literal, at, "a rowid must be an INTEGER literal");
      if (pos >= n_) {
        if (!parenthesized) break;
        return fail(ChangesetError::Truncated, pos, std::string("cut short in a ") + kind);
      }
      if (p_[pos] == ',') {
        ++pos;
        continue;
      }
      if (parenthesized && p_[pos] == ')') {
        ++pos;
        break;
      }
      return fail(ChangesetError::Syntax, pos,
                  std::string(parenthesized ? "expected ',' or ')'" : "expected ','") +
                      " after a value, found " + found());
    }
    if (count != width)
      return fail(ChangesetError::Width, pos - 1,
                  std::string(kind) + " holds " + std::to_string(count) + " value(s), expected " +
                      std::to_string(width));
    return true;
  }

  bool tuple(size_t width, bool rowid, const char* kind) {
    if (pos >= n_)
      return fail(ChangesetError::Truncated, pos, std::string("cut short before a ") + kind);
    if (p_[pos] != '(')
      return fail(ChangesetError::Syntax, pos,
                  std::string("expected '(' opening a ") + kind + ", found " + found());
    ++pos;
    return tupleBody(width, rowid, kind, true);
  }

 private:
  // 'text': valid UTF-8 without NUL, quotes doubled. Eight bytes at a time while they are
  // plain ASCII without a quote or NUL.
  bool text() {
    const size_t start = pos++;
    size_t doubled = 0;
    for (;;) {
      while (pos + 8 <= n_) {
        uint64_t w;
        std::memcpy(&w, p_ + pos, 8);
        const uint64_t q = w ^ (kOnes * '\'');
        if ((w | ((w - kOnes) & ~w) | ((q - kOnes) & ~q)) & kHighs) break;
        pos += 8;
      }
      if (pos >= n_) return fail(ChangesetError::Truncated, start, "unterminated text literal");
      const unsigned char c = p_[pos];
      if (c == '\'') {
        if (pos + 1 < n_ && p_[pos + 1] == '\'') {
          pos += 2;
          ++doubled;
          continue;
        }
        ++pos;
        break;
      }
      if (c == 0)
        return fail(ChangesetError::Literal, pos,
                    "NUL byte in quoted text (such text travels as CAST(X'..' AS TEXT))");
      if (c < 0x80) {
        ++pos;
        continue;
      }
      if (!utf8Char()) return false;
    }
    if (pos - start - 2 - doubled > maxValue_)
      return fail(ChangesetError::Limit, start,
                  "value larger than " + std::to_string(maxValue_) + " bytes");
    return true;
  }

  // One multi-byte UTF-8 character: no overlong form, no surrogate, at most U+10FFFF.
  bool utf8Char() {
    const size_t at = pos;
    const unsigned char c = p_[pos];
    size_t len;
    uint32_t cp, min;
    if ((c & 0xE0) == 0xC0) {
      len = 2, cp = c & 0x1F, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3, cp = c & 0x0F, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4, cp = c & 0x07, min = 0x10000;
    } else {
      return badUtf8(at);
    }
    for (size_t k = 1; k < len; ++k) {
      if (at + k >= n_)
        return fail(ChangesetError::Truncated, at, "cut short inside a UTF-8 character");
      const unsigned char cc = p_[at + k];
      if ((cc & 0xC0) != 0x80) return badUtf8(at);
      cp = (cp << 6) | (cc & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return badUtf8(at);
    pos += len;
    return true;
  }
  bool badUtf8(size_t at) {
    return fail(ChangesetError::Literal, at,
                "quoted text is not valid UTF-8 (such text travels as CAST(X'..' AS TEXT))");
  }

  // Hex digits up to and including the closing quote of a literal that began at `start`.
  bool hex(size_t start, const char* where) {
    const size_t first = pos;
    while (pos + 8 <= n_ && eightHexDigits(p_ + pos)) pos += 8;
    while (pos < n_ && kHex.value[p_[pos]] >= 0) ++pos;
    if (pos >= n_)
      return fail(ChangesetError::Truncated, start, std::string("unterminated ") + where);
    if (p_[pos] != '\'')
      return fail(ChangesetError::Literal, pos,
                  std::string("not a hex digit in a ") + where + ": " + found());
    if ((pos - first) % 2)
      return fail(ChangesetError::Literal, pos,
                  std::string("odd number of hex digits in a ") + where);
    if ((pos - first) / 2 > maxValue_)
      return fail(ChangesetError::Limit, start,
                  "value larger than " + std::to_string(maxValue_) + " bytes");
    ++pos;
    return true;
  }

  // INTEGER, or a decimal REAL when a '.' or an exponent follows the integer part.
  bool number(Form& form) {
    IntText t;
    if (!intText(t, ChangesetError::Literal, "a number")) return false;
    if (pos >= n_ || (p_[pos] != '.' && p_[pos] != 'e' && p_[pos] != 'E')) {
      form = Form::Integer;
      if (t.minusZero) return fail(ChangesetError::Literal, t.start, "\"-0\" is not an INTEGER");
      if (!t.fits)
        return fail(ChangesetError::Literal, t.start, "INTEGER literal out of the 64-bit range");
      return true;
    }
    form = Form::Decimal;
    if (p_[pos] == '.' && !digits(t.start, "after '.' in a REAL literal")) return false;
    if (pos < n_ && (p_[pos] == 'e' || p_[pos] == 'E')) {
      if (pos + 1 < n_ && (p_[pos + 1] == '+' || p_[pos + 1] == '-')) ++pos;
      if (!digits(t.start, "in the exponent of a REAL literal")) return false;
    }
    if (pos - t.start > kMaxDecimalBytes)
      return fail(ChangesetError::Literal, t.start, "REAL literal longer than 64 bytes");
    return true;
  }
  // Skips the character at pos, then one or more digits.
  bool digits(size_t start, const char* where) {
    const size_t first = ++pos;
    while (pos < n_ && isDigit(p_[pos])) ++pos;
    if (pos > first) return true;
    if (pos >= n_) return fail(ChangesetError::Truncated, start, "cut short in a REAL literal");
    return fail(ChangesetError::Literal, pos,
                std::string("expected a digit ") + where + ", found " + found());
  }

  // (m*pow(2,e)) or (m*pow(2,e)*pow(2,f)).
  bool exact() {
    const char* where = "an exact REAL (m*pow(2,e))";
    ++pos;
    IntText m;
    if (!intText(m, ChangesetError::Literal, where)) return false;
    if (m.minusZero) return fail(ChangesetError::Literal, m.start, "\"-0\" in an exact REAL");
    // Below 2^55 in magnitude, and a double exactly: the renderer's m is a 53-bit integer
    // times 1, 2 or 4 (render.cpp says when).
    if (!m.fits || m.value >= kMaxExactMantissa || m.value <= -kMaxExactMantissa ||
        static_cast<int64_t>(static_cast<double>(m.value)) != m.value)
      return fail(ChangesetError::Literal, m.start,
                  "exact REAL mantissa not a double exactly (|m| < 2^55, a 53-bit integer times 1, "
                  "2 or 4)");
    if (!expect(kPow, ChangesetError::Literal, where) || !power(where) ||
        !expect(")", ChangesetError::Literal, where))
      return false;
    if (pos < n_ && p_[pos] == '*') {
      if (!expect(kPow, ChangesetError::Literal, where) || !power(where) ||
          !expect(")", ChangesetError::Literal, where))
        return false;
    }
    return expect(")", ChangesetError::Literal, where);
  }
  bool power(const char* where) {
    IntText k;
    if (!intText(k, ChangesetError::Literal, where)) return false;
    if (k.minusZero) return fail(ChangesetError::Literal, k.start, "\"-0\" in an exact REAL");
    if (!k.fits || k.value < kMinPow || k.value > kMaxPow)
      return fail(ChangesetError::Literal, k.start,
                  "exact REAL power of two outside [-1022, 1023]");
    return true;
  }

  const unsigned char* p_;
  size_t n_;
  size_t maxValue_;
};

ChangesetStatus failure(const Scanner& s) {
  ChangesetStatus st;
  st.error = s.error;
  st.offset = s.errorAt;
  st.message = s.what + " at byte " + std::to_string(s.errorAt);
  return st;
}

ChangesetStatus failure(ChangesetError e, std::string message, const std::string& table = {}) {
  ChangesetStatus st;
  st.error = e;
  st.table = table;
  st.message = std::move(message);
  if (!table.empty()) st.message += " (table " + quoteIdent(printable(table)) + ")";
  return st;
}

// Reads a checked integer (-?digits) at p, advancing it.
int64_t readInt(const char*& p) {
  const bool negative = *p == '-';
  if (negative) ++p;
  uint64_t v = 0;
  while (isDigit(static_cast<unsigned char>(*p))) v = v * 10 + (*p++ - '0');
  return static_cast<int64_t>(negative ? 0 - v : v);
}

// Reads a checked integer in [begin, end).
int64_t readInt(std::string_view s) {
  char buf[24];
  const size_t n = std::min(s.size(), sizeof buf - 1);
  std::memcpy(buf, s.data(), n);
  buf[n] = 0;
  const char* p = buf;
  return readInt(p);
}

void appendHexBytes(std::string_view hex, std::string& out) {
  out.reserve(out.size() + hex.size() / 2);
  for (size_t i = 0; i + 1 < hex.size(); i += 2)
    out += static_cast<char>(kHex.value[static_cast<unsigned char>(hex[i])] * 16 +
                             kHex.value[static_cast<unsigned char>(hex[i + 1])]);
}

// Decodes a literal that passed the scanner as `form`.
Value decodeChecked(std::string_view lit, Form form) {
  Value v;
  switch (form) {
    case Form::Null:
      break;
    case Form::Integer:
      v = Value::ofInteger(readInt(lit));
      break;
    case Form::Decimal: {
      char buf[kMaxDecimalBytes + 1];
      std::memcpy(buf, lit.data(), lit.size());
      buf[lit.size()] = 0;
      v = Value::ofReal(std::strtod(buf, nullptr));
      break;
    }
    case Form::Exact: {
      // Checked, so a short NUL-terminated copy is cheap and always fits.
      std::string copy(lit);
      const char* p = copy.c_str() + 1;
      const int64_t m = readInt(p);
      p += kPow.size();
      double r = std::ldexp(static_cast<double>(m), static_cast<int>(readInt(p)));
      ++p;  // ')'
      if (*p == '*') {
        p += kPow.size();
        r = std::ldexp(r, static_cast<int>(readInt(p)));
      }
      v = Value::ofReal(r);
      break;
    }
    case Form::Text: {
      v.type = Value::Type::Text;
      std::string_view body = lit.substr(1, lit.size() - 2);
      for (size_t i = 0; i < body.size();) {
        const size_t q = body.find('\'', i);
        if (q == std::string_view::npos) {
          v.bytes.append(body.substr(i));
          break;
        }
        v.bytes.append(body.substr(i, q + 1 - i));
        i = q + 2;  // the doubled quote's second half
      }
      break;
    }
    case Form::CastText:
      v.type = Value::Type::Text;
      appendHexBytes(lit.substr(kCastHead.size(), lit.size() - kCastHead.size() - kCastTail.size()),
                     v.bytes);
      break;
    case Form::Blob:
      v.type = Value::Type::Blob;
      appendHexBytes(lit.substr(2, lit.size() - 3), v.bytes);
      break;
  }
  return v;
}

std::string hexOf(std::string_view bytes) {
  static const char kDigits[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  return out;
}

bool plainText(std::string_view bytes) {
  // Reuse the text literal's own check on a quoted copy: what it accepts is exactly what may
  // travel as 'text'.
  std::string quoted = quoteText(bytes);
  Scanner q(quoted, SIZE_MAX);
  Form form;
  return q.literal(form) && q.pos == quoted.size();
}

std::string renderReal(double v) {
  if (std::isnan(v)) return "NULL";
  if (std::isinf(v)) return v > 0 ? "9e999" : "-9e999";
  if (v == 0) return std::signbit(v) ? "-0.0" : "0.0";
  if (std::fabs(v) < 9007199254740992.0 && v == std::trunc(v))
    return std::to_string(static_cast<int64_t>(v)) + ".0";
  int exp;
  const double fraction = std::frexp(v, &exp);  // v = fraction * 2^exp, 0.5 <= |fraction| < 1
  int64_t m = static_cast<int64_t>(std::ldexp(fraction, 53));
  int64_t e = exp - 53;
  while (m % 2 == 0) m /= 2, ++e;
  const std::string head = "(" + std::to_string(m) + "*pow(2,";
  if (e >= kMinPow) return head + std::to_string(e) + "))";
  return head + std::to_string(e + kSubnormalShift) + ")*pow(2," +
         std::to_string(-kSubnormalShift) + "))";
}

}  // namespace

const char* changesetErrorName(ChangesetError e) {
  switch (e) {
    case ChangesetError::Ok:
      return "OK";
    case ChangesetError::Truncated:
      return "TRUNCATED";
    case ChangesetError::Version:
      return "VERSION";
    case ChangesetError::Syntax:
      return "SYNTAX";
    case ChangesetError::Literal:
      return "LITERAL";
    case ChangesetError::Width:
      return "WIDTH";
    case ChangesetError::Duplicate:
      return "DUPLICATE";
    case ChangesetError::Order:
      return "ORDER";
    case ChangesetError::Limit:
      return "LIMIT";
  }
  return "UNKNOWN";
}

Value Value::ofInteger(int64_t v) {
  Value out;
  out.type = Type::Integer;
  out.integer = v;
  return out;
}
Value Value::ofReal(double v) {
  Value out;
  out.type = Type::Real;
  out.real = v;
  return out;
}
Value Value::ofText(std::string_view b) {
  Value out;
  out.type = Type::Text;
  out.bytes = std::string(b);
  return out;
}
Value Value::ofBlob(std::string_view b) {
  Value out;
  out.type = Type::Blob;
  out.bytes = std::string(b);
  return out;
}

bool Value::operator==(const Value& o) const {
  if (type != o.type) return false;
  switch (type) {
    case Type::Null:
      return true;
    case Type::Integer:
      return integer == o.integer;
    case Type::Real:
      return std::memcmp(&real, &o.real, sizeof real) == 0;
    case Type::Text:
    case Type::Blob:
      return bytes == o.bytes;
  }
  return false;
}

ChangesetStatus parseLiteral(std::string_view literal, Value& out) {
  out = Value{};
  Scanner s(literal, SIZE_MAX);
  Form form;
  if (!s.literal(form)) return failure(s);
  if (!s.atEnd()) {
    s.fail(ChangesetError::Syntax, s.pos, "bytes after the value, from " + s.found());
    return failure(s);
  }
  out = decodeChecked(literal, form);
  return {};
}

std::string renderLiteral(const Value& v) {
  switch (v.type) {
    case Value::Type::Null:
      return "NULL";
    case Value::Type::Integer:
      return std::to_string(v.integer);
    case Value::Type::Real:
      return renderReal(v.real);
    case Value::Type::Text:
      if (plainText(v.bytes)) return quoteText(v.bytes);
      return std::string(kCastHead) + hexOf(v.bytes) + std::string(kCastTail);
    case Value::Type::Blob:
      return "X'" + hexOf(v.bytes) + "'";
  }
  return "NULL";
}

ChangesetStatus checkTuple(std::string_view tuple, size_t width, bool rowid) {
  Scanner s(tuple, SIZE_MAX);
  if (!s.tuple(width, rowid, "tuple")) return failure(s);
  if (!s.atEnd()) {
    s.fail(ChangesetError::Syntax, s.pos, "bytes after the tuple, from " + s.found());
    return failure(s);
  }
  return {};
}

ChangesetStatus checkKeyList(std::string_view key, size_t width, bool rowid) {
  Scanner s(key, SIZE_MAX);
  if (!s.tupleBody(width, rowid, "key", false)) return failure(s);
  return {};
}

void splitTuple(std::string_view tuple, std::vector<std::string_view>& out) {
  out.clear();
  Scanner s(tuple, SIZE_MAX);
  s.pos = 1;
  while (s.pos < tuple.size()) {
    const size_t begin = s.pos;
    Form form;
    if (!s.literal(form)) return;
    out.push_back(tuple.substr(begin, s.pos - begin));
    ++s.pos;  // ',' or ')'
  }
}

std::string_view TupleList::operator[](size_t i) const {
  const size_t begin = i ? ends_[i - 1] + 1 : 0;
  return std::string_view(text_).substr(begin, ends_[i] - begin);
}

std::string_view TupleList::run(size_t first, size_t count) const {
  if (count == 0) return {};
  const size_t begin = first ? ends_[first - 1] + 1 : 0;
  return std::string_view(text_).substr(begin, ends_[first + count - 1] - begin);
}

void TupleList::reserve(size_t count, size_t bytes) {
  text_.reserve(text_.size() + bytes + count);
  ends_.reserve(ends_.size() + count);
}

void TupleList::append(std::string_view checkedTuple, size_t width, bool rowid) {
  if (ends_.empty()) width_ = width, rowid_ = rowid;
  if (!text_.empty()) text_ += ',';
  text_.append(checkedTuple);
  ends_.push_back(text_.size());
}

namespace {

// Why a name cannot be in a changeset, or nullptr.
const char* nameProblem(std::string_view name, size_t maxBytes) {
  if (name.empty()) return "is empty";
  if (name.size() > maxBytes) return "is longer than maxNameBytes";
  if (name.find('\0') != std::string_view::npos) return "holds a NUL byte";
  return nullptr;
}

// The shape rules a table must meet before tuples are checked against it.
ChangesetStatus shapeStatus(const TableChanges& t, size_t maxColumns) {
  if (t.columns.empty()) return failure(ChangesetError::Width, "the table has no columns", t.name);
  if (t.columns.size() > maxColumns)
    return failure(ChangesetError::Limit, "more than " + std::to_string(maxColumns) + " columns",
                   t.name);
  if (t.keyWidth < 1 || t.keyWidth > t.columns.size() || (t.rowidKey && t.keyWidth != 1))
    return failure(ChangesetError::Width,
                   "key width " + std::to_string(t.keyWidth) + " out of range for " +
                       std::to_string(t.columns.size()) + " column(s)" +
                       (t.rowidKey ? " keyed by rowid" : ""),
                   t.name);
  return {};
}

// A tuple may join `list` when the list is empty or was checked against the same shape.
ChangesetStatus listStatus(const TableChanges& t, const TupleList& list, size_t width) {
  if (!list.empty() && (list.width() != width || list.rowid() != t.rowidKey))
    return failure(ChangesetError::Width, "the table's shape changed after tuples were added",
                   t.name);
  return {};
}

ChangesetStatus inTable(ChangesetStatus st, const std::string& table) {
  if (st.ok()) return st;
  st.table = table;
  st.message += " (table " + quoteIdent(printable(table)) + ")";
  return st;
}

}  // namespace

ChangesetStatus TableChanges::addRangeDelete(std::optional<std::string_view> low,
                                             std::optional<std::string_view> high) {
  if (auto st = shapeStatus(*this, SIZE_MAX); !st.ok()) return st;
  for (const auto& bound : {low, high})
    if (bound)
      if (auto st = checkTuple(*bound, keyWidth, rowidKey); !st.ok()) return inTable(st, name);
  RangeDelete r;
  if (low) r.low = std::string(*low);
  if (high) r.high = std::string(*high);
  rangeDeletes.push_back(std::move(r));
  return {};
}

ChangesetStatus TableChanges::addDelete(std::string_view keyTuple) {
  if (auto st = shapeStatus(*this, SIZE_MAX); !st.ok()) return st;
  if (auto st = listStatus(*this, deletes, keyWidth); !st.ok()) return st;
  if (auto st = checkTuple(keyTuple, keyWidth, rowidKey); !st.ok()) return inTable(st, name);
  deletes.append(keyTuple, keyWidth, rowidKey);
  return {};
}

ChangesetStatus TableChanges::addUpsert(std::string_view rowTuple) {
  if (auto st = shapeStatus(*this, SIZE_MAX); !st.ok()) return st;
  if (auto st = listStatus(*this, upserts, columns.size()); !st.ok()) return st;
  if (auto st = checkTuple(rowTuple, columns.size(), rowidKey); !st.ok()) return inTable(st, name);
  upserts.append(rowTuple, columns.size(), rowidKey);
  return {};
}

namespace {

// Everything encodeChangeset checks about one table (its tuples were checked when added).
ChangesetStatus tableStatus(const TableChanges& t, const ChangesetLimits& limits) {
  if (const char* p = nameProblem(t.name, limits.maxNameBytes))
    return failure(ChangesetError::Syntax, std::string("table name ") + p, t.name);
  if (auto st = shapeStatus(t, limits.maxColumns); !st.ok()) return st;
  std::vector<std::string_view> names(t.columns.begin(), t.columns.end());
  for (auto c : names)
    if (const char* p = nameProblem(c, limits.maxNameBytes))
      return failure(ChangesetError::Syntax, "column name " + quoteIdent(printable(c)) + " " + p,
                     t.name);
  std::sort(names.begin(), names.end());
  if (auto d = std::adjacent_find(names.begin(), names.end()); d != names.end())
    return failure(ChangesetError::Duplicate,
                   "column " + quoteIdent(printable(*d)) + " appears twice", t.name);
  if (auto st = listStatus(t, t.deletes, t.keyWidth); !st.ok()) return st;
  if (auto st = listStatus(t, t.upserts, t.columns.size()); !st.ok()) return st;
  for (const auto& r : t.rangeDeletes)
    for (const auto* bound : {&r.low, &r.high})
      if (*bound)
        if (auto st = checkTuple(**bound, t.keyWidth, t.rowidKey); !st.ok())
          return inTable(st, t.name);
  return {};
}

ChangesetStatus headerStatus(const ChangesetHeader& h, const ChangesetLimits& limits) {
  const std::pair<const std::string*, const char*> names[] = {
      {&h.sourceId, "source"}, {&h.incarnation, "incarnation"}, {&h.batchId, "batch"}};
  for (const auto& [name, what] : names)
    if (const char* p = nameProblem(*name, limits.maxNameBytes))
      return failure(ChangesetError::Syntax, std::string("header ") + what + " " + p);
  if (!h.lastBatch.empty())
    if (const char* p = nameProblem(h.lastBatch, limits.maxNameBytes))
      return failure(ChangesetError::Syntax, std::string("header last ") + p);
  if (h.epoch < 0 || h.appliedSeq < 0 || h.fromSeq < 0 || h.uptoSeq < 0)
    return failure(ChangesetError::Syntax, "header holds a negative count");
  if (h.fromSeq > h.uptoSeq) return failure(ChangesetError::Syntax, "header from exceeds upto");
  return {};
}

}  // namespace

ChangesetStatus encodeChangeset(const Changeset& c, std::string& out,
                                const ChangesetLimits& limits) {
  out.clear();
  if (auto st = headerStatus(c.header, limits); !st.ok()) return st;
  if (c.tables.size() > limits.maxTables)
    return failure(ChangesetError::Limit,
                   "more than " + std::to_string(limits.maxTables) + " tables");
  std::vector<std::string_view> tableNames;
  size_t records = 0, bytes = 256;
  for (const auto& t : c.tables) {
    if (auto st = tableStatus(t, limits); !st.ok()) return st;
    tableNames.push_back(t.name);
    records += t.rangeDeletes.size() + t.deletes.size() + t.upserts.size();
    bytes += t.deletes.bytes() + t.upserts.bytes() + 3 * (t.deletes.size() + t.upserts.size());
  }
  std::sort(tableNames.begin(), tableNames.end());
  if (auto d = std::adjacent_find(tableNames.begin(), tableNames.end()); d != tableNames.end())
    return failure(ChangesetError::Duplicate,
                   "table " + quoteIdent(printable(*d)) + " appears twice");
  if (records > limits.maxRecords)
    return failure(ChangesetError::Limit,
                   "more than " + std::to_string(limits.maxRecords) + " records");

  const ChangesetHeader& h = c.header;
  out.reserve(bytes);
  out.append(kMagic).append(std::to_string(kChangesetVersion)).append("\n");
  out.append("H source=").append(quoteIdent(h.sourceId));
  out.append(" incarnation=").append(quoteIdent(h.incarnation));
  out.append(" epoch=").append(std::to_string(h.epoch));
  out.append(" applied=").append(std::to_string(h.appliedSeq));
  out.append(" last=").append(quoteIdent(h.lastBatch));
  out.append(" from=").append(std::to_string(h.fromSeq));
  out.append(" upto=").append(std::to_string(h.uptoSeq));
  out.append(" batch=").append(quoteIdent(h.batchId)).append("\n");
  for (const auto& t : c.tables) {
    out.append("T ").append(quoteIdent(t.name));
    out.append(t.rowidKey ? " rowid (" : " key=" + std::to_string(t.keyWidth) + " (");
    for (size_t i = 0; i < t.columns.size(); ++i)
      out.append(i ? "," : "").append(quoteIdent(t.columns[i]));
    out.append(")\n");
    for (const auto& r : t.rangeDeletes)
      out.append("R ")
          .append(r.low ? *r.low : "*")
          .append(" ")
          .append(r.high ? *r.high : "*")
          .append("\n");
    for (size_t i = 0; i < t.deletes.size(); ++i)
      out.append("D ").append(t.deletes[i]).append("\n");
    for (size_t i = 0; i < t.upserts.size(); ++i)
      out.append("U ").append(t.upserts[i]).append("\n");
  }
  out.append("END\n");
  return {};
}

// The decoder: one Scanner over the whole input, record by record.
class ChangesetReader {
 public:
  ChangesetReader(std::string_view in, const ChangesetLimits& limits)
      : s_(in, limits.maxValueBytes), limits_(limits) {}

  ChangesetStatus read(Changeset& out) {
    out = Changeset{};
    if (readAll(out)) return {};
    out = Changeset{};
    ChangesetStatus st = failure(s_);
    st.record = record_;
    st.table = table_;
    st.message += " (record " + std::to_string(record_);
    if (!table_.empty()) st.message += ", table " + quoteIdent(printable(table_));
    st.message += ")";
    return st;
  }

 private:
  bool readAll(Changeset& out) {
    record_ = 1;
    if (!magic()) return false;
    record_ = 2;
    if (!header(out.header)) return false;
    int phase = 0;  // 0 range deletes, 1 deletes, 2 upserts
    size_t records = 0;
    for (;;) {
      ++record_;
      if (s_.atEnd()) return s_.fail(ChangesetError::Truncated, s_.pos, "cut short before END");
      const char tag = static_cast<char>(s_.peek());
      switch (tag) {
        case 'T':
          trim(out);
          if (!table(out)) return false;
          phase = 0;
          break;
        case 'R':
        case 'D':
        case 'U': {
          const int p = tag == 'R' ? 0 : tag == 'D' ? 1 : 2;
          if (out.tables.empty())
            return s_.fail(ChangesetError::Order, s_.pos,
                           std::string("a ") + tag + " record before any T record");
          if (p < phase)
            return s_.fail(ChangesetError::Order, s_.pos,
                           std::string("a ") + tag + " record after " + (phase == 1 ? "D" : "U") +
                               " records (a table's records come as R, then D, then U)");
          phase = p;
          if (++records > limits_.maxRecords)
            return s_.fail(ChangesetError::Limit, s_.pos,
                           "more than " + std::to_string(limits_.maxRecords) + " records");
          if (!body(out.tables.back(), tag)) return false;
          break;
        }
        case 'E':
          if (!s_.expect("END\n", ChangesetError::Syntax, "the END record")) return false;
          trim(out);
          table_.clear();
          return s_.atEnd() || s_.fail(ChangesetError::Syntax, s_.pos, "bytes after END");
        default:
          return s_.fail(ChangesetError::Syntax, s_.pos, "unknown record tag " + s_.found());
      }
    }
  }

  bool magic() {
    if (!s_.expect(kMagic, ChangesetError::Version, "the magic line \"D1SYNC-CHANGESET 1\""))
      return false;
    const size_t at = s_.pos;
    int64_t version;
    if (!s_.count(version, "the format version")) return false;
    if (version != kChangesetVersion)
      return s_.fail(ChangesetError::Version, at,
                     "unsupported changeset version " + std::to_string(version) +
                         " (this decoder reads " + std::to_string(kChangesetVersion) + ")");
    return s_.expect("\n", ChangesetError::Syntax, "the magic line");
  }

  bool header(ChangesetHeader& h) {
    const auto e = ChangesetError::Syntax;
    const char* where = "the H record";
    std::string_view raw;
    if (!s_.expect("H source=", e, where) ||
        !s_.name(h.sourceId, raw, limits_.maxNameBytes, "source") ||
        !s_.expect(" incarnation=", e, where) ||
        !s_.name(h.incarnation, raw, limits_.maxNameBytes, "incarnation") ||
        !s_.expect(" epoch=", e, where) || !s_.count(h.epoch, "epoch") ||
        !s_.expect(" applied=", e, where) || !s_.count(h.appliedSeq, "applied") ||
        !s_.expect(" last=", e, where) ||
        !s_.name(h.lastBatch, raw, limits_.maxNameBytes, "last", true) ||
        !s_.expect(" from=", e, where) || !s_.count(h.fromSeq, "from"))
      return false;
    if (!s_.expect(" upto=", e, where)) return false;
    const size_t uptoAt = s_.pos;
    if (!s_.count(h.uptoSeq, "upto") || !s_.expect(" batch=", e, where) ||
        !s_.name(h.batchId, raw, limits_.maxNameBytes, "batch") || !s_.expect("\n", e, where))
      return false;
    return h.fromSeq <= h.uptoSeq || s_.fail(e, uptoAt, "from exceeds upto");
  }

  bool table(Changeset& out) {
    const auto e = ChangesetError::Syntax;
    table_.clear();
    if (out.tables.size() >= limits_.maxTables)
      return s_.fail(ChangesetError::Limit, s_.pos,
                     "more than " + std::to_string(limits_.maxTables) + " tables");
    if (!s_.expect("T ", e, "a T record")) return false;
    TableChanges& t = out.tables.emplace_back();
    std::string_view raw;
    const size_t nameAt = s_.pos;
    if (!s_.name(t.name, raw, limits_.maxNameBytes, "table name")) return false;
    table_ = t.name;
    if (!tableNames_.insert(raw).second)
      return s_.fail(ChangesetError::Duplicate, nameAt, "a second T record for this table");
    if (!s_.expect(" ", e, "a T record")) return false;
    const size_t keyAt = s_.pos;
    int64_t key = 1;
    if (!s_.atEnd() && s_.peek() == 'r') {
      if (!s_.expect("rowid", e, "a T record")) return false;
      t.rowidKey = true;
    } else if (!s_.expect("key=", e, "a T record") || !s_.count(key, "key width")) {
      return false;
    }
    if (!s_.expect(" (", e, "a T record")) return false;
    columnNames_.clear();
    for (;;) {
      const size_t at = s_.pos;
      std::string column;
      if (!s_.name(column, raw, limits_.maxNameBytes, "column name")) return false;
      if (t.columns.size() >= limits_.maxColumns)
        return s_.fail(ChangesetError::Limit, at,
                       "more than " + std::to_string(limits_.maxColumns) + " columns");
      if (!columnNames_.insert(raw).second)
        return s_.fail(ChangesetError::Duplicate, at,
                       "column " + quoteIdent(printable(column)) + " appears twice");
      t.columns.push_back(std::move(column));
      if (!s_.atEnd() && s_.peek() == ',') {
        ++s_.pos;
        continue;
      }
      if (!s_.expect(")\n", e, "a T record")) return false;
      break;
    }
    if (key < 1 || static_cast<uint64_t>(key) > t.columns.size())
      return s_.fail(ChangesetError::Width, keyAt,
                     "key width " + std::to_string(key) + " out of range for " +
                         std::to_string(t.columns.size()) + " column(s)");
    t.keyWidth = static_cast<size_t>(key);
    return true;
  }

  bool body(TableChanges& t, char tag) {
    ++s_.pos;
    if (!s_.expect(" ", ChangesetError::Syntax, "a record")) return false;
    const size_t begin = s_.pos;
    if (tag == 'U') {
      if (!s_.tuple(t.columns.size(), t.rowidKey, "row tuple")) return false;
      append(t.upserts, begin, t.columns.size(), t.rowidKey, true);
    } else if (tag == 'D') {
      if (!s_.tuple(t.keyWidth, t.rowidKey, "key tuple")) return false;
      append(t.deletes, begin, t.keyWidth, t.rowidKey, false);
    } else {
      RangeDelete& r = t.rangeDeletes.emplace_back();
      if (!bound(t, r.low) || !s_.expect(" ", ChangesetError::Syntax, "an R record") ||
          !bound(t, r.high))
        return false;
    }
    return s_.expect("\n", ChangesetError::Syntax, "the end of a record");
  }

  bool bound(const TableChanges& t, std::optional<std::string>& out) {
    if (!s_.atEnd() && s_.peek() == '*') {
      ++s_.pos;
      return true;
    }
    const size_t begin = s_.pos;
    if (!s_.tuple(t.keyWidth, t.rowidKey, "key bound")) return false;
    out = std::string(view(begin));
    return true;
  }

  // The upserts, where the bytes are, grow once: the first one reserves what is left of the
  // input, which bounds them, and trim() gives the spare room back when the table ends. Keys
  // are small and grow as strings do.
  void append(TupleList& list, size_t begin, size_t width, bool rowid, bool reserve) {
    if (reserve && list.empty()) list.text_.reserve(s_.size() - begin);
    list.append(view(begin), width, rowid);
  }
  static void trim(Changeset& out) {
    if (out.tables.empty()) return;
    for (TupleList* list : {&out.tables.back().deletes, &out.tables.back().upserts})
      if (list->text_.capacity() > list->text_.size() + list->text_.size() / 4 + 4096)
        list->text_.shrink_to_fit();
  }

  std::string_view view(size_t begin) const {
    return std::string_view(reinterpret_cast<const char*>(s_.data()) + begin, s_.pos - begin);
  }

  Scanner s_;
  const ChangesetLimits& limits_;
  size_t record_ = 0;
  std::string table_;
  std::unordered_set<std::string_view> tableNames_;  // quoted spellings, views into the input
  std::unordered_set<std::string_view> columnNames_;
};

ChangesetStatus decodeChangeset(std::string_view bytes, Changeset& out,
                                const ChangesetLimits& limits) {
  return ChangesetReader(bytes, limits).read(out);
}

}  // namespace d1sync
