#include "fingerprint.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

namespace d1sync {
namespace {

constexpr int64_t kP[2] = {2147483647, 2147483629};
constexpr int kFan = 256;       // loop indexes 0..255: blocks of a digit string, pieces of a value
constexpr int kKeyDigits = 13;  // base-32 digits of a 64-bit value (12 of 5 bits, one of 4)
constexpr size_t capDigits(int K) {
  return 9 * static_cast<size_t>(K) * kFan;
}

std::string str(int64_t v) {
  return std::to_string(v);
}

// splitmix64
struct Rng {
  uint64_t s;
  uint64_t next() {
    s += 0x9e3779b97f4a7c15ULL;
    uint64_t z = s;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  int64_t draw(int64_t p) {
    return static_cast<int64_t>(next() % static_cast<uint64_t>(p - 1)) + 1;
  }
  std::vector<int64_t> draws(size_t n, int64_t p) {
    std::vector<int64_t> out(n);
    for (auto& v : out) v = draw(p);
    return out;
  }
};

// The loop indexes, once per statement; D1 does not count the rows of a VALUES list as read.
std::string withClause() {
  std::string s = "WITH _n(i) AS NOT MATERIALIZED (SELECT column1 FROM (VALUES ";
  for (int i = 0; i < kFan; ++i) s += (i ? ",(" : "(") + str(i) + ")";
  return s + ")) ";
}

// A constant table read by index: 10-digit entries in a text literal.
std::string lookup(const std::vector<int64_t>& arr, const std::string& idx) {
  std::string digits;
  char buf[16];
  for (int64_t v : arr) {
    std::snprintf(buf, sizeof buf, "%010lld", static_cast<long long>(v));
    digits += buf;
  }
  return "CAST(substr('" + digits + "',10*(" + idx + ")+1,10) AS INTEGER)";
}

// Hex digits to decimal digits, prefix-free: 0-8 stay, 9 -> 90, A -> 91, ..., F -> 96.
std::string codeHex(const std::string& hexExpr) {
  std::string e = "replace(" + hexExpr + ",'9','90')";
  const char* letters = "ABCDEF";
  for (int i = 0; i < 6; ++i)
    e = "replace(" + e + ",'" + letters[i] + "','9" + std::to_string(i + 1) + "')";
  return e;
}

// Exact REAL: tag, 16-digit mantissa in [2^52, 2^53), exponent + 1100 (4 digits). log2() may
// be one off near powers of two, so k is corrected by exact comparisons with pow(2, k); below
// 2^-971 the scaling takes two exact steps (2^(52-k) would overflow).
std::string realEnc(const std::string& v, bool signedZero) {
  const std::string zero = signedZero ? "iif(atan2(" + v + ",-1)<0,'6','5')" : "'5'";
  return "(SELECT CASE WHEN a=0 THEN " + zero + " WHEN a=9e999 THEN iif(" + v +
         ">0,'90','91') ELSE printf('%d%d%04d',3+(" + v +
         "<0),iif(k<-971,a*pow(2,600)*pow(2,-548-k),a*pow(2,52-k)),k+1100) END FROM (SELECT "
         "a,k-(pow(2,k)>a)+(k<1023 AND pow(2,k+1)<=a) AS k FROM (SELECT abs(" +
         v + ") AS a,floor(log2(abs(" + v + "))) AS k)))";
}

// One value as a prefix-free digit string. Tags: 0 NULL, 1/2 integer >= 0 / < 0 (2-digit digit
// count, digits), 3/4 REAL > 0 / < 0, 5/6 +0.0/-0.0, 90/91 +-Inf, 7 text, 8 blob (7-digit byte
// length, then the re-coded hex when at most L bytes; longer values are folded in pieces).
std::string valueEnc(const std::string& v, size_t L, bool signedZero) {
  return "CASE typeof(" + v + ") WHEN 'integer' THEN printf('%d%02d%s',1+(" + v + "<0),length(" +
         v + ")-(" + v + "<0),substr(" + v + ",1+(" + v + "<0))) WHEN 'real' THEN " +
         realEnc(v, signedZero) + " WHEN 'null' THEN '0' ELSE printf('%d%07d%s',7+(typeof(" + v +
         ")='blob'),length(CAST(" + v + " AS BLOB)),iif(length(CAST(" + v + " AS BLOB))>" +
         std::to_string(L) + ",''," + codeHex("hex(" + v + ")") + ")) END";
}

// Sums and products as balanced trees: SQLite limits expression depth (100 in D1), and a
// chain a+b+c+... is as deep as it is long.
std::string balSum(const std::vector<std::string>& xs, size_t from, size_t to) {
  if (to - from == 1) return xs[from];
  size_t mid = from + (to - from) / 2;
  return "(" + balSum(xs, from, mid) + "+" + balSum(xs, mid, to) + ")";
}
std::string balProd(const std::vector<std::string>& xs, size_t from, size_t to, int64_t p) {
  if (to - from == 1) return xs[from];
  size_t mid = from + (to - from) / 2;
  return "(" + balProd(xs, from, mid, p) + "*" + balProd(xs, mid, to, p) + "%" + str(p) + ")";
}

// Fold of the K chunks of block `o` (an SQL offset in digits, "" for 0, or "x+") of the digit
// string x. Flat on purpose: SQLite 3.40's parser stack overflows at about 32 nested calls.
std::string foldBlock(const std::string& x, const std::string& o, const FpWeights& t, int K) {
  std::vector<std::string> terms;
  for (int i = 0; i < K; ++i)
    terms.push_back("('1'||substr(" + x + "," + o + str(9 * i + 1) + ",9))*" + str(t.S[i]) + "%" +
                    str(t.p));
  return "(" + balSum(terms, 0, terms.size()) + "%" + str(t.p) + ")";
}

// Fold of a whole digit string (at most 256 blocks): block b weighs 1 for b = 0 and
// G1[b>>4]*G0[b&15] otherwise. The first `inlineBlocks` blocks are written out (the weights
// computed here); the rest run in one loop over _n. A loop is a FROM subquery's column: SQLite
// counts a scalar subquery's result expressions into the enclosing expression's height, not a
// FROM subquery's columns. Inline blocks cost a few ops when a row is shorter, the loop a
// correlated subquery per row that is longer: the verifier sizes them to the table's rows.
std::string foldAll(const std::string& x, const FpWeights& t, int K, int inlineBlocks = 1) {
  const int64_t span = 9 * K;
  const std::string p = str(t.p);
  std::string out = foldBlock(x, "", t, K);
  for (int b = 1; b < inlineBlocks; ++b) {
    const int64_t w = t.G1[b >> 4] * t.G0[b & 15] % t.p;
    out += "+iif(length(" + x + ")>" + str(span * b) + "," + str(w) + "*" +
           foldBlock(x, str(span * b) + "+", t, K) + "%" + p + ",0)";
  }
  const std::string from = str(std::max(1, inlineBlocks));
  const std::string loop = "(SELECT sum(_f)%" + p + " FROM (SELECT " + lookup(t.G1, "_b>>4") + "*" +
                           lookup(t.G0, "_b&15") + "%" + p + "*" + foldBlock(x, "_o+", t, K) + "%" +
                           p + " AS _f FROM (SELECT i AS _b," + str(span) +
                           "*i AS _o FROM _n WHERE i BETWEEN " + from + " AND (length(" + x +
                           ")-1)/" + str(span) + ")))";
  return out + "+iif(length(" + x + ")>" + str(span * std::max(1, inlineBlocks)) + "," + loop +
         ",0)";
}

// Values over L bytes: sum over such columns c and pieces j (of 18,432 bytes, whose digits fit
// one foldAll) of U[c]*W1[j>>4]*W0[j&15]*foldAll(piece), both moduli packed as F1<<31|F2.
std::string longPart(const std::vector<std::string>& cols, const FpParams& prm) {
  const std::string sp = str(static_cast<int64_t>(capDigits(prm.K) / 4));
  std::string pick = "CASE column1";
  for (size_t i = 0; i < cols.size(); ++i) pick += " WHEN " + str(i) + " THEN " + cols[i];
  pick += " END";
  auto pieces = [&](const FpWeights& t) {
    const std::string p = str(t.p);
    return "(SELECT sum(_f)%" + p + " FROM (SELECT " + lookup(t.W1, "_j>>4") + "*" +
           lookup(t.W0, "_j&15") + "%" + p + "*((" + foldAll("_x", t, prm.K) + ")%" + p + ")%" + p +
           " AS _f FROM (SELECT i AS _j,CAST(" +
           codeHex("hex(substr(CAST(_v AS BLOB)," + sp + "*i+1," + sp + "))") +
           " AS BLOB) AS _x FROM _n WHERE " + sp + "*i<length(CAST(_v AS BLOB)) LIMIT " +
           str(kFan) + ")))";
  };
  const FpWeights &t1 = prm.tables[0], &t2 = prm.tables[1];
  std::string values;
  for (size_t i = 0; i < cols.size(); ++i) values += (i ? ",(" : "(") + str(i) + ")";
  return "(SELECT ifnull(sum(_f1)%" + str(t1.p) + ",0)<<31|ifnull(sum(_f2)%" + str(t2.p) +
         ",0) FROM (SELECT " + lookup(t1.U, "_c") + "*" + pieces(t1) + "%" + str(t1.p) +
         " AS _f1," + lookup(t2.U, "_c") + "*" + pieces(t2) + "%" + str(t2.p) +
         " AS _f2 FROM (SELECT column1 AS _c," + pick + " AS _v FROM (VALUES " + values +
         ") LIMIT " + str(static_cast<int64_t>(cols.size())) +
         ") WHERE typeof(_v) IN ('text','blob') AND length(CAST(_v AS BLOB))>" +
         std::to_string(prm.L) + "))";
}

std::string anyLong(const std::vector<std::string>& cols, size_t L) {
  std::string s = "max(";
  for (const auto& c : cols) s += "ifnull(length(CAST(" + c + " AS BLOB)),0),";
  return s + "0)>" + std::to_string(L);
}

std::string digitsOf(const std::vector<std::string>& cols, size_t L, bool signedZero) {
  std::string fmt, args;
  for (const auto& c : cols) {
    fmt += "%s";
    args += "," + valueEnc(c, L, signedZero);
  }
  return "CAST(printf('" + fmt + "'" + args + ") AS BLOB)";
}

std::string rangeWhere(const FpSource& src, const FpRange& r) {
  std::vector<std::string> where = src.filters;
  std::string kv = src.keys.size() == 1 ? src.keys[0] : "(";
  if (src.keys.size() > 1) {
    for (size_t i = 0; i < src.keys.size(); ++i) kv += (i ? "," : "") + src.keys[i];
    kv += ")";
  }
  if (r.lo) where.push_back(kv + ">=" + *r.lo);
  if (r.hi) where.push_back(kv + "<" + *r.hi);
  std::string out;
  for (const auto& w : where) out += (out.empty() ? " WHERE " : " AND ") + w;
  return out;
}

// The rows as a subquery with columns _k (the integer key, or a 62-bit hash of the key's digit
// string), _e1, _e2 and `extra`. Each level has LIMIT so SQLite does not flatten it (that
// would copy the digit string's expression into each of its uses: 22 times slower).
std::string rowPipeline(const FpSource& src, const FpParams& prm, const FpRange& range,
                        const std::string& extra, const std::string& order) {
  const size_t keyL = (capDigits(prm.K) / src.keys.size() - 12) / 4;
  std::string levelA = "SELECT " +
                       (src.integerKey ? src.keys[0] : digitsOf(src.keys, keyL, prm.signedZero)) +
                       " AS _k0," + digitsOf(src.columns, prm.L, prm.signedZero) + " AS _d,iif(" +
                       anyLong(src.columns, prm.L) + "," + longPart(src.columns, prm) +
                       ",0) AS _l" + (extra.empty() ? "" : "," + extra + " AS _x") + " FROM " +
                       src.table + " AS _t" + rangeWhere(src, range) + order + " LIMIT -1";
  const FpWeights &k1 = prm.keyTables[0], &k2 = prm.keyTables[1];
  const FpWeights &t1 = prm.tables[0], &t2 = prm.tables[1];
  const std::string key = src.integerKey
                              ? "_k0"
                              : "((" + foldAll("_k0", k1, prm.K) + ")%" + str(k1.p) + ")<<31|((" +
                                    foldAll("_k0", k2, prm.K) + ")%" + str(k2.p) + ")";
  return "SELECT " + key + " AS _k,(" + foldAll("_d", t1, prm.K, prm.inlineBlocks) + "+(_l>>31))%" +
         str(t1.p) + " AS _e1,(" + foldAll("_d", t2, prm.K, prm.inlineBlocks) +
         "+(_l&2147483647))%" + str(t2.p) + " AS _e2" + (extra.empty() ? "" : ",_x") + " FROM (" +
         levelA + ") LIMIT -1";
}

// Z_m(key): the product of T[digit][value] over the base-32 digits of x that vary in the range.
std::string zExpr(const std::string& x, const FpWeights& t, const std::vector<int>& digits) {
  std::vector<std::string> f;
  for (int d : digits)
    f.push_back(lookup(t.T[d], d < 12 ? x + ">>" + str(5 * d) + "&31" : x + ">>60&15"));
  return f.empty() ? "1" : balProd(f, 0, f.size(), t.p);
}

bool parseInt(const std::string& s, int64_t& out) {
  if (s.empty()) return false;
  char* end = nullptr;
  errno = 0;
  long long v = std::strtoll(s.c_str(), &end, 10);
  if (errno || *end) return false;
  out = v;
  return true;
}

}  // namespace

FpParams makeFpParams(size_t columns, uint64_t seed, bool signedZero) {
  FpParams prm;
  prm.signedZero = signedZero;
  columns = std::max<size_t>(1, columns);
  // At most L bytes per value inline, so a row's digit string fits one foldAll: a text or blob
  // costs at most 12 + 4 digits per byte.
  const size_t perColumn = capDigits(prm.K) / columns;
  prm.L = std::min<size_t>(1024, perColumn > 12 ? (perColumn - 12) / 4 : 0);
  Rng rng{seed};
  for (int m = 0; m < 2; ++m) {
    FpWeights& t = prm.tables[m];
    const int64_t p = t.p = kP[m];
    t.S = rng.draws(prm.K, p);
    t.G0 = rng.draws(16, p);
    t.G1 = rng.draws(16, p);
    t.U = rng.draws(columns, p);
    t.W0 = rng.draws(16, p);
    t.W1 = rng.draws(16, p);
    for (int d = 0; d < kKeyDigits; ++d) t.T.push_back(rng.draws(32, p));
  }
  for (int m = 0; m < 2; ++m) {
    FpWeights& t = prm.keyTables[m];
    const int64_t p = t.p = kP[m];
    t.S = rng.draws(prm.K, p);
    t.G0 = rng.draws(16, p);
    t.G1 = rng.draws(16, p);
  }
  return prm;
}

std::vector<int> fpVaryingDigits(const FpRange& range) {
  std::vector<int> all;
  for (int d = 0; d < kKeyDigits; ++d) all.push_back(d);
  int64_t lo = 0, hi = 0;
  if (!range.lo || !range.hi || !parseInt(*range.lo, lo) || !parseInt(*range.hi, hi) || hi <= lo)
    return all;
  if (lo < 0 && hi - 1 >= 0) return all;
  const uint64_t x = static_cast<uint64_t>(lo) ^ static_cast<uint64_t>(hi - 1);
  int bits = 0;
  for (uint64_t v = x; v; v >>= 1) ++bits;
  all.resize(std::min(kKeyDigits, (bits + 4) / 5));
  return all;
}

std::string fpRangeStatement(const FpSource& src, const FpParams& prm, const FpRange& range) {
  const std::vector<int> digits = src.integerKey ? fpVaryingDigits(range) : fpVaryingDigits({});
  const FpWeights &t1 = prm.tables[0], &t2 = prm.tables[1];
  return withClause() + "SELECT count(*) AS n,ifnull(sum(" + zExpr("_k", t1, digits) + "*_e1%" +
         str(t1.p) + ")%" + str(t1.p) + ",0) AS f1,ifnull(sum(" + zExpr("_k", t2, digits) +
         "*_e2%" + str(t2.p) + ")%" + str(t2.p) + ",0) AS f2 FROM (" +
         rowPipeline(src, prm, range, "", "") + ")";
}

std::string fpRowsStatement(const FpSource& src, const FpParams& prm, const FpRange& range) {
  std::string order = " ORDER BY ";
  for (size_t i = 0; i < src.keys.size(); ++i) order += (i ? "," : "") + src.keys[i];
  return withClause() +
         "SELECT _x AS key,CAST(_k AS TEXT) AS k,CAST(_e1<<31|_e2 AS TEXT) AS e FROM (" +
         rowPipeline(src, prm, range, src.keyLiteral, order) + ")";
}

}  // namespace d1sync
