// SPEC "Bad input: a clear error or correct handling, and nothing lost": one test per case.
// Each either compares local and D1 row for row (after the initial sync and again after
// incremental inserts, updates and deletes) or asserts a clear error.
#include <sqlite3.h>

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

#include "fixtures.hpp"
#include "sql_text.hpp"

namespace d1sync::native {
namespace {

using json = nlohmann::json;

std::string clip(const std::string& s) {
  if (s.size() <= 48) return s;
  return s.substr(0, 48) + "...(" + std::to_string(s.size()) + " bytes)";
}

// The first difference between two result sets (NULL flags and exact bytes), or "".
std::string diffRows(const Rows& a, const Rows& b) {
  if (a.columns != b.columns)
    return "column counts differ: " + std::to_string(a.columns) + " vs " +
           std::to_string(b.columns);
  if (a.size() != b.size())
    return "local has " + std::to_string(a.size()) + " rows, D1 has " + std::to_string(b.size());
  for (size_t r = 0; r < a.size(); ++r) {
    for (size_t c = 0; c < a.columns; ++c) {
      if (a.isNull(r, c) == b.isNull(r, c) && a.at(r, c) == b.at(r, c)) continue;
      std::string where = "row " + std::to_string(r) + " column " + std::to_string(c) + ": ";
      if (a.isNull(r, c) != b.isNull(r, c))
        return where + (a.isNull(r, c) ? "local NULL" : "D1 NULL");
      const std::string& x = a.at(r, c);
      const std::string& y = b.at(r, c);
      size_t i = 0;
      while (i < x.size() && i < y.size() && x[i] == y[i]) ++i;
      return where + "first difference at byte " + std::to_string(i) + " (local " + clip(x) +
             ", D1 " + clip(y) + ")";
    }
  }
  return {};
}

std::string seq(int from, int to) {
  return "WITH RECURSIVE n(i) AS (SELECT " + std::to_string(from) +
         " UNION ALL SELECT i+1 FROM n WHERE i<" + std::to_string(to) + ") ";
}

class BadInput : public EngineTest {
 protected:
  // Runs the same query on both sides and compares every cell byte for byte.
  void expectSameQuery(const std::string& sql) {
    auto a = execAll(local->handle(), sql);
    auto b = d1->query(sql);
    ASSERT_TRUE(a.ok) << "local: " << a.error << "\n  in: " << sql;
    ASSERT_TRUE(b.ok) << "D1: " << b.error << "\n  in: " << sql;
    EXPECT_EQ(diffRows(a.rows, b.rows), "") << sql;
  }
  std::string localValue(const std::string& sql) {
    auto r = local->exec(sql);
    EXPECT_TRUE(r.ok) << r.error;
    return r.ok && r.rows.size() && !r.rows.isNull(0, 0) ? r.rows.at(0, 0) : "<null>";
  }
  std::string d1Value(const std::string& sql) {
    auto r = d1->query(sql);
    EXPECT_TRUE(r.ok) << r.error;
    return r.ok && r.rows.size() && !r.rows.isNull(0, 0) ? r.rows.at(0, 0) : "<null>";
  }
  bool d1HasTable(const std::string& name) {
    return d1Count("SELECT count(*) FROM sqlite_master WHERE type='table' AND name=" +
                   quoteText(name)) > 0;
  }
  std::vector<std::string> d1ColumnNames(const std::string& table) {
    auto r = d1->query("SELECT name FROM pragma_table_xinfo(" + quoteText(table) + ")");
    std::vector<std::string> out;
    for (size_t i = 0; i < r.rows.size(); ++i) out.push_back(r.rows.at(i, 0));
    return out;
  }
  json health() { return json::parse(drv->engine().healthJson(drv->now()), nullptr, false); }
  json quarantined() { return json::parse(drv->engine().quarantinedJson(), nullptr, false); }
  Options smallPages(size_t rows) {
    Options o = defaultOptions();
    o.limits.copyPageRows = rows;
    return o;
  }
};

// ---------------------------------------------------------------------------------------------
// Keys

TEST_F(BadInput, TablesWithoutPrimaryKeyAreKeyedByRowid) {
  local->run(
      "CREATE TABLE events(kind TEXT, payload TEXT, n REAL);"
      // A column named rowid hides the rowid: D1 gets it under another name.
      "CREATE TABLE hides(rowid TEXT, v INTEGER);" +
      seq(1, 300) +
      "INSERT INTO events SELECT 'k' || (i % 3), 'same', CASE WHEN i % 4 THEN i / 8.0 END FROM n;"
      "INSERT INTO hides VALUES ('r1', 1), ('r1', 1), (NULL, 2);");
  driver(smallPages(64));
  ASSERT_NO_FATAL_FAILURE(sync());
  expectSame("events", "", "rowid");
  expectSame("hides", "", "_d1sync_rowid");
  EXPECT_EQ(d1Count("SELECT pk FROM pragma_table_info('events') WHERE name='rowid'"), 1);
  EXPECT_EQ(d1Count("SELECT count(*) FROM events"), 300);

  local->run(
      "UPDATE events SET payload = 'changed' WHERE rowid % 7 = 0;"
      "DELETE FROM events WHERE rowid % 5 = 0;"
      "INSERT INTO events(kind, payload) VALUES ('new', 'same'), ('new', 'same');"
      "UPDATE events SET rowid = 100000 WHERE rowid = 1;"  // the key itself moves
      "UPDATE hides SET rowid = 'r2' WHERE _rowid_ = 1;"
      "DELETE FROM hides WHERE _rowid_ = 2;"
      "INSERT INTO hides VALUES ('r3', 3);"
      "UPDATE hides SET _rowid_ = 50 WHERE _rowid_ = 3;");
  ASSERT_NO_FATAL_FAILURE(sync());
  expectSame("events", "", "rowid");
  expectSame("hides", "", "_d1sync_rowid");
  EXPECT_EQ(d1Count("SELECT count(*) FROM events WHERE rowid = 1"), 0);
}

TEST_F(BadInput, RowidTableWhoseDeclaredKeyAdmitsNullIsKeyedByRowid) {
  local->run(
      "CREATE TABLE np(id TEXT PRIMARY KEY, v INTEGER);"
      "INSERT INTO np VALUES ('a', 1), (NULL, 2), (NULL, 3), ('b', 4);"
      "CREATE TABLE npc(a INTEGER, b TEXT, v, PRIMARY KEY(a, b));"  // composite, nullable
      "INSERT INTO npc VALUES (1, NULL, 'x'), (1, NULL, 'y'), (1, 'k', 'z');"
      "CREATE TABLE nint(id INT PRIMARY KEY, v);"  // INT is no rowid alias
      "INSERT INTO nint VALUES (NULL, 'n1'), (NULL, 'n2'), (5, 'five');");
  ASSERT_EQ(localValue("SELECT count(*) FROM np WHERE id IS NULL"), "2");
  driver();
  ASSERT_NO_FATAL_FAILURE(sync());
  for (const char* t : {"np", "npc", "nint"}) expectSame(t, "", "rowid");
  EXPECT_EQ(d1Count("SELECT pk FROM pragma_table_info('np') WHERE name='rowid'"), 1);
  EXPECT_EQ(d1Count("SELECT count(*) FROM np WHERE id IS NULL"), 2);

  local->run(
      "UPDATE np SET id = 'c' WHERE v = 2;"
      "UPDATE np SET id = NULL WHERE v = 1;"
      "INSERT INTO np VALUES (NULL, 5);"
      "DELETE FROM np WHERE v = 3;"
      "UPDATE npc SET b = NULL WHERE v = 'z';"
      "INSERT INTO npc VALUES (1, NULL, 'w');"
      "UPDATE nint SET id = NULL WHERE id = 5;"
      "DELETE FROM nint WHERE v = 'n1';");
  ASSERT_NO_FATAL_FAILURE(sync());
  for (const char* t : {"np", "npc", "nint"}) expectSame(t, "", "rowid");
}

TEST_F(BadInput, InsertOrReplaceOverANullablePrimaryKeyRemovesTheVictim) {
  // Keyed by rowid, the declared key is still a UNIQUE constraint: OR REPLACE deletes the row
  // holding the same id under another rowid, and that row must leave D1 too.
  local->run(
      "CREATE TABLE np(id TEXT PRIMARY KEY, v INTEGER);"
      "INSERT INTO np VALUES ('a', 1), (NULL, 2), ('b', 3), ('c', 4);");
  driver();
  ASSERT_NO_FATAL_FAILURE(sync());
  local->run(
      "INSERT OR REPLACE INTO np VALUES ('b', 30);"     // replaces rowid 3
      "UPDATE OR REPLACE np SET id = 'c' WHERE v = 1;"  // replaces rowid 4
      "REPLACE INTO np VALUES (NULL, 20);");            // NULLs never conflict: a new row
  ASSERT_EQ(localValue("SELECT count(*) FROM np"), "4");
  ASSERT_NO_FATAL_FAILURE(sync());
  expectSame("np", "", "rowid");
  EXPECT_EQ(d1Count("SELECT count(*) FROM np WHERE id = 'b'"), 1);
  EXPECT_EQ(d1Count("SELECT count(*) FROM np WHERE id = 'c'"), 1);
}

TEST_F(BadInput, CompositeAndTextPrimaryKeys) {
  local->run(
      "CREATE TABLE ck(a TEXT NOT NULL, b INTEGER NOT NULL, v, PRIMARY KEY(a, b));"
      "CREATE TABLE tk(code TEXT NOT NULL PRIMARY KEY, v);"
      "CREATE TABLE nk(name TEXT COLLATE NOCASE NOT NULL PRIMARY KEY, v);"
      "CREATE TABLE mk(k NOT NULL PRIMARY KEY, v);" +  // untyped key: every storage class
      seq(0, 59) +
      "INSERT INTO ck SELECT CASE i % 6 WHEN 0 THEN 'x' WHEN 1 THEN 'it''s, quoted' WHEN 2 THEN "
      "'a,b' "
      "WHEN 3 THEN '' WHEN 4 THEN 'über' ELSE ' ' END, i - 30, 'v' || i FROM n;" +
      seq(0, 99) + "INSERT INTO tk SELECT printf('c%03d', i), i FROM n;" +
      "INSERT INTO tk VALUES ('it''s', 1), ('with,comma', 2), (42, 'int becomes text'), ('   ', 3),"
      " ('é', 4), ('', 5);"
      "INSERT INTO nk VALUES ('a', 1), ('B', 2), ('c', 3), ('D', 4), ('e', 5), ('F', 6), ('g', 7);"
      "INSERT INTO mk VALUES (1, 'int'), ('1', 'text'), (2.5, 'real'), ('a', 'text'), (X'00', "
      "'blob'),"
      " (X'', 'empty blob'), ('', 'empty text'), (-9223372036854775808, 'min'), (9e999, 'inf'),"
      " (-1.5, 'neg real');");
  ASSERT_EQ(localValue("SELECT typeof(code) FROM tk WHERE v = 'int becomes text'"), "text");
  driver(smallPages(3));
  ASSERT_NO_FATAL_FAILURE(sync());
  for (const char* t : {"ck", "tk", "nk", "mk"}) expectSame(t);

  local->run(
      "UPDATE ck SET b = b + 1000 WHERE b % 4 = 0;"
      "DELETE FROM ck WHERE b % 3 = 1;"
      "INSERT INTO ck VALUES ('new,key', 0, 'n'), ('it''s, quoted', 12345, 'q');"
      "UPDATE tk SET code = code || '!' WHERE v % 10 = 3;"
      "DELETE FROM tk WHERE code = 'it''s';"
      "UPDATE tk SET v = 'changed' WHERE code = '';"
      "UPDATE nk SET name = 'b' WHERE name = 'B';"  // a key changing only in case
      "UPDATE nk SET name = 'zz' WHERE name = 'c';"
      "DELETE FROM nk WHERE name = 'd';"
      "UPDATE mk SET v = 'changed' WHERE k = '1';"
      "DELETE FROM mk WHERE k = 1;"
      "UPDATE mk SET k = X'0001' WHERE k = X'00';"
      "INSERT INTO mk VALUES (3, 'three'), ('3', 'three as text');");
  ASSERT_NO_FATAL_FAILURE(sync());
  for (const char* t : {"ck", "tk", "nk", "mk"}) expectSame(t);
  EXPECT_EQ(d1Value("SELECT name FROM nk WHERE v = 2"), "b");
}

TEST_F(BadInput, WithoutRowidTables) {
  local->run(
      "CREATE TABLE w(a TEXT, b BLOB, v REAL, note TEXT, PRIMARY KEY(a, b)) WITHOUT ROWID;"
      // INTEGER PRIMARY KEY is no rowid alias in a WITHOUT ROWID table.
      "CREATE TABLE w1(id INTEGER PRIMARY KEY, v) WITHOUT ROWID;" +
      seq(1, 80) +
      // A distinct first byte per row keeps random keys unique.
      "INSERT INTO w SELECT 'k' || (i % 7), CAST(char(64 + i) || randomblob(i % 5) AS BLOB), "
      "i * 0.5, "
      "CASE WHEN i % 3 THEN 'n' || i END FROM n;" +
      seq(1, 80) + "INSERT INTO w1 SELECT i * 1000 - 40000, 'v' || i FROM n;");
  driver(smallPages(9));
  ASSERT_NO_FATAL_FAILURE(sync());
  expectSame("w");
  expectSame("w1");
  EXPECT_NE(d1Value("SELECT sql FROM sqlite_master WHERE name = 'w'").find("WITHOUT ROWID"),
            std::string::npos);

  local->run(
      "UPDATE w SET b = X'FF' || b WHERE a = 'k1';"  // key change
      "UPDATE w SET note = NULL, v = -v WHERE a = 'k2';"
      "DELETE FROM w WHERE a = 'k3';"
      "INSERT INTO w VALUES ('k9', X'', 1.25, 'new');"
      "UPDATE w1 SET id = id + 500000 WHERE id > 0;"
      "DELETE FROM w1 WHERE id % 3000 = 0;"
      "INSERT INTO w1 VALUES (7, 'seven');");
  ASSERT_NO_FATAL_FAILURE(sync());
  expectSame("w");
  expectSame("w1");
}

TEST_F(BadInput, GeneratedColumnsAreNeverInsertedAndD1RecomputesThem) {
  local->run(
      "CREATE TABLE g(id INTEGER PRIMARY KEY, a INTEGER, b TEXT,"
      " twice INTEGER GENERATED ALWAYS AS (a * 2) VIRTUAL,"
      " shout TEXT GENERATED ALWAYS AS (upper(b) || '!') STORED,"
      " len INTEGER AS (length(b)));"
      "CREATE TABLE gw(k TEXT PRIMARY KEY, x REAL, half REAL AS (x / 2) STORED) WITHOUT ROWID;"
      "CREATE TABLE gn(a, b, s AS (a || '-' || b));" +  // keyed by rowid
      seq(1, 50) +
      "INSERT INTO g(id, a, b) SELECT i, i * 3, CASE WHEN i % 5 THEN 'b' || i END FROM n;"
      "INSERT INTO gw(k, x) VALUES ('one', 1), ('two', 2.5), ('none', NULL);"
      "INSERT INTO gn(a, b) VALUES (1, 'x'), ('y', NULL), (NULL, NULL);");
  driver(smallPages(16));
  ASSERT_NO_FATAL_FAILURE(sync());
  auto compare = [&] {
    expectSame("g");
    expectSame("gw");
    expectSame("gn", "", "rowid");
    expectSameQuery(
        "SELECT id, typeof(twice), twice, typeof(shout), shout, typeof(len), len FROM g ORDER BY "
        "id");
    expectSameQuery("SELECT k, typeof(half), half FROM gw ORDER BY k");
    expectSameQuery("SELECT a, b, typeof(s), s FROM gn ORDER BY rowid");
  };
  compare();
  // D1 has them as generated columns, of the same kind.
  EXPECT_EQ(d1Count("SELECT hidden FROM pragma_table_xinfo('g') WHERE name = 'twice'"), 2);
  EXPECT_EQ(d1Count("SELECT hidden FROM pragma_table_xinfo('g') WHERE name = 'shout'"), 3);
  EXPECT_EQ(d1Count("SELECT hidden FROM pragma_table_xinfo('gw') WHERE name = 'half'"), 3);

  local->run(
      "UPDATE g SET a = a + 1, b = coalesce(b, '') || 'x' WHERE id % 2 = 0;"
      "DELETE FROM g WHERE id % 7 = 0;"
      "INSERT INTO g(id, a, b) VALUES (100, -4, 'new');"
      "UPDATE gw SET x = 10 WHERE k = 'none';"
      "UPDATE gw SET k = 'deux' WHERE k = 'two';"
      "UPDATE gn SET b = 'z' WHERE a = 'y';"
      "INSERT INTO gn(a, b) VALUES (5, 6);");
  ASSERT_NO_FATAL_FAILURE(sync());
  compare();
}

// ---------------------------------------------------------------------------------------------
// Identifiers and width

TEST_F(BadInput, IdentifiersWithSpacesQuotesUnicodeAndKeywords) {
  local->run(
      "CREATE TABLE \"we\"\"ird tab\"(\"k ey\" INTEGER PRIMARY KEY, \"col with space\" TEXT,"
      " \"q\"\"uote\" TEXT, \"名前\" TEXT, \"émoji 🎉\" INTEGER, [sq br] TEXT, `back tick` TEXT,"
      " \"it's\" TEXT);"
      "CREATE INDEX \"idx \"\"q\"\" 名\" ON \"we\"\"ird tab\"(\"名前\", \"q\"\"uote\");"
      "CREATE UNIQUE INDEX \"uniq sp\" ON \"we\"\"ird tab\"(\"col with space\");"
      "CREATE TABLE \"order\"(\"select\" INTEGER PRIMARY KEY, \"from\" TEXT, \"where\" TEXT UNIQUE,"
      " \"group\" INTEGER);"
      "CREATE INDEX \"index\" ON \"order\"(\"group\");"
      "CREATE TABLE \"café ☕\"(\"x y\" TEXT, \"table\" INTEGER);"
      "CREATE TABLE \"t,with,commas\"(\"a,b\" TEXT NOT NULL, \"c)d\" INTEGER NOT NULL, v,"
      " PRIMARY KEY(\"a,b\", \"c)d\"));" +
      seq(1, 40) +
      "INSERT INTO \"we\"\"ird tab\" SELECT i, 's' || i, 'q''' || i, '名' || i, i, 'br', 'bt', "
      "'ap' FROM n;" +
      seq(1, 40) + "INSERT INTO \"order\" SELECT i, 'f' || i, 'w' || i, i % 4 FROM n;" +
      "INSERT INTO \"café ☕\" VALUES ('☕', 1), ('tea', 2);"
      "INSERT INTO \"t,with,commas\" VALUES ('x,y', 1, 'a'), ('x', 2, 'b');");
  driver(smallPages(7));
  ASSERT_NO_FATAL_FAILURE(sync());
  auto compare = [&] {
    expectSame("we\"ird tab");
    expectSame("order");
    expectSame("café ☕", "", "rowid");
    expectSame("t,with,commas");
  };
  compare();
  EXPECT_EQ(
      d1Count("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = 'idx \"q\" 名'"),
      1);
  EXPECT_EQ(d1Count("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = 'index'"),
            1);

  local->run(
      "UPDATE \"we\"\"ird tab\" SET \"名前\" = NULL, \"q\"\"uote\" = '\"' WHERE \"k ey\" % 3 = 0;"
      "DELETE FROM \"we\"\"ird tab\" WHERE \"k ey\" % 5 = 0;"
      "INSERT OR REPLACE INTO \"we\"\"ird tab\"(\"k ey\", \"col with space\") VALUES (99, 's1');"
      "INSERT OR REPLACE INTO \"order\" VALUES (100, 'x', 'w2', 1);"  // replaces \"select\" 2
      "UPDATE \"order\" SET \"select\" = 1000 WHERE \"select\" = 3;"
      "DELETE FROM \"order\" WHERE \"group\" = 0;"
      "UPDATE \"café ☕\" SET \"x y\" = 'coffee' WHERE \"table\" = 1;"
      "INSERT INTO \"café ☕\" VALUES ('mate', 3);"
      "UPDATE \"t,with,commas\" SET \"c)d\" = 20 WHERE \"a,b\" = 'x,y';"
      "DELETE FROM \"t,with,commas\" WHERE \"a,b\" = 'x';");
  ASSERT_NO_FATAL_FAILURE(sync());
  compare();
  EXPECT_EQ(d1Count("SELECT count(*) FROM \"order\" WHERE \"select\" = 2"), 0);
  EXPECT_EQ(d1Count("SELECT count(*) FROM \"we\"\"ird tab\" WHERE \"k ey\" = 1"), 0);
}

std::string hundredColumnTable(const std::string& name, bool withKey) {
  static const char* const kTypes[] = {"INTEGER", "TEXT", "REAL", "BLOB", ""};
  std::string sql =
      "CREATE TABLE " + name + "(" + (withKey ? "id INTEGER PRIMARY KEY" : "id INTEGER");
  for (int k = 1; k < 100; ++k) sql += ", c" + std::to_string(k) + " " + kTypes[k % 5];
  return sql + ")";
}

std::string fillHundred(const std::string& name, int rows) {
  std::string sql = seq(1, rows) + "INSERT INTO " + name + " SELECT i";
  for (int k = 1; k < 100; ++k) {
    std::string ks = std::to_string(k);
    std::string v;
    switch (k % 5) {
      case 0:
        v = "i * " + ks + " + 0.5";
        break;
      case 1:
        v = "i * " + ks;
        break;
      case 2:
        v = "'v' || i || '_" + ks + "'";
        break;
      case 3:
        v = "i / 8.0 + " + ks;
        break;
      default:
        v = "randomblob(3)";
        break;
    }
    sql += ", CASE WHEN i % 10 = " + std::to_string(k % 10) + " THEN NULL ELSE " + v + " END";
  }
  return sql + " FROM n";
}

TEST_F(BadInput, HundredColumnTableReplicates) {
  local->run(hundredColumnTable("wide", true));
  local->run(fillHundred("wide", 500));
  driver();
  ASSERT_NO_FATAL_FAILURE(sync());
  expectSame("wide");
  EXPECT_EQ(d1Count("SELECT count(*) FROM pragma_table_info('wide')"), 100);

  local->run(
      "UPDATE wide SET c1 = -c1, c2 = NULL, c99 = 'last' WHERE id % 3 = 0;"
      "DELETE FROM wide WHERE id % 4 = 0;");
  local->run(seq(1, 300) + "INSERT INTO wide(id, c1, c2, c99) SELECT 1000 + i, i, 'x', i FROM n");
  ASSERT_NO_FATAL_FAILURE(sync());
  expectSame("wide");
}

TEST_F(BadInput, HundredColumnTableWithATenantIsAConfigError) {
  local->run(hundredColumnTable("wide", true));
  local->run(fillHundred("wide", 5));
  Options o = defaultOptions();
  o.tenantColumn = "tenant";
  o.tenantLiteral = "'t1'";
  driver(o);
  Step s = drv->run();
  ASSERT_EQ(s.kind, Step::Failed) << s.message;
  EXPECT_EQ(s.code, ErrorCode::Config) << codeName(s.code) << ": " << s.message;
  EXPECT_NE(s.message.find("wide"), std::string::npos) << s.message;
  EXPECT_NE(s.message.find("101"), std::string::npos) << s.message;
  EXPECT_NE(s.message.find("tenant"), std::string::npos) << s.message;
  EXPECT_FALSE(d1HasTable("wide"));
  // It stays refused: a later call gives the same answer, nothing is half done.
  Step again = drv->run();
  EXPECT_EQ(again.kind, Step::Failed);
  EXPECT_EQ(again.code, ErrorCode::Config);
}

TEST_F(BadInput, HundredColumnTableWithoutPrimaryKeyIsAConfigError) {
  // Keyed by rowid, D1 would need a 101st column for it.
  local->run(hundredColumnTable("wide", false));
  driver();
  Step s = drv->run();
  ASSERT_EQ(s.kind, Step::Failed) << s.message;
  EXPECT_EQ(s.code, ErrorCode::Config) << codeName(s.code) << ": " << s.message;
  EXPECT_NE(s.message.find("wide"), std::string::npos) << s.message;
  EXPECT_NE(s.message.find("101"), std::string::npos) << s.message;
}

TEST_F(BadInput, NinetyNineColumnsLeaveRoomForTheTenant) {
  std::string sql = "CREATE TABLE w99(id INTEGER PRIMARY KEY";
  for (int k = 1; k < 99; ++k) sql += ", c" + std::to_string(k);
  local->run(sql + ")");
  local->run(seq(1, 300) +
             "INSERT INTO w99(id, c1, c50, c98) SELECT i, i, 'x' || i, randomblob(2) FROM n");
  Options o = defaultOptions();
  o.tenantColumn = "tenant";
  o.tenantLiteral = "'t1'";
  driver(o);
  ASSERT_NO_FATAL_FAILURE(sync());
  expectSame("w99", "tenant = 't1'");
  local->run("UPDATE w99 SET c2 = 'y' WHERE id % 2 = 0; DELETE FROM w99 WHERE id % 3 = 0;");
  ASSERT_NO_FATAL_FAILURE(sync());
  expectSame("w99", "tenant = 't1'");
}

// ---------------------------------------------------------------------------------------------
// Values

TEST_F(BadInput, RowsNearTwoMillionBytes) {
  local->run(
      "CREATE TABLE big(id INTEGER PRIMARY KEY, b BLOB, t TEXT, note TEXT);"
      "INSERT INTO big VALUES (1, randomblob(1900000), NULL, 'blob 1.9 MB');"
      // 1.9 MB of text with a two-byte character and a NUL in it.
      "INSERT INTO big VALUES (2, NULL, 'é' || hex(randomblob(474999)) || char(0) || "
      "hex(randomblob(475000)),"
      " 'text 1.9 MB');"
      "INSERT INTO big VALUES (3, randomblob(999000), hex(randomblob(499500)), 'two halves, "
      "1,998,000 B');"
      "INSERT INTO big VALUES (4, randomblob(2000001), NULL, 'one value over the limit');"
      "INSERT INTO big VALUES (5, randomblob(1100000), hex(randomblob(500000)), 'over in total');" +
      seq(6, 30) + "INSERT INTO big SELECT i, randomblob(i), 'small ' || i, NULL FROM n;");
  ASSERT_EQ(localValue("SELECT length(CAST(t AS BLOB)) FROM big WHERE id = 2"), "1900001");
  driver();
  ASSERT_NO_FATAL_FAILURE(sync());
  const std::string exact =
      "SELECT id, typeof(b), b, typeof(t), t, note FROM big WHERE id NOT IN (4, 5) ORDER BY id";
  expectSameQuery(exact);
  EXPECT_EQ(d1Count("SELECT count(*) FROM big WHERE id IN (4, 5)"), 0);
  EXPECT_EQ(d1Count("SELECT count(*) FROM big"), 28);
  auto q = quarantined();
  ASSERT_TRUE(q.is_array()) << drv->engine().quarantinedJson();
  std::set<std::string> keys;
  for (const auto& e : q) {
    EXPECT_EQ(e.value("table", ""), "big");
    EXPECT_EQ(e.value("code", ""), "D1_LIMIT") << e.dump();
    keys.insert(e.value("key", ""));
  }
  EXPECT_EQ(keys, (std::set<std::string>{"4", "5"}));
  EXPECT_EQ(health().value("quarantined", -1), 2);

  // Through the outbox: a new big row, a big row shrinking, a small row outgrowing the limit,
  // a quarantined row shrinking back under it.
  local->run(
      "INSERT INTO big VALUES (31, randomblob(1950000), 'x', 'new 1.95 MB');"
      "UPDATE big SET b = X'01', note = 'shrunk' WHERE id = 1;"
      "UPDATE big SET b = randomblob(2050000) WHERE id = 6;"
      "UPDATE big SET b = randomblob(10), note = 'back under' WHERE id = 4;"
      "UPDATE big SET t = t || 'more' WHERE id = 2;");
  ASSERT_NO_FATAL_FAILURE(sync());
  expectSameQuery(
      "SELECT id, typeof(b), b, typeof(t), t, note FROM big WHERE id NOT IN (5, 6) ORDER BY id");
  EXPECT_EQ(d1Count("SELECT count(*) FROM big WHERE id IN (5, 6)"), 0);
  bool six = false;
  for (const auto& e : quarantined())
    if (e.value("key", "") == "6" && e.value("code", "") == "D1_LIMIT") six = true;
  EXPECT_TRUE(six) << drv->engine().quarantinedJson();

  // Once the oversized rows go locally, D1 equals local.
  local->run("DELETE FROM big WHERE id IN (5, 6)");
  ASSERT_NO_FATAL_FAILURE(sync());
  expectSame("big");
}

TEST_F(BadInput, EmptyStringsAndNullsStayApart) {
  local->run(
      "CREATE TABLE en(id INTEGER PRIMARY KEY, t TEXT, b BLOB, x);"
      "INSERT INTO en VALUES (1, '', X'', NULL), (2, NULL, NULL, ''), (3, 'NULL', NULL, X''),"
      " (4, ' ', zeroblob(0), ''''), (5, 'null', 'NULL', 0), (6, '''''', X'00', 0.0);"
      "CREATE TABLE ek(k TEXT PRIMARY KEY NOT NULL, v);"
      "INSERT INTO ek VALUES ('', 'empty key'), ('NULL', NULL), ('''''', ''), (' ', X'');");
  ASSERT_EQ(localValue("SELECT typeof(b) FROM en WHERE id = 1"), "blob");
  ASSERT_EQ(localValue("SELECT typeof(x) FROM en WHERE id = 2"), "text");
  driver();
  ASSERT_NO_FATAL_FAILURE(sync());
  expectSame("en");
  expectSame("ek");
  EXPECT_EQ(d1Count("SELECT count(*) FROM en WHERE t IS NULL"), 1);
  EXPECT_EQ(d1Count("SELECT count(*) FROM en WHERE t = ''"), 1);

  local->run(
      "UPDATE en SET t = NULL, x = '' WHERE id = 1;"
      "UPDATE en SET t = '', b = X'', x = NULL WHERE id = 2;"
      "UPDATE ek SET v = NULL WHERE k = '';"
      "UPDATE ek SET k = '' || 'was empty' WHERE k = '';"
      "INSERT INTO ek VALUES ('', '');"
      "DELETE FROM ek WHERE k = 'NULL';");
  ASSERT_NO_FATAL_FAILURE(sync());
  expectSame("en");
  expectSame("ek");
}

TEST_F(BadInput, TextWithNulBytes) {
  local->run(
      "CREATE TABLE z(k TEXT PRIMARY KEY NOT NULL, v TEXT, b BLOB);"
      "INSERT INTO z VALUES ('a', 'plain', NULL), ('a'||char(0)||'b', 'x'||char(0)||'y', X'00'),"
      " ('a'||char(0), char(0), NULL), (char(0), 'the key is one NUL', NULL),"
      " ('it''s'||char(0)||',', 'quote, comma and NUL in the key', NULL),"
      " ('big', 'x'||char(0)||hex(zeroblob(20000)), NULL);"  // over the inline limit, too
      "CREATE TABLE zc(a TEXT NOT NULL, b TEXT NOT NULL, v, PRIMARY KEY(a, b)) WITHOUT ROWID;"
      "INSERT INTO zc VALUES ('a'||char(0), char(0)||'b', 1), ('a', 'b', 2), ('a', char(0), 3),"
      " (char(0), '', 4);");
  ASSERT_EQ(localValue("SELECT count(DISTINCT k) FROM z"), "6");
  ASSERT_EQ(localValue("SELECT length(CAST(v AS BLOB)) FROM z WHERE k = 'a'||char(0)||'b'"), "3");
  driver(smallPages(2));
  ASSERT_NO_FATAL_FAILURE(sync());
  expectSame("z");
  expectSame("zc");
  EXPECT_EQ(d1Count("SELECT length(CAST(v AS BLOB)) FROM z WHERE k = 'a'||char(0)||'b'"), 3);
  EXPECT_EQ(d1Count("SELECT length(CAST(v AS BLOB)) FROM z WHERE k = 'big'"), 40002);

  local->run(
      "UPDATE z SET v = v||char(0)||'more' WHERE k = 'a'||char(0)||'b';"
      "UPDATE z SET k = 'moved'||char(0) WHERE k = char(0);"
      "DELETE FROM z WHERE k = 'a'||char(0);"
      "INSERT INTO z VALUES (char(0)||char(0), char(0), X'0000');"
      "UPDATE z SET v = v || char(0) WHERE k = 'big';"
      "UPDATE zc SET b = char(0)||char(0) WHERE v = 1;"
      "DELETE FROM zc WHERE v = 3;"
      "INSERT INTO zc VALUES (char(0), char(0), 5);");
  ASSERT_NO_FATAL_FAILURE(sync());
  expectSame("z");
  expectSame("zc");
  EXPECT_EQ(d1Count("SELECT count(*) FROM z WHERE k = char(0)"), 0);
  EXPECT_EQ(d1Count("SELECT count(*) FROM z WHERE k = 'a'"), 1);
}

// Rows the packed tuple cannot carry ('~' in text, NUL, invalid UTF-8, big values) are read
// again value by value, many per query: whole pages of them, composite and rowid keys, and two
// outbox keys that name one row under NOCASE.
TEST_F(BadInput, WholePagesOfRowsTakeTheExactPath) {
  local->run(
      "CREATE TABLE tl(a TEXT NOT NULL, b INT NOT NULL, v, PRIMARY KEY(a, b));"
      "CREATE TABLE rw(v TEXT, w BLOB);"  // keyed by rowid
      "CREATE TABLE nc(k TEXT COLLATE NOCASE NOT NULL PRIMARY KEY, v);" +
      seq(1, 300) +
      "INSERT INTO tl SELECT CASE i % 3 WHEN 0 THEN '~a' WHEN 1 THEN 'b~,''' ELSE 'c' END, i,"
      " CASE i % 4 WHEN 0 THEN 'x'||char(0)||i WHEN 1 THEN '~' || i WHEN 2 THEN"
      " CAST(X'80' AS TEXT) || i ELSE 'plain' END FROM n;" +
      seq(1, 300) +
      "INSERT INTO rw SELECT '~~' || i, CASE WHEN i % 50 = 0 THEN zeroblob(20000) END FROM n;"
      "INSERT INTO nc VALUES ('abc', '~1'), ('def', 'plain');");
  driver(smallPages(1000));
  ASSERT_NO_FATAL_FAILURE(sync());
  expectSame("tl");
  expectSame("rw", "", "rowid");
  expectSame("nc");

  local->run(
      "UPDATE tl SET v = v || '~' WHERE b % 2 = 0;"
      "UPDATE rw SET v = v || char(0) WHERE rowid % 3 = 0;"
      "UPDATE nc SET v = '~2' WHERE k = 'abc';"  // outbox keys 'abc' and then 'ABC'
      "DELETE FROM nc WHERE k = 'abc';"
      "INSERT INTO nc VALUES ('ABC', '~3');");
  ASSERT_NO_FATAL_FAILURE(sync());
  expectSame("tl");
  expectSame("rw", "", "rowid");
  expectSame("nc");
  EXPECT_EQ(d1Count("SELECT count(*) FROM nc WHERE k = 'ABC' COLLATE BINARY AND v = '~3'"), 1);
}

TEST_F(BadInput, IntegersAtTwoToTheSixtyThree) {
  local->run(
      "CREATE TABLE ints(id INTEGER PRIMARY KEY, v INTEGER, r, t TEXT);"
      "INSERT INTO ints VALUES"
      " (-9223372036854775808, 9223372036854775807, -9223372036854775808, '9223372036854775807'),"
      " (9223372036854775807, -9223372036854775808, 9223372036854775807, '-9223372036854775808'),"
      " (0, 9223372036854775808, -9223372036854775809, NULL),"  // one past the edge: REAL
      " (1, -9223372036854775807, 18446744073709551615, '18446744073709551616'),"
      " (2, 9007199254740993, -9007199254740993, NULL);"  // 2^53+1: lossy as a JS number
      "CREATE TABLE ik(a INTEGER NOT NULL, b INTEGER NOT NULL, v, PRIMARY KEY(a, b)) WITHOUT ROWID;"
      "INSERT INTO ik VALUES (-9223372036854775808, 9223372036854775807, 'lo-hi'),"
      " (9223372036854775807, -9223372036854775808, 'hi-lo'),"
      " (9223372036854775807, 9223372036854775807, 'hi-hi'),"
      " (-9223372036854775808, -9223372036854775808, 'lo-lo'), (0, 0, 'zero');");
  ASSERT_EQ(localValue("SELECT typeof(v) FROM ints WHERE id = 0"), "real");
  ASSERT_EQ(localValue("SELECT typeof(v) FROM ints WHERE id = -9223372036854775808"), "integer");
  driver(smallPages(2));
  ASSERT_NO_FATAL_FAILURE(sync());
  expectSame("ints");
  expectSame("ik");
  expectSameQuery("SELECT id, typeof(v), v, typeof(r), r FROM ints ORDER BY id");
  EXPECT_EQ(d1Value("SELECT v FROM ints WHERE id = -9223372036854775808"), "9223372036854775807");

  local->run(
      "UPDATE ints SET v = v - 1 WHERE id = -9223372036854775808;"
      "UPDATE ints SET id = -9223372036854775807 WHERE id = -9223372036854775808;"
      "DELETE FROM ints WHERE id = 9223372036854775807;"
      "INSERT INTO ints VALUES (9223372036854775806, -9223372036854775808, 9223372036854775807, "
      "NULL);"
      "UPDATE ik SET b = -9223372036854775807 WHERE v = 'hi-lo';"
      "DELETE FROM ik WHERE v = 'lo-lo';"
      "INSERT INTO ik VALUES (-9223372036854775808, 0, 'lo-0');");
  ASSERT_NO_FATAL_FAILURE(sync());
  expectSame("ints");
  expectSame("ik");
  EXPECT_EQ(d1Count("SELECT count(*) FROM ints WHERE id = -9223372036854775808"), 0);
}

TEST_F(BadInput, NaNAndInfinityMatchWhatSQLiteStores) {
  local->run(
      "CREATE TABLE fl(id INTEGER PRIMARY KEY, r REAL, x);"
      "INSERT INTO fl VALUES (1, 9e999, -9e999), (2, -9e999, 9e999),"
      " (3, 9e999 - 9e999, 0.0 / 0),"  // NaN and a division by zero: both NULL
      " (4, 1e308, 5e-324), (5, -0.0, 0.0), (6, 0.1, 4.35),"
      " (7, 1.7976931348623157e308, 2.2250738585072014e-308), (8, NULL, NULL), (9, NULL, NULL);"
      "CREATE TABLE rk(k REAL PRIMARY KEY NOT NULL, v);"
      "INSERT INTO rk VALUES (9e999, 'inf'), (-9e999, '-inf'), (0.5, 'half'), (1e308, 'big'),"
      " (5e-324, 'tiny');");
  // NaN and infinities bound by a host: SQLite stores NaN as NULL.
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(local->handle(), "UPDATE fl SET r = ?1, x = ?2 WHERE id = ?3", -1,
                               &st, nullptr),
            SQLITE_OK);
  auto bind = [&](double r, double x, int id) {
    sqlite3_bind_double(st, 1, r);
    sqlite3_bind_double(st, 2, x);
    sqlite3_bind_int(st, 3, id);
    EXPECT_EQ(sqlite3_step(st), SQLITE_DONE);
    sqlite3_reset(st);
  };
  bind(std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::quiet_NaN(), 8);
  bind(std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::infinity(), 9);
  sqlite3_finalize(st);
  ASSERT_EQ(localValue("SELECT typeof(r) || typeof(x) FROM fl WHERE id = 8"), "nullnull");
  ASSERT_EQ(localValue("SELECT typeof(r) || typeof(x) FROM fl WHERE id = 3"), "nullnull");
  ASSERT_EQ(localValue("SELECT r = 9e999 FROM fl WHERE id = 9"), "1");

