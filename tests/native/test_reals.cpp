// REALs bit for bit: random-bit doubles (subnormals, zeros, extremes, powers of two, values whose
// quote() text this SQLite misparses) rendered by the local SQLite, parsed by the D1 simulator,
// through literals alone, the chunker and the whole engine (initial copy and streamed changes),
// in columns of every affinity and as keys. Doubles are compared as 64-bit patterns.
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <map>
#include <random>

#include "chunker.hpp"
#include "double_bits.hpp"
#include "fixtures.hpp"
#include "render.hpp"
#include "sql_text.hpp"

namespace d1sync::native {
namespace {

// The doubles every test here uses: the edge cases, then random bit patterns (NaN excluded:
// SQLite stores it as NULL).
std::vector<double> testDoubles(size_t randomCount, uint64_t seed) {
  const double inf = std::numeric_limits<double>::infinity();
  const double max = std::numeric_limits<double>::max();
  const double min = std::numeric_limits<double>::min();
  const double tiny = std::numeric_limits<double>::denorm_min();
  std::vector<double> out = {0.0,
                             -0.0,
                             max,
                             -max,
                             min,
                             -min,
                             tiny,
                             -tiny,
                             std::nextafter(min, 0.0),  // the largest subnormal
                             -std::nextafter(min, 0.0),
                             inf,
                             -inf,
                             9007199254740992.0,  // 2^53
                             9007199254740991.0,  // 2^53 - 1
                             9007199254740994.0,  // 2^53 + 2 (2^53 + 1 is not a double)
                             -9007199254740991.0,
                             9e12,
                             std::nextafter(9e12, 0.0),
                             8999999999999.999,
                             25000.26,
                             0.1,
                             0.3,
                             1.0 / 3,
                             1e-5,
                             51.507351,
                             -0.001,
                             3.0,
                             1e300,
                             1e-300,
                             2.6784102624133478e+307,
                             -2.6784102624133478e+307};
  for (int e = -1074; e <= 1023; ++e) {
    out.push_back(std::ldexp(1.0, e));
    if (e % 3 == 0) out.push_back(-std::nextafter(std::ldexp(1.0, e), 0.0));
  }
  std::mt19937_64 rng(seed);
  while (randomCount > 0) {
    double d = fromBits(rng());
    if (std::isnan(d)) continue;
    out.push_back(d);
    --randomCount;
  }
  return out;
}

void bindAll(sqlite3* db, const std::string& sql, const std::vector<double>& values,
             const std::function<void(sqlite3_stmt*, size_t, double)>& bind) {
  ASSERT_EQ(sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr), SQLITE_OK) << sql;
  for (size_t i = 0; i < values.size(); ++i) {
    sqlite3_reset(st);
    bind(st, i, values[i]);
    ASSERT_EQ(sqlite3_step(st), SQLITE_DONE) << sqlite3_errmsg(db);
  }
  sqlite3_finalize(st);
  ASSERT_EQ(sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr), SQLITE_OK);
}

// One value as stored: its storage class and its bits (REAL), value (INTEGER) or bytes.
std::string cellOf(sqlite3_stmt* st, int c) {
  int type = sqlite3_column_type(st, c);
  std::string out = std::to_string(type) + ":";
  if (type == SQLITE_FLOAT) return out + std::to_string(bitsOf(sqlite3_column_double(st, c)));
  if (type == SQLITE_INTEGER) return out + std::to_string(sqlite3_column_int64(st, c));
  if (type == SQLITE_NULL) return out;
  const char* p = static_cast<const char*>(sqlite3_column_blob(st, c));
  return out + std::string(p ? p : "", static_cast<size_t>(sqlite3_column_bytes(st, c)));
}

