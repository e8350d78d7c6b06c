// The Target seam (wasm/target.hpp): the engine acts on a result's typed failure class, never
// on its text; the simulator, a D1-like target, classifies its own failures and names the
// failing statement; the rows a target reports read and written reach health() and metrics().
#include <nlohmann/json.hpp>

#include <deque>

#include "fixtures.hpp"

namespace d1sync::native {
namespace {

using json = nlohmann::json;

// Forwards to the simulator, answering the next batches with scripted failures instead (the
// batch is then not applied), and sums the row counts of the successes it hands back.
class ScriptedTarget final : public Target {
 public:
  explicit ScriptedTarget(Target& inner) : inner_(inner) {}
  void failNext(D1Failure kind, const std::string& message, int times = 1) {
    for (int i = 0; i < times; ++i) script_.push_back({kind, -1, message});
  }
  BatchResult apply(const Batch& batch) override {
    ++batches;
    if (!script_.empty()) {
      BatchFailure f = script_.front();
      script_.pop_front();
      return BatchResult::failed(batch.id, f.kind, f.message, f.statement);
    }
    BatchResult r = inner_.apply(batch);
    if (r.ok) {
      rowsRead += r.rowsRead;
      rowsWritten += r.rowsWritten;
    }
    return r;
  }
  size_t pending() const { return script_.size(); }
  int64_t batches = 0, rowsRead = 0, rowsWritten = 0;

