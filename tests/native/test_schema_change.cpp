// Local schema changes followed while streaming: new tables, dropped tables and ADD COLUMN
// live; anything else rebuilds the D1 table through a shadow copy.
#include "capture.hpp"
#include "fixtures.hpp"

namespace d1sync::native {
namespace {

class SchemaChange : public EngineTest {
 protected:
  void SetUp() override {
    EngineTest::SetUp();
    local->run(
        "CREATE TABLE a(id INTEGER PRIMARY KEY, v TEXT);"
        "CREATE TABLE b(k TEXT PRIMARY KEY NOT NULL, n INTEGER);");
    for (int i = 0; i < 30; ++i) {
      std::string s = std::to_string(i);
      local->run("INSERT INTO a VALUES (" + s + ", 'v" + s + "'); INSERT INTO b VALUES ('k" + s +
                 "', " + s + ")");
    }
    driver();
    sync();
  }
};

// Capture triggers an older d1sync installed (here: one rendering its key with quote()) are
// replaced when the engine starts, in the same local transaction, without recopying the table.
TEST_F(SchemaChange, Issue10TriggersAnOlderVersionWroteAreReplacedWithoutARecopy) {
  local->run(
      "DROP TRIGGER \"_d1sync_i_a\"; CREATE TRIGGER \"_d1sync_i_a\" AFTER INSERT ON \"a\" BEGIN "
      "INSERT INTO _d1sync_log(tbl, op, key, at_ms) VALUES ('a', 'I', quote(NEW.\"id\"), 0); END");
  const auto current = [&] {
    std::vector<std::string> notes;
    for (const auto& s : local
                             ->exec("SELECT name, sql FROM sqlite_master WHERE name LIKE "
                                    "'\\_d1sync\\_%\\_a' ESCAPE '\\' ORDER BY name")
                             .rows.cells)
      notes.push_back(s);
    return notes;
  };
  const auto before = current();
  const size_t batches = d1->batches;
  drv->restart();
  sync();
  const auto after = current();
  ASSERT_EQ(after.size(), before.size());
  bool replaced = false;
  for (size_t i = 0; i < after.size(); ++i)
    if (after[i] != before[i]) {
      replaced = true;
      EXPECT_NE(after[i].find("julianday"), std::string::npos) << after[i];  // today's form
    }
  EXPECT_TRUE(replaced);
  EXPECT_EQ(d1->batches, batches + 1) << "only the claim: nothing recopied";
  local->run("INSERT INTO a VALUES (500, 'new')");
  sync();
  expectSame("a");
}

// The capture triggers the version before issue 14 installed, to the byte: keys rendered with
// typeof() whatever their type, and key changes caught only through UPDATE OF the key column
// (none for a rowid key: every UPDATE ran the key-change trigger).
std::vector<std::string> previousCapture(const std::string& table, const std::string& key,
                                         bool rowidKey) {
  const std::string now = "CAST((julianday('now')-2440587.5)*86400000 AS INTEGER)";
  const auto literal = [&](const std::string& alias) {
    const std::string x = alias + "." + key;
    if (rowidKey) return "CAST(" + x + " AS TEXT)";
    return "CASE typeof(" + x + ") WHEN 'integer' THEN CAST(" + x +
           " AS TEXT) WHEN 'text' THEN CASE WHEN " + x +
           " GLOB '*[^'||char(1)||'-'||char(127)||']*' OR instr(" + x +
           ",char(0))>0 THEN 'CAST(X'''||hex(" + x + ")||''' AS TEXT)' ELSE quote(" + x +
           ") END WHEN 'real' THEN (SELECT CASE WHEN abs(v)<9e12 AND round(v*1000)/1000=v THEN "
           "iif(0,'-0.0',iif(round(v)=v,CAST(v AS INTEGER)||'.0',CAST(round(v*1000) AS "
           "INTEGER)||'e-3')) WHEN abs(v)=9e999 THEN iif(v>0,'9e999','-9e999') ELSE (SELECT "
           "printf('(%d*pow(2,%d)'||iif(k<-970,'*pow(2,-200))',')'),iif(k<0,v*pow(2,600)*pow(2,"
           "-548-k),v*pow(2,52-k)),k-52+200*(k<-970))FROM(SELECT floor(log2(abs(v)))-1 k))END "
           "FROM(SELECT " +
           x + " v)) ELSE quote(" + x + ") END";
  };
  const auto log = [&](char op, const std::string& alias) {
    return "BEGIN INSERT INTO _d1sync_log(tbl, op, key, at_ms) VALUES ('" + table + "', '" + op +
           "', " + literal(alias) + ", " + now + "); END";
  };
  const std::string on = " ON \"" + table + "\" ";
  return {
      "CREATE TRIGGER \"_d1sync_i_" + table + "\" AFTER INSERT" + on + log('I', "NEW"),
      "CREATE TRIGGER \"_d1sync_u_" + table + "\" AFTER UPDATE" + on + log('U', "NEW"),
      "CREATE TRIGGER \"_d1sync_k_" + table + "\" AFTER UPDATE" + (rowidKey ? "" : " OF " + key) +
          on + "WHEN OLD." + key + " IS NOT NEW." + key + " " + log('D', "OLD"),
      "CREATE TRIGGER \"_d1sync_d_" + table + "\" AFTER DELETE" + on + log('D', "OLD"),
  };
}

// Issue 14: a database the version before left behind, its triggers in place and changes they
// captured still in the outbox, replicates on: the triggers are replaced at start (no recopy),
// the pending changes reach D1, and the new triggers catch what the old ones missed.
TEST_F(SchemaChange, Issue14CaptureTheVersionBeforeInstalledIsReplacedAndReplicatesOn) {
  local->run("CREATE TABLE c(v TEXT); INSERT INTO c VALUES ('x'), ('y'), ('z')");
  sync();
  for (const auto& table : {"a", "c"})
    for (const auto& s : dropCaptureDdl(table)) local->run(s);
  for (const auto& s : previousCapture("a", "\"id\"", false)) local->run(s);
  for (const auto& s : previousCapture("c", "rowid", true)) local->run(s);
  const auto triggers = [&] {
    return local
        ->exec(
            "SELECT group_concat(sql, char(10)) FROM (SELECT sql FROM sqlite_master WHERE "
            "type = 'trigger' AND tbl_name IN ('a', 'c') ORDER BY name)")
        .rows.at(0, 0);
  };
  ASSERT_NE(triggers().find("typeof("), std::string::npos);
  local->run(
      "INSERT INTO a VALUES (100, 'new'); UPDATE a SET v = 'upd' WHERE id = 1;"
      "UPDATE a SET id = 101 WHERE id = 2; DELETE FROM a WHERE id = 3;"
      "INSERT INTO c VALUES ('w'); UPDATE c SET rowid = 50 WHERE rowid = 1;"
      "UPDATE c SET v = 'upd' WHERE rowid = 3; DELETE FROM c WHERE rowid = 2");
  ASSERT_EQ(local->exec(kPendingOutbox).rows.at(0, 0), "10");
  const auto replicated = [&] {
    const std::string h = drv->engine().healthJson(drv->now());
    const std::string field = "\"rowsReplicated\":";
    return std::stoll(h.substr(h.find(field) + field.size()));
  };
  const int64_t before = replicated();
  drv->restart();
  sync();
  expectSame("a");
  expectSame("c", "", "rowid");
  EXPECT_LE(replicated() - before, 10) << "the changes only: nothing recopied";
  const std::string now = triggers();
  EXPECT_EQ(now.find("typeof("), std::string::npos) << now;
  EXPECT_NE(now.find("UPDATE OF \"id\",rowid,oid,_rowid_ ON \"a\""), std::string::npos) << now;
  EXPECT_NE(now.find("UPDATE OF rowid,oid,_rowid_ ON \"c\""), std::string::npos) << now;
  // An INTEGER PRIMARY KEY moved through a name of the rowid: the old key leaves D1 too.
  local->run("UPDATE a SET rowid = 200 WHERE id = 4; UPDATE c SET oid = 60 WHERE rowid = 50");
  sync();
  expectSame("a");
  expectSame("c", "", "rowid");
  EXPECT_EQ(d1Count("SELECT count(*) FROM a WHERE id = 4"), 0);
  EXPECT_EQ(d1Count("SELECT count(*) FROM c WHERE rowid = 50"), 0);
}

TEST_F(SchemaChange, AddColumnIsFollowedLive) {
  local->run("ALTER TABLE a ADD COLUMN extra INTEGER NOT NULL DEFAULT 5");
  local->run("ALTER TABLE a ADD COLUMN note TEXT COLLATE NOCASE");
  local->run(
      "UPDATE a SET extra = 9, note = 'n' WHERE id < 3; INSERT INTO a VALUES (100, 'x', 1, 'y')");
  sync();
  expectSame("a");
  EXPECT_EQ(d1Count("SELECT count(*) FROM pragma_table_info('a') WHERE name = 'extra'"), 1);
}

TEST_F(SchemaChange, NewTableIsCreatedAndCopied) {
  local->run(
      "CREATE TABLE c(x INTEGER PRIMARY KEY, y BLOB); INSERT INTO c VALUES (1, X'01'), (2, NULL)");
  sync();
  expectSame("c");
  local->run("INSERT INTO c VALUES (3, X'')");
  sync();
  expectSame("c");
}

TEST_F(SchemaChange, DroppedTableIsDroppedInD1) {
  local->run("DROP TABLE b");
  sync();
  EXPECT_FALSE(d1->query("SELECT 1 FROM b").ok);
  expectSame("a");
}

TEST_F(SchemaChange, DroppedAndRecreatedTableIsRebuilt) {
  local->run(
      "DROP TABLE b; CREATE TABLE b(k TEXT PRIMARY KEY NOT NULL, n INTEGER, m REAL);"
      "INSERT INTO b VALUES ('z', 1, 2.5)");
  sync();
  expectSame("b");
}

TEST_F(SchemaChange, ATwelveStepAlterRebuildsThroughAShadowTable) {
  // The documented way to change a column's type: build, copy, drop, rename. The capture
  // triggers go with the old table, so writes in between are only caught by the recopy.
  local->run(
      "CREATE TABLE a_new(id INTEGER PRIMARY KEY, v BLOB, w INTEGER);"
      "INSERT INTO a_new SELECT id, CAST(v AS BLOB), id * 2 FROM a;"
      "DROP TABLE a; ALTER TABLE a_new RENAME TO a;"
      "UPDATE a SET w = -1 WHERE id = 4; DELETE FROM a WHERE id = 5;");
  sync();
  expectSame("a");
  EXPECT_FALSE(d1->query("SELECT 1 FROM _d1sync_new_a").ok);
  local->run("UPDATE a SET w = 42 WHERE id = 6");
  sync();
  expectSame("a");
}

TEST_F(SchemaChange, ATableDroppedWhileItIsBeingCopied) {
  local->run("CREATE TABLE big(id INTEGER PRIMARY KEY, v TEXT)");
  local->run(
      "WITH RECURSIVE r(i) AS (VALUES(1) UNION ALL SELECT i+1 FROM r WHERE i < 500) "
      "INSERT INTO big SELECT i, 'v' || i FROM r");
  Options o = defaultOptions();
  o.limits.copyPageRows = 50;
  driver(o);
  drv->runRequests(4);
  local->run("DROP TABLE big");
  sync();
  EXPECT_FALSE(d1->query("SELECT 1 FROM big").ok);
  expectSame("a");
  expectSame("b");
}

}  // namespace
}  // namespace d1sync::native

