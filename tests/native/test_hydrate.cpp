// Hydrate: an empty local database started from D1, exact, resumable, with nothing sent back.
#include <cstring>
#include <nlohmann/json.hpp>
#include <random>

#include "faulty_local.hpp"
#include "fixtures.hpp"
#include "hydrate_ddl.hpp"

namespace d1sync::native {
namespace {

TEST(HydrateDdl, PlainTablesComeBackAsD1HasThem) {
  auto d = localDdlFromD1(
      "CREATE TABLE IF NOT EXISTS \"t\" (\"id\" INTEGER NOT NULL, \"v\" TEXT COLLATE NOCASE, "
      "PRIMARY KEY (\"id\")) WITHOUT ROWID, STRICT",
      "t", std::nullopt);
  EXPECT_EQ(d.error, "");
  EXPECT_EQ(d.sql,
            "CREATE TABLE IF NOT EXISTS \"t\" (\"id\" INTEGER NOT NULL, \"v\" TEXT COLLATE NOCASE, "
            "PRIMARY KEY (\"id\")) WITHOUT ROWID, STRICT");
  EXPECT_EQ(d.rowidColumn, "");
}

TEST(HydrateDdl, TheTenantColumnAndItsConstraintsStayInD1) {
  auto d = localDdlFromD1(
      "CREATE TABLE tasks(user_id TEXT NOT NULL, id INTEGER NOT NULL, title TEXT, "
      "UNIQUE(user_id, title), CHECK (length(title) < 100), PRIMARY KEY(user_id, id))",
      "tasks", std::string("user_id"));
  EXPECT_EQ(d.error, "");
  EXPECT_EQ(d.sql,
            "CREATE TABLE IF NOT EXISTS \"tasks\" (id INTEGER NOT NULL, title TEXT, PRIMARY KEY "
            "(\"id\"), CHECK (length(title) < 100))");
}

TEST(HydrateDdl, TheEnginesRowidColumnMakesARowidTableAgain) {
  auto d = localDdlFromD1(
      "CREATE TABLE IF NOT EXISTS \"log\" (\"room\" TEXT NOT NULL, \"rowid\" INTEGER NOT NULL, "
      "\"msg\" TEXT, PRIMARY KEY (\"room\", \"rowid\"))",
      "log", std::string("room"));
  EXPECT_EQ(d.error, "");
  EXPECT_EQ(d.sql, "CREATE TABLE IF NOT EXISTS \"log\" (\"msg\" TEXT)");
  EXPECT_EQ(d.rowidColumn, "rowid");
  auto own = localDdlFromD1(
      "CREATE TABLE x(\"_d1sync_rowid\" INTEGER NOT NULL, rowid TEXT, PRIMARY KEY "
      "(\"_d1sync_rowid\"))",
      "x", std::nullopt);
  EXPECT_EQ(own.sql, "CREATE TABLE IF NOT EXISTS \"x\" (rowid TEXT)");
  EXPECT_EQ(own.rowidColumn, "_d1sync_rowid");
}

TEST(HydrateDdl, ADefinitionWithoutColumnsIsRefused) {
  EXPECT_NE(localDdlFromD1("CREATE VIEW v AS SELECT 1", "v", std::nullopt).error, "");
  EXPECT_NE(localDdlFromD1("CREATE TABLE t(room TEXT, PRIMARY KEY(room))", "t", std::string("room"))
                .error,
            "");
}

// A target that remembers the statements it was sent, so a test can say what travelled.
class Recording final : public Target {
 public:
  explicit Recording(Target& inner) : inner_(inner) {}
  BatchResult apply(const Batch& b) override {
    for (const auto& s : b.statements) sent.push_back(s);
    return inner_.apply(b);
  }
  size_t writesTo(const std::string& table) const {
    size_t n = 0;
    for (const auto& s : sent)
      if (s.find("INSERT INTO \"" + table + "\"") != std::string::npos ||
          s.find("DELETE FROM \"" + table + "\"") != std::string::npos)
        ++n;
    return n;
  }
  std::vector<std::string> sent;

