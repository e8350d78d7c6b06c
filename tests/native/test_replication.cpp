// Initial sync and streaming of ordinary tables: the engine's main path.
#include "fixtures.hpp"

namespace d1sync::native {
namespace {

const char* kShop = R"sql(
  CREATE TABLE customers(id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT UNIQUE);
  CREATE TABLE orders(id INTEGER PRIMARY KEY, customer INTEGER REFERENCES customers(id),
                      total REAL, note TEXT);
  CREATE TABLE lines(order_id INTEGER NOT NULL REFERENCES orders(id), n INTEGER NOT NULL,
                     sku TEXT NOT NULL, qty INTEGER, PRIMARY KEY(order_id, n));
  CREATE TABLE tags(name TEXT PRIMARY KEY, color BLOB) WITHOUT ROWID;
  CREATE TABLE events(kind TEXT, payload TEXT);
  PRAGMA foreign_keys = ON;
)sql";

void fill(SqliteLocal& db, int n) {
  db.run("BEGIN");
  for (int i = 1; i <= n; ++i) {
    std::string s = std::to_string(i);
    db.run("INSERT INTO customers VALUES (" + s + ", 'name " + s + "', 'c" + s + "@x')");
    db.run("INSERT INTO orders VALUES (" + s + ", " + s + ", " + s + ".25, NULL)");
    db.run("INSERT INTO lines VALUES (" + s + ", 1, 'sku-" + s + "', " + s + ")");
    db.run("INSERT INTO lines VALUES (" + s + ", 2, 'sku-x', NULL)");
    db.run("INSERT INTO tags VALUES ('tag" + s + "', X'" + (i % 2 ? "00ff" : "") + "')");
    db.run("INSERT INTO events VALUES ('k', 'payload " + s + "')");
  }
  db.run("COMMIT");
}

TEST_F(EngineTest, InitialSyncCopiesEveryTableExactly) {
  local->run(kShop);
  fill(*local, 500);
  driver();
  sync();
  for (const char* t : {"customers", "orders", "lines", "tags"}) expectSame(t);
  expectSame("events", "", "rowid");
  EXPECT_EQ(d1Count("SELECT count(*) FROM lines"), 1000);
  EXPECT_TRUE(drv->engine().initialSyncDone());
}

TEST_F(EngineTest, StreamsInsertsUpdatesDeletesAfterTheCopy) {
  local->run(kShop);
  fill(*local, 50);
  driver();
  sync();
  local->run("UPDATE customers SET name = 'renamed' WHERE id % 3 = 0");
  local->run("DELETE FROM lines WHERE n = 2 AND order_id < 20");
  local->run("INSERT INTO customers VALUES (1000, 'new', NULL)");
  local->run("DELETE FROM events WHERE rowid % 2 = 0");
  local->run("UPDATE tags SET color = NULL WHERE name = 'tag7'");
  sync();
  for (const char* t : {"customers", "orders", "lines", "tags"}) expectSame(t);
  expectSame("events", "", "rowid");
  EXPECT_EQ(drv->engine().appliedSeq(), drv->engine().capturedSeq());
  EXPECT_EQ(local->exec(kPendingOutbox).rows.at(0, 0), "0");
}

TEST_F(EngineTest, CoalescesManyChangesToOneKey) {
  local->run("CREATE TABLE c(id INTEGER PRIMARY KEY, v INTEGER)");
  driver();
  sync();
  size_t before = d1->statements;
  for (int i = 0; i < 200; ++i)
    local->run("INSERT OR REPLACE INTO c VALUES (1, " + std::to_string(i) + ")");
  local->run("INSERT INTO c VALUES (2, 0)");
  local->run("DELETE FROM c WHERE id = 2");
  sync();
  expectSame("c");
  // One batch: guard, one delete, one upsert, advance.
  EXPECT_EQ(d1->statements - before, 4u);
}

TEST_F(EngineTest, PrimaryKeyUpdatesMoveTheRow) {
  local->run(
      "CREATE TABLE p(a TEXT, b INTEGER, v, PRIMARY KEY(a, b)) WITHOUT ROWID;"
      "INSERT INTO p VALUES ('x', 1, 'one'), ('y', 2, 'two');"
      "CREATE TABLE q(id INTEGER PRIMARY KEY, v); INSERT INTO q VALUES (1, 'a'), (2, 'b');");
  driver();
  sync();
  local->run(
      "UPDATE p SET b = 10 WHERE a = 'x'; UPDATE q SET id = 3 WHERE id = 1;"
      "UPDATE q SET id = 1 WHERE id = 2; UPDATE q SET id = 2 WHERE id = 3;");
  sync();
  expectSame("p");
  expectSame("q");
}

TEST_F(EngineTest, DeletesParentsAfterChildren) {
  local->run(kShop);
  fill(*local, 10);
  driver();
  sync();
  local->run(
      "DELETE FROM lines WHERE order_id <= 5; DELETE FROM orders WHERE id <= 5;"
      "DELETE FROM customers WHERE id <= 5;");
  sync();
  for (const char* t : {"customers", "orders", "lines"}) expectSame(t);
}

TEST_F(EngineTest, WritesDuringTheInitialSyncArrive) {
  local->run(kShop);
  fill(*local, 300);
  Options o = defaultOptions();
  o.limits.copyPageRows = 40;  // many pages, so writes land between them
  driver(o);
  for (int round = 0; round < 30; ++round) {
    Step s = drv->runRequests(1);
    ASSERT_NE(s.kind, Step::Failed) << s.message;
    std::string r = std::to_string(round);
    local->run("INSERT INTO customers VALUES (" + std::to_string(5000 + round) + ", 'late', NULL)");
    local->run("UPDATE customers SET name = 'changed " + r +
               "' WHERE id = " + std::to_string(round * 9 + 1));
    local->run("DELETE FROM lines WHERE order_id = " + std::to_string(round * 7 + 3));
    local->run("INSERT INTO events VALUES ('late', '" + r + "')");
  }
  sync();
  for (const char* t : {"customers", "orders", "lines", "tags"}) expectSame(t);
  expectSame("events", "", "rowid");
}

TEST_F(EngineTest, OnlyListedTablesAreReplicated) {
  local->run(kShop);
  fill(*local, 5);
  Options o = defaultOptions();
  o.tables = std::vector<std::string>{"tags"};
  driver(o);
  sync();
  expectSame("tags");
  EXPECT_FALSE(d1->query("SELECT 1 FROM customers").ok);
}

TEST_F(EngineTest, AListedTableThatDoesNotExistIsAConfigError) {
  Options o = defaultOptions();
  o.tables = std::vector<std::string>{"nope"};
  driver(o);
  Step s = drv->run();
  EXPECT_EQ(s.kind, Step::Failed);
  EXPECT_EQ(s.code, ErrorCode::Config);
  EXPECT_NE(s.message.find("nope"), std::string::npos);
}

}  // namespace
}  // namespace d1sync::native