// Rows of `sql` keyed by their first `keyColumns` cells.
std::map<std::string, std::string> readRows(sqlite3* db, const std::string& sql, int keyColumns) {
  std::map<std::string, std::string> out;
  sqlite3_stmt* st = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr), SQLITE_OK)
      << sql << ": " << sqlite3_errmsg(db);
  while (st && sqlite3_step(st) == SQLITE_ROW) {
    std::string key, row;
    for (int c = 0; c < sqlite3_column_count(st); ++c)
      (c < keyColumns ? key : row) += cellOf(st, c) + "|";
    out[key] = row;
  }
  sqlite3_finalize(st);
  return out;
}

struct Diff {
  size_t rows = 0, missing = 0, extra = 0, changed = 0;
};

// Rows of `sql` in the local database and in D1, compared cell by cell, REALs by their bits.
Diff compareBits(sqlite3* local, sqlite3* d1, const std::string& sql, int keyColumns) {
  auto a = readRows(local, sql, keyColumns);
  auto b = readRows(d1, sql, keyColumns);
  Diff d;
  d.rows = a.size();
  for (const auto& [k, row] : a) {
    auto it = b.find(k);
    if (it == b.end())
      ++d.missing;
    else if (it->second != row)
      ++d.changed;
  }
  for (const auto& [k, row] : b)
    if (!a.count(k)) ++d.extra;
  return d;
}

#define EXPECT_IDENTICAL(diff, expectedRows)                                    \
  do {                                                                          \
    Diff d_ = (diff);                                                           \
    EXPECT_EQ(d_.rows, static_cast<size_t>(expectedRows));                      \
    EXPECT_EQ(d_.changed, 0u) << "rows whose values arrived changed";           \
    EXPECT_EQ(d_.missing, 0u) << "rows missing in D1 (a changed key included)"; \
    EXPECT_EQ(d_.extra, 0u) << "rows in D1 the local table lacks";              \
  } while (0)

// Parses a literal in a plain SQLite (the simulator's), returning its double.
double parse(sqlite3* db, const std::string& literal) {
  sqlite3_stmt* st = nullptr;
  std::string sql = "SELECT " + literal;
  EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr), SQLITE_OK) << sql;
  double d = std::nan("");
  if (st && sqlite3_step(st) == SQLITE_ROW) d = sqlite3_column_double(st, 0);
  sqlite3_finalize(st);
  return d;
}

// ---------------------------------------------------------------------------------------------
// Literals

TEST(Reals, Issue10EveryRealLiteralParsesBackToTheSameBits) {
  const auto values = testDoubles(20000, 10);
  SqliteLocal local(":memory:");
  local.run("CREATE TABLE v(id INTEGER PRIMARY KEY, c BLOB)");
  bindAll(local.handle(), "INSERT INTO v(id, c) VALUES (?1, ?2)", values,
          [](sqlite3_stmt* st, size_t i, double d) {
            sqlite3_bind_int64(st, 1, static_cast<int64_t>(i));
            sqlite3_bind_double(st, 2, d);
          });
  // The yardstick: this SQLite misparses some of these doubles' quote() texts.
  auto misparsed = local.exec("SELECT count(*) FROM v WHERE CAST(quote(c) AS REAL) <> c");
  ASSERT_TRUE(misparsed.ok) << misparsed.error;
  EXPECT_GT(std::stoll(misparsed.rows.at(0, 0)), 0) << "no quote() text misparsed here";

  auto r = local.exec("SELECT " + literalExpr("c", 16000, true) + ", c FROM v ORDER BY id");
  ASSERT_TRUE(r.ok) << r.error;
  ASSERT_EQ(r.rows.size(), values.size());
  D1Simulator d1;
  size_t changed = 0, decimals = 0;
  for (size_t i = 0; i < values.size(); ++i) {
    const std::string& lit = r.rows.at(i, 0);
    double got = parse(d1.handle(), lit);
    if (bitsOf(got) != bitsOf(values[i])) {
      if (++changed < 5) ADD_FAILURE() << "v=" << values[i] << " literal " << lit;
    }
    if (!lit.empty() && lit[0] != '(') ++decimals;
  }
  EXPECT_EQ(changed, 0u) << "of " << values.size();
  EXPECT_LT(decimals, 200u) << "random bits seldom have a short decimal";
}