 private:
  Target& inner_;
};

const char* kSchema = R"sql(
  CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT, big INTEGER, score REAL, data BLOB);
  CREATE INDEX items_name ON items(name);
  CREATE TABLE tags(k TEXT PRIMARY KEY, n INTEGER) WITHOUT ROWID;
  CREATE TABLE log(msg TEXT, at REAL);
)sql";

void fill(SqliteLocal& db, int rows, uint64_t seed) {
  db.run(kSchema);
  std::mt19937_64 rng(seed);
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db.handle(), "INSERT INTO items VALUES (?1, ?2, ?3, ?4, ?5)", -1, &st,
                     nullptr);
  for (int i = 1; i <= rows; ++i) {
    sqlite3_bind_int(st, 1, i);
    const std::string name = i % 7 == 0 ? std::string("nul\0byte", 8) : "item " + std::to_string(i);
    if (i % 11 == 0)
      sqlite3_bind_null(st, 2);
    else if (i % 7 == 0)
      sqlite3_bind_text(st, 2, name.data(), 8, SQLITE_TRANSIENT);
    else
      sqlite3_bind_text(st, 2, name.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 3, static_cast<int64_t>(rng()));
    uint64_t bits = rng();
    double d;
    std::memcpy(&d, &bits, sizeof d);
    if (d != d) d = -0.0;  // NaN is stored as NULL by SQLite; keep a REAL
    sqlite3_bind_double(st, 4, d);
    if (i % 5 == 0)
      sqlite3_bind_blob(st, 5, "", 0, SQLITE_STATIC);
    else
      sqlite3_bind_blob(st, 5, &bits, sizeof bits, SQLITE_TRANSIENT);
    sqlite3_step(st);
    sqlite3_reset(st);
  }
  sqlite3_finalize(st);
  db.run(
      "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i<300) "
      "INSERT INTO tags SELECT printf('t%04d', i), i FROM c");
  db.run(
      "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i<300) "
      "INSERT INTO log SELECT 'line ' || i, i / 7.0 FROM c; DELETE FROM log WHERE rowid % 9 = 0");
}

class Hydrate : public EngineTest {
 protected:
  void SetUp() override {
    EngineTest::SetUp();
    fill(*local, 1500, 7);
    ASSERT_EQ(driver().run().kind, Step::Idle);
    fresh = std::make_unique<SqliteLocal>(":memory:");
  }
  Options hydrating(uint64_t seed = 2) {
    Options o = defaultOptions("src-1", seed);
    o.hydrate = true;
    o.takeover = true;
    o.limits.copyPageRows = 200;  // several pages per table
    return o;
  }
  void expectFreshEqualsOld() {
    for (const char* t : {"items", "tags"})
      EXPECT_EQ(diffTable(fresh->handle(), local->handle(), t), "") << t;
    EXPECT_EQ(diffTable(fresh->handle(), local->handle(), "log", "", "rowid"), "");
  }
  std::unique_ptr<SqliteLocal> fresh;
};

