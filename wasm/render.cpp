#include "render.hpp"

#include <cstdint>
#include <cstdlib>
#include <cstring>

namespace d1sync {

namespace {

// Column expressions longer than this are named once in a subquery (packedRowExpr).
constexpr size_t kInlineExprBytes = 12;

// Text leaves as quote() only when it is plain ASCII: every host hands results over as JS
// strings, which mangle bytes that are not valid UTF-8, and NUL stops quote(). Anything else
// crosses as hex; compactTextLiteral() turns valid UTF-8 back into a quoted literal.
std::string textLiteral(const std::string& x) {
  return "CASE WHEN " + x + " GLOB '*[^'||char(1)||'-'||char(127)||']*' OR instr(" + x +
         ",char(0))>0 THEN 'CAST(X'''||hex(" + x + ")||''' AS TEXT)' ELSE quote(" + x + ") END";
}

// A REAL as a literal every SQLite parses to the same double (the rule is in render.hpp), in
// one correlated subquery so `x` appears once whatever its length. In order: "N.0" when v is
// integral, or "Ne-3" (N = round(v*1000)) when the IEEE division N/1000 gives v back, both for
// |v| < 9e12; -0.0; the infinities; else v as m*2^e. The exponent k comes from floor(log2())
// less one, so a log2 rounded up to the integer just above (v just below a power of two) still
// leaves m = v*2^(52-k) integral: a 53-bit integer times 1 or 2. A log2 that comes out just
// below an exact power of two (SQLite computes it as log(x)/log(2) where libm has no log2())
// makes k one lower and m a 53-bit integer times 4, still exact: m < 2^55. Below 2, v is scaled
// in two steps (2^(52-k) overflows for v < 2^-970), and a value whose e = k-52 would fall below
// -1022 is written in the two-factor form.
std::string realLiteral(const std::string& x, bool signedZero) {
  const std::string zero = signedZero ? "v=0 AND atan2(v,-1)<0" : "0";
  return "(SELECT CASE WHEN abs(v)<9e12 AND round(v*1000)/1000=v THEN iif(" + zero +
         ",'-0.0',iif(round(v)=v,CAST(v AS INTEGER)||'.0',CAST(round(v*1000) AS INTEGER)||"
         "'e-3')) WHEN abs(v)=9e999 THEN iif(v>0,'9e999','-9e999') ELSE (SELECT printf('(%d*"
         "pow(2,%d)'||iif(k<-970,'*pow(2,-200))',')'),iif(k<0,v*pow(2,600)*pow(2,-548-k),"
         "v*pow(2,52-k)),k-52+200*(k<-970))FROM(SELECT floor(log2(abs(v)))-1 k))END FROM(SELECT " +
         x + " v))";
}

// One value as a literal, by its stored type; `text` and `blob` are the branches for those.
std::string typedLiteral(const std::string& x, const std::string& text, const std::string& blob,
                         bool signedZero) {
  return "CASE typeof(" + x + ") WHEN 'integer' THEN CAST(" + x + " AS TEXT) WHEN 'text' THEN " +
         text + " WHEN 'blob' THEN " + blob + " WHEN 'real' THEN " + realLiteral(x, signedZero) +
         " ELSE 'NULL' END";
}

}  // namespace

// In a subquery that names the value once: this path serves the rows packedRowExpr leaves
// (few), and its text must stay short enough for 100 columns in one local statement.
std::string literalExpr(const std::string& x, size_t inlineBytes, bool signedZero) {
  const std::string n = std::to_string(inlineBytes);
  const std::string v = "w";
  const std::string textBytes = "length(CAST(" + v + " AS BLOB))";
  return "(SELECT " +
         typedLiteral(v,
                      "CASE WHEN " + textBytes + ">" + n + " THEN '~t'||" + textBytes + " ELSE " +
                          textLiteral(v) + " END",
                      "CASE WHEN length(" + v + ")>" + n + " THEN '~b'||length(" + v +
                          ") ELSE quote(" + v + ") END",
                      signedZero) +
         " FROM(SELECT " + x + " " + v + "))";
}

std::string packedRowExpr(const std::vector<std::string>& exprs, size_t inlineBytes,
                          bool signedZero) {
  const std::string n = std::to_string(inlineBytes);
  std::string format = "'(", args;
  for (size_t i = 0; i < exprs.size(); ++i) {
    // A long column expression is named once in a subquery, which costs a little per value:
    // short ones (the common case) stay inline, and 100 columns of any name fit one statement.
    const bool named = exprs[i].size() > kInlineExprBytes;
    const std::string x = named ? "w" : exprs[i];
    format += i ? ",%s" : "%s";
    std::string lit = typedLiteral(
        x,
        "CASE WHEN length(CAST(" + x + " AS BLOB))>" + n + " OR instr(" + x +
            ",char(0)) THEN '~' ELSE quote(" + x + ") END",
        "CASE WHEN length(" + x + ")>" + n + " THEN '~' ELSE quote(" + x + ") END", signedZero);
    args += "," + (named ? "(SELECT " + lit + " FROM(SELECT " + exprs[i] + " w))" : lit);
  }
  return "printf(" + format + ")'" + args + ")";
}

std::string keyLiteralExpr(const Table& table, const std::string& alias) {
  std::string out;
  for (const auto& e : table.keyExprs(alias)) {
    if (!out.empty()) out += "||','||";
    // A rowid, or an INTEGER PRIMARY KEY (the rowid under a column name), is an integer: no
    // typeof() to ask, one function call fewer in every capture trigger (capture.cpp).
    if (table.keyKind == KeyKind::Rowid || table.rowidAlias) {
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

namespace {

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// Well-formed UTF-8 (no overlongs, no surrogates, at most U+10FFFF) without NUL. A `tuple`
// must also hold no '~' (a value left for the exact path) and no U+FFFD (where a host put
// bytes that were not UTF-8).
bool scanUtf8(const std::string& b, bool tuple) {
  static const uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
  const size_t size = b.size();
  const unsigned char* p = reinterpret_cast<const unsigned char*>(b.data());
  size_t i = 0;
  while (i < size) {
    // Eight plain ASCII bytes (no high bit, no NUL, no '~') at a time.
    while (i + 8 <= size) {
      uint64_t w;
      std::memcpy(&w, p + i, 8);
      const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
      uint64_t tilde = w ^ (ones * '~');
      if ((w & highs) || ((w - ones) & ~w & highs) || ((tilde - ones) & ~tilde & highs)) break;
      i += 8;
    }
    if (i >= size) break;
    unsigned char c = p[i];
    size_t n;
    if (c == 0 || (c == '~' && tuple)) return false;
    if (c < 0x80)
      n = 0;
    else if ((c >> 5) == 0x6)
      n = 1;
    else if ((c >> 4) == 0xE)
      n = 2;
    else if ((c >> 3) == 0x1E)
      n = 3;
    else
      return false;
    if (i + n >= size && n > 0) return false;
    uint32_t cp = n == 0 ? c : (c & (0x7F >> (n + 1)));
    for (size_t k = 1; k <= n; ++k) {
      unsigned char cc = p[i + k];
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    if (cp == 0xFFFD && tuple) return false;
    i += n + 1;
  }
  return true;
}

bool validUtf8(const std::string& b) {
  return scanUtf8(b, false);
}

}  // namespace

bool plainTuple(const std::string& t) {
  return scanUtf8(t, true);
}

std::string compactTextLiteral(const std::string& lit) {
  static const std::string kHead = "CAST(X'", kTail = "' AS TEXT)";
  if (lit.size() < kHead.size() + kTail.size() || lit.compare(0, kHead.size(), kHead) != 0)
    return lit;
  const size_t hexLen = lit.size() - kHead.size() - kTail.size();
  if (hexLen % 2) return lit;
  std::string bytes;
  bytes.reserve(hexLen / 2);
  for (size_t i = kHead.size(); i < kHead.size() + hexLen; i += 2) {
    int hi = hexValue(lit[i]), lo = hexValue(lit[i + 1]);
    if (hi < 0 || lo < 0) return lit;
    bytes += static_cast<char>(hi * 16 + lo);
  }
  if (!validUtf8(bytes)) return lit;
  std::string out = "'";
  for (char c : bytes) {
    if (c == '\'') out += '\'';
    out += c;
  }
  return out + "'";
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
  return 8;  // an integer, a decimal REAL or an exact one, (m*pow(2,e))
}

std::vector<std::string> splitKeyLiteral(const std::string& key) {
  std::vector<std::string> out;
  std::string cur;
  bool inQuote = false;
  int depth = 0;  // an exact REAL, (m*pow(2,e)), holds commas
  for (size_t i = 0; i < key.size(); ++i) {
    char c = key[i];
    if (c == '\'') inQuote = !inQuote;  // a doubled quote toggles twice: still inside
    if (!inQuote && c == '(') ++depth;
    if (!inQuote && c == ')' && depth > 0) --depth;
    if (c == ',' && !inQuote && depth == 0) {
      out.push_back(cur);
      cur.clear();
      continue;
    }
    cur += c;
  }
  out.push_back(cur);
  return out;
}

size_t exactRealOps(std::string_view text) {
  size_t stars = 0;
  for (const char* p = text.data();
       (p = static_cast<const char*>(std::memchr(p, '*', text.data() + text.size() - p))) !=
       nullptr;
       ++p)
    ++stars;
  return kOpsPerPow * stars;
}

const char* nowMsExpr() {
  return "CAST((julianday('now')-2440587.5)*86400000 AS INTEGER)";
}

}  // namespace d1sync