TEST(Reals, Issue10DecimalOnlyWhereProvablySafe) {
  auto lit = [](double v) {
    SqliteLocal local(":memory:");
    local.run("CREATE TABLE v(c BLOB)");
    bindAll(local.handle(), "INSERT INTO v VALUES (?1)", {v},
            [](sqlite3_stmt* st, size_t, double d) { sqlite3_bind_double(st, 1, d); });
    auto r = local.exec("SELECT " + literalExpr("c", 16000, true) + " FROM v");
    EXPECT_TRUE(r.ok) << r.error;
    return r.ok ? r.rows.at(0, 0) : std::string();
  };
  EXPECT_EQ(lit(25000.26), "25000260e-3");
  EXPECT_EQ(lit(-0.5), "-500e-3");
  EXPECT_EQ(lit(0.001), "1e-3");
  EXPECT_EQ(lit(3.0), "3.0");
  EXPECT_EQ(lit(-1e12), "-1000000000000.0");
  EXPECT_EQ(lit(1234567.125), "1234567125e-3");
  EXPECT_EQ(lit(8999999999999.999), "8999999999999998e-3");  // the same double
  EXPECT_EQ(lit(0.0), "0.0");
  EXPECT_EQ(lit(-0.0), "-0.0");
  EXPECT_EQ(lit(std::numeric_limits<double>::infinity()), "9e999");
  EXPECT_EQ(lit(-std::numeric_limits<double>::infinity()), "-9e999");
  // More than 3 decimals, or too large for N < 2^53: exact.
  EXPECT_EQ(lit(1.0 / 3), "(12009599006321322*pow(2,-55))");
  EXPECT_EQ(lit(0.0001), "(14757395258967642*pow(2,-67))");
  EXPECT_EQ(lit(9e12), "(9216000000000000*pow(2,-10))");
  EXPECT_EQ(lit(9007199254740991.0), "(9007199254740991*pow(2,0))");
  EXPECT_EQ(lit(-1e300), "(-13449746190494520*pow(2,943))");
  EXPECT_EQ(lit(std::ldexp(1.0, 1023)), "(9007199254740992*pow(2,970))");
  EXPECT_EQ(lit(std::ldexp(1.0, -1022)), "(9007199254740992*pow(2,-875)*pow(2,-200))");
  EXPECT_EQ(lit(-std::numeric_limits<double>::denorm_min()),
            "(-9007199254740992*pow(2,-927)*pow(2,-200))");
  EXPECT_EQ(lit(std::numeric_limits<double>::max()), "(9007199254740991*pow(2,971))");
}

TEST(Reals, Issue10ShortDecimalsParseExactlyHere) {
  // The rule's premise, on this SQLite: "Ne-3" and "N.0" with |N| < 2^53 parse to the double
  // nearest them (the C library's strtod is correctly rounded), as literals and as CAST text.
  sqlite3* db = nullptr;
  sqlite3_open(":memory:", &db);
  std::mt19937_64 rng(7);
  size_t wrong = 0;
  for (int i = 0; i < 30000; ++i) {
    uint64_t range = i % 3 == 0 ? 9007199254740992ULL : i % 3 == 1 ? 100000000ULL : 100000ULL;
    int64_t n = static_cast<int64_t>(rng() % range) * (i % 2 ? 1 : -1);
    std::string text = std::to_string(n) + (i % 5 == 0 ? ".0" : "e-3");
    double want = std::strtod(text.c_str(), nullptr);
    if (bitsOf(parse(db, text)) != bitsOf(want)) ++wrong;
    if (bitsOf(parse(db, "CAST('" + text + "' AS REAL)")) != bitsOf(want)) ++wrong;
  }
  sqlite3_close(db);
  EXPECT_EQ(wrong, 0u);
}

