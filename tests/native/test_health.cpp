// health() and metrics(): the SPEC shape, values that move with the work, persistence.
#include <nlohmann/json.hpp>

#include "fixtures.hpp"

namespace d1sync::native {
namespace {

using json = nlohmann::json;

class Health : public EngineTest {
 protected:
  json health() { return json::parse(drv->engine().healthJson(drv->now())); }
};

TEST_F(Health, HasTheSpecShapeAndTracksTheWork) {
  local->run(
      "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t VALUES (1, 'a'), (2, 'b')");
  driver();
  sync();
  json h = health();
  for (const char* k :
       {"state",          "healthy",        "sourceId",    "lastSyncAt",  "lastSuccessAt",
        "lastError",      "totalSyncs",     "syncErrors",  "errorRate",   "retries",
        "pendingChanges", "quarantined",    "lagMs",       "capturedSeq", "appliedSeq",
        "rowsReplicated", "statementsSent", "batchesSent", "bytesSent",   "initialSync"})
    EXPECT_TRUE(h.contains(k)) << k;
  EXPECT_EQ(h["state"], "idle");
  EXPECT_EQ(h["healthy"], true);
  EXPECT_EQ(h["sourceId"], "src-1");
  EXPECT_EQ(h["initialSync"]["done"], true);
  EXPECT_EQ(h["initialSync"]["tables"]["t"]["copied"], 2);
  EXPECT_EQ(h["initialSync"]["tables"]["t"]["total"], 2);
  EXPECT_EQ(h["rowsReplicated"], 2);

  local->run("INSERT INTO t VALUES (3, 'c'); UPDATE t SET v = 'z' WHERE id = 1");
  drv->advance(5000);
  h = health();
  EXPECT_EQ(h["pendingChanges"], 2);
  EXPECT_EQ(h["state"], "streaming");
  EXPECT_GT(h["capturedSeq"].get<int64_t>(), h["appliedSeq"].get<int64_t>());
  // at_ms comes from the local clock, the engine's "now" from the driver's simulated one.
  EXPECT_GT(h["lagMs"].get<int64_t>(), 0);
  sync();
  h = health();
  EXPECT_EQ(h["pendingChanges"], 0);
  EXPECT_EQ(h["lagMs"], 0);
  EXPECT_EQ(h["capturedSeq"], h["appliedSeq"]);
  EXPECT_EQ(h["rowsReplicated"], 4);
  EXPECT_GT(h["bytesSent"].get<int64_t>(), 0);
}

TEST_F(Health, ReportsBackoffAndErrorsThenRecovers) {
  local->run("CREATE TABLE t(id INTEGER PRIMARY KEY)");
  driver();
  sync();
  local->run("INSERT INTO t VALUES (1)");
  d1->inject({Fault::FailBeforeCommit, "D1 DB is overloaded. Too many requests queued."});
  Step s = drv->runRequests(1);
  EXPECT_EQ(s.kind, Step::Send);
  json h = health();
  ASSERT_TRUE(drv->engine().nextRetryAt().has_value());
  EXPECT_GT(*drv->engine().nextRetryAt(), drv->now());
  EXPECT_EQ(h["state"], "backoff");
  EXPECT_EQ(h["healthy"], false);
  EXPECT_EQ(h["syncErrors"], 1);
  EXPECT_NE(h["lastError"].get<std::string>().find("overloaded"), std::string::npos);
  sync();
  h = health();
  EXPECT_EQ(h["state"], "idle");
  EXPECT_EQ(h["healthy"], true);
  EXPECT_GT(h["errorRate"].get<double>(), 0.0);
}

TEST_F(Health, CountersSurviveARestart) {
  local->run("CREATE TABLE t(id INTEGER PRIMARY KEY); INSERT INTO t VALUES (1), (2), (3)");
  driver();
  sync();
  int64_t batches = health()["batchesSent"];
  drv->restart();
  sync();
  EXPECT_GE(health()["batchesSent"].get<int64_t>(), batches);
  EXPECT_EQ(health()["rowsReplicated"], 3);
}

TEST_F(Health, FencedIsAnErrorState) {
  local->run("CREATE TABLE t(id INTEGER PRIMARY KEY)");
  driver();
  sync();
  SqliteLocal other(":memory:");
  Driver second(other, *d1, defaultOptions("src-1", 77));
  EXPECT_EQ(second.run().code, ErrorCode::Fenced);
  json h = json::parse(second.engine().healthJson(second.now()));
  EXPECT_EQ(h["state"], "error");
  EXPECT_EQ(h["lastErrorCode"], "FENCED");
}

TEST_F(Health, MetricsAreTheSpecNamesWithTheSourceLabel) {
  local->run("CREATE TABLE t(id INTEGER PRIMARY KEY); INSERT INTO t VALUES (1)");
  Options o = defaultOptions("room \"42\"");
  driver(o);
  sync();
  std::string m = drv->engine().metricsText(drv->now());
  for (const char* name : {"d1sync_syncs_total", "d1sync_sync_duration_seconds",
                           "d1sync_last_success_timestamp_seconds", "d1sync_pending_changes",
                           "d1sync_lag_seconds", "d1sync_rows_total", "d1sync_quarantined"}) {
    EXPECT_NE(m.find(std::string("# TYPE ") + name), std::string::npos) << name;
  }
  EXPECT_NE(m.find("d1sync_rows_total{source=\"room \\\"42\\\"\"} 1\n"), std::string::npos) << m;
  EXPECT_NE(m.find("d1sync_syncs_total{source=\"room \\\"42\\\"\",status=\"ok\"}"),
            std::string::npos);
}

TEST_F(Health, OptionsParseAndRefuseBadValues) {
  Options o;
  EXPECT_EQ(parseOptions(R"({"sourceId":"x","tenant":{"column":"room_id","value":"r1"},
                             "tables":["a"],"schema":"strict","takeover":true,
                             "limits":{"statementBytes":50000}})",
                         o),
            "");
  EXPECT_EQ(o.tenantLiteral, "'r1'");
  EXPECT_EQ(o.limits.maxStatementBytes, 50000u);
  EXPECT_EQ(o.schema, SchemaMode::Strict);
  EXPECT_TRUE(o.takeover);
  Options bad;
  EXPECT_NE(parseOptions(R"({"tables":[]})", bad).find("sourceId"), std::string::npos);
  EXPECT_NE(parseOptions(R"({"sourceId":"x","limits":{"statementBytes":200000}})", bad)
                .find("statementBytes"),
            std::string::npos);
  EXPECT_NE(parseOptions(R"({"sourceId":"x","limits":{"nope":1}})", bad).find("nope"),
            std::string::npos);
  EXPECT_NE(parseOptions(R"({"sourceId":"x","schema":"loose"})", bad).find("schema"),
            std::string::npos);
  EXPECT_NE(parseOptions(R"({"sourceId":"x","tenant":{"column":"c","value":1.5}})", bad)
                .find("tenant.value"),
            std::string::npos);
  EXPECT_NE(parseOptions("not json", bad).find("JSON"), std::string::npos);
}

}  // namespace
}  // namespace d1sync::native

namespace d1sync::native {
namespace {

// Found by fuzz_state: a float out of int64's range in the state document was converted
// (undefined behaviour); it now reads as missing.
TEST(State, RegressionFloatOutOfRangeReadsAsMissing) {
  State s;
  ASSERT_TRUE(stateFromJson(R"({"version":1,"sourceId":"x","epoch":1.01444e+27,"appliedSeq":7.5,
                                "counters":{"totalSyncs":-3e300}})",
                            s));
  EXPECT_EQ(s.epoch, 0);
  EXPECT_EQ(s.appliedSeq, 0);
  EXPECT_EQ(s.counters.totalSyncs, 0);
  EXPECT_EQ(s.sourceId, "x");
}

}  // namespace
}  // namespace d1sync::native
