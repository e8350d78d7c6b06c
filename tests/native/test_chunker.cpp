// The chunker and the literals it packs: exact values end to end (rendered by the local SQLite,
// parsed by the D1 simulator), the VDBE-op budget against the simulator (which caps the op
// array at 25,000 like D1), the 100 KB statement cap, values moved into parts, and deletes.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <map>
#include <set>

#include "chunker.hpp"
#include "fixtures.hpp"
#include "render.hpp"
#include "sql_text.hpp"

namespace d1sync::native {
namespace {

// ---------------------------------------------------------------------------------------------
// Helpers

// One value as SQLite holds it.
struct Cell {
  int type = SQLITE_NULL;
  int64_t i = 0;
  double d = 0;
  std::string bytes;  // TEXT or BLOB
};

std::string show(const Cell& c) {
  switch (c.type) {
    case SQLITE_INTEGER:
      return "integer " + std::to_string(c.i);
    case SQLITE_FLOAT: {
      char buf[64];
      std::snprintf(buf, sizeof buf, "real %.17g", c.d);
      return buf;
    }
    case SQLITE_TEXT:
    case SQLITE_BLOB: {
      std::string out = c.type == SQLITE_TEXT ? "text[" : "blob[";
      out += std::to_string(c.bytes.size()) + "] ";
      static const char kHex[] = "0123456789abcdef";
      for (size_t k = 0; k < c.bytes.size() && k < 24; ++k) {
        out += kHex[static_cast<unsigned char>(c.bytes[k]) >> 4];
        out += kHex[static_cast<unsigned char>(c.bytes[k]) & 15];
      }
      return out + (c.bytes.size() > 24 ? "..." : "");
    }
    default:
      return "null";
  }
}

bool same(const Cell& a, const Cell& b) {
  if (a.type != b.type) return false;
  switch (a.type) {
    case SQLITE_INTEGER:
      return a.i == b.i;
    case SQLITE_FLOAT:
      return a.d == b.d;  // REALs compare as doubles (-0.0 == 0.0)
    case SQLITE_TEXT:
    case SQLITE_BLOB:
      return a.bytes == b.bytes;
    default:
      return true;
  }
}

using Grid = std::vector<std::vector<Cell>>;

Grid readCells(sqlite3* db, const std::string& sql) {
  Grid out;
  sqlite3_stmt* st = nullptr;
  int rc = sqlite3_prepare_v2(db, sql.c_str(), static_cast<int>(sql.size()), &st, nullptr);
  EXPECT_EQ(rc, SQLITE_OK) << sqlite3_errmsg(db) << " in " << sql;
  if (rc != SQLITE_OK) return out;
  while (sqlite3_step(st) == SQLITE_ROW) {
    std::vector<Cell> row;
    for (int c = 0; c < sqlite3_column_count(st); ++c) {
      Cell cell;
      cell.type = sqlite3_column_type(st, c);
      if (cell.type == SQLITE_INTEGER) cell.i = sqlite3_column_int64(st, c);
      if (cell.type == SQLITE_FLOAT) cell.d = sqlite3_column_double(st, c);
      if (cell.type == SQLITE_TEXT || cell.type == SQLITE_BLOB) {
        const void* p = cell.type == SQLITE_TEXT
                            ? static_cast<const void*>(sqlite3_column_text(st, c))
                            : sqlite3_column_blob(st, c);
        int n = sqlite3_column_bytes(st, c);
        if (p) cell.bytes.assign(static_cast<const char*>(p), static_cast<size_t>(n));
      }
      row.push_back(std::move(cell));
    }
    out.push_back(std::move(row));
  }
  sqlite3_finalize(st);
  return out;
}

// Compares two grids cell by cell; `what` names the rows in messages.
void expectSameGrid(const Grid& local, const Grid& d1, const std::vector<std::string>& what = {}) {
  ASSERT_EQ(local.size(), d1.size());
  for (size_t r = 0; r < local.size(); ++r) {
    ASSERT_EQ(local[r].size(), d1[r].size());
    for (size_t c = 0; c < local[r].size(); ++c)
      EXPECT_TRUE(same(local[r][c], d1[r][c]))
          << (r < what.size() ? what[r] : "row " + std::to_string(r)) << ", column " << c
          << ": local " << show(local[r][c]) << ", D1 " << show(d1[r][c]);
  }
}

std::vector<const RowLiteral*> ptrs(const std::vector<RowLiteral>& rows) {
  std::vector<const RowLiteral*> out;
  for (const auto& r : rows) out.push_back(&r);
  return out;
}

// A shape "t"(id, c1..c{width-1}) keyed by id.
TargetShape wideShape(size_t width, const std::string& table = "t") {
  TargetShape s;
  s.table = table;
  s.columns.push_back("id");
  for (size_t j = 1; j < width; ++j) s.columns.push_back("c" + std::to_string(j));
  s.keyColumns = {"id"};
  return s;
}

std::string createFor(const TargetShape& s, const std::string& keyType = "INTEGER") {
  std::string sql = "CREATE TABLE " + quoteIdent(s.table) + "(";
  if (s.tenantColumn) sql += quoteIdent(*s.tenantColumn) + " NOT NULL, ";
  for (const auto& c : s.columns) {
    bool key = std::find(s.keyColumns.begin(), s.keyColumns.end(), c) != s.keyColumns.end();
    sql += quoteIdent(c) + (key ? " " + keyType + " NOT NULL" : "") + ", ";
  }
  sql += "PRIMARY KEY (";
  std::string pk;
  if (s.tenantColumn) pk = quoteIdent(*s.tenantColumn);
  for (const auto& k : s.keyColumns) pk += (pk.empty() ? "" : ", ") + quoteIdent(k);
  return sql + pk + "))";
}

// Rows of small literals of every kind, keyed 0..n-1.
std::vector<RowLiteral> smallRows(size_t n, size_t width, int64_t keyBase = 0) {
  static const char* const kSmall[] = {"1", "'x'", "NULL", "2.5", "X'00'", "-7", "''"};
  std::vector<RowLiteral> rows(n);
  for (size_t i = 0; i < n; ++i) {
    rows[i].key = std::to_string(keyBase + static_cast<int64_t>(i));
    rows[i].values.push_back(rows[i].key);
    for (size_t j = 1; j < width; ++j) rows[i].values.push_back(kSmall[(i + j) % 7]);
  }
  return rows;
}

// Largest row count (by bisection) whose statement SQLite still prepares under the 25,000 op
// cap, with no byte limit: what D1's VDBE cap alone allows for this form.
size_t simulatorMaxRows(const std::string& ddl,
                        const std::function<std::string(size_t)>& statementOf, size_t hi) {
  sqlite3* db = nullptr;
  sqlite3_open(":memory:", &db);
  sqlite3_limit(db, SQLITE_LIMIT_VDBE_OP, 25000);
  EXPECT_EQ(sqlite3_exec(db, ddl.c_str(), nullptr, nullptr, nullptr), SQLITE_OK) << ddl;
  auto prepares = [&](size_t n) {
    std::string sql = statementOf(n);
    sqlite3_stmt* st = nullptr;
    int rc = sqlite3_prepare_v2(db, sql.c_str(), static_cast<int>(sql.size()), &st, nullptr);
    sqlite3_finalize(st);
    return rc == SQLITE_OK;
  };
  size_t lo = 1;
  while (lo < hi) {
    size_t mid = (lo + hi + 1) / 2;
    if (prepares(mid))
      lo = mid;
    else
      hi = mid - 1;
  }
  sqlite3_close(db);
  return lo;
}

Limits unbounded() {
  Limits l;
  l.maxStatementBytes = 1u << 30;
  l.vdbeMargin = 1000;  // no row cap from the budget
  return l;
}

std::string upsertOf(const TargetShape& s, size_t n, size_t width) {
  Limits l = unbounded();
  Chunker c(l);
  auto rows = smallRows(n, width);
  auto st = c.upserts(s, ptrs(rows), n);
  EXPECT_EQ(st.size(), 1u);
  return st.empty() ? "" : st[0];
}

std::vector<std::string> compositeKeys(size_t n, size_t parts, int64_t base = 0) {
  std::vector<std::string> keys;
  for (size_t i = 0; i < n; ++i) {
    std::string k = std::to_string(base + static_cast<int64_t>(i));
    if (parts > 1) k += ",'k" + std::to_string(i % 3) + "'";
    if (parts > 2) k += "," + std::to_string(i % 5);
    keys.push_back(k);
  }
  return keys;
}

TargetShape deleteShape(size_t parts, bool tenant) {
  TargetShape s;
  s.table = "d";
  s.columns = {"k1", "k2", "k3", "v"};
  s.keyColumns = {"k1"};
  if (parts > 1) s.keyColumns.push_back("k2");
  if (parts > 2) s.keyColumns.push_back("k3");
  if (tenant) {
    s.tenantColumn = "room";
    s.tenantLiteral = "'r1'";
  }
  return s;
}

std::string deleteTableDdl(const TargetShape& s) {
  std::string pk = s.tenantColumn ? "room, " : "";
  for (size_t i = 0; i < s.keyColumns.size(); ++i) pk += (i ? ", " : "") + s.keyColumns[i];
  return std::string("CREATE TABLE d(") + (s.tenantColumn ? "room TEXT NOT NULL, " : "") +
         "k1 INTEGER NOT NULL, k2 TEXT NOT NULL DEFAULT 'k0', k3 INTEGER NOT NULL DEFAULT 0, v, "
         "PRIMARY KEY(" +
         pk + "))";
}

std::string deleteOf(const TargetShape& s, size_t n) {
  Limits l = unbounded();
  Chunker c(l);
  auto st = c.deletes(s, compositeKeys(n, s.keyColumns.size()), n);
  EXPECT_EQ(st.size(), 1u);
  return st.empty() ? "" : st[0];
}

struct Measured {
  size_t width;
  size_t rows;  // SPEC: measured maximum rows per upsert on local D1
};
const Measured kMeasured[] = {{2, 7159},  {3, 5369}, {5, 3579}, {10, 1951},
                              {20, 1021}, {50, 420}, {100, 211}};

int64_t countOf(D1Simulator& d1, const std::string& sql) {
  auto r = d1.query(sql);
  EXPECT_TRUE(r.ok) << r.error << " in " << sql;
  return r.ok && r.rows.size() ? std::stoll(r.rows.at(0, 0)) : -1;
}

// ---------------------------------------------------------------------------------------------
// (1) Exact literals

const char* const kValues[] = {
    "-9223372036854775808",
    "9223372036854775807",
    "9007199254740993",  // 2^53 + 1: no double holds it
    "-9007199254740993",
    "0",
    "-0.0",
    "0.0",
    "1e308",
    "-1e308",
    "1.7976931348623157e308",
    "5e-324",
    "-5e-324",
    "2.2250738585072014e-308",
    "2.225073858507201e-308",  // the largest subnormal
    "0.1",
    "0.1 + 0.2",
    "4.35",
    "1.0",
    "-1.5",
    "123456789.12345679",
    "1e15",
    "1e16",
    "1e22",
    "9e999",          // +Infinity
    "-9e999",         // -Infinity
    "9e999 - 9e999",  // NaN: SQLite stores NULL
    "'it''s'",
    "'a' || char(0) || 'b'",
    "char(0)",
    "'it''s' || char(0) || ''''",
    "'😀 emoji ünï'",
    "'😀' || char(0)",
    "''",
    "NULL",
    "'NULL'",
    "'9e999'",
    "'-- not a comment /* nor this'",
    "char(10) || char(13) || char(9)",
    "X''",
    "X'00ff10'",
    "X'27'",
    "randomblob(300)",
    "CAST('abc' AS BLOB)",
};

// Renders every value of kValues with literalExpr in a local table whose column has the given
// declared type, then inserts the literals in a D1 table of the same shape with `insert`, and
// compares both tables cell by cell.
void roundTrip(const std::string& type,
               const std::function<void(D1Simulator&, const std::vector<RowLiteral>&)>& insert) {
  SqliteLocal local(":memory:");
  local.run("CREATE TABLE v(id INTEGER PRIMARY KEY, c " + type + ")");
  std::vector<std::string> what;
  for (size_t i = 0; i < std::size(kValues); ++i) {
    local.run("INSERT INTO v VALUES (" + std::to_string(i) + ", " + kValues[i] + ")");
    what.push_back(std::string(kValues[i]) + " in a " + (type.empty() ? "typeless" : type) +
                   " column");
  }
  auto r = local.exec("SELECT id, " + literalExpr("\"c\"", 16000) + " FROM v ORDER BY id");
  ASSERT_TRUE(r.ok) << r.error;
  ASSERT_EQ(r.rows.size(), std::size(kValues));
  std::vector<RowLiteral> rows;
  for (size_t i = 0; i < r.rows.size(); ++i) {
    ASSERT_FALSE(r.rows.isNull(i, 1)) << what[i];
    RowLiteral row;
    row.key = r.rows.at(i, 0);
    row.values = {r.rows.at(i, 0), r.rows.at(i, 1)};
    rows.push_back(std::move(row));
  }
  D1Simulator d1;
  ASSERT_TRUE(d1.batch({"CREATE TABLE v(id INTEGER PRIMARY KEY, c " + type + ")"}).ok);
  insert(d1, rows);
  expectSameGrid(readCells(local.handle(), "SELECT id, c FROM v ORDER BY id"),
                 readCells(d1.handle(), "SELECT id, c FROM v ORDER BY id"), what);
}

TEST(Literal, EveryValueRoundTripsOneInsertPerValue) {
  for (const char* type : {"", "INTEGER", "REAL", "TEXT", "BLOB", "NUMERIC"}) {
    SCOPED_TRACE(type);
    roundTrip(type, [](D1Simulator& d1, const std::vector<RowLiteral>& rows) {
      for (const auto& row : rows) {
        auto r = d1.batch({"INSERT INTO v VALUES (" + row.values[0] + ", " + row.values[1] + ")"});
        EXPECT_TRUE(r.ok) << r.failure.message << " for literal " << row.values[1];
      }
    });
  }
}

TEST(Literal, EveryValueRoundTripsThroughMultiRowUpserts) {
  TargetShape s;
  s.table = "v";
  s.columns = {"id", "c"};
  s.keyColumns = {"id"};
  Limits limits;
  Chunker chunker(limits);
  roundTrip("", [&](D1Simulator& d1, const std::vector<RowLiteral>& rows) {
    auto stmts = chunker.upserts(s, ptrs(rows), chunker.maxUpsertRows(s));
    ASSERT_EQ(stmts.size(), 1u);
    auto r = d1.batch(stmts);
    ASSERT_TRUE(r.ok) << r.failure.message;
    // Upserting over existing rows keeps the values exact too.
    r = d1.batch(stmts);
    ASSERT_TRUE(r.ok) << r.failure.message;
  });
}

TEST(Literal, EveryValueRoundTripsThroughTenantUpserts) {
  TargetShape s;
  s.table = "v";
  s.columns = {"id", "c"};
  s.keyColumns = {"id"};
  s.tenantColumn = "room";
  s.tenantLiteral = "'r1'";
  Limits limits;
  Chunker chunker(limits);
  SqliteLocal local(":memory:");
  local.run("CREATE TABLE v(id INTEGER PRIMARY KEY, c)");
  for (size_t i = 0; i < std::size(kValues); ++i)
    local.run("INSERT INTO v VALUES (" + std::to_string(i) + ", " + kValues[i] + ")");
  auto r = local.exec("SELECT id, " + literalExpr("c", 16000) + " FROM v ORDER BY id");
  ASSERT_TRUE(r.ok) << r.error;
  std::vector<RowLiteral> rows;
  for (size_t i = 0; i < r.rows.size(); ++i) {
    RowLiteral row;
    row.key = r.rows.at(i, 0);
    row.values = {r.rows.at(i, 0), r.rows.at(i, 1)};
    rows.push_back(std::move(row));
  }
  D1Simulator d1;
  ASSERT_TRUE(d1.batch({"CREATE TABLE v(room TEXT NOT NULL, id INTEGER NOT NULL, c, "
                        "PRIMARY KEY(room, id))",
                        "INSERT INTO v VALUES ('r2', 0, 'other tenant')"})
                  .ok);
  auto stmts = chunker.upserts(s, ptrs(rows), 1000);
  auto b = d1.batch(stmts);
  ASSERT_TRUE(b.ok) << b.failure.message;
  std::vector<std::string> what(std::begin(kValues), std::end(kValues));
  expectSameGrid(readCells(local.handle(), "SELECT id, c FROM v ORDER BY id"),
                 readCells(d1.handle(), "SELECT id, c FROM v WHERE room = 'r1' ORDER BY id"), what);
  EXPECT_EQ(countOf(d1, "SELECT count(*) FROM v WHERE room = 'r2' AND c = 'other tenant'"), 1);
}

TEST(Literal, CompactTextLiteralKeepsHexForBytesAJsStringWouldMangle) {
  EXPECT_EQ(compactTextLiteral("CAST(X'C3A9272063' AS TEXT)"), "'é'' c'");
  EXPECT_EQ(compactTextLiteral("CAST(X'41FF42' AS TEXT)"), "CAST(X'41FF42' AS TEXT)");
  EXPECT_EQ(compactTextLiteral("CAST(X'610062' AS TEXT)"), "CAST(X'610062' AS TEXT)");  // NUL
  EXPECT_EQ(compactTextLiteral("CAST(X'EDA080' AS TEXT)"), "CAST(X'EDA080' AS TEXT)");  // surrogate
  EXPECT_EQ(compactTextLiteral("CAST(X'C0AF' AS TEXT)"), "CAST(X'C0AF' AS TEXT)");      // overlong
  EXPECT_EQ(compactTextLiteral("CAST(X'F09F98' AS TEXT)"), "CAST(X'F09F98' AS TEXT)");  // truncated
  EXPECT_EQ(compactTextLiteral("X'C3A9'"), "X'C3A9'");
  EXPECT_EQ(compactTextLiteral("'plain'"), "'plain'");
}

TEST(Literal, LiteralFormsAreTheDocumentedOnes) {
  SqliteLocal local(":memory:");
  auto lit = [&](const std::string& expr) {
    auto r = local.exec("SELECT " + literalExpr("(" + expr + ")", 16000));
    EXPECT_TRUE(r.ok) << r.error;
    return r.ok ? r.rows.at(0, 0) : std::string();
  };
  EXPECT_EQ(lit("-9223372036854775808"), "-9223372036854775808");
  EXPECT_EQ(lit("9223372036854775807"), "9223372036854775807");
  EXPECT_EQ(lit("9e999"), "9e999");
  EXPECT_EQ(lit("-9e999"), "-9e999");
  EXPECT_EQ(lit("NULL"), "NULL");
  EXPECT_EQ(lit("''"), "''");
  EXPECT_EQ(lit("'it''s'"), "'it''s'");
  EXPECT_EQ(lit("'a'||char(0)||'b'"), "CAST(X'610062' AS TEXT)");
  EXPECT_EQ(lit("X''"), "X''");
  EXPECT_EQ(lit("X'00ff'"), "X'00FF'");
  // Text length is counted in bytes, not characters.
  auto r = local.exec("SELECT " + literalExpr("'😀'", 4) + ", " + literalExpr("'😀a'", 4) + ", " +
                      literalExpr("X'0102030405'", 4) + ", " + literalExpr("X'01020304'", 4));
  ASSERT_TRUE(r.ok) << r.error;
  // Non-ASCII text leaves SQLite as hex (a JS string would mangle invalid UTF-8) and is made
  // a quoted literal again in C++ when its bytes are valid UTF-8.
  EXPECT_EQ(r.rows.at(0, 0), "CAST(X'F09F9880' AS TEXT)");
  EXPECT_EQ(compactTextLiteral(r.rows.at(0, 0)), "'😀'");
  EXPECT_EQ(r.rows.at(0, 1), "~t5");
  EXPECT_EQ(r.rows.at(0, 2), "~b5");
  EXPECT_EQ(r.rows.at(0, 3), "X'01020304'");
  auto t = parseBigMarker("~t5");
  ASSERT_TRUE(t.has_value());
  EXPECT_TRUE(t->text);
  EXPECT_EQ(t->bytes, 5u);
  auto b = parseBigMarker("~b1900000");
  ASSERT_TRUE(b.has_value());
  EXPECT_FALSE(b->text);
  EXPECT_EQ(b->bytes, 1900000u);
  EXPECT_FALSE(parseBigMarker("'~t5'").has_value());
  EXPECT_FALSE(parseBigMarker("~x5").has_value());
}

TEST(Literal, PayloadBytesCountWhatIsStored) {
  EXPECT_EQ(literalPayloadBytes("'abc'"), 3u);
  EXPECT_EQ(literalPayloadBytes("''"), 0u);
  EXPECT_EQ(literalPayloadBytes("X'00ff'"), 2u);
  EXPECT_EQ(literalPayloadBytes("CAST(X'610062' AS TEXT)"), 3u);
  EXPECT_EQ(literalPayloadBytes("NULL"), 0u);
  EXPECT_EQ(literalPayloadBytes("-9223372036854775808"), 8u);
  EXPECT_EQ(literalPayloadBytes("1.0e+308"), 8u);
  // 'it''s' stores four bytes: a doubled quote is one byte.
  EXPECT_EQ(literalPayloadBytes("'it''s'"), 4u);
}

TEST(Literal, SplitKeyLiteral) {
  EXPECT_EQ(splitKeyLiteral("1"), (std::vector<std::string>{"1"}));
  EXPECT_EQ(splitKeyLiteral("1,'a,b'"), (std::vector<std::string>{"1", "'a,b'"}));
  EXPECT_EQ(splitKeyLiteral("'it''s, x',-9223372036854775808,CAST(X'2C00' AS TEXT),1.0e+308"),
            (std::vector<std::string>{"'it''s, x'", "-9223372036854775808", "CAST(X'2C00' AS TEXT)",
                                      "1.0e+308"}));
  EXPECT_EQ(splitKeyLiteral("'',''"), (std::vector<std::string>{"''", "''"}));
}

// ---------------------------------------------------------------------------------------------
// (2) The VDBE budget

TEST(Chunker, MaxUpsertRowsIsWithinTheMeasuredMaxima) {
  Limits limits;
  Chunker chunker(limits);
  for (const auto& m : kMeasured) {
    size_t n = chunker.maxUpsertRows(wideShape(m.width));
    EXPECT_LE(n, m.rows) << m.width << " columns";
    EXPECT_GE(n, m.rows * 8 / 10) << m.width << " columns";
  }
}

TEST(Chunker, UpsertsOfMaxRowsAreAcceptedAtEveryWidth) {
  Limits limits;
  Chunker chunker(limits);
  for (const auto& m : kMeasured) {
    SCOPED_TRACE(std::to_string(m.width) + " columns");
    TargetShape s = wideShape(m.width);
    size_t n = chunker.maxUpsertRows(s);
    auto rows = smallRows(n, m.width);
    auto stmts = chunker.upserts(s, ptrs(rows), std::numeric_limits<size_t>::max());
    ASSERT_EQ(stmts.size(), 1u);  // small values: the row cap, not the byte cap, decides
    EXPECT_LE(stmts[0].size(), limits.maxStatementBytes);
    D1Simulator d1;
    ASSERT_TRUE(d1.batch({createFor(s)}).ok);
    auto r = d1.batch(stmts);
    ASSERT_TRUE(r.ok) << r.failure.message;
    EXPECT_EQ(countOf(d1, "SELECT count(*) FROM t"), static_cast<int64_t>(n));
    // The same statement over existing rows takes the DO UPDATE path.
    r = d1.batch(stmts);
    ASSERT_TRUE(r.ok) << r.failure.message;
    // One more row than the cap goes to a second statement.
    auto more = smallRows(n + 1, m.width);
    EXPECT_EQ(chunker.upserts(s, ptrs(more), std::numeric_limits<size_t>::max()).size(), 2u);
  }
}

TEST(Chunker, SimulatorEnforcesTheVdbeCapLikeD1) {
  // Sanity of the yardstick: the simulator's 25,000-op cap gives D1's measured maxima (within a
  // few rows: 3.40 and D1's 3.47 differ slightly), and refuses more.
  for (const auto& m : kMeasured) {
    TargetShape s = wideShape(m.width);
    size_t sim = simulatorMaxRows(
        createFor(s), [&](size_t n) { return upsertOf(s, n, m.width); }, m.rows * 2);
    EXPECT_GE(sim + 10, m.rows) << m.width << " columns";
    EXPECT_LE(sim, m.rows + 10) << m.width << " columns";
    D1Simulator d1;
    ASSERT_TRUE(d1.batch({createFor(s)}).ok);
    auto r = d1.batch({upsertOf(s, std::min(sim + 50, sim * 11 / 10), m.width)});
    EXPECT_FALSE(r.ok) << m.width << " columns";
  }
}

TEST(Chunker, TenantUpsertsOfMaxRowsAreAccepted) {
  Limits limits;
  Chunker chunker(limits);
  for (size_t width : {2, 3, 5, 10, 20, 50, 99}) {  // 100 + the tenant would be 101 columns
    SCOPED_TRACE(std::to_string(width) + " columns + tenant");
    TargetShape s = wideShape(width);
    s.tenantColumn = "room";
    s.tenantLiteral = "'r1'";
    size_t n = chunker.maxUpsertRows(s);
    auto rows = smallRows(n, width);
    auto stmts = chunker.upserts(s, ptrs(rows), std::numeric_limits<size_t>::max());
    ASSERT_EQ(stmts.size(), 1u);
    D1Simulator d1;
    ASSERT_TRUE(d1.batch({createFor(s)}).ok);
    auto r = d1.batch(stmts);
    ASSERT_TRUE(r.ok) << r.failure.message;
    EXPECT_EQ(countOf(d1, "SELECT count(*) FROM t WHERE room = 'r1'"), static_cast<int64_t>(n));
    r = d1.batch(stmts);
    ASSERT_TRUE(r.ok) << r.failure.message;
  }
}

TEST(Chunker, TenantUpsertRowsAreNearWhatTheCapAllows) {
  // The tenant form lists the tenant once, in the SELECT, not in every VALUES row: it fits
  // about as many rows as the plain form. Not below 80% of what the simulator prepares.
  Limits limits;
  Chunker chunker(limits);
  for (size_t width : {2, 3, 5, 10, 20, 50, 99}) {
    TargetShape s = wideShape(width);
    s.tenantColumn = "room";
    s.tenantLiteral = "'r1'";
    size_t sim = simulatorMaxRows(
        createFor(s), [&](size_t n) { return upsertOf(s, n, width); },
        21504 / (width + 1) * 3 / 2 + 50);
    size_t n = chunker.maxUpsertRows(s);
    EXPECT_LE(n, sim) << width << " columns + tenant";
    EXPECT_GE(n, sim * 8 / 10) << width << " columns + tenant: engine " << n << ", simulator "
                               << sim;
  }
}

TEST(Chunker, DeletesOfMaxRowsAreAccepted) {
  Limits limits;
  Chunker chunker(limits);
  for (bool tenant : {false, true}) {
    for (size_t parts : {1, 2, 3}) {
      SCOPED_TRACE(std::to_string(parts) + "-column key" + (tenant ? " + tenant" : ""));
      TargetShape s = deleteShape(parts, tenant);
      size_t n = chunker.maxDeleteRows(s);
      auto keys = compositeKeys(n, parts);
      auto stmts = chunker.deletes(s, keys, std::numeric_limits<size_t>::max());
      ASSERT_EQ(stmts.size(), 1u);
      EXPECT_LE(stmts[0].size(), limits.maxStatementBytes);
      D1Simulator d1;
      ASSERT_TRUE(d1.batch({deleteTableDdl(s)}).ok);
      // Rows for every key, plus rows that must survive (other keys, other tenant).
      std::string cols = std::string(tenant ? "room, " : "") + "k1" + (parts > 1 ? ", k2" : "") +
                         (parts > 2 ? ", k3" : "");
      std::vector<std::string> fill;
      std::string ins;
      for (const auto& k : compositeKeys(n + 10, parts)) {
        ins += std::string(ins.empty() ? "" : ",") + "(" + (tenant ? "'r1'," : "") + k + ")";
        if (ins.size() > 60000) {
          fill.push_back("INSERT INTO d(" + cols + ") VALUES " + ins);
          ins.clear();
        }
      }
      if (!ins.empty()) fill.push_back("INSERT INTO d(" + cols + ") VALUES " + ins);
      if (tenant)
        fill.push_back("INSERT INTO d(" + cols + ") SELECT 'r2'," + cols.substr(6) +
                       " FROM d WHERE room = 'r1'");
      auto f = d1.batch(fill);
      ASSERT_TRUE(f.ok) << f.failure.message;
      auto r = d1.batch(stmts);
      EXPECT_TRUE(r.ok) << r.failure.message << " (" << n << " keys in one statement)";
      if (!r.ok) continue;  // report every key width, not just the first that fails
      EXPECT_EQ(countOf(d1, "SELECT count(*) FROM d WHERE " +
                                std::string(tenant ? "room = 'r1'" : "true")),
                10);
      if (tenant)
        EXPECT_EQ(countOf(d1, "SELECT count(*) FROM d WHERE room = 'r2'"),
                  static_cast<int64_t>(n + 10));
    }
  }
}

TEST(Chunker, DeleteRowsAreNearWhatTheCapAllows) {
  Limits limits;
  Chunker chunker(limits);
  for (bool tenant : {false, true}) {
    for (size_t parts : {1, 2, 3}) {
      TargetShape s = deleteShape(parts, tenant);
      size_t sim = simulatorMaxRows(
          deleteTableDdl(s), [&](size_t n) { return deleteOf(s, n); }, 30000);
      size_t n = chunker.maxDeleteRows(s);
      std::string what = std::to_string(parts) + "-column key" + (tenant ? " + tenant" : "") +
                         ": engine " + std::to_string(n) + ", simulator " + std::to_string(sim);
      EXPECT_LE(n, sim) << what;
      EXPECT_GE(n, sim * 8 / 10) << what;
    }
  }
}

TEST(Chunker, MaxRowsArgumentCapsStatements) {
  Limits limits;
  Chunker chunker(limits);
  TargetShape s = wideShape(3);
  auto rows = smallRows(95, 3);
  auto stmts = chunker.upserts(s, ptrs(rows), 10);
  ASSERT_EQ(stmts.size(), 10u);
  D1Simulator d1;
  ASSERT_TRUE(d1.batch({createFor(s)}).ok);
  ASSERT_TRUE(d1.batch(stmts).ok);
  EXPECT_EQ(countOf(d1, "SELECT count(*) FROM t"), 95);
  auto dels = chunker.deletes(s, compositeKeys(95, 1), 30);
  EXPECT_EQ(dels.size(), 4u);
  ASSERT_TRUE(d1.batch(dels).ok);
  EXPECT_EQ(countOf(d1, "SELECT count(*) FROM t"), 0);
  EXPECT_TRUE(chunker.upserts(s, std::vector<const RowLiteral*>{}, 10).empty());
  EXPECT_TRUE(chunker.upserts(s, std::vector<std::string_view>{}, 10).empty());
  EXPECT_TRUE(chunker.deletes(s, std::vector<std::string>{}, 10).empty());
}

// An INTEGER PRIMARY KEY is not set again on conflict (equal keys are equal bytes there); a
// table of key columns alone upserts with DO NOTHING. Both still update and insert rows.
TEST(Chunker, AnIntegerPrimaryKeyIsNotSetAgainOnConflict) {
  Limits limits;
  Chunker chunker(limits);
  TargetShape s{"t", {"id", "v"}, {"id"}, std::nullopt, ""};
  s.setKey = false;
  std::vector<std::string_view> first{"(1,'a')", "(2,'b')"}, second{"(2,'B')", "(3,'c')"};
  auto stmts = chunker.upserts(s, second, 10);
  ASSERT_EQ(stmts.size(), 1u);
  EXPECT_EQ(stmts[0].find("\"id\"=excluded"), std::string::npos) << stmts[0];
  EXPECT_NE(stmts[0].find("\"v\"=excluded.\"v\""), std::string::npos) << stmts[0];
  D1Simulator d1;
  ASSERT_TRUE(d1.batch({"CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)"}).ok);
  ASSERT_TRUE(d1.batch(chunker.upserts(s, first, 10)).ok);
  ASSERT_TRUE(d1.batch(stmts).ok);
  EXPECT_EQ(d1.query("SELECT group_concat(id || v) FROM t").rows.at(0, 0), "1a,2B,3c");

  TargetShape keys{"k", {"id"}, {"id"}, std::nullopt, ""};
  keys.setKey = false;
  std::vector<std::string_view> ids{"(1)", "(2)"};
  auto only = chunker.upserts(keys, ids, 10);
  ASSERT_EQ(only.size(), 1u);
  EXPECT_NE(only[0].find("DO NOTHING"), std::string::npos) << only[0];
  ASSERT_TRUE(d1.batch({"CREATE TABLE k(id INTEGER PRIMARY KEY)"}).ok);
  ASSERT_TRUE(d1.batch(only).ok);
  ASSERT_TRUE(d1.batch(only).ok);
  EXPECT_EQ(countOf(d1, "SELECT count(*) FROM k"), 2);
}

// ---------------------------------------------------------------------------------------------
// (3) The 100 KB statement cap

TEST(Chunker, StatementsStayUnderTheByteCapAndCarryEveryRowOnce) {
  SqliteLocal local(":memory:");
  local.run("CREATE TABLE big(id INTEGER PRIMARY KEY, a TEXT, b INTEGER)");
  const int n = 400;
  for (int i = 0; i < n; ++i) {
    // ~3 KB, with quotes (doubled in the literal) and multi-byte characters.
    local.run("INSERT INTO big VALUES (" + std::to_string(i) + ", substr(replace(hex(zeroblob(" +
              std::to_string(1400 + i) + ")), '00', 'it''s ü '), 1, " + std::to_string(3000 + i) +
              "), " + std::to_string(i * 7) + ")");
  }
  auto r = local.exec("SELECT id, " + literalExpr("a", 16000) + ", " + literalExpr("b", 16000) +
                      " FROM big ORDER BY id");
  ASSERT_TRUE(r.ok) << r.error;
  std::vector<RowLiteral> rows;
  for (size_t i = 0; i < r.rows.size(); ++i)
    rows.push_back(
        RowLiteral{r.rows.at(i, 0), "", {r.rows.at(i, 0), r.rows.at(i, 1), r.rows.at(i, 2)}});
  TargetShape s;
  s.table = "big";
  s.columns = {"id", "a", "b"};
  s.keyColumns = {"id"};
  Limits limits;
  Chunker chunker(limits);
  auto stmts = chunker.upserts(s, ptrs(rows), chunker.maxUpsertRows(s));
  ASSERT_GT(stmts.size(), 5u);
  for (size_t i = 0; i < stmts.size(); ++i) {
    EXPECT_LE(stmts[i].size(), limits.maxStatementBytes) << "statement " << i;
    // Packed: no statement but the last could have taken one more row.
    if (i + 1 < stmts.size())
      EXPECT_GT(stmts[i].size() + rows[0].tupleBytes() * 2, limits.maxStatementBytes)
          << "statement " << i;
  }
  D1Simulator d1;
  ASSERT_TRUE(d1.batch({"CREATE TABLE big(id INTEGER PRIMARY KEY, a TEXT, b INTEGER)",
                        "CREATE TABLE hits(id)",
                        "CREATE TRIGGER hi AFTER INSERT ON big BEGIN INSERT INTO hits VALUES "
                        "(NEW.id); END",
                        "CREATE TRIGGER hu AFTER UPDATE ON big BEGIN INSERT INTO hits VALUES "
                        "(NEW.id); END"})
                  .ok);
  auto b = d1.batch(stmts);
  ASSERT_TRUE(b.ok) << b.failure.message;
  EXPECT_EQ(countOf(d1, "SELECT count(*) FROM hits"), n);
  EXPECT_EQ(countOf(d1, "SELECT count(DISTINCT id) FROM hits"), n);
  expectSameGrid(readCells(local.handle(), "SELECT * FROM big ORDER BY id"),
                 readCells(d1.handle(), "SELECT * FROM big ORDER BY id"));
}

TEST(Chunker, DeletesStayUnderTheByteCap) {
  Limits limits;
  Chunker chunker(limits);
  TargetShape s;
  s.table = "tk";
  s.columns = {"k", "v"};
  s.keyColumns = {"k"};
  std::vector<std::string> keys;
  for (int i = 0; i < 300; ++i)
    keys.push_back(quoteText(std::to_string(i) + std::string(900, 'k')));
  auto stmts = chunker.deletes(s, keys, chunker.maxDeleteRows(s));
  ASSERT_GT(stmts.size(), 2u);
  size_t total = 0;
  for (const auto& st : stmts) {
    EXPECT_LE(st.size(), limits.maxStatementBytes);
    total += std::count(st.begin(), st.end(), ',') + 1;
  }
  EXPECT_EQ(total, keys.size());
  D1Simulator d1;
  std::vector<std::string> fill{"CREATE TABLE tk(k TEXT PRIMARY KEY, v)"};
  for (const auto& k : keys) fill.push_back("INSERT INTO tk VALUES (" + k + ", 1)");
  fill.push_back("INSERT INTO tk VALUES ('survivor', 1)");
  ASSERT_TRUE(d1.batch(fill).ok);
  auto r = d1.batch(stmts);
  ASSERT_TRUE(r.ok) << r.failure.message;
  EXPECT_EQ(countOf(d1, "SELECT count(*) FROM tk"), 1);
}

// ---------------------------------------------------------------------------------------------
// (4) Values in parts

// Renders row `id` of `table` (every column, key first) as the engine does, with a large inline
// limit so even big values arrive as literals.
RowLiteral renderRow(SqliteLocal& local, const std::string& table,
                     const std::vector<std::string>& cols, const std::string& keyCol,
                     const std::string& keyLiteral) {
  std::string sel;
  for (const auto& c : cols) sel += (sel.empty() ? "" : ", ") + literalExpr(quoteIdent(c), 4000000);
  auto r = local.exec("SELECT " + sel + " FROM " + quoteIdent(table) + " WHERE " +
                      quoteIdent(keyCol) + " = " + keyLiteral);
  EXPECT_TRUE(r.ok) << r.error;
  RowLiteral row;
  row.key = keyLiteral;
  if (!r.ok || r.rows.size() != 1) return row;
  for (size_t c = 0; c < cols.size(); ++c) row.values.push_back(r.rows.at(0, c));
  return row;
}

// Applies the statements in one batch each of at most ~1 MB, as the engine would split them.
void applyAll(D1Simulator& d1, const std::vector<std::string>& stmts) {
  std::vector<std::string> batch;
  size_t bytes = 0;
  for (const auto& s : stmts) {
    batch.push_back(s);
    bytes += s.size();
    if (bytes > 1000000) {
      auto r = d1.batch(batch);
      ASSERT_TRUE(r.ok) << r.failure.message;
      batch.clear();
      bytes = 0;
    }
  }
  if (!batch.empty()) {
    auto r = d1.batch(batch);
    ASSERT_TRUE(r.ok) << r.failure.message;
  }
}

TEST(Chunker, FitRowMovesValuesIntoPartsUntilTheRowFits) {
  SqliteLocal local(":memory:");
  std::string ddl = "CREATE TABLE w(id INTEGER PRIMARY KEY";
  std::vector<std::string> cols{"id"};
  for (int j = 1; j < 100; ++j) {
    cols.push_back("c" + std::to_string(j));
    ddl += ", c" + std::to_string(j);
  }
  local.run(ddl + ")");
  std::string ins = "INSERT INTO w VALUES (1";
  for (int j = 1; j < 100; ++j) {
    // 15 KB each, in every literal form: plain text, text with quotes, text holding NUL bytes,
    // multi-byte text, blobs.
    switch (j % 5) {
      case 0:
        ins += ", substr(replace(hex(zeroblob(7500)), '0', 'a'), 1, 15000)";
        break;
      case 1:
        ins += ", substr(replace(hex(zeroblob(7500)), '00', 'x'''), 1, 15000)";
        break;
      case 2:
        ins += ", 'n' || CAST(zeroblob(14998) AS TEXT) || 'z'";
        break;
      case 3:
        ins += ", 'q' || replace(hex(zeroblob(3749)), '00', '😀')";
        break;
      default:
        ins += ", randomblob(15000)";
        break;
    }
  }
  local.run(ins + ")");
  RowLiteral row = renderRow(local, "w", cols, "id", "1");
  ASSERT_EQ(row.values.size(), 100u);
  TargetShape s;
  s.table = "w";
  s.columns = cols;
  s.keyColumns = {"id"};
  Limits limits;
  Chunker chunker(limits);
  const size_t before = row.tupleBytes();
  ASSERT_GT(before, 1500000u);
  chunker.fitRow(s, row);
  EXPECT_FALSE(row.parts.empty());
  EXPECT_LT(row.parts.size(), 99u);  // only as many as needed
  EXPECT_EQ(row.values[0], "1");     // the key stays put
  std::set<size_t> moved;
  for (const auto& p : row.parts) {
    EXPECT_TRUE(moved.insert(p.column).second) << "column moved twice: " << p.column;
    EXPECT_EQ(row.values[p.column], p.text ? "''" : "X''");
    EXPECT_EQ(p.text, p.column % 5 != 4) << "column " << p.column;
  }
  auto stmts = chunker.upsertWithParts(s, row);
  ASSERT_GT(stmts.size(), row.parts.size());
  for (size_t i = 0; i < stmts.size(); ++i)
    EXPECT_LE(stmts[i].size(), limits.maxStatementBytes) << "statement " << i;
  D1Simulator d1;
  ASSERT_TRUE(d1.batch({ddl + ")"}).ok);
  applyAll(d1, stmts);
  expectSameGrid(readCells(local.handle(), "SELECT * FROM w"),
                 readCells(d1.handle(), "SELECT * FROM w"));
}

TEST(Chunker, A1900KbBlobAndTextArriveExactlyInParts) {
  SqliteLocal local(":memory:");
  local.run("CREATE TABLE big(id INTEGER PRIMARY KEY, b BLOB, t TEXT, small TEXT)");
  local.run("INSERT INTO big VALUES (1, randomblob(1900000), NULL, 'it''s small')");
  // 'a' then 4-byte characters: 40,000-byte pieces end in the middle of a character.
  local.run(
      "INSERT INTO big VALUES (2, X'', 'a' || replace(hex(zeroblob(474999)), '00', '😀') || "
      "char(0) || 'end', '')");
  const std::vector<std::string> cols{"id", "b", "t", "small"};
  TargetShape s;
  s.table = "big";
  s.columns = cols;
  s.keyColumns = {"id"};
  Limits limits;
  Chunker chunker(limits);
  D1Simulator d1;
  ASSERT_TRUE(
      d1.batch({"CREATE TABLE big(id INTEGER PRIMARY KEY, b BLOB, t TEXT, small TEXT)"}).ok);
  for (const char* key : {"1", "2"}) {
    SCOPED_TRACE(std::string("row ") + key);
    RowLiteral row = renderRow(local, "big", cols, "id", key);
    ASSERT_EQ(row.values.size(), 4u);
    chunker.fitRow(s, row);
    ASSERT_EQ(row.parts.size(), 1u);
    EXPECT_EQ(row.parts[0].column, key[0] == '1' ? 1u : 2u);
    EXPECT_EQ(row.parts[0].hex.size(), 2 * (key[0] == '1' ? 1900000u : 1900001u));
    auto stmts = chunker.upsertWithParts(s, row);
    EXPECT_GE(stmts.size(), 1 + 1900000 / limits.partBytes);
    for (size_t i = 0; i < stmts.size(); ++i)
      EXPECT_LE(stmts[i].size(), limits.maxStatementBytes) << "statement " << i;
    applyAll(d1, stmts);
  }
  expectSameGrid(
      readCells(local.handle(),
                "SELECT id, typeof(b), b, typeof(t), t, small FROM big ORDER BY id"),
      readCells(d1.handle(), "SELECT id, typeof(b), b, typeof(t), t, small FROM big ORDER BY id"));
}

TEST(Chunker, PartsAsTheEngineBuildsThemForBigMarkers) {
  // The engine inserts '' / X'' for a value over the inline limit and appends its hex.
  SqliteLocal local(":memory:");
  local.run(
      "CREATE TABLE p(k TEXT NOT NULL PRIMARY KEY, v, w) WITHOUT ROWID;"
      "INSERT INTO p VALUES ('it''s a key', zeroblob(250000), 'x' || char(0) || 'y')");
  TargetShape s;
  s.table = "p";
  s.columns = {"k", "v", "w"};
  s.keyColumns = {"k"};
  s.tenantColumn = "room";
  s.tenantLiteral = "42";
  auto r = local.exec("SELECT " + literalExpr("k", 16000) + ", " + literalExpr("v", 16000) + ", " +
                      literalExpr("w", 16000) + ", hex(v) FROM p");
  ASSERT_TRUE(r.ok) << r.error;
  ASSERT_EQ(r.rows.at(0, 1), "~b250000");
  RowLiteral row;
  row.key = r.rows.at(0, 0);
  row.values = {r.rows.at(0, 0), "X''", r.rows.at(0, 2)};
  row.parts.push_back(ValuePart{1, false, r.rows.at(0, 3)});
  Limits limits;
  Chunker chunker(limits);
  chunker.fitRow(s, row);
  EXPECT_EQ(row.parts.size(), 1u);
  auto stmts = chunker.upsertWithParts(s, row);
  EXPECT_EQ(stmts.size(), 1 + (250000 * 2 + limits.partBytes * 2 - 1) / (limits.partBytes * 2));
  D1Simulator d1;
  ASSERT_TRUE(d1.batch({"CREATE TABLE p(room INTEGER NOT NULL, k TEXT NOT NULL, v, w, "
                        "PRIMARY KEY(room, k)) WITHOUT ROWID",
                        "INSERT INTO p VALUES (7, 'it''s a key', 'other tenant', NULL)"})
                  .ok);
  for (const auto& st : stmts) EXPECT_LE(st.size(), limits.maxStatementBytes);
  auto b = d1.batch(stmts);
  ASSERT_TRUE(b.ok) << b.failure.message;
  expectSameGrid(readCells(local.handle(), "SELECT k, typeof(v), v, w FROM p"),
                 readCells(d1.handle(), "SELECT k, typeof(v), v, w FROM p WHERE room = 42"));
  EXPECT_EQ(countOf(d1, "SELECT count(*) FROM p WHERE room = 7 AND v = 'other tenant'"), 1);
}

TEST(Chunker, FitRowNeverMovesAKeyColumn) {
  // A 15 KB text key (inline: under the 16,000-byte limit) is the largest value of a row that
  // needs parts. Moving it would insert the row under the key '' and append the parts to a
  // row that does not exist.
  SqliteLocal local(":memory:");
  std::string ddl = "CREATE TABLE kt(k TEXT NOT NULL PRIMARY KEY";
  std::vector<std::string> cols{"k"};
  std::string ins =
      "INSERT INTO kt VALUES (substr(replace(hex(zeroblob(7600)), '0', 'k'), 1, 15000)";
  for (int j = 1; j < 100; ++j) {
    cols.push_back("c" + std::to_string(j));
    ddl += ", c" + std::to_string(j);
    ins += ", substr(hex(zeroblob(500)), 1, 900)";
  }
  local.run(ddl + ") WITHOUT ROWID");
  local.run(ins + ")");
  auto key = local.exec("SELECT " + literalExpr("k", 16000) + " FROM kt");
  ASSERT_TRUE(key.ok) << key.error;
  RowLiteral row = renderRow(local, "kt", cols, "k", key.rows.at(0, 0));
  ASSERT_EQ(row.values.size(), 100u);
  TargetShape s;
  s.table = "kt";
  s.columns = cols;
  s.keyColumns = {"k"};
  Limits limits;
  Chunker chunker(limits);
  chunker.fitRow(s, row);
  for (const auto& p : row.parts) EXPECT_NE(p.column, 0u) << "the key column was moved";
  auto stmts = chunker.upsertWithParts(s, row);
  for (const auto& st : stmts) EXPECT_LE(st.size(), limits.maxStatementBytes);
  D1Simulator d1;
  ASSERT_TRUE(d1.batch({ddl + ") WITHOUT ROWID"}).ok);
  auto b = d1.batch(stmts);
  ASSERT_TRUE(b.ok) << b.failure.message;
  expectSameGrid(readCells(local.handle(), "SELECT * FROM kt"),
                 readCells(d1.handle(), "SELECT * FROM kt"));
}

TEST(Chunker, PartUpdatesLeaveRoomForALongKey) {
  // Part UPDATEs repeat the key in their WHERE: a key literal of ~30 KB (15,000 quotes,
  // each doubled) must shrink the piece, not push the statement over 100 KB.
  SqliteLocal local(":memory:");
  local.run(
      "CREATE TABLE lk(k TEXT NOT NULL PRIMARY KEY, v BLOB) WITHOUT ROWID;"
      "INSERT INTO lk VALUES (replace(hex(zeroblob(7500)), '0', ''''), randomblob(200000))");
  auto key = local.exec("SELECT " + literalExpr("k", 16000) + " FROM lk");
  ASSERT_TRUE(key.ok) << key.error;
  ASSERT_GT(key.rows.at(0, 0).size(), 30000u);
  RowLiteral row = renderRow(local, "lk", {"k", "v"}, "k", key.rows.at(0, 0));
  TargetShape s;
  s.table = "lk";
  s.columns = {"k", "v"};
  s.keyColumns = {"k"};
  Limits limits;
  Chunker chunker(limits);
  chunker.fitRow(s, row);
  ASSERT_EQ(row.parts.size(), 1u);
  EXPECT_EQ(row.parts[0].column, 1u);
  auto stmts = chunker.upsertWithParts(s, row);
  for (size_t i = 0; i < stmts.size(); ++i)
    EXPECT_LE(stmts[i].size(), limits.maxStatementBytes) << "statement " << i;
  D1Simulator d1;
  ASSERT_TRUE(d1.batch({"CREATE TABLE lk(k TEXT NOT NULL PRIMARY KEY, v BLOB) WITHOUT ROWID"}).ok);
  auto b = d1.batch(stmts);
  ASSERT_TRUE(b.ok) << b.failure.message;
  expectSameGrid(readCells(local.handle(), "SELECT * FROM lk"),
                 readCells(d1.handle(), "SELECT * FROM lk"));
}

TEST(Chunker, FitRowLeavesARowThatAlreadyFitsAlone) {
  Limits limits;
  Chunker chunker(limits);
  TargetShape s = wideShape(3);
  RowLiteral row{"1", "", {"1", "'" + std::string(50000, 'a') + "'", "X'00'"}};
  chunker.fitRow(s, row);
  EXPECT_TRUE(row.parts.empty());
  EXPECT_EQ(row.values[1].size(), 50002u);
  // Nothing movable: fitRow gives up without looping.
  RowLiteral ints{"1", "", {"1", "2", "3"}};
  Limits tiny;
  tiny.maxStatementBytes = 10;
  Chunker small(tiny);
  small.fitRow(s, ints);
  EXPECT_TRUE(ints.parts.empty());
}

// ---------------------------------------------------------------------------------------------
// (5) literalToHex

TEST(Chunker, LiteralToHex) {
  EXPECT_EQ(literalToHex("'it''s'"), "69742773");
  EXPECT_EQ(literalToHex("X'00ff'"), "00ff");
  EXPECT_EQ(literalToHex("CAST(X'6100' AS TEXT)"), "6100");
  EXPECT_EQ(literalToHex("''"), "");
  EXPECT_EQ(literalToHex("X''"), "");
  EXPECT_EQ(literalToHex("''''"), "27");
  EXPECT_EQ(literalToHex("'😀'"), "F09F9880");
  // What SQLite says the bytes are.
  SqliteLocal local(":memory:");
  auto r = local.exec("SELECT hex('it''s'), hex('😀'), hex(''''||'a''')");
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(literalToHex("'it''s'"), r.rows.at(0, 0));
  EXPECT_EQ(literalToHex("'😀'"), r.rows.at(0, 1));
  EXPECT_EQ(literalToHex("'''a'''"), r.rows.at(0, 2));
}

// ---------------------------------------------------------------------------------------------
// (6) Range deletes and key deletes

struct RangeCase {
  const char* low;
  const char* high;
  std::vector<int> remaining;
};

TEST(Chunker, RangeDeleteSingleKey) {
  Limits limits;
  Chunker chunker(limits);
  TargetShape s;
  s.table = "r";
  s.columns = {"id", "v"};
  s.keyColumns = {"id"};
  const std::vector<RangeCase> cases = {
      {"3", "7", {1, 2, 3, 8, 9, 10}},
      {"3", nullptr, {1, 2, 3}},
      {nullptr, "7", {8, 9, 10}},
      {nullptr, nullptr, {}},
      {"-9223372036854775808", "9223372036854775807", {}},
      {"10", nullptr, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}},
  };
  for (const auto& c : cases) {
    std::string lo = c.low ? c.low : "", hi = c.high ? c.high : "";
    std::string sql = chunker.rangeDelete(s, c.low ? &lo : nullptr, c.high ? &hi : nullptr);
    SCOPED_TRACE(sql);
    D1Simulator d1;
    ASSERT_TRUE(
        d1.batch({"CREATE TABLE r(id INTEGER PRIMARY KEY, v)",
                  "WITH RECURSIVE n(i) AS (VALUES(1) UNION ALL SELECT i+1 FROM n WHERE i<10) "
                  "INSERT INTO r SELECT i, i FROM n"})
            .ok);
    auto r = d1.batch({sql});
    ASSERT_TRUE(r.ok) << r.failure.message;
    auto left = d1.query("SELECT id FROM r ORDER BY id");
    std::vector<int> ids;
    for (size_t i = 0; i < left.rows.size(); ++i) ids.push_back(std::stoi(left.rows.at(i, 0)));
    EXPECT_EQ(ids, c.remaining);
  }
  std::string lo = "3", hi = "7";
  EXPECT_EQ(chunker.rangeDelete(s, &lo, &hi), "DELETE FROM \"r\" WHERE \"id\">3 AND \"id\"<=7");
  EXPECT_EQ(chunker.rangeDelete(s, nullptr, nullptr), "DELETE FROM \"r\"");
}

TEST(Chunker, RangeDeleteCompositeTextKeysAndTenant) {
  Limits limits;
  Chunker chunker(limits);
  TargetShape s;
  s.table = "c";
  s.columns = {"a", "b", "v"};
  s.keyColumns = {"a", "b"};
  auto setup = [](D1Simulator& d1, bool tenant) {
    std::string t = tenant ? "room TEXT NOT NULL, " : "";
    std::string pk = tenant ? "room, a, b" : "a, b";
    ASSERT_TRUE(d1.batch({"CREATE TABLE c(" + t +
                          "a TEXT NOT NULL, b INTEGER NOT NULL, v, "
                          "PRIMARY KEY(" +
                          pk + "))"})
                    .ok);
    for (const char* room :
         tenant ? std::vector<const char*>{"'r1'", "'r2'"} : std::vector<const char*>{nullptr}) {
      std::string p = room ? std::string(room) + ", " : "";
      ASSERT_TRUE(d1.batch({"INSERT INTO c VALUES (" + p + "'a', 1, 0), (" + p + "'a', 2, 0), (" +
                            p + "'b', 1, 0), (" + p + "'b', 2, 0), (" + p + "'it''s', 1, 0), (" +
                            p + "'a' || char(0) || 'z', 5, 0), (" + p + "'c', 1, 0)"})
                      .ok);
    }
  };
  auto keys = [](D1Simulator& d1, const std::string& where) {
    std::vector<std::string> out;
    auto r = d1.query("SELECT hex(a) || ':' || b FROM c WHERE " + where + " ORDER BY a, b");
    EXPECT_TRUE(r.ok) << r.error;
    for (size_t i = 0; i < r.rows.size(); ++i) out.push_back(r.rows.at(i, 0));
    return out;
  };
  const std::string a1 = "61:1", a2 = "61:2", b1 = "62:1", b2 = "62:2", nul = "61007A:5",
                    quote = "69742773:1", c1 = "63:1";
  {
    D1Simulator d1;
    setup(d1, false);
    std::string lo = "'a',2", hi = "'b',2";
    ASSERT_TRUE(d1.batch({chunker.rangeDelete(s, &lo, &hi)}).ok);
    EXPECT_EQ(keys(d1, "true"), (std::vector<std::string>{a1, a2, c1, quote}));
  }
  {
    D1Simulator d1;
    setup(d1, false);
    std::string lo = "CAST(X'610061' AS TEXT),0";  // 'a\0a' sorts between 'a' and 'a\0z'
    std::string hi = "'it''s',1";
    ASSERT_TRUE(d1.batch({chunker.rangeDelete(s, &lo, &hi)}).ok);
    EXPECT_EQ(keys(d1, "true"), (std::vector<std::string>{a1, a2}));
  }
  TargetShape t = s;
  t.tenantColumn = "room";
  t.tenantLiteral = "'r1'";
  {
    D1Simulator d1;
    setup(d1, true);
    ASSERT_TRUE(d1.batch({chunker.rangeDelete(t, nullptr, nullptr)}).ok);
    EXPECT_TRUE(keys(d1, "room = 'r1'").empty());
    EXPECT_EQ(keys(d1, "room = 'r2'").size(), 7u);
  }
  {
    D1Simulator d1;
    setup(d1, true);
    std::string lo = "'a',1";
    ASSERT_TRUE(d1.batch({chunker.rangeDelete(t, &lo, nullptr)}).ok);
    EXPECT_EQ(keys(d1, "room = 'r1'"), (std::vector<std::string>{a1}));
    EXPECT_EQ(keys(d1, "room = 'r2'").size(), 7u);
  }
  {
    D1Simulator d1;
    setup(d1, true);
    std::string hi = "'b',1";
    ASSERT_TRUE(d1.batch({chunker.rangeDelete(t, nullptr, &hi)}).ok);
    EXPECT_EQ(keys(d1, "room = 'r1'"), (std::vector<std::string>{b2, c1, quote}));
    EXPECT_EQ(keys(d1, "room = 'r2'").size(), 7u);
  }
}

TEST(Chunker, DeletesByKeyHitExactlyTheirRows) {
  Limits limits;
  Chunker chunker(limits);
  TargetShape s;
  s.table = "c";
  s.columns = {"a", "b", "v"};
  s.keyColumns = {"a", "b"};
  s.tenantColumn = "room";
  s.tenantLiteral = "'r1'";
  D1Simulator d1;
  ASSERT_TRUE(d1.batch({"CREATE TABLE c(room TEXT NOT NULL, a TEXT NOT NULL, b INTEGER NOT NULL, "
                        "v, PRIMARY KEY(room, a, b))",
                        "INSERT INTO c SELECT room, a, b, 0 FROM (SELECT 'r1' AS room UNION ALL "
                        "SELECT 'r2'), (SELECT 'x,y' AS a UNION ALL SELECT 'it''s' UNION ALL "
                        "SELECT 'a' || char(0)), (SELECT -9223372036854775808 AS b UNION ALL "
                        "SELECT 9223372036854775807)"})
                  .ok);
  ASSERT_EQ(countOf(d1, "SELECT count(*) FROM c"), 12);
  auto stmts = chunker.deletes(
      s,
      std::vector<std::string>{"'x,y',-9223372036854775808", "'it''s',9223372036854775807",
                               "CAST(X'6100' AS TEXT),-9223372036854775808"},
      100);
  ASSERT_EQ(stmts.size(), 1u);
  auto r = d1.batch(stmts);
  ASSERT_TRUE(r.ok) << r.failure.message;
  EXPECT_EQ(countOf(d1, "SELECT count(*) FROM c WHERE room = 'r2'"), 6);
  EXPECT_EQ(countOf(d1, "SELECT count(*) FROM c WHERE room = 'r1'"), 3);
  EXPECT_EQ(countOf(d1,
                    "SELECT count(*) FROM c WHERE room = 'r1' AND ((a = 'x,y' AND b > 0) OR "
                    "(a = 'it''s' AND b < 0) OR (a = 'a' || char(0) AND b > 0))"),
            3);
  // Single-column keys, with the extreme integers.
  TargetShape one;
  one.table = "o";
  one.columns = {"id"};
  one.keyColumns = {"id"};
  ASSERT_TRUE(d1.batch({"CREATE TABLE o(id INTEGER PRIMARY KEY)",
                        "INSERT INTO o VALUES (-9223372036854775808), (0), (9223372036854775807)"})
                  .ok);
  ASSERT_TRUE(
      d1
          .batch(chunker.deletes(
              one, std::vector<std::string>{"-9223372036854775808", "9223372036854775807"}, 10))
          .ok);
  EXPECT_EQ(countOf(d1, "SELECT count(*) FROM o"), 1);
  EXPECT_EQ(countOf(d1, "SELECT id FROM o"), 0);
}

TEST(Chunker, UpsertSetsKeyColumnsSoCollationRenamesArrive) {
  Limits limits;
  Chunker chunker(limits);
  TargetShape s;
  s.table = "n";
  s.columns = {"k", "v"};
  s.keyColumns = {"k"};
  D1Simulator d1;
  ASSERT_TRUE(d1.batch({"CREATE TABLE n(k TEXT COLLATE NOCASE PRIMARY KEY, v)",
                        "INSERT INTO n VALUES ('abc', 1)"})
                  .ok);
  RowLiteral row{"'ABC'", "", {"'ABC'", "2"}};
  ASSERT_TRUE(d1.batch(chunker.upserts(s, {&row}, 10)).ok);
  EXPECT_EQ(countOf(d1, "SELECT count(*) FROM n"), 1);
  EXPECT_EQ(countOf(d1, "SELECT count(*) FROM n WHERE k = 'ABC' COLLATE BINARY AND v = 2"), 1);
}

}  // namespace
}  // namespace d1sync::native