TEST(Reals, Issue10EveryAffinityRendersTheStoredValue) {
  // In a REAL, NUMERIC or INTEGER column SQLite may store a double as an integer; the literal
  // must bring back whatever is stored, storage class included.
  const auto values = testDoubles(3000, 11);
  for (const char* type : {"REAL", "NUMERIC", "INTEGER", "BLOB", ""}) {
    SCOPED_TRACE(std::string("column type '") + type + "'");
    SqliteLocal local(":memory:");
    local.run(std::string("CREATE TABLE v(id INTEGER PRIMARY KEY, c ") + type + ")");
    bindAll(local.handle(), "INSERT INTO v(id, c) VALUES (?1, ?2)", values,
            [](sqlite3_stmt* st, size_t i, double d) {
              sqlite3_bind_int64(st, 1, static_cast<int64_t>(i));
              sqlite3_bind_double(st, 2, d);
            });
    D1Simulator d1;
    ASSERT_TRUE(
        d1.batch({std::string("CREATE TABLE v(id INTEGER PRIMARY KEY, c ") + type + ")"}).ok);
    auto r = local.exec("SELECT id, " + literalExpr("c", 16000, true) + " FROM v ORDER BY id");
    ASSERT_TRUE(r.ok) << r.error;
    std::vector<std::string> inserts;
    for (size_t i = 0; i < r.rows.size(); ++i)
      inserts.push_back("INSERT INTO v VALUES (" + r.rows.at(i, 0) + "," + r.rows.at(i, 1) + ")");
    auto b = d1.batch(inserts);
    ASSERT_TRUE(b.ok) << b.failure.message;
    EXPECT_IDENTICAL(compareBits(local.handle(), d1.handle(), "SELECT id, c FROM v", 1),
                     values.size());
  }
}

TEST(Reals, Issue10KeyLiteralsSplitAndCountTheirOps) {
  EXPECT_EQ(
      splitKeyLiteral("(-5*pow(2,-3)),'a,b',(1*pow(2,-823)*pow(2,-200)),7"),
      (std::vector<std::string>{"(-5*pow(2,-3))", "'a,b'", "(1*pow(2,-823)*pow(2,-200))", "7"}));
  EXPECT_EQ(splitKeyLiteral("'(',(3*pow(2,1)),')'"),
            (std::vector<std::string>{"'('", "(3*pow(2,1))", "')'"}));
  EXPECT_EQ(exactRealOps("(1,'x',2.5)"), 0u);
  EXPECT_EQ(exactRealOps("(-5*pow(2,-3))"), kOpsPerPow);
  EXPECT_EQ(exactRealOps("((1*pow(2,-823)*pow(2,-200)),(3*pow(2,1)))"), 3 * kOpsPerPow);
  EXPECT_EQ(literalPayloadBytes("(-5*pow(2,-3))"), 8u);
  EXPECT_EQ(literalPayloadBytes("(1*pow(2,-823)*pow(2,-200))"), 8u);
  EXPECT_EQ(literalPayloadBytes("25000260e-3"), 8u);
  RowLiteral row;
  row.tuple = "(1,(-5*pow(2,-3)),'a,(b',(1*pow(2,-823)*pow(2,-200)),2.5)";
  row.unpack();
  EXPECT_EQ(row.values, (std::vector<std::string>{"1", "(-5*pow(2,-3))", "'a,(b'",
                                                  "(1*pow(2,-823)*pow(2,-200))", "2.5"}));
}

// ---------------------------------------------------------------------------------------------
// The VDBE budget with exact REALs

TargetShape realShape(size_t width) {
  TargetShape s;
  s.table = "t";
  s.columns.push_back("id");
  for (size_t i = 1; i < width; ++i) s.columns.push_back("c" + std::to_string(i));
  s.keyColumns = {"id"};
  return s;
}

std::string createOf(const TargetShape& s) {
  std::string sql = "CREATE TABLE t(id INTEGER PRIMARY KEY";
  for (size_t i = 1; i < s.columns.size(); ++i) sql += "," + quoteIdent(s.columns[i]) + " REAL";
  return sql + ")";
}