TEST_F(Hydrate, ANewDatabaseContinuesThePartitionWithNothingSentBack) {
  Recording rec(*d1);
  Driver h(*fresh, rec, hydrating());
  Step s = h.run();
  ASSERT_EQ(s.kind, Step::Idle) << s.message;
  expectFreshEqualsOld();
  EXPECT_EQ(rec.writesTo("items") + rec.writesTo("tags") + rec.writesTo("log"), 0u);
  // The index came along; the outbox holds nothing of the hydrate's own writes.
  EXPECT_EQ(fresh->exec("SELECT count(*) FROM sqlite_master WHERE name='items_name'").rows.at(0, 0),
            "1");
  EXPECT_EQ(fresh->exec(kPendingOutbox).rows.at(0, 0), "0");
  auto health = nlohmann::json::parse(h.engine().healthJson(h.now()));
  EXPECT_EQ(health["rowsHydrated"], 1500 + 300 + 267);
  EXPECT_EQ(health["initialSync"]["done"], true);

  // The new database writes; D1 follows it; the old one is fenced.
  fresh->run(
      "UPDATE items SET score = -score WHERE id % 10 = 1; DELETE FROM tags WHERE n < 50;"
      "INSERT INTO log VALUES ('new line', 1.5); INSERT INTO items(id, name) VALUES (9999, 'x')");
  ASSERT_EQ(h.run().kind, Step::Idle);
  for (const char* t : {"items", "tags"})
    EXPECT_EQ(diffTable(fresh->handle(), d1->handle(), t), "") << t;
  EXPECT_EQ(diffTable(fresh->handle(), d1->handle(), "log", "", "rowid"), "");
  EXPECT_EQ(rec.writesTo("items"), 1u);  // the new and changed rows, in one upsert
  local->run("UPDATE items SET name = 'old device' WHERE id = 1");
  EXPECT_EQ(drv->run().code, ErrorCode::Fenced);
}

TEST_F(Hydrate, ARestartAfterAnyRequestResumesAndEndsEqual) {
  for (size_t cut = 1; cut <= 12; ++cut) {
    auto db = std::make_unique<SqliteLocal>(":memory:");
    Options o = hydrating(100 + cut);
    Driver h(*db, *d1, o);
    h.runRequests(cut, cut % 2 == 0);  // even cuts lose the last answer
    h.restart();
    Step s = h.run();
    ASSERT_EQ(s.kind, Step::Idle) << "cut " << cut << ": " << s.message;
    for (const char* t : {"items", "tags"})
      EXPECT_EQ(diffTable(db->handle(), local->handle(), t), "") << "cut " << cut << " " << t;
    EXPECT_EQ(diffTable(db->handle(), local->handle(), "log", "", "rowid"), "") << cut;
    EXPECT_EQ(db->exec(kPendingOutbox).rows.at(0, 0), "0") << cut;
  }
}

TEST_F(Hydrate, LocalCallsThatFailBeforeOrAfterRunningStillEndEqual) {
  // 5 % of the engine's local calls fail, some after they ran (a page written whose progress
  // was not saved), with a restart after every fourth request.
  for (uint64_t seed = 1; seed <= 6; ++seed) {
    SqliteLocal db(":memory:");
    FaultyLocal faulty(db, seed);
    faulty.probability = 0.05;
    Driver h(db, *d1, hydrating(200 + seed), &faulty);
    Step s;
    for (int i = 0; i < 400; ++i) {
      s = h.runRequests(4, i % 3 == 2);
      if (s.kind == Step::Idle || s.kind == Step::Failed) break;
      h.restart();
    }
    ASSERT_EQ(s.kind, Step::Idle) << "seed " << seed << ": " << s.message;
    for (const char* t : {"items", "tags"})
      EXPECT_EQ(diffTable(db.handle(), local->handle(), t), "") << "seed " << seed << " " << t;
    EXPECT_EQ(diffTable(db.handle(), local->handle(), "log", "", "rowid"), "") << seed;
    EXPECT_GT(faulty.failedBefore + faulty.failedAfter, 0) << seed;
  }
}