  driver();
  ASSERT_NO_FATAL_FAILURE(sync());
  const std::string exact =
      "SELECT id, typeof(r), printf('%!.17g', r), typeof(x), printf('%!.17g', x) FROM fl ORDER BY "
      "id";
  expectSame("fl");
  expectSame("rk");
  expectSameQuery(exact);
  expectSameQuery("SELECT printf('%!.17g', k), v FROM rk ORDER BY k");
  EXPECT_EQ(d1Count("SELECT count(*) FROM fl WHERE r = 9e999"), 2);

  local->run(
      "UPDATE fl SET r = -r, x = -x WHERE id IN (1, 2, 5, 9);"
      "UPDATE fl SET r = 9e999 - 9e999 WHERE id = 4;"
      "UPDATE rk SET k = 1.5 WHERE k = 9e999;"
      "DELETE FROM rk WHERE k = -9e999;"
      "INSERT INTO rk VALUES (-9e999, 'back');");
  ASSERT_NO_FATAL_FAILURE(sync());
  expectSame("fl");
  expectSame("rk");
  expectSameQuery(exact);
}

TEST_F(BadInput, NegativeZeroMatchesWhatSQLiteStores) {
  // A REAL column stores -0.0 as 0.0, a column without affinity keeps the sign (quote() and
  // CAST AS TEXT both print it as 0.0, so a literal from them loses it).
  local->run(
      "CREATE TABLE nz(id INTEGER PRIMARY KEY, r REAL, x); INSERT INTO nz VALUES (1, -0.0, -0.0), "
      "(2, 0.0, 0.0);");
  driver();
  ASSERT_NO_FATAL_FAILURE(sync());
  expectSame("nz");
  local->run("INSERT INTO nz VALUES (3, -0.0, -0.0); UPDATE nz SET x = -0.0 WHERE id = 2;");
  ASSERT_NO_FATAL_FAILURE(sync());
  expectSame("nz");
}

// ---------------------------------------------------------------------------------------------
// Tables the engine must leave alone

TEST_F(BadInput, Fts5TablesAreSkippedWithAWarning) {
  local->run(
      "CREATE VIRTUAL TABLE docs USING fts5(title, body);"
      "INSERT INTO docs VALUES ('a', 'alpha'), ('b', 'beta');"
      "CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT);"
      "INSERT INTO notes VALUES (1, 'one'), (2, 'two');");
  ASSERT_EQ(localValue("SELECT count(*) FROM sqlite_master WHERE name = 'docs_data'"), "1");
  driver();
  ASSERT_NO_FATAL_FAILURE(sync());
  expectSame("notes");
  for (const char* t :
       {"docs", "docs_data", "docs_idx", "docs_content", "docs_docsize", "docs_config"})
    EXPECT_FALSE(d1HasTable(t)) << t;
  bool warned = false;
  for (const auto& w : drv->engine().warnings())
    if (w.find("docs") != std::string::npos && w.find("virtual") != std::string::npos)
      warned = true;
  EXPECT_TRUE(warned) << "warnings do not mention the virtual table docs";
  json h = health();
  ASSERT_TRUE(h.is_object());
  EXPECT_NE(h["warnings"].dump().find("docs"), std::string::npos) << h.dump();
  EXPECT_FALSE(h["initialSync"]["tables"].contains("docs"));
  EXPECT_FALSE(h["initialSync"]["tables"].contains("docs_data"));
  // No capture on the virtual table or its shadow tables.
  EXPECT_EQ(
      localValue(
          "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND tbl_name LIKE 'docs%'"),
      "0");

  local->run(
      "INSERT INTO docs VALUES ('c', 'gamma'); DELETE FROM docs WHERE title = 'a';"
      "INSERT INTO notes VALUES (3, 'three');");
  ASSERT_NO_FATAL_FAILURE(sync());
  expectSame("notes");
  EXPECT_FALSE(d1HasTable("docs"));
  EXPECT_EQ(localValue("SELECT count(*) FROM docs WHERE docs MATCH 'gamma'"), "1");
}

TEST_F(BadInput, SqliteSequenceAndAutoincrement) {
  local->run(
      "CREATE TABLE a(id INTEGER PRIMARY KEY AUTOINCREMENT, v TEXT);"
      "INSERT INTO a(v) VALUES ('1'), ('2'), ('3'), ('4'), ('5');"
      "DELETE FROM a WHERE id = 5;"
      "INSERT INTO a(v) VALUES ('6');"  // AUTOINCREMENT never reuses 5
      "CREATE INDEX a_v ON a(v);"
      "CREATE TABLE _cf_KV(key TEXT PRIMARY KEY, value BLOB);"  // a Durable Object's own
      "INSERT INTO _cf_KV VALUES ('k', X'01');"
      "ANALYZE;");  // sqlite_stat1
  ASSERT_EQ(localValue("SELECT max(id) FROM a"), "6");
  ASSERT_EQ(localValue("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'"), "1");
  driver();
  ASSERT_NO_FATAL_FAILURE(sync());
  expectSame("a");
  EXPECT_EQ(d1Count("SELECT count(*) FROM a WHERE id = 5"), 0);
  for (const char* t :
       {"sqlite_sequence", "sqlite_stat1", "_cf_KV", "_d1sync_log", "_d1sync_state"})
    EXPECT_FALSE(d1HasTable(t)) << t;
  json h = health();
  for (const char* t : {"sqlite_sequence", "sqlite_stat1", "_cf_KV"})
    EXPECT_FALSE(h["initialSync"]["tables"].contains(t)) << t;
  EXPECT_TRUE(h["initialSync"]["tables"].contains("a"));

  local->run(
      "DELETE FROM a WHERE id = 6; INSERT INTO a(v) VALUES ('7'); UPDATE a SET v = 'x' WHERE id = "
      "1;"
      "UPDATE _cf_KV SET value = X'02'");
  ASSERT_EQ(localValue("SELECT max(id) FROM a"), "7");
  ASSERT_NO_FATAL_FAILURE(sync());
  expectSame("a");
  EXPECT_EQ(d1Count("SELECT max(id) FROM a"), 7);
  EXPECT_FALSE(d1HasTable("sqlite_sequence"));
  EXPECT_FALSE(d1HasTable("_cf_KV"));
}

// ---------------------------------------------------------------------------------------------
// Constraints the source enforced

TEST_F(BadInput, ForeignKeyCyclesInReplicaMode) {
  local->run(
      "PRAGMA foreign_keys = ON;"
      "CREATE TABLE husband(id INTEGER PRIMARY KEY,"
      " wife INTEGER REFERENCES wife(id) DEFERRABLE INITIALLY DEFERRED, name TEXT);"
      "CREATE TABLE wife(id INTEGER PRIMARY KEY,"
      " husband INTEGER NOT NULL REFERENCES husband(id) DEFERRABLE INITIALLY DEFERRED, name TEXT);"
      "CREATE TABLE node(id INTEGER PRIMARY KEY, parent INTEGER REFERENCES node(id));");
  // Each side points at a row inserted after it; the self-reference runs from child to a parent
  // with a larger id, so every copy page holds children whose parent is on a later page.
  local->run("BEGIN; PRAGMA defer_foreign_keys = ON;" + seq(1, 60) +
             "INSERT INTO wife SELECT i, i, 'w' || i FROM n;" + seq(1, 60) +
             "INSERT INTO husband SELECT i, i, 'h' || i FROM n;" + seq(1, 100) +
             "INSERT INTO node SELECT i, CASE WHEN i < 100 THEN i + 1 END FROM n;"
             "INSERT INTO node VALUES (200, 200);"  // its own parent
             "COMMIT;");
  ASSERT_EQ(localValue("SELECT count(*) FROM pragma_foreign_key_check"), "0");
  driver(smallPages(7));
  ASSERT_NO_FATAL_FAILURE(sync());
  for (const char* t : {"husband", "wife", "node"}) expectSame(t);
  for (const char* t : {"husband", "wife", "node"})
    EXPECT_EQ(d1Value(std::string("SELECT sql FROM sqlite_master WHERE name = '") + t + "'")
                  .find("REFERENCES"),
              std::string::npos)
        << t;

  local->run(
      "BEGIN; PRAGMA defer_foreign_keys = ON;"
      "UPDATE husband SET wife = 2 WHERE id = 1; UPDATE husband SET wife = 1 WHERE id = 2;"
      "UPDATE wife SET husband = 2 WHERE id = 1; UPDATE wife SET husband = 1 WHERE id = 2;"
      "DELETE FROM husband WHERE id = 3; DELETE FROM wife WHERE id = 3;"
      "INSERT INTO wife VALUES (100, 100, 'new'); INSERT INTO husband VALUES (100, 100, 'new');"
      "UPDATE node SET parent = 50 WHERE id = 100;"  // a cycle through the chain
      "UPDATE node SET parent = 200 WHERE id = 9; DELETE FROM node WHERE id = 10;"
      "UPDATE node SET id = 300 WHERE id = 200; UPDATE node SET parent = 300 WHERE parent = 200;"
      "COMMIT;");
  ASSERT_EQ(localValue("SELECT count(*) FROM pragma_foreign_key_check"), "0");
  ASSERT_NO_FATAL_FAILURE(sync());
  for (const char* t : {"husband", "wife", "node"}) expectSame(t);
}

TEST_F(BadInput, InsertOrReplaceOverAUniqueIndex) {
  local->run(
      "CREATE TABLE u(id INTEGER PRIMARY KEY, email TEXT UNIQUE, v);"
      "INSERT INTO u VALUES (1, 'a@x', 1), (2, 'b@x', 2), (3, 'c@x', 3), (4, 'd@x', 4), (5, 'e@x', "
      "5),"
      " (6, 'f@x', 6);"
      "CREATE TABLE uc(id INTEGER PRIMARY KEY, a TEXT, b INTEGER, v);"
      "CREATE UNIQUE INDEX uc_ab ON uc(a, b);"
      "INSERT INTO uc VALUES (1, 'p', 1, 'x'), (2, 'p', 2, 'y'), (3, 'q', 1, 'z');"
      "CREATE TABLE un(id INTEGER PRIMARY KEY, name TEXT COLLATE NOCASE UNIQUE);"
      "INSERT INTO un VALUES (1, 'alice'), (2, 'bob');"
      "CREATE TABLE ur(id INTEGER PRIMARY KEY, code TEXT UNIQUE ON CONFLICT REPLACE);"
      "INSERT INTO ur VALUES (1, 'c1'), (2, 'c2');"
      "CREATE TABLE uw(k TEXT PRIMARY KEY, email TEXT UNIQUE, v) WITHOUT ROWID;"
      "INSERT INTO uw VALUES ('a', 'e1', 1), ('b', 'e2', 2);");
  driver();
  ASSERT_NO_FATAL_FAILURE(sync());
  local->run(
      "INSERT OR REPLACE INTO u VALUES (10, 'a@x', 'new');"   // victim: id 1
      "REPLACE INTO u VALUES (2, 'c@x', 'both');"             // victims: id 2 (key), id 3
      "UPDATE OR REPLACE u SET email = 'd@x' WHERE id = 10;"  // victim: id 4
      // Two rows swapping a UNIQUE value through a temporary one: D1 must accept it.
      "UPDATE u SET email = 'tmp' WHERE id = 5; UPDATE u SET email = 'e@x' WHERE id = 6;"
      "UPDATE u SET email = 'f@x' WHERE id = 5;"
      "INSERT OR REPLACE INTO uc VALUES (20, 'p', 1, 'n');"   // victim: id 1
      "INSERT OR REPLACE INTO un VALUES (30, 'ALICE');"       // victim under NOCASE: id 1
      "INSERT INTO ur VALUES (40, 'c1');"                     // ON CONFLICT REPLACE: id 1
      "INSERT OR REPLACE INTO uw VALUES ('n', 'e1', 'v');");  // victim: 'a'
  ASSERT_EQ(localValue("SELECT group_concat(id) FROM (SELECT id FROM u ORDER BY id)"), "2,5,6,10");
  ASSERT_NO_FATAL_FAILURE(sync());
  for (const char* t : {"u", "uc", "un", "ur", "uw"}) expectSame(t);
  EXPECT_EQ(d1Count("SELECT count(*) FROM u WHERE id IN (1, 3, 4)"), 0);
  EXPECT_EQ(d1Count("SELECT count(*) FROM uc WHERE id = 1"), 0);
  EXPECT_EQ(d1Count("SELECT count(*) FROM un WHERE id = 1"), 0);
  EXPECT_EQ(d1Count("SELECT count(*) FROM ur WHERE id = 1"), 0);
  EXPECT_EQ(d1Count("SELECT count(*) FROM uw WHERE k = 'a'"), 0);
}

// ---------------------------------------------------------------------------------------------
// Schema and D1 surprises

// Runs single requests until D1 holds part of `table`; returns how many rows it holds.
int64_t runUntilPartlyCopied(Driver& d, D1Simulator& sim, const std::string& table, int64_t total) {
  for (int i = 0; i < 200; ++i) {
    Step s = d.runRequests(1);
    EXPECT_NE(s.kind, Step::Failed) << s.message;
    if (s.kind != Step::Send) return -1;
    auto r = sim.query("SELECT count(*) FROM " + quoteIdent(table));
    if (r.ok && r.rows.size()) {
      int64_t n = std::stoll(r.rows.at(0, 0));
      if (n > 0 && n < total) return n;
    }
  }
  return -1;
}

TEST_F(BadInput, TableDroppedMidSync) {
  local->run(
      "CREATE TABLE dropme(id INTEGER PRIMARY KEY, v TEXT);"  // first: copied first
      "CREATE INDEX dropme_v ON dropme(v);"
      "CREATE TABLE keep(id INTEGER PRIMARY KEY, v TEXT);" +
      seq(1, 300) + "INSERT INTO dropme SELECT i, 'd' || i FROM n;" + seq(1, 300) +
      "INSERT INTO keep SELECT i, 'k' || i FROM n;");
  driver(smallPages(20));
  int64_t partly = runUntilPartlyCopied(*drv, *d1, "dropme", 300);
  ASSERT_GT(partly, 0) << "the copy of dropme never stopped part-way";
  // Changes to the doomed table wait in the outbox when it goes.
  local->run(
      "UPDATE dropme SET v = 'late' WHERE id < 10; INSERT INTO dropme VALUES (1000, 'x');"
      "INSERT INTO keep VALUES (1000, 'k');");
  local->run("DROP TABLE dropme");
  ASSERT_NO_FATAL_FAILURE(sync());
  EXPECT_FALSE(d1HasTable("dropme"));
  EXPECT_EQ(d1Count("SELECT count(*) FROM sqlite_master WHERE name = 'dropme_v'"), 0);
  expectSame("keep");
  json h = health();
  EXPECT_EQ(h.value("state", ""), "idle") << h.dump();
  EXPECT_EQ(h.value("pendingChanges", -1), 0);
  EXPECT_FALSE(h["initialSync"]["tables"].contains("dropme"));
  EXPECT_TRUE(drv->engine().initialSyncDone());

  local->run("UPDATE keep SET v = 'after' WHERE id % 2 = 0");
  ASSERT_NO_FATAL_FAILURE(sync());
  expectSame("keep");
}

TEST_F(BadInput, TableDroppedAndRecreatedMidSync) {
  const std::string create = "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)";
  local->run(create + ";" + seq(1, 300) + "INSERT INTO t SELECT i, 'old' || i FROM n;");
  driver(smallPages(20));
  ASSERT_GT(runUntilPartlyCopied(*drv, *d1, "t", 300), 0);
  // The same definition, other rows: the copy so far is stale.
  local->run("DROP TABLE t;" + create + ";" + seq(150, 420) +
             "INSERT INTO t SELECT i, 'new' || i FROM n;");
  ASSERT_NO_FATAL_FAILURE(sync());
  expectSame("t");
  local->run("UPDATE t SET v = 'changed' WHERE id % 3 = 0; DELETE FROM t WHERE id < 200");
  ASSERT_NO_FATAL_FAILURE(sync());
  expectSame("t");

  // Now another definition under the same name, mid-copy of a resync.
  ASSERT_TRUE(drv->engine().resync("t").ok());
  Step s = drv->runRequests(2);
  ASSERT_NE(s.kind, Step::Failed) << s.message;
  local->run(
      "DROP TABLE t; CREATE TABLE t(id TEXT PRIMARY KEY NOT NULL, w BLOB, extra);"
      "INSERT INTO t VALUES ('a', X'01', 1), ('b', NULL, 'two');");
  ASSERT_NO_FATAL_FAILURE(sync());
  expectSame("t");
  EXPECT_EQ(d1Count("SELECT count(*) FROM pragma_table_info('t') WHERE name = 'v'"), 0);
}

TEST_F(BadInput, D1AlreadyHoldsOtherRowsInTheSameTable) {
  const std::string items = "CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT, qty INTEGER)";
  const std::string empty = "CREATE TABLE empty_here(id INTEGER PRIMARY KEY, v TEXT)";
  ASSERT_TRUE(d1->query(items).ok);
  ASSERT_TRUE(d1->query(empty).ok);
  // D1: odd ids (local has even ones), ids local also has with other values, ids below and above.
  ASSERT_TRUE(d1->query(seq(1, 120) + "INSERT INTO items SELECT i, 'stale' || i, -i FROM n").ok);
  ASSERT_TRUE(
      d1->query("INSERT INTO items VALUES (-5, 'below', 0), (1000, 'above', 0), (5000, 'far', 0)")
          .ok);
  ASSERT_TRUE(d1->query(seq(1, 10) + "INSERT INTO empty_here SELECT i, 'x' FROM n").ok);
  local->run(items + ";" + empty + ";" + seq(1, 50) +
             "INSERT INTO items SELECT i * 2, 'item' || i, i FROM n; INSERT INTO items VALUES "
             "(500, 'mid', 1);");
  driver(smallPages(7));
  ASSERT_NO_FATAL_FAILURE(sync());
  expectSame("items");
  expectSame("empty_here");
  EXPECT_EQ(d1Count("SELECT count(*) FROM items"), 51);
  EXPECT_EQ(d1Count("SELECT count(*) FROM empty_here"), 0);

  local->run(
      "UPDATE items SET qty = qty * 10 WHERE id % 3 = 0; DELETE FROM items WHERE id % 5 = 0;"
      "INSERT INTO items VALUES (1, 'one', 1); INSERT INTO empty_here VALUES (3, 'y');");
  ASSERT_NO_FATAL_FAILURE(sync());
  expectSame("items");
  expectSame("empty_here");
}

TEST_F(BadInput, D1AlreadyHoldsATableOfTheSameNameAndAnotherShape) {
  ASSERT_TRUE(d1->query("CREATE TABLE other(x TEXT PRIMARY KEY, junk BLOB);"
                        "INSERT INTO other VALUES ('a', X'00'), ('b', NULL);"
                        "CREATE TABLE extra(id INTEGER PRIMARY KEY, v TEXT, junk TEXT);"
                        "INSERT INTO extra VALUES (1, 'stale', 'j'), (99, 'gone', 'j');"
                        "CREATE TABLE typed(id INTEGER PRIMARY KEY, v TEXT, r TEXT);"
                        "INSERT INTO typed VALUES (1, 'one', 'x'), (50, 'gone', 'y');")
                  .ok);
  local->run(
      "CREATE TABLE other(id INTEGER PRIMARY KEY, v TEXT);"
      "INSERT INTO other VALUES (1, 'o1'), (2, 'o2');"
      "CREATE TABLE extra(id INTEGER PRIMARY KEY, v TEXT);"
      "INSERT INTO extra VALUES (1, 'e1'), (2, 'e2');"
      "CREATE TABLE typed(id INTEGER PRIMARY KEY, v INTEGER, r REAL);"
      "INSERT INTO typed VALUES (1, 10, 1.5), (2, 20, 2.0), (3, NULL, 3);");
  driver();
  ASSERT_NO_FATAL_FAILURE(sync());
  for (const char* t : {"other", "extra", "typed"}) expectSame(t);
  EXPECT_EQ(d1ColumnNames("other"), (std::vector<std::string>{"id", "v"}));
  EXPECT_EQ(d1ColumnNames("extra"), (std::vector<std::string>{"id", "v"}));
  EXPECT_EQ(d1Value("SELECT type FROM pragma_table_info('typed') WHERE name = 'v'"), "INTEGER");

  local->run(
      "UPDATE typed SET v = v + 1, r = r * 2; INSERT INTO typed VALUES (4, 40, 4.25);"
      "UPDATE other SET v = 'x' WHERE id = 1; INSERT INTO extra VALUES (3, 'e3');");
  ASSERT_NO_FATAL_FAILURE(sync());
  for (const char* t : {"other", "extra", "typed"}) expectSame(t);
}

TEST_F(BadInput, SourceIdReusedByTwoWriters) {
  const std::string schema = "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)";
  local->run(schema + ";" + seq(1, 40) + "INSERT INTO t SELECT i, 'first' || i FROM n;");
  driver(defaultOptions("shared", 1));
  ASSERT_NO_FATAL_FAILURE(sync());
  expectSame("t");

  SqliteLocal second(":memory:");
  second.run(schema + ";" + seq(20, 70) + "INSERT INTO t SELECT i, 'second' || i FROM n;");
  auto d2 = std::make_unique<Driver>(second, *d1, defaultOptions("shared", 2));
  Step s = d2->run();
  ASSERT_EQ(s.kind, Step::Failed);
  EXPECT_EQ(s.code, ErrorCode::Fenced) << codeName(s.code) << ": " << s.message;
  EXPECT_NE(s.message.find("shared"), std::string::npos) << s.message;
  EXPECT_NE(s.message.find("takeover"), std::string::npos) << s.message;
  // The second writer keeps what it captured; D1 still equals the first.
  second.run("INSERT INTO t VALUES (500, 'captured'); UPDATE t SET v = 'upd' WHERE id = 20;");
  auto outbox = [&] { return execAll(second.handle(), kPendingOutbox).rows.at(0, 0); };
  std::string before = outbox();
  EXPECT_NE(before, "0");
  s = d2->run();
  EXPECT_EQ(s.kind, Step::Failed);
  EXPECT_EQ(s.code, ErrorCode::Fenced);
  EXPECT_EQ(outbox(), before);
  expectSame("t");
  // The first keeps replicating.
  local->run("UPDATE t SET v = 'still first' WHERE id < 5; DELETE FROM t WHERE id = 40;");
  ASSERT_NO_FATAL_FAILURE(sync());
  expectSame("t");

  // With takeover the second wins, and D1 converges to it.
  Options take = defaultOptions("shared", 2);
  take.takeover = true;
  d2 = std::make_unique<Driver>(second, *d1, take);
  s = d2->run();
  ASSERT_EQ(s.kind, Step::Idle) << codeName(s.code) << ": " << s.message;
  EXPECT_EQ(diffTable(second.handle(), d1->handle(), "t"), "");
  EXPECT_EQ(d1Count("SELECT count(*) FROM t WHERE id = 500"), 1);
  EXPECT_EQ(d1Count("SELECT count(*) FROM t WHERE id < 20"), 0);
  EXPECT_EQ(outbox(), "0");

  // Now the first is the intruder.
  local->run("INSERT INTO t VALUES (900, 'first again')");
  s = drv->run();
  ASSERT_EQ(s.kind, Step::Failed);
  EXPECT_EQ(s.code, ErrorCode::Fenced) << codeName(s.code) << ": " << s.message;
  EXPECT_EQ(diffTable(second.handle(), d1->handle(), "t"), "");
  EXPECT_EQ(localValue("SELECT count(*) FROM _d1sync_log WHERE key = '900'"), "1");
  second.run("UPDATE t SET v = 'second writes on' WHERE id = 21");
  s = d2->run();
  ASSERT_EQ(s.kind, Step::Idle) << codeName(s.code) << ": " << s.message;
  EXPECT_EQ(diffTable(second.handle(), d1->handle(), "t"), "");
}

TEST_F(BadInput, OutboxEmptiedCompletelySequenceKeepsRising) {
  local->run("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)");
  driver();
  ASSERT_NO_FATAL_FAILURE(sync());
  local->run(seq(1, 10) + "INSERT INTO t SELECT i, 'v' FROM n");
  ASSERT_NO_FATAL_FAILURE(sync());
  int64_t high = drv->engine().appliedSeq();
  EXPECT_GE(high, 10);
  // Only the newest row stays, as the outbox's high-water mark; nothing waits.
  EXPECT_EQ(localValue("SELECT count(*) FROM _d1sync_log WHERE seq > " + std::to_string(high)),
            "0");
  EXPECT_EQ(localValue("SELECT count(*) FROM _d1sync_log"), "1");

  local->run("DELETE FROM _d1sync_log; INSERT INTO t VALUES (100, 'after empty');");
  EXPECT_GT(std::stoll(localValue("SELECT max(seq) FROM _d1sync_log")), high);
  ASSERT_NO_FATAL_FAILURE(sync());
  expectSame("t");
  EXPECT_GT(drv->engine().appliedSeq(), high);

  // And across a restart of the engine.
  high = drv->engine().appliedSeq();
  drv->restart();
  local->run("DELETE FROM _d1sync_log");
  ASSERT_NO_FATAL_FAILURE(sync());
  local->run("INSERT INTO t VALUES (101, 'after restart'); UPDATE t SET v = 'w' WHERE id = 1;");
  EXPECT_GT(std::stoll(localValue("SELECT max(seq) FROM _d1sync_log")), high);
  ASSERT_NO_FATAL_FAILURE(sync());
  expectSame("t");
  EXPECT_GT(drv->engine().appliedSeq(), high);
}

TEST_F(BadInput, OutboxHighWaterMarkSurvivesASequenceReset) {
  local->run("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)");
  driver();
  ASSERT_NO_FATAL_FAILURE(sync());
  local->run(seq(1, 10) + "INSERT INTO t SELECT i, 'v' FROM n");
  ASSERT_NO_FATAL_FAILURE(sync());
  int64_t high = drv->engine().appliedSeq();
  // The outbox's own memory is gone (its keep trigger and every row): the persisted watermark
  // must push the sequence back up.
  local->run("DROP TRIGGER _d1sync_log_keep; DELETE FROM _d1sync_log");
  drv->restart();
  ASSERT_NO_FATAL_FAILURE(sync());
  local->run("INSERT INTO t VALUES (100, 'x'); DELETE FROM t WHERE id = 2;");
  EXPECT_GT(std::stoll(localValue("SELECT max(seq) FROM _d1sync_log")), high);
  ASSERT_NO_FATAL_FAILURE(sync());
  expectSame("t");
}

TEST_F(BadInput, OutboxEmptiedWithPendingChangesLosesNothing) {
  // Someone empties the outbox while changes wait in it. Those changes must still reach D1
  // (the gap in the sequence shows something was lost: recopy), or the engine must say so.
  local->run("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT);" + seq(1, 20) +
             "INSERT INTO t SELECT i, 'v' || i FROM n;");
  driver();
  ASSERT_NO_FATAL_FAILURE(sync());
  local->run(
      "UPDATE t SET v = 'lost?' WHERE id <= 5; DELETE FROM t WHERE id = 20; INSERT INTO t VALUES "
      "(30, 'new');");
  local->run("DELETE FROM _d1sync_log");
  local->run("INSERT INTO t VALUES (31, 'after')");
  Step s = drv->run();
  if (s.kind == Step::Failed) {
    EXPECT_NE(s.message.find("_d1sync_log"), std::string::npos) << s.message;
  } else {
    EXPECT_EQ(s.kind, Step::Idle);
    expectSame("t");
  }
}

// ---------------------------------------------------------------------------------------------
// Wrong options and a wrong binding

TEST_F(BadInput, WrongOptionsAreConfigErrors) {
  local->run("CREATE TABLE t(id INTEGER PRIMARY KEY, room_id TEXT)");
  {
    Options o = defaultOptions();
    o.tables = std::vector<std::string>{"t", "missing one"};
    driver(o);
    Step s = drv->run();
    ASSERT_EQ(s.kind, Step::Failed);
    EXPECT_EQ(s.code, ErrorCode::Config);
    EXPECT_NE(s.message.find("missing one"), std::string::npos) << s.message;
    EXPECT_FALSE(d1HasTable("t"));
  }
  {
    // A local table already has a column named like the tenant column.
    auto fresh = std::make_unique<SqliteLocal>(":memory:");
    fresh->run("CREATE TABLE t(id INTEGER PRIMARY KEY, room_id TEXT)");
    Options o = defaultOptions("src-tenant");
    o.tenantColumn = "room_id";
    o.tenantLiteral = "'r1'";
    Driver d(*fresh, *d1, o);
    Step s = d.run();
    ASSERT_EQ(s.kind, Step::Failed);
    EXPECT_EQ(s.code, ErrorCode::Config) << codeName(s.code) << ": " << s.message;
    EXPECT_NE(s.message.find("room_id"), std::string::npos) << s.message;
  }
  {
    // A database that replicates as one sourceId, opened with another.
    auto fresh = std::make_unique<SqliteLocal>(":memory:");
    fresh->run(
        "CREATE TABLE t(id INTEGER PRIMARY KEY, room_id TEXT); INSERT INTO t VALUES (1, 'a')");
    Driver first(*fresh, *d1, defaultOptions("name-a"));
    ASSERT_EQ(first.run().kind, Step::Idle);
    Driver renamed(*fresh, *d1, defaultOptions("name-b"));
    Step s = renamed.run();
    ASSERT_EQ(s.kind, Step::Failed);
    EXPECT_EQ(s.code, ErrorCode::Config) << codeName(s.code) << ": " << s.message;
    EXPECT_NE(s.message.find("name-a"), std::string::npos) << s.message;
  }
  // The JSON form the bindings pass.
  auto parse = [](const std::string& text) {
    Options o;
    return parseOptions(text, o);
  };
  EXPECT_NE(parse("not json"), "");
  EXPECT_NE(parse("[]"), "");
  EXPECT_NE(parse("{}").find("sourceId"), std::string::npos);
  EXPECT_NE(parse(R"({"sourceId": ""})").find("sourceId"), std::string::npos);
  EXPECT_NE(parse(R"({"sourceId": 42})").find("sourceId"), std::string::npos);
  EXPECT_NE(parse(R"({"sourceId": "s", "tabels": ["t"]})").find("tabels"), std::string::npos);
  EXPECT_NE(parse(R"({"sourceId": "s", "tables": "t"})").find("tables"), std::string::npos);
  EXPECT_NE(parse(R"({"sourceId": "s", "tables": [1]})").find("tables"), std::string::npos);
  EXPECT_NE(parse(R"({"sourceId": "s", "schema": "loose"})").find("schema"), std::string::npos);
  EXPECT_NE(parse(R"({"sourceId": "s", "takeover": "yes"})").find("takeover"), std::string::npos);
  EXPECT_NE(parse(R"({"sourceId": "s", "tenant": {"column": "c"}})").find("tenant"),
            std::string::npos);
  EXPECT_NE(parse(R"({"sourceId": "s", "tenant": {"column": "", "value": "v"}})").find("tenant"),
            std::string::npos);
  EXPECT_NE(parse(R"({"sourceId": "s", "tenant": {"column": "c", "value": 1.5}})").find("tenant"),
            std::string::npos);
  EXPECT_NE(
      parse(R"({"sourceId": "s", "limits": {"statementBytes": 200000}})").find("statementBytes"),
      std::string::npos);
  EXPECT_NE(parse(R"({"sourceId": "s", "limits": {"copyPageRows": 0}})").find("copyPageRows"),
            std::string::npos);
  EXPECT_NE(parse(R"({"sourceId": "s", "limits": {"rowBytes": "big"}})").find("rowBytes"),
            std::string::npos);
  EXPECT_NE(parse(R"({"sourceId": "s", "limits": {"noSuchLimit": 1}})").find("noSuchLimit"),
            std::string::npos);
  Options ok;
  EXPECT_EQ(parseOptions(R"({"sourceId": "room-42", "tables": ["t"], "tenant": {"column": "room_id",
      "value": "it's"}, "schema": "strict", "takeover": true, "limits": {"copyPageRows": 5}})",
                         ok),
            "");
  EXPECT_EQ(ok.sourceId, "room-42");
  EXPECT_EQ(ok.tenantLiteral, "'it''s'");
  EXPECT_EQ(ok.limits.copyPageRows, 5u);
  EXPECT_TRUE(ok.takeover);
}