// Rows of random-bit doubles rendered by the local SQLite: nearly every value in its exact form
// (when `subnormal`, every value a subnormal).
std::vector<RowLiteral> exactRows(size_t n, size_t width, bool subnormal) {
  SqliteLocal local(":memory:");
  local.run("CREATE TABLE v(x REAL)");
  std::mt19937_64 rng(5);
  std::vector<double> values;
  while (values.size() < n * (width - 1)) {
    uint64_t b = rng();
    if (subnormal) b &= 0x800FFFFFFFFFFFFFULL;
    double d = fromBits(b);
    if (std::isnan(d) || std::isinf(d) || d == 0) continue;
    values.push_back(d);
  }
  bindAll(local.handle(), "INSERT INTO v VALUES (?1)", values,
          [](sqlite3_stmt* st, size_t, double d) { sqlite3_bind_double(st, 1, d); });
  auto r = local.exec("SELECT " + literalExpr("x", 16000) + " FROM v ORDER BY rowid");
  EXPECT_TRUE(r.ok) << r.error;
  std::vector<RowLiteral> rows(n);
  for (size_t i = 0; i < n; ++i) {
    rows[i].key = std::to_string(i + 1);
    rows[i].values.push_back(rows[i].key);
    for (size_t j = 1; j < width; ++j) {
      rows[i].values.push_back(r.rows.at(i * (width - 1) + (j - 1), 0));
    }
  }
  return rows;
}

std::vector<const RowLiteral*> pointers(const std::vector<RowLiteral>& rows) {
  std::vector<const RowLiteral*> out;
  for (const auto& r : rows) out.push_back(&r);
  return out;
}

// Largest count of `rows` (from the front) one upsert may carry and still prepare under the
// simulator's 25,000-op cap, by bisection.
size_t simulatorMax(const TargetShape& s, const std::vector<RowLiteral>& rows) {
  Limits l;
  l.maxStatementBytes = 1u << 30;
  l.vdbeMargin = 1000;
  Chunker unbounded(l);
  D1Simulator d1;
  EXPECT_TRUE(d1.batch({createOf(s)}).ok);
  const auto all = pointers(rows);
  auto prepares = [&](size_t n) {
    std::vector<const RowLiteral*> p(all.begin(), all.begin() + n);
    auto st = unbounded.upserts(s, p, n);
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v2(d1.handle(), st[0].c_str(), -1, &stmt, nullptr);
    sqlite3_finalize(stmt);
    return rc == SQLITE_OK;
  };
  size_t lo = 1, hi = rows.size();
  while (lo < hi) {
    size_t mid = (lo + hi + 1) / 2;
    if (prepares(mid))
      lo = mid;
    else
      hi = mid - 1;
  }
  return lo;
}