namespace d1sync::native {
namespace {

// schema: 'strict' keeps foreign keys, CHECK and UNIQUE in D1 and still converges, because
// parents are written before children and foreign keys are deferred to each batch's commit.
TEST_F(EngineTest, StrictModeKeepsConstraintsAndConverges) {
  local->run(R"sql(
    PRAGMA foreign_keys = ON;
    CREATE TABLE child(id INTEGER PRIMARY KEY, parent INTEGER NOT NULL REFERENCES parent(id),
                       qty INTEGER CHECK (qty >= 0), code TEXT UNIQUE);
    CREATE TABLE parent(id INTEGER PRIMARY KEY, name TEXT);
  )sql");
  for (int i = 1; i <= 300; ++i) {
    std::string s = std::to_string(i);
    local->run("INSERT INTO parent VALUES (" + s + ", 'p" + s + "')");
    local->run("INSERT INTO child VALUES (" + s + ", " + s + ", " + s + ", 'c" + s + "')");
  }
  Options o = defaultOptions();
  o.schema = SchemaMode::Strict;
  o.limits.copyPageRows = 50;
  driver(o);
  sync();
  expectSame("parent");
  expectSame("child");
  EXPECT_EQ(d1Count("SELECT count(*) FROM pragma_foreign_key_list('child')"), 1);
  EXPECT_EQ(d1Count("SELECT count(*) FROM pragma_index_list('child') WHERE \"unique\" = 1"), 1);
  EXPECT_FALSE(d1->query("INSERT INTO child VALUES (999, 1, -1, 'neg')").ok);  // CHECK kept
  // A new parent and its child in one page, and a parent deleted with its children.
  local->run(
      "INSERT INTO parent VALUES (1000, 'late'); INSERT INTO child VALUES (1000, 1000, 1, 'x');"
      "DELETE FROM child WHERE parent = 7; DELETE FROM parent WHERE id = 7;");
  sync();
  expectSame("parent");
  expectSame("child");
}

}  // namespace
}  // namespace d1sync::native