namespace d1sync::native {
namespace {

TEST(PackedRows, PlainTupleRejectsWhatMustTakeTheExactPath) {
  EXPECT_TRUE(plainTuple("(1,'abc',X'00FF',2.5,NULL)"));
  EXPECT_TRUE(plainTuple("(1,'caf\xC3\xA9 \xF0\x9F\x98\x80')"));  // valid UTF-8 stays quoted
  EXPECT_FALSE(plainTuple("(1,~,'x')"));                          // a value left for later
  EXPECT_FALSE(plainTuple("(1,'a~b')"));                          // a '~' anywhere: re-read
  EXPECT_FALSE(plainTuple("(1,'\xEF\xBF\xBD')"));                 // U+FFFD: a host replaced bytes
  EXPECT_FALSE(plainTuple("(1,'\x80')"));                         // not UTF-8
  EXPECT_FALSE(plainTuple(std::string("(1,'a\0b')", 9)));         // NUL
  EXPECT_FALSE(plainTuple("(1,'abcdefgh\xC3')"));                 // truncated sequence
}

TEST(PackedRows, UnpackSplitsTheTupleIntoItsLiterals) {
  RowLiteral row;
  row.tuple = "(7,'it''s, fine',X'0A0B',NULL,-1.5)";
  row.unpack();
  EXPECT_TRUE(row.tuple.empty());
  EXPECT_EQ(row.values,
            (std::vector<std::string>{"7", "'it''s, fine'", "X'0A0B'", "NULL", "-1.5"}));
}

}  // namespace
}  // namespace d1sync::native