TEST(Reals, Issue10AllExactRealRowsStayUnderTheVdbeCap) {
  for (bool subnormal : {false, true}) {
    for (size_t width : {2, 10, 100}) {
      SCOPED_TRACE(std::to_string(width) + " columns" + (subnormal ? ", subnormals" : ""));
      TargetShape s = realShape(width);
      auto rows = exactRows(width == 2 ? 6000 : width == 10 ? 1500 : 150, width, subnormal);
      Limits limits;
      Chunker chunker(limits);
      auto stmts = chunker.upserts(s, pointers(rows), std::numeric_limits<size_t>::max());
      D1Simulator d1;
      ASSERT_TRUE(d1.batch({createOf(s)}).ok);
      for (const auto& st : stmts) {
        auto r = d1.batch({st});
        ASSERT_TRUE(r.ok) << r.failure.message;
        EXPECT_LE(st.size(), limits.maxStatementBytes);
      }
      auto count = d1.query("SELECT count(*) FROM t");
      ASSERT_TRUE(count.ok) << count.error;
      EXPECT_EQ(count.rows.at(0, 0), std::to_string(rows.size()));
      // Rows the first statement carries (rows are counted by their keys, "(<id>,").
      size_t biggest = 0;
      for (size_t i = 0; i < rows.size(); ++i)
        if (stmts[0].find(",(" + rows[i].key + ",(") != std::string::npos ||
            stmts[0].find("VALUES (" + rows[i].key + ",(") != std::string::npos)
          ++biggest;
      ASSERT_GT(stmts.size(), 1u) << "the test needs more rows than one statement holds";
      size_t cap = simulatorMax(s, rows);
      EXPECT_LE(biggest, cap);
      // Near the cap unless the byte limit decided first.
      if (stmts.size() > 1 && stmts[0].size() < limits.maxStatementBytes * 9 / 10)
        EXPECT_GE(biggest, cap * 7 / 10) << "cap " << cap;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Through the engine

class Issue10Reals : public EngineTest {
 protected:
  static constexpr const char* kValues =
      "CREATE TABLE v(id INTEGER PRIMARY KEY, r REAL, n NUMERIC, i INTEGER, b BLOB, x)";
  static constexpr const char* kKeyed = "CREATE TABLE kr(k REAL NOT NULL PRIMARY KEY, v REAL)";
  static constexpr const char* kComposite =
      "CREATE TABLE kw(k REAL, j INTEGER, v, PRIMARY KEY(k, j)) WITHOUT ROWID";

  void fill(const std::vector<double>& values, size_t offset) {
    const size_t n = values.size();
    auto at = [&](size_t i, size_t shift) { return values[(i + shift) % n]; };
    bindAll(local->handle(),
            "INSERT OR REPLACE INTO v(id, r, n, i, b, x) VALUES (?1, ?2, ?3, ?4, ?5, ?6)", values,
            [&](sqlite3_stmt* st, size_t i, double d) {
              sqlite3_bind_int64(st, 1, static_cast<int64_t>(i));
              sqlite3_bind_double(st, 2, d);
              sqlite3_bind_double(st, 3, at(i, offset + 1));
              sqlite3_bind_double(st, 4, at(i, offset + 2));
              sqlite3_bind_double(st, 5, at(i, offset + 3));
              sqlite3_bind_double(st, 6, at(i, offset + 4));
            });
  }
  void expectAllIdentical(size_t valueRows) {
    EXPECT_IDENTICAL(
        compareBits(local->handle(), d1->handle(), "SELECT id, r, n, i, b, x FROM v", 1),
        valueRows);
    auto kr = compareBits(local->handle(), d1->handle(), "SELECT k, v FROM kr", 1);
    EXPECT_IDENTICAL(kr, countLocal("SELECT count(*) FROM kr"));
    auto kw = compareBits(local->handle(), d1->handle(), "SELECT k, j, v FROM kw", 2);
    EXPECT_IDENTICAL(kw, countLocal("SELECT count(*) FROM kw"));
  }
  size_t countLocal(const std::string& sql) {
    auto r = local->exec(sql);
    EXPECT_TRUE(r.ok) << r.error;
    return r.ok ? std::stoull(r.rows.at(0, 0)) : 0;
  }
};

TEST_F(Issue10Reals, RandomBitDoublesReachD1BitForBitCopiedAndStreamed) {
  const auto values = testDoubles(20000, 2026);
  local->run(kValues);
  local->run(kKeyed);
  local->run(kComposite);
  fill(values, 0);
  bindAll(local->handle(), "INSERT OR IGNORE INTO kr(k, v) VALUES (?1, ?2)", values,
          [&](sqlite3_stmt* st, size_t i, double d) {
            sqlite3_bind_double(st, 1, d);
            sqlite3_bind_double(st, 2, values[(i + 7) % values.size()]);
          });
  bindAll(local->handle(), "INSERT OR IGNORE INTO kw(k, j, v) VALUES (?1, ?2, ?3)", values,
          [&](sqlite3_stmt* st, size_t i, double d) {
            sqlite3_bind_double(st, 1, d);
            sqlite3_bind_int64(st, 2, static_cast<int64_t>(i % 3));
            sqlite3_bind_double(st, 3, values[(i + 11) % values.size()]);
          });
  ASSERT_GT(countLocal("SELECT count(*) FROM kr"), 20000u);

  // The initial copy.
  driver();
  sync();
  expectAllIdentical(values.size());

  // Streamed changes: every value replaced, keys changed, deleted and inserted.
  const auto next = testDoubles(20000, 4242);
  fill(next, 3);
  local->run("UPDATE kr SET v = -v WHERE rowid % 3 = 0");
  bindAll(local->handle(), "UPDATE OR IGNORE kr SET k = ?2 WHERE rowid = ?1", next,
          [&](sqlite3_stmt* st, size_t i, double d) {
            sqlite3_bind_int64(st, 1, static_cast<int64_t>(2 * i + 1));
            sqlite3_bind_double(st, 2, d);
          });
  local->run("DELETE FROM kr WHERE rowid % 5 = 0");
  local->run("DELETE FROM kw WHERE j = 2");
  bindAll(local->handle(), "INSERT OR REPLACE INTO kw(k, j, v) VALUES (?1, ?2, ?3)", next,
          [&](sqlite3_stmt* st, size_t i, double d) {
            sqlite3_bind_double(st, 1, d);
            sqlite3_bind_int64(st, 2, static_cast<int64_t>(i % 4));
            sqlite3_bind_double(st, 3, next[(i + 5) % next.size()]);
          });
  local->run("UPDATE OR IGNORE kw SET k = -k WHERE j = 1");
  sync();
  expectAllIdentical(values.size());
  EXPECT_EQ(countLocal(kPendingOutbox), 0u);
}

TEST_F(Issue10Reals, A100ColumnTableOfRandomBitsWithinTheLocalLimitsOfADurableObject) {
  // A DO's SQLite caps statements at 100 KB and programs at 25,000 ops, as D1 does: the reads
  // that render 100 columns of exact REALs under long names (packed, and value by value for the
  // rows holding NUL text) must fit both.
  sqlite3_limit(local->handle(), SQLITE_LIMIT_VDBE_OP, 25000);
  sqlite3_limit(local->handle(), SQLITE_LIMIT_SQL_LENGTH, 100000);
  auto name = [](int c) {
    return quoteIdent("a rather long name for column " + std::to_string(c) + " of a REAL");
  };
  std::string ddl = "CREATE TABLE w(id INTEGER PRIMARY KEY";
  std::string insert = "INSERT INTO w VALUES (?1";
  for (int c = 1; c < 100; ++c) {
    ddl += ", " + name(c) + " REAL";
    insert += ",?" + std::to_string(c + 1);
  }
  local->run(ddl + ")");
  const auto values = testDoubles(99 * 300, 99);
  std::vector<double> rows(300);
  bindAll(local->handle(), insert + ")", rows, [&](sqlite3_stmt* st, size_t i, double) {
    sqlite3_bind_int64(st, 1, static_cast<int64_t>(i));
    for (int c = 1; c < 100; ++c)
      sqlite3_bind_double(st, c + 1, values[(i * 99 + c) % values.size()]);
  });
  // Text holding NUL sends its row down the value-by-value path.
  local->run("UPDATE w SET " + name(50) + " = 'a'||char(0)||'b' WHERE id % 10 = 0");
  driver();
  sync();
  EXPECT_IDENTICAL(compareBits(local->handle(), d1->handle(), "SELECT * FROM w", 1), rows.size());
  local->run("UPDATE w SET " + name(7) + " = -" + name(7) + ", " + name(99) + " = 'x'||char(0)");
  sync();
  EXPECT_IDENTICAL(compareBits(local->handle(), d1->handle(), "SELECT * FROM w", 1), rows.size());
}

}  // namespace
}  // namespace d1sync::native