TEST_F(BadInput, TenantValueThatIsNoLiteralIsAConfigError) {
  // Options::tenantLiteral must be an SQL literal; anything else would reach D1 as broken SQL.
  for (const std::string lit : {std::string(""), std::string("t1"), std::string("'open")}) {
    SCOPED_TRACE("tenantLiteral = [" + lit + "]");
    auto db = std::make_unique<SqliteLocal>(":memory:");
    auto sim = std::make_unique<D1Simulator>();
    db->run("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t VALUES (1, 'a')");
    Options o = defaultOptions();
    o.tenantColumn = "tenant";
    o.tenantLiteral = lit;
    Driver d(*db, *sim, o);
    Step s = d.run(200);
    EXPECT_EQ(s.kind, Step::Failed);
    EXPECT_EQ(s.code, ErrorCode::Config) << codeName(s.code) << ": " << s.message;
  }
}

TEST_F(BadInput, WrongBindingErrorsAreRetriedAndNothingIsLost) {
  local->run("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT);" + seq(1, 100) +
             "INSERT INTO t SELECT i, 'v' || i FROM n;");
  // Two faults on the claim, then four on the schema and the first copy batches.
  for (int i = 0; i < 2; ++i) d1->inject(Fault{Fault::FailBeforeCommit, "some weird error"});
  driver(smallPages(30));
  Step s = drv->runRequests(3);
  ASSERT_NE(s.kind, Step::Failed) << s.message;
  ASSERT_EQ(d1->pendingFaults(), 0u);
  for (int i = 0; i < 4; ++i) d1->inject(Fault{Fault::FailBeforeCommit, "some weird error"});
  ASSERT_NO_FATAL_FAILURE(sync());
  EXPECT_EQ(d1->pendingFaults(), 0u);
  expectSame("t");
  json h = health();
  EXPECT_GE(h.value("retries", 0), 6) << h.dump();
  EXPECT_GE(h.value("syncErrors", 0), 1) << h.dump();  // the probes after it absorb the rest
  EXPECT_NE(h["lastError"].dump().find("some weird error"), std::string::npos) << h.dump();

  // Faults on incremental batches, with writes landing between the retries.
  local->run("UPDATE t SET v = 'a' WHERE id % 2 = 0; DELETE FROM t WHERE id % 9 = 0;");
  for (int i = 0; i < 4; ++i) d1->inject(Fault{Fault::FailBeforeCommit, "some weird error"});
  for (int i = 0; i < 3; ++i) {
    s = drv->runRequests(1);
    ASSERT_NE(s.kind, Step::Failed) << s.message;
    local->run("INSERT INTO t VALUES (" + std::to_string(1000 + i) + ", 'during')");
  }
  ASSERT_NO_FATAL_FAILURE(sync());
  EXPECT_EQ(d1->pendingFaults(), 0u);
  expectSame("t");
  EXPECT_EQ(drv->engine().appliedSeq(), drv->engine().capturedSeq());
  EXPECT_EQ(localValue(kPendingOutbox), "0");
}