namespace d1sync::native {
namespace {

TEST_F(SchemaChange, IndexesCreatedAndDroppedLocallyFollow) {
  local->run("CREATE INDEX a_v ON a(v); CREATE UNIQUE INDEX b_n ON b(n DESC)");
  sync();
  EXPECT_EQ(d1Count("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = 'a_v'"), 1);
  // Replica mode keeps a UNIQUE index non-unique.
  EXPECT_EQ(d1Count("SELECT \"unique\" FROM pragma_index_list('b') WHERE name = 'b_n'"), 0);
  local->run("DROP INDEX a_v");
  sync();
  EXPECT_EQ(d1Count("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = 'a_v'"), 0);
  local->run("INSERT INTO a VALUES (500, 'after')");
  sync();
  expectSame("a");
}

}  // namespace
}  // namespace d1sync::native

namespace d1sync::native {
namespace {

// VACUUM renumbers the rowids of a table without a usable primary key and fires no trigger.
class Vacuum : public EngineTest {
 protected:
  void SetUp() override {
    EngineTest::SetUp();
    local->run("CREATE TABLE loose(x, y)");
    for (int i = 1; i <= 12; ++i)
      local->run("INSERT INTO loose VALUES (" + std::to_string(i) + ", 'y')");
    driver();
    sync();
    local->run("DELETE FROM loose WHERE x IN (2, 5, 9)");
    sync();
    expectSame("loose", "", "rowid");
    local->run("VACUUM");
    ASSERT_EQ(local->exec("SELECT max(rowid) FROM loose").rows.at(0, 0), "9");  // renumbered
  }
};

TEST_F(Vacuum, AnUpdateAfterRenumberingIsCaughtAndTheTableRecopied) {
  local->run("UPDATE loose SET y = 'after' WHERE x = 7");
  sync();
  expectSame("loose", "", "rowid");
  auto h = drv->engine().healthJson(drv->now());
  EXPECT_NE(h.find("renumbered"), std::string::npos) << h;
}

TEST_F(Vacuum, InsertsAfterRenumberingAreCaught) {
  local->run("INSERT INTO loose VALUES (100, 'new'); INSERT INTO loose VALUES (101, 'new')");
  sync();
  expectSame("loose", "", "rowid");
}

}  // namespace
}  // namespace d1sync::native