 private:
  Target& inner_;
  std::deque<BatchFailure> script_;
};

bool has(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

// The value of an unlabelled-but-source sample in Prometheus text, or -1.
int64_t metric(const std::string& text, const std::string& name) {
  const std::string prefix = name + "{source=\"src-1\"} ";
  size_t at = text.find("\n" + prefix);
  if (at == std::string::npos) return -1;
  return std::stoll(text.substr(at + 1 + prefix.size()));
}

class TargetSeam : public EngineTest {
 protected:
  void SetUp() override {
    EngineTest::SetUp();
    target = std::make_unique<ScriptedTarget>(*d1);
  }
  Driver& scriptedDriver(Options o = defaultOptions()) {
    drv = std::make_unique<Driver>(*local, *target, std::move(o));
    return *drv;
  }
  json health() { return json::parse(drv->engine().healthJson(drv->now())); }
  std::unique_ptr<ScriptedTarget> target;
};

TEST_F(TargetSeam, ATransientClassIsRetriedWhateverItsText) {
  local->run("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t VALUES (1, 'a')");
  scriptedDriver();
  sync();
  // Text no classifier knows, typed Transient by the target: far more failures in a row than
  // the engine tolerates of unknown ones, and it keeps retrying.
  ASSERT_EQ(classifyD1Error("weird text"), D1Failure::Other);
  local->run("INSERT INTO t VALUES (2, 'b')");
  target->failNext(D1Failure::Transient, "weird text", 3 * kMaxUnknownD1Failures);
  Step s = drv->runRequests(2);
  ASSERT_EQ(s.kind, Step::Send) << codeName(s.code) << ": " << s.message;
  json h = health();
  EXPECT_EQ(h["state"], "backoff");
  EXPECT_EQ(h["lastError"], "weird text");  // the target's message, verbatim
  EXPECT_EQ(h["lastErrorCode"], "D1_TRANSIENT");
  s = drv->run();
  ASSERT_EQ(s.kind, Step::Idle) << codeName(s.code) << ": " << s.message;
  EXPECT_EQ(target->pending(), 0u);
  EXPECT_FALSE(drv->engine().terminal());
  EXPECT_GE(health()["retries"].get<int64_t>(), 3 * kMaxUnknownD1Failures);
  expectSame("t");
}

TEST_F(TargetSeam, AnOtherClassCountsAsUnknownWhateverItsText) {
  local->run("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t VALUES (1, 'a')");
  scriptedDriver();
  sync();
  // D1's own transient text, typed Other by the target: the engine believes the class.
  const std::string transient = transientMessages().front();
  ASSERT_EQ(classifyD1Error(transient), D1Failure::Transient);
  local->run("INSERT INTO t VALUES (2, 'b')");
  target->failNext(D1Failure::Other, transient, 3 * kMaxUnknownD1Failures);
  const int64_t before = target->batches;
  Step s = drv->run();
  EXPECT_EQ(s.kind, Step::Failed);
  EXPECT_EQ(s.code, ErrorCode::Internal) << codeName(s.code) << ": " << s.message;
  EXPECT_TRUE(has(s.message, "does not recognise")) << s.message;
  EXPECT_TRUE(has(s.message, transient)) << s.message;
  EXPECT_EQ(target->batches - before, kMaxUnknownD1Failures);
  EXPECT_TRUE(drv->engine().terminal());
  EXPECT_EQ(health()["lastErrorCode"], "INTERNAL");
}

TEST_F(TargetSeam, OtherTypedFailuresAreActedOnByClass) {
  local->run("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t VALUES (1, 'a')");
  scriptedDriver();
  sync();
  // A refused row typed Row with text that reads as nothing: the engine bisects, resends the
  // lone unit once, then quarantines it with the target's message and D1_CONSTRAINT.
  local->run("INSERT INTO t VALUES (2, 'b')");
  target->failNext(D1Failure::Row, "weird text", 2);
  Step s = drv->run();
  ASSERT_EQ(s.kind, Step::Idle) << codeName(s.code) << ": " << s.message;
  json q = json::parse(drv->engine().quarantinedJson());
  ASSERT_EQ(q.size(), 1u) << q.dump();
  EXPECT_EQ(q[0]["code"], "D1_CONSTRAINT");
  EXPECT_EQ(q[0]["error"], "weird text");
  EXPECT_EQ(q[0]["key"], "2");
  ASSERT_TRUE(drv->engine().retryQuarantined(drv->now()).ok());
  sync();
  expectSame("t");
}

TEST(SimulatorTarget, NamesTheFailingStatement) {
  D1Simulator d1;
  Target& target = d1;
  BatchResult r =
      target.apply({7,
                    {"CREATE TABLE t(id INTEGER PRIMARY KEY)", "INSERT INTO t VALUES (1)",
                     "INSERT INTO t VALUES (1)", "INSERT INTO t VALUES (2)"}});
  EXPECT_EQ(r.id, 7u);
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.failure.statement, 2);
  EXPECT_EQ(r.failure.kind, D1Failure::Row);
  EXPECT_TRUE(has(r.failure.message, "UNIQUE constraint failed")) << r.failure.message;
  EXPECT_TRUE(r.results.empty());
  EXPECT_EQ(r.rowsWritten, 0);
  // All or nothing: the table the batch created is gone.
  EXPECT_EQ(d1.query("SELECT count(*) FROM sqlite_master WHERE name='t'").rows.at(0, 0), "0");

  ASSERT_TRUE(d1.batch({"CREATE TABLE t(id INTEGER PRIMARY KEY)"}).ok);
  r = d1.batch({"INSERT INTO t VALUES (1)", "INSERT INTO nowhere VALUES (1)"});
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.failure.statement, 1);
  EXPECT_EQ(r.failure.kind, D1Failure::Schema);
  EXPECT_TRUE(has(r.failure.message, "no such table")) << r.failure.message;
}

TEST(SimulatorTarget, InjectedFaultsAreClassifiedAndPlaced) {
  D1Simulator d1;
  ASSERT_TRUE(d1.batch({"CREATE TABLE t(id INTEGER PRIMARY KEY)"}).ok);
  // At a statement: the ones before it ran, then everything rolled back.
  d1.inject({Fault::FailBeforeCommit, "D1_ERROR: statement too long: SQLITE_TOOBIG", 1});
  BatchResult r = d1.batch({"INSERT INTO t VALUES (1)", "INSERT INTO t VALUES (2)"});
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.failure.statement, 1);
  EXPECT_EQ(r.failure.kind, D1Failure::Limit);
  EXPECT_EQ(r.failure.message, "D1_ERROR: statement too long: SQLITE_TOOBIG");
  EXPECT_EQ(d1.query("SELECT count(*) FROM t").rows.at(0, 0), "0");
  // The whole batch.
  d1.inject({Fault::FailBeforeCommit, transientMessages()[1]});
  r = d1.batch({"INSERT INTO t VALUES (1)"});
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.failure.statement, -1);
  EXPECT_EQ(r.failure.kind, D1Failure::Transient);
  // A lost answer: committed, reported as the fault's failure.
  d1.inject({Fault::LoseAnswer, "some weird error"});
  r = d1.batch({"INSERT INTO t VALUES (1)"});
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.failure.statement, -1);
  EXPECT_EQ(r.failure.kind, D1Failure::Other);
  EXPECT_EQ(d1.query("SELECT count(*) FROM t").rows.at(0, 0), "1");
  // A deferred foreign key failing at COMMIT belongs to no one statement.
  ASSERT_TRUE(d1.batch({"CREATE TABLE p(id INTEGER PRIMARY KEY)",
                        "CREATE TABLE c(id INTEGER PRIMARY KEY, p INTEGER REFERENCES p(id))"})
                  .ok);
  r = d1.batch({"PRAGMA defer_foreign_keys = ON", "INSERT INTO c VALUES (1, 42)"});
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.failure.statement, -1);
  EXPECT_EQ(r.failure.kind, D1Failure::DeferredFk);
}