TEST_F(BadInput, WrongBindingLostAnswersApplyOnce) {
  local->run("CREATE TABLE t(id INTEGER PRIMARY KEY, n INTEGER);" + seq(1, 50) +
             "INSERT INTO t SELECT i, 0 FROM n;");
  driver(smallPages(10));
  Step s = drv->runRequests(1);  // the claim
  ASSERT_NE(s.kind, Step::Failed) << s.message;
  ASSERT_TRUE(drv->engine().fatal().ok());
  for (int i = 0; i < 4; ++i) d1->inject(Fault{Fault::LoseAnswer, "some weird error"});
  ASSERT_NO_FATAL_FAILURE(sync());
  expectSame("t");
  local->run("UPDATE t SET n = n + 1; DELETE FROM t WHERE id = 3; INSERT INTO t VALUES (99, 1);");
  d1->inject(Fault{Fault::LoseAnswer, "some weird error"});
  d1->inject(Fault{Fault::FailBeforeCommit, "some weird error"});
  ASSERT_NO_FATAL_FAILURE(sync());
  expectSame("t");
}

TEST_F(BadInput, WrongBindingLosesTheAnswerToTheFirstClaim) {
  // The claim commits in D1 but the answer never arrives: the retry must recognise its own row.
  local->run(
      "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t VALUES (1, 'a'), (2, 'b');");
  d1->inject(Fault{Fault::LoseAnswer, "some weird error"});
  driver();
  ASSERT_NO_FATAL_FAILURE(sync());
  expectSame("t");
}

