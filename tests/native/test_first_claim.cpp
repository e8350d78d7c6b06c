// A first start's claim carries the schema (Engine::schemaWithClaim): one round trip to a D1
// ready for the copy. Whenever something in D1 could be in the tables' way, the whole batch
// rolls back and the claim goes again alone, as before.
#include <nlohmann/json.hpp>

#include "fixtures.hpp"

namespace d1sync::native {
namespace {

using nlohmann::json;

const char* kSchema = R"sql(
  CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT NOT NULL);
  CREATE INDEX items_name ON items(name);
  CREATE TABLE notes(k TEXT PRIMARY KEY, body TEXT);
  INSERT INTO items VALUES (1, 'a'), (2, 'b'), (3, 'c');
  INSERT INTO notes VALUES ('x', 'y');
)sql";

class FirstClaim : public EngineTest {
 protected:
  void SetUp() override {
    EngineTest::SetUp();
    local->run(kSchema);
  }
  // What start() drives: until the claim and the schema are in D1.
  Step start() {
    drv->engine().beginDrive(-1, true);
    return drv->run();
  }
  // What flush() drives: everything.
  void flush() {
    drv->engine().beginDrive(-1, false);
    sync();
  }
  json health() { return json::parse(drv->engine().healthJson(drv->now())); }
  int64_t d1Tables(const std::string& names) {
    return d1Count("SELECT count(*) FROM sqlite_master WHERE type='table' AND name IN (" + names +
                   ")");
  }
  void expectAll() {
    expectSame("items");
    expectSame("notes");
  }
};

TEST_F(FirstClaim, CreatesTheTablesInTheClaimsOwnBatch) {
  driver();
  ASSERT_EQ(start().kind, Step::Idle);
  EXPECT_TRUE(drv->engine().started());
  EXPECT_EQ(d1->batches, 1u);
  EXPECT_EQ(d1Tables("'items','notes'"), 2);
  EXPECT_EQ(d1Count("SELECT count(*) FROM sqlite_master WHERE type='index' AND "
                    "tbl_name='items' AND sql IS NOT NULL"),
            1);
  EXPECT_EQ(d1Count("SELECT count(*) FROM items"), 0);
  flush();
  expectAll();
  EXPECT_EQ(health()["syncErrors"], 0);

  // A restart claims alone: its tables are known, and D1 is asked whether they are still there.
  drv->restart();
  const size_t batches = d1->batches, statements = d1->statements;
  ASSERT_EQ(start().kind, Step::Idle);
  EXPECT_EQ(d1->batches, batches + 1);
  EXPECT_EQ(d1->statements, statements + kClaimTablesStatement + 1);
  local->run("INSERT INTO items VALUES (4, 'd')");
  flush();
  expectAll();
}

TEST_F(FirstClaim, ATableD1AlreadyHasSendsTheClaimAgainAloneWithoutAnError) {
  // An older table of the same name, with a column the local one lacks and a row it does not
  // have: the claim alone finds it, and the engine rebuilds it to match.
  ASSERT_TRUE(d1->batch({"CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT, extra TEXT)",
                         "INSERT INTO items VALUES (9, 'old', 'x')"})
                  .ok);
  const size_t batches = d1->batches, committed = d1->committed;
  driver();
  ASSERT_EQ(start().kind, Step::Idle);
  // Only the first request failed, and nothing of it committed: notes came later.
  EXPECT_EQ((d1->batches - batches) - (d1->committed - committed), 1u);
  EXPECT_GE(d1->batches - batches, 3u);
  json h = health();
  EXPECT_EQ(h["syncErrors"], 0);
  EXPECT_EQ(h["retries"], 0);
  flush();
  expectAll();
  EXPECT_EQ(d1Count("SELECT count(*) FROM items WHERE id = 9"), 0);
}

TEST_F(FirstClaim, AFencedDatabaseCreatesNothingInD1) {
  SqliteLocal owner(":memory:");
  owner.run("CREATE TABLE other(id INTEGER PRIMARY KEY); INSERT INTO other VALUES (1)");
  Driver first(owner, *d1, defaultOptions("src-1", 7));
  ASSERT_EQ(first.run().kind, Step::Idle);
  driver(defaultOptions("src-1", 8));
  Step s = start();
  EXPECT_EQ(s.kind, Step::Failed);
  EXPECT_EQ(s.code, ErrorCode::Fenced);
  EXPECT_EQ(d1Tables("'items','notes'"), 0);
  EXPECT_EQ(d1Count("SELECT count(*) FROM other"), 1);
}

TEST_F(FirstClaim, ALostAnswerIsAdoptedByTheClaimAlone) {
  d1->inject({Fault::LoseAnswer, "Network connection lost."});
  driver();
  ASSERT_EQ(start().kind, Step::Idle);
  EXPECT_EQ(d1Tables("'items','notes'"), 2);
  EXPECT_EQ(health()["retries"], 1);
  flush();
  expectAll();
  EXPECT_EQ(d1Count("SELECT count(*) FROM _d1sync_sources"), 1);
  EXPECT_EQ(d1Count("SELECT count(*) FROM sqlite_master WHERE type='index' AND "
                    "tbl_name='items' AND sql IS NOT NULL"),
            1);
}

TEST_F(FirstClaim, ACrashAfterItCommittedIsAdoptedAfterTheRestart) {
  driver();
  drv->runRequests(1, true);
  EXPECT_EQ(d1->committed, 1u);
  drv->restart();
  // The restarted engine carries the schema again, under the same mark: its guard finds the
  // tables, and the claim alone adopts the row the first one made.
  ASSERT_EQ(start().kind, Step::Idle);
  EXPECT_EQ(d1->batches - d1->committed, 1u);
  EXPECT_EQ(health()["syncErrors"], 0);
  flush();
  expectAll();
}

TEST_F(FirstClaim, AStatementOfTheSchemaFailingSendsTheClaimAloneAtOnce) {
  // A failure that cannot hide a commit: nothing of the batch is in D1, so the claim goes
  // again alone with no backoff, and the schema follows in its own batch (where a refusal
  // that persists is classified and handled as any schema batch's).
  d1->inject({Fault::FailBeforeCommit, "string or blob too big", kClaimTablesStatement + 2});
  driver();
  const int64_t t0 = drv->now();
  ASSERT_EQ(start().kind, Step::Idle);
  // The simulated clock moves a millisecond per request, and a backoff waits 250 ms at least.
  EXPECT_LT(drv->now() - t0, 250);
  EXPECT_EQ(health()["retries"], 0);
  EXPECT_EQ(d1->batches, 3u);
  EXPECT_EQ(health()["syncErrors"], 0);
  flush();
  expectAll();
}

TEST_F(FirstClaim, ASchemaThatDoesNotFitTheBatchGoesAfterTheClaim) {
  Options o = defaultOptions();
  o.limits.maxStatementsPerBatch = kClaimTablesStatement + 1 + 3;  // one short
  driver(o);
  ASSERT_EQ(start().kind, Step::Idle);
  EXPECT_EQ(d1->batches, 2u);
  EXPECT_EQ(d1->batches, d1->committed);
  flush();
  expectAll();
}

TEST_F(FirstClaim, ATenantsClaimGoesAlone) {
  Options o = defaultOptions();
  o.tenantColumn = "tenant";
  o.tenantLiteral = "'t1'";
  driver(o);
  ASSERT_EQ(start().kind, Step::Idle);
  EXPECT_EQ(d1->batches, 2u);
  flush();
  expectSame("items", "tenant='t1'");
}

}  // namespace
}  // namespace d1sync::native