TEST(SimulatorTarget, ReportsRowsReadAndWritten) {
  D1Simulator d1;
  BatchResult r =
      d1.batch({"CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)",
                "INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'c')",
                "INSERT INTO t VALUES (1, 'z') ON CONFLICT(id) DO UPDATE SET v=excluded.v",
                "DELETE FROM t WHERE id = 2", "SELECT id, v FROM t ORDER BY id"});
  ASSERT_TRUE(r.ok) << r.failure.message;
  ASSERT_EQ(r.results.size(), 5u);
  EXPECT_EQ(r.results[4].size(), 2u);
  EXPECT_EQ(r.results[4].at(0, 1), "z");
  EXPECT_EQ(r.rowsWritten, 5);  // three inserted, one updated, one deleted
  EXPECT_EQ(r.rowsRead, 2);     // the rows the statements returned
  // A failed batch wrote nothing.
  r = d1.batch({"INSERT INTO t VALUES (9, 'x')", "INSERT INTO t VALUES (9, 'y')"});
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.rowsWritten, 0);
  EXPECT_EQ(r.rowsRead, 0);
}

TEST_F(TargetSeam, RowsTheTargetReportsAreCountedInHealthAndMetrics) {
  local->run(
      "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT);"
      "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 250) "
      "INSERT INTO t SELECT i, 'v' || i FROM n;");
  Options o = defaultOptions();
  o.limits.copyPageRows = 60;
  scriptedDriver(o);
  // Failed batches report nothing: a transient refusal and a lost answer along the way.
  d1->inject({Fault::FailBeforeCommit, transientMessages()[0]});
  sync();
  local->run("UPDATE t SET v = 'changed' WHERE id % 3 = 0; DELETE FROM t WHERE id % 7 = 0");
  d1->inject({Fault::LoseAnswer, "Network connection lost."});
  sync();
  expectSame("t");
  ASSERT_GT(target->rowsWritten, 250);
  json h = health();
  EXPECT_EQ(h["d1RowsWritten"].get<int64_t>(), target->rowsWritten);
  EXPECT_EQ(h["d1RowsRead"].get<int64_t>(), target->rowsRead);
  std::string m = drv->engine().metricsText(drv->now());
  EXPECT_TRUE(has(m, "# TYPE d1sync_d1_rows_written_total counter\n")) << m;
  EXPECT_TRUE(has(m, "# TYPE d1sync_d1_rows_read_total counter\n")) << m;
  EXPECT_EQ(metric(m, "d1sync_d1_rows_written_total"), target->rowsWritten) << m;
  EXPECT_EQ(metric(m, "d1sync_d1_rows_read_total"), target->rowsRead) << m;
  // Persisted with the other counters: a restarted engine reports the same totals.
  drv->restart();
  drv->next();
  h = health();
  EXPECT_EQ(h["d1RowsWritten"].get<int64_t>(), target->rowsWritten);
  EXPECT_EQ(h["d1RowsRead"].get<int64_t>(), target->rowsRead);
}

TEST(TargetState, CountersMissingFromAnOlderDocumentReadAsZero) {
  State s;
  ASSERT_TRUE(stateFromJson(
      R"({"version":1,"sourceId":"x","counters":{"totalSyncs":3,"rowsReplicated":9}})", s));
  EXPECT_EQ(s.counters.totalSyncs, 3);
  EXPECT_EQ(s.counters.d1RowsRead, 0);
  EXPECT_EQ(s.counters.d1RowsWritten, 0);
  s.counters.d1RowsRead = 12;
  s.counters.d1RowsWritten = 34;
  State back;
  ASSERT_TRUE(stateFromJson(stateToJson(s), back));
  EXPECT_EQ(back.counters.d1RowsRead, 12);
  EXPECT_EQ(back.counters.d1RowsWritten, 34);
}

}  // namespace
}  // namespace d1sync::native