TEST_F(BadInput, WrongBindingLosesTheAnswerToATakeover) {
  const std::string schema = "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)";
  local->run(schema + "; INSERT INTO t VALUES (1, 'first')");
  driver(defaultOptions("shared", 1));
  ASSERT_NO_FATAL_FAILURE(sync());
  SqliteLocal second(":memory:");
  second.run(schema + "; INSERT INTO t VALUES (2, 'second')");
  Options take = defaultOptions("shared", 2);
  take.takeover = true;
  Driver d2(second, *d1, take);
  Step s = d2.runRequests(1);  // the claim: owned by another incarnation
  ASSERT_NE(s.kind, Step::Failed) << s.message;
  d1->inject(Fault{Fault::LoseAnswer, "some weird error"});  // the takeover commits, unheard
  s = d2.run();
  ASSERT_EQ(s.kind, Step::Idle) << codeName(s.code) << ": " << s.message;
  EXPECT_EQ(diffTable(second.handle(), d1->handle(), "t"), "");
}

TEST_F(BadInput, WrongBindingMalformedAnswersAreNotTakenForSuccess) {
  local->run(
      "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t VALUES (1, 'a'), (2, 'b');");
  driver();
  Engine& e = drv->engine();
  auto next = [&] {
    local->run("BEGIN");
    Step s = e.next(drv->now());
    local->run("COMMIT");
    return s;
  };
  auto complete = [&](const BatchResult& r) {
    local->run("BEGIN");
    e.complete(r, drv->now());
    local->run("COMMIT");
  };
  // The claim answered "ok" with no results at all (a binding that returns nothing).
  Step s = next();
  ASSERT_EQ(s.kind, Step::Send);
  BatchResult empty;
  empty.ok = true;
  complete(empty);
  EXPECT_FALSE(e.started());
  ASSERT_NO_FATAL_FAILURE(sync());
  expectSame("t");

  // A batch failing with an empty message, then the probe answered "ok" with no rows.
  local->run("INSERT INTO t VALUES (3, 'c')");
  s = next();
  while (s.kind == Step::Wait) {
    drv->advance(s.waitUntilMs - drv->now());
    s = next();
  }
  ASSERT_EQ(s.kind, Step::Send);
  BatchResult failed;
  failed.ok = false;
  complete(failed);
  s = next();
  while (s.kind == Step::Wait) {
    drv->advance(s.waitUntilMs - drv->now());
    s = next();
  }
  ASSERT_EQ(s.kind, Step::Send);  // the probe
  complete(empty);
  EXPECT_NE(e.fatal().code, ErrorCode::Fenced);
  ASSERT_NO_FATAL_FAILURE(sync());
  expectSame("t");

  // An answer delivered twice: the second has nothing in flight to complete.
  local->run("INSERT INTO t VALUES (4, 'd')");
  s = next();
  while (s.kind == Step::Wait) {
    drv->advance(s.waitUntilMs - drv->now());
    s = next();
  }
  ASSERT_EQ(s.kind, Step::Send);
  BatchResult r = d1->apply(s.batch);
  complete(r);
  complete(r);
  ASSERT_NO_FATAL_FAILURE(sync());
  expectSame("t");
  EXPECT_EQ(d1Count("SELECT count(*) FROM t"), 4);
}

}  // namespace
}  // namespace d1sync::native