// Values over the inline size come in pieces and are appended locally in statements under the
// local cap: text with multi-byte characters and blobs up to 1.5 MB, exact, also when the
// hydrate restarts after any request (a page written twice ends with the same bytes).
TEST_F(Hydrate, LongValuesComeInPiecesExactAndRestartable) {
  local->run(
      "CREATE TABLE docs(id INTEGER PRIMARY KEY, body TEXT, data BLOB);"
      "INSERT INTO docs VALUES (1, printf('%.*c', 20000, 'a'), randomblob(17000));"
      "INSERT INTO docs VALUES (2, replace(printf('%.*c', 150000, 'x'), 'x', 'é' || char(0)), "
      "randomblob(1500000));"
      "INSERT INTO docs VALUES (3, 'short', X'00');"
      "INSERT INTO docs VALUES (4, NULL, randomblob(16001));");
  ASSERT_EQ(drv->run().kind, Step::Idle);
  for (int cut = 0; cut <= 8; ++cut) {
    SqliteLocal into(":memory:");
    Options o = hydrating(10 + cut);
    o.limits.copyPageRows = 2;
    Driver h(into, *d1, o);
    if (cut) {
      h.runRequests(static_cast<size_t>(cut), cut % 2 == 1);
      h.restart();
    }
    Step s = h.run();
    ASSERT_EQ(s.kind, Step::Idle) << cut << ": " << s.message;
    EXPECT_EQ(diffTable(into.handle(), local->handle(), "docs"), "") << cut;
    EXPECT_EQ(into.exec("SELECT length(CAST(body AS BLOB)), typeof(body) FROM docs WHERE id=2")
                  .rows.at(0, 0),
              "450000");
  }
}

TEST_F(Hydrate, RefusesADatabaseThatHasTables) {
  fresh->run("CREATE TABLE mine(x)");
  Driver h(*fresh, *d1, hydrating());
  Step s = h.run();
  EXPECT_EQ(s.kind, Step::Failed);
  EXPECT_EQ(s.code, ErrorCode::Config);
  EXPECT_NE(s.message.find("empty local database; this one has tables: mine"), std::string::npos)
      << s.message;
}

TEST_F(Hydrate, WithoutTakeoverAnotherSourcesPartitionIsFenced) {
  Options o = hydrating();
  o.takeover = false;
  Driver h(*fresh, *d1, o);
  EXPECT_EQ(h.run().code, ErrorCode::Fenced);
}

class HydrateTenant : public EngineTest {};

TEST_F(HydrateTenant, OneTenantsRowsOnlyAndAnEmptyTenantStartsEmpty) {
  auto room = [](const std::string& r, uint64_t seed) {
    Options o = defaultOptions("room-" + r, seed);
    o.tenantColumn = "room_id";
    o.tenantLiteral = "'" + r + "'";
    return o;
  };
  SqliteLocal other(":memory:");
  fill(*local, 400, 1);
  fill(other, 300, 2);
  Driver a(*local, *d1, room("a", 1));
  Driver b(other, *d1, room("b", 2));
  ASSERT_EQ(a.run().kind, Step::Idle);
  ASSERT_EQ(b.run().kind, Step::Idle);

  SqliteLocal fresh(":memory:");
  Options o = room("a", 3);
  o.hydrate = o.takeover = true;
  o.limits.copyPageRows = 128;
  Driver h(fresh, *d1, o);
  ASSERT_EQ(h.run().kind, Step::Idle);
  for (const char* t : {"items", "tags"})
    EXPECT_EQ(diffTable(fresh.handle(), local->handle(), t), "") << t;
  EXPECT_EQ(diffTable(fresh.handle(), local->handle(), "log", "", "rowid"), "");
  fresh.run("DELETE FROM items WHERE id <= 10");
  ASSERT_EQ(h.run().kind, Step::Idle);
  EXPECT_EQ(diffTable(fresh.handle(), d1->handle(), "items", "room_id='a'"), "");
  EXPECT_EQ(diffTable(other.handle(), d1->handle(), "items", "room_id='b'"), "");

  SqliteLocal empty(":memory:");
  Options c = room("c", 4);
  c.hydrate = true;
  Driver hc(empty, *d1, c);
  ASSERT_EQ(hc.run().kind, Step::Idle);
  EXPECT_EQ(empty.exec("SELECT count(*) FROM items").rows.at(0, 0), "0");
  empty.run("INSERT INTO items(id, name) VALUES (1, 'first of c')");
  ASSERT_EQ(hc.run().kind, Step::Idle);
  EXPECT_EQ(d1Count("SELECT count(*) FROM items WHERE room_id='c'"), 1);
}

}  // namespace
}  // namespace d1sync::native
