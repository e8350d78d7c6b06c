// Many sources fanning into shared D1 tables, each scoped by a tenant column.
#include <nlohmann/json.hpp>

#include "fixtures.hpp"

namespace d1sync::native {
namespace {

const char* kRoom = R"sql(
  CREATE TABLE tasks(id INTEGER PRIMARY KEY, title TEXT NOT NULL, done INTEGER DEFAULT 0);
  CREATE INDEX tasks_done ON tasks(done);
  CREATE TABLE notes(body TEXT);
)sql";

Options roomOptions(const std::string& room, uint64_t seed) {
  Options o = defaultOptions("room-" + room, seed);
  o.tenantColumn = "room_id";
  o.tenantLiteral = "'" + room + "'";
  return o;
}

class Tenant : public EngineTest {
 protected:
  void SetUp() override {
    EngineTest::SetUp();
    other = std::make_unique<SqliteLocal>(":memory:");
    local->run(kRoom);
    other->run(kRoom);
    for (int i = 1; i <= 40; ++i) {
      std::string s = std::to_string(i);
      local->run("INSERT INTO tasks(id, title) VALUES (" + s + ", 'a-" + s + "')");
      other->run("INSERT INTO tasks(id, title) VALUES (" + s + ", 'b-" + s + "')");
      local->run("INSERT INTO notes VALUES ('note a" + s + "')");
      other->run("INSERT INTO notes VALUES ('note b" + s + "')");
    }
    a = std::make_unique<Driver>(*local, *d1, roomOptions("a", 1));
    b = std::make_unique<Driver>(*other, *d1, roomOptions("b", 2));
  }
  void syncBoth() {
    ASSERT_EQ(a->run().kind, Step::Idle);
    ASSERT_EQ(b->run().kind, Step::Idle);
  }
  void expectBoth() {
    EXPECT_EQ(diffTable(local->handle(), d1->handle(), "tasks", "room_id='a'"), "");
    EXPECT_EQ(diffTable(other->handle(), d1->handle(), "tasks", "room_id='b'"), "");
    EXPECT_EQ(diffTable(local->handle(), d1->handle(), "notes", "room_id='a'", "rowid"), "");
    EXPECT_EQ(diffTable(other->handle(), d1->handle(), "notes", "room_id='b'", "rowid"), "");
  }
  std::unique_ptr<SqliteLocal> other;
  std::unique_ptr<Driver> a, b;
};

TEST_F(Tenant, TwoSourcesWithOverlappingKeysShareOneTable) {
  syncBoth();
  expectBoth();
  EXPECT_EQ(d1Count("SELECT count(*) FROM tasks"), 80);
  local->run("UPDATE tasks SET done = 1 WHERE id < 10; DELETE FROM tasks WHERE id > 35;");
  other->run("DELETE FROM tasks WHERE id < 5; INSERT INTO tasks(id, title) VALUES (100, 'b-new')");
  syncBoth();
  expectBoth();
  // The tenant leads the primary key and every index.
  auto pk = d1->query("SELECT name FROM pragma_table_info('tasks') WHERE pk > 0 ORDER BY pk");
  ASSERT_EQ(pk.rows.size(), 2u);
  EXPECT_EQ(pk.rows.at(0, 0), "room_id");
  auto ix = d1->query("SELECT name FROM pragma_index_info('tasks_done') ORDER BY seqno");
  ASSERT_EQ(ix.rows.size(), 2u);
  EXPECT_EQ(ix.rows.at(0, 0), "room_id");
}

TEST_F(Tenant, ADroppedLocalTableDeletesOnlyThatTenantsRows) {
  syncBoth();
  local->run("DROP TABLE notes");
  syncBoth();
  EXPECT_EQ(d1Count("SELECT count(*) FROM notes WHERE room_id = 'a'"), 0);
  EXPECT_EQ(d1Count("SELECT count(*) FROM notes WHERE room_id = 'b'"), 40);
}

TEST_F(Tenant, AResyncRecopiesOneTenantAndLeavesTheOtherAlone) {
  syncBoth();
  // Damage both tenants' rows in D1, then resync tenant a only.
  d1->query("UPDATE tasks SET title = 'damaged'; DELETE FROM notes WHERE rowid % 2 = 0");
  ASSERT_TRUE(a->engine().resync("").ok());
  ASSERT_EQ(a->run().kind, Step::Idle);
  EXPECT_EQ(diffTable(local->handle(), d1->handle(), "tasks", "room_id='a'"), "");
  EXPECT_EQ(diffTable(local->handle(), d1->handle(), "notes", "room_id='a'", "rowid"), "");
  EXPECT_EQ(d1Count("SELECT count(*) FROM tasks WHERE room_id = 'b' AND title = 'damaged'"), 40);
}

TEST_F(Tenant, ATenantValueOwnedByAnotherSourceIsAConfigError) {
  syncBoth();
  SqliteLocal third(":memory:");
  third.run(kRoom);
  Options o = roomOptions("a", 3);
  o.sourceId = "someone-else";
  Driver c(third, *d1, o);
  Step s = c.run();
  EXPECT_EQ(s.kind, Step::Failed);
  EXPECT_EQ(s.code, ErrorCode::Config);
  EXPECT_NE(s.message.find("room-a"), std::string::npos);
  expectBoth();
}

TEST_F(Tenant, ALocalColumnNamedLikeTheTenantIsAConfigError) {
  SqliteLocal third(":memory:");
  third.run("CREATE TABLE t(id INTEGER PRIMARY KEY, room_id TEXT)");
  Driver c(third, *d1, roomOptions("c", 4));
  Step s = c.run();
  EXPECT_EQ(s.kind, Step::Failed);
  EXPECT_EQ(s.code, ErrorCode::Config);
  EXPECT_NE(s.message.find("room_id"), std::string::npos);
}

TEST_F(Tenant, IntegerTenantValues) {
  SqliteLocal third(":memory:");
  third.run(kRoom);
  third.run("INSERT INTO tasks(id, title) VALUES (1, 'x')");
  Options o = defaultOptions("num", 5);
  o.tenantColumn = "shard";
  o.tenantLiteral = "7";
  Driver c(third, *d1, o);
  ASSERT_EQ(c.run().kind, Step::Idle);
  EXPECT_EQ(d1Count("SELECT count(*) FROM tasks WHERE shard = 7 AND typeof(shard) = 'integer'"), 1);
}

}  // namespace
}  // namespace d1sync::native
