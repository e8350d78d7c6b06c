// No quiet failures (issue 10): every local or D1 failure either backs off with the error in
// health() or stops the engine with a code; none reads as "nothing to do". Each test injects
// the fault through a FaultyLocal (any local call) or the D1 simulator.
#include <nlohmann/json.hpp>

#include "fault_harness.hpp"
#include "faulty_local.hpp"
#include "fixtures.hpp"
#include "sql_text.hpp"

namespace d1sync::native {
namespace {

using json = nlohmann::json;

bool has(const std::string& s, const char* needle) {
  return s.find(needle) != std::string::npos;
}

class Issue10 : public EngineTest {
 protected:
  void SetUp() override {
    EngineTest::SetUp();
    faulty = std::make_unique<FaultyLocal>(*local);
  }
  Driver& faultyDriver(Options o = defaultOptions()) {
    drv = std::make_unique<Driver>(*local, *d1, std::move(o), faulty.get());
    return *drv;
  }
  json health() { return json::parse(drv->engine().healthJson(drv->now())); }
  std::string pending() { return local->exec(kPendingOutbox).rows.at(0, 0); }
  std::unique_ptr<FaultyLocal> faulty;
};

TEST_F(Issue10, ALocalReadFailingInTheChangePagesBacksOffNeverIdle) {
  local->run("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t VALUES (1, 'a')");
  faultyDriver();
  sync();
  local->run("INSERT INTO t VALUES (2, 'b')");
  faulty->failWhen = [](const std::string& sql) { return has(sql, "FROM _d1sync_log WHERE seq>"); };
  size_t sent = d1->batches;
  Step s = drv->next();
  EXPECT_EQ(s.kind, Step::Wait) << "a failed read is not 'nothing to do'";
  EXPECT_EQ(d1->batches, sent);
  json h = health();
  EXPECT_EQ(h["state"], "backoff");
  EXPECT_EQ(h["healthy"], false);
  EXPECT_EQ(h["lastErrorCode"], "INTERNAL");
  EXPECT_TRUE(has(h["lastError"].get<std::string>(), "disk I/O error")) << h["lastError"];
  // A flush with no retry budget left rejects with the error instead of resolving.
  drv->engine().beginDrive(-1, false, 0);
  drv->advance(1);
  s = drv->next();
  EXPECT_EQ(s.kind, Step::Rejected);
  EXPECT_EQ(s.code, ErrorCode::Internal);
  EXPECT_TRUE(has(s.message, "disk I/O error")) << s.message;
  EXPECT_FALSE(drv->engine().terminal());
  faulty->failWhen = nullptr;
  drv->engine().beginDrive(-1, false, -1);
  sync();
  expectSame("t");
  EXPECT_EQ(health()["healthy"], true);
}

TEST_F(Issue10, ALocalReadFailingInTheCopyBacksOffNeverIdle) {
  local->run(
      "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT);"
      "WITH RECURSIVE n(i) AS (VALUES(1) UNION ALL SELECT i+1 FROM n WHERE i<50) "
      "INSERT INTO t SELECT i, 'v' || i FROM n");
  Options o = defaultOptions();
  o.limits.copyPageRows = 10;
  o.lookAhead = 0;  // the second page is read by next(), not while the first is in flight
  faultyDriver(o);
  drv->runRequests(3);  // the claim, the schema, the first copy page
  int calls = 0;
  faulty->failWhen = [&](const std::string& sql) {
    return has(sql, "FROM \"t\" WHERE") && ++calls <= 2;
  };
  Step s = drv->next();
  EXPECT_EQ(s.kind, Step::Wait);
  json h = health();
  EXPECT_EQ(h["state"], "backoff");
  EXPECT_EQ(h["healthy"], false);
  EXPECT_TRUE(has(h["lastError"].get<std::string>(), "reading t")) << h["lastError"];
  sync();  // the read works again after two failures
  expectSame("t");
  EXPECT_EQ(health()["initialSync"]["done"], true);
}

TEST_F(Issue10, AFailingQuarantineWriteKeepsTheChangeInTheOutbox) {
  local->run("CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT)");
  d1->query("CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT CHECK (name <> 'poison'))");
  faultyDriver();
  sync();
  local->run("INSERT INTO items VALUES (1, 'fine'), (2, 'poison'), (3, 'fine too')");
  faulty->failWhen = [](const std::string& sql) { return has(sql, "INTO _d1sync_quarantine"); };
  Step s;
  for (int i = 0; i < 12; ++i) s = drv->runRequests(1);
  EXPECT_NE(s.kind, Step::Failed) << s.message;
  EXPECT_NE(pending(), "0") << "the change left the outbox without being quarantined";
  EXPECT_EQ(local->exec("SELECT count(*) FROM _d1sync_quarantine").rows.at(0, 0), "0");
  EXPECT_EQ(d1Count("SELECT applied_seq FROM _d1sync_sources") < drv->engine().capturedSeq(), true);
  json h = health();
  EXPECT_EQ(h["healthy"], false);
  EXPECT_TRUE(has(h["lastError"].get<std::string>(), "quarantin")) << h["lastError"];
  faulty->failWhen = nullptr;
  sync();
  auto q = json::parse(drv->engine().quarantinedJson());
  ASSERT_EQ(q.size(), 1u);
  EXPECT_EQ(q[0]["key"], "2");
  EXPECT_EQ(pending(), "0");
  EXPECT_EQ(d1Count("SELECT count(*) FROM items"), 2);
}

TEST_F(Issue10, AFailingSaveOfThePendingBatchIdSendsNothing) {
  local->run("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)");
  faultyDriver();
  sync();
  local->run("INSERT INTO t VALUES (1, 'a')");
  int failures = 0;
  faulty->failWhen = [&](const std::string& sql) {
    return has(sql, "_d1sync_state(id, doc)") && has(sql, "\"pendingBatch\":\"") &&
           !has(sql, "\"pendingBatch\":\"\"") && ++failures <= 1;
  };
  size_t sent = d1->batches;
  Step s = drv->next();
  EXPECT_EQ(s.kind, Step::Wait) << "sent a batch whose id was not saved";
  EXPECT_EQ(d1->batches, sent);
  EXPECT_TRUE(has(health()["lastError"].get<std::string>(), "disk I/O error"));
  // The next attempt saves the id and sends; a crash that loses the answer is then recognised
  // as our own commit, not as another writer.
  drv->runRequests(1, /*dropLastAnswer=*/true);
  EXPECT_EQ(d1->batches, sent + 1);
  drv->restart();
  sync();
  expectSame("t");
}

TEST_F(Issue10, AFailingSaveOfTheClaimMarkSendsNoClaim) {
  local->run("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t VALUES (1, 'a')");
  int failures = 0;
  faulty->failWhen = [&](const std::string& sql) {
    return has(sql, "_d1sync_state(id, doc)") && has(sql, "\"pendingClaim\":\"claim:") &&
           ++failures <= 1;
  };
  faultyDriver();
  Step s = drv->next();
  EXPECT_EQ(s.kind, Step::Wait);
  EXPECT_EQ(d1->batches, 0u);
  drv->runRequests(1, /*dropLastAnswer=*/true);
  drv->restart();
  sync();
  expectSame("t");
}

// Found by the fault harness with local faults: a failing first save of the state stopped the
// engine with no code and no message; a failing read of the state or of the bookkeeping DDL
// stopped it for good. They are retried now.
TEST_F(Issue10, HarnessALocalFailureAtStartIsRetriedNotFatal) {
  local->run("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t VALUES (1, 'a')");
  for (const char* what : {"_d1sync_state(id, doc)", "SELECT doc FROM _d1sync_state",
                           "CREATE TABLE IF NOT EXISTS _d1sync_log"}) {
    SetUp();
    local->run("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t VALUES (1, 'a')");
    int failures = 0;
    faulty->failWhen = [&](const std::string& sql) { return has(sql, what) && ++failures <= 2; };
    faultyDriver();
    Step s = drv->next();
    EXPECT_EQ(s.kind, Step::Wait) << what << ": " << codeName(s.code) << " " << s.message;
    json h = health();
    EXPECT_EQ(h["state"], "backoff") << what;
    EXPECT_TRUE(has(h["lastError"].get<std::string>(), "disk I/O error")) << what;
    sync();
    expectSame("t");
  }
}

// Found by the fault harness: an engine that failed before it had read its state wrote its
// empty state over the real one, and every later engine refused the database ("replicates as
// sourceId ''").
TEST_F(Issue10, HarnessAFailureBeforeTheStateIsReadLeavesItAlone) {
  local->run("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t VALUES (1, 'a')");
  driver();
  sync();
  std::string doc = local->exec("SELECT doc FROM _d1sync_state").rows.at(0, 0);
  Options bad = defaultOptions();
  bad.tenantColumn = "room";
  bad.tenantLiteral = "1); DROP TABLE t; --";
  Driver broken(*local, *d1, bad);
  EXPECT_EQ(broken.run().code, ErrorCode::Config);
  EXPECT_EQ(local->exec("SELECT doc FROM _d1sync_state").rows.at(0, 0), doc);
  local->run("INSERT INTO t VALUES (2, 'b')");
  driver();
  sync();
  expectSame("t");
}

// Found by the fault harness (seed 4517 and six more of the first 10,000): a table dropped and
// created again lost its triggers; their reinstall landed but reported a failure, and the
// retry, finding the triggers back, never recopied the rows written without them.
TEST_F(Issue10, HarnessTriggersRestoredByAWriteThatReportedFailureStillRecopy) {
  local->run("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t VALUES (1, 'a')");
  faultyDriver();
  sync();
  local->run(
      "DROP TABLE t; CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT); "
      "INSERT INTO t VALUES (5, 'written while nothing captured')");
  int failures = 0;
  faulty->failWhenAfter = true;
  faulty->failWhen = [&](const std::string& sql) {
    return has(sql, "CREATE TRIGGER IF NOT EXISTS") && ++failures <= 1;
  };
  sync();
  EXPECT_EQ(faulty->failedAfter, 1);
  expectSame("t");
}

TEST_F(Issue10, UnknownD1ErrorsAreRetriedThenStopWithInternal) {
  local->run("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)");
  driver();
  sync();
  local->run("INSERT INTO t VALUES (1, 'a')");
  const std::string odd = "D1_ERROR: something nobody has seen before: SQLITE_WEIRD";
  // A few are absorbed: retried with backoff, reported meanwhile.
  for (int i = 0; i < 3; ++i) d1->inject({Fault::FailBeforeCommit, odd});
  drv->runRequests(1);
  json h = health();
  EXPECT_EQ(h["state"], "backoff");
  EXPECT_EQ(h["healthy"], false);
  EXPECT_EQ(h["lastError"], odd);
  EXPECT_EQ(h["lastErrorCode"], "INTERNAL");
  sync();
  expectSame("t");
  // Endless ones stop the engine after kMaxUnknownD1Failures attempts in a row.
  local->run("INSERT INTO t VALUES (2, 'b')");
  for (int i = 0; i < 3 * kMaxUnknownD1Failures; ++i) d1->inject({Fault::FailBeforeCommit, odd});
  size_t before = d1->batches;
  Step s = drv->run();
  EXPECT_EQ(s.kind, Step::Failed);
  EXPECT_EQ(s.code, ErrorCode::Internal);
  EXPECT_TRUE(has(s.message, "something nobody has seen before")) << s.message;
  EXPECT_EQ(d1->batches - before, static_cast<size_t>(kMaxUnknownD1Failures));
  EXPECT_TRUE(drv->engine().terminal());
  h = health();
  EXPECT_EQ(h["state"], "error");
  EXPECT_EQ(h["lastErrorCode"], "INTERNAL");
  EXPECT_NE(pending(), "0");
}

TEST_F(Issue10, ALimitErrorOnTheWatermarkAloneBacksOff) {
  local->run("CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT)");
  driver();
  sync();
  local->run("INSERT INTO items VALUES (1, 'one')");
  // Refused once (sent again), twice (quarantined), then the watermark advance alone.
  for (int i = 0; i < 4; ++i)
    d1->inject({Fault::FailBeforeCommit, "D1_ERROR: out of memory: SQLITE_NOMEM"});
  Step s = drv->runRequests(3);
  EXPECT_NE(s.kind, Step::Failed) << s.message;
  json h = health();
  EXPECT_EQ(h["state"], "backoff");
  EXPECT_TRUE(has(h["lastError"].get<std::string>(), "watermark")) << h["lastError"];
  sync();
  EXPECT_EQ(d1Count("SELECT applied_seq FROM _d1sync_sources"), drv->engine().capturedSeq());
  EXPECT_EQ(pending(), "0");
  ASSERT_TRUE(drv->engine().retryQuarantined(drv->now()).ok());
  sync();
  expectSame("items");
}

TEST_F(Issue10, AFailingHealthReadIsAnErrorNotZeros) {
  local->run("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)");
  faultyDriver();
  sync();
  local->run("INSERT INTO t VALUES (1, 'a'), (2, 'b')");
  faulty->failWhen = [](const std::string& sql) { return has(sql, "_d1sync_log"); };
  json h = health();
  EXPECT_EQ(h["healthy"], false);
  ASSERT_TRUE(h.contains("error"));
  EXPECT_TRUE(has(h["error"].get<std::string>(), "disk I/O error")) << h["error"];
  EXPECT_TRUE(h["pendingChanges"].is_null());
  std::string m = drv->engine().metricsText(drv->now());
  EXPECT_TRUE(has(m, "# d1sync: ")) << m;
  EXPECT_FALSE(has(m, "d1sync_pending_changes{")) << m;
  faulty->failWhen = nullptr;
  h = health();
  EXPECT_FALSE(h.contains("error"));
  EXPECT_EQ(h["pendingChanges"], 2);
}

TEST_F(Issue10, HealthNextRetryAtIsNextRunAt) {
  local->run("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)");
  driver();
  auto agree = [&](const char* when) {
    json h = health();
    auto at = drv->engine().nextRunAt(drv->now());
    if (at)
      EXPECT_EQ(h["nextRetryAt"], *at) << when;
    else
      EXPECT_TRUE(h["nextRetryAt"].is_null()) << when;
    return at;
  };
  EXPECT_TRUE(agree("before the start").has_value());
  sync();
  EXPECT_FALSE(agree("idle").has_value());
  local->run("INSERT INTO t VALUES (1, 'a')");
  auto due = agree("pending");
  ASSERT_TRUE(due.has_value());
  EXPECT_LE(*due, drv->now());
  drv->advance(10);
  EXPECT_EQ(drv->engine().nextRunAt(drv->now()), due) << "a due time does not drift";
  d1->inject({Fault::FailBeforeCommit, "Network connection lost."});
  drv->runRequests(1);
  auto retry = agree("backoff");
  ASSERT_TRUE(retry.has_value());
  EXPECT_GT(*retry, drv->now());
  sync();
  EXPECT_FALSE(agree("caught up").has_value());
  SqliteLocal other(":memory:");
  Driver second(other, *d1, defaultOptions("src-1", 77));
  second.run();
  EXPECT_TRUE(second.engine().terminal());
  EXPECT_FALSE(second.engine().nextRunAt(second.now()).has_value());
  EXPECT_TRUE(json::parse(second.engine().healthJson(second.now()))["nextRetryAt"].is_null());
}

TEST_F(Issue10, TheDriveBudgetRejectsWithD1sLastMessage) {
  local->run("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)");
  driver();
  sync();
  local->run("INSERT INTO t VALUES (1, 'a')");
  for (int i = 0; i < 40; ++i)
    d1->inject({Fault::FailBeforeCommit, "D1 DB is overloaded. Requests queued for too long."});
  drv->engine().beginDrive(-1, false, 2000);
  Step s = drv->run();
  EXPECT_EQ(s.kind, Step::Rejected);
  EXPECT_EQ(s.code, ErrorCode::D1Transient);
  EXPECT_TRUE(has(s.d1Message, "overloaded")) << s.d1Message;
  EXPECT_TRUE(has(s.message, "retrying from")) << s.message;
  EXPECT_FALSE(drv->engine().terminal());
  // maxBatches ends a drive with work left; a new drive resumes it.
  while (d1->pendingFaults()) d1->batch({"SELECT 1"});
  local->run("INSERT INTO t VALUES (2, 'b')");
  drv->engine().beginDrive(0, false, -1);
  EXPECT_EQ(drv->run().kind, Step::Idle);
  EXPECT_NE(pending(), "0");
  drv->engine().beginDrive(-1, false, -1);
  sync();
  expectSame("t");
}

TEST_F(Issue10, HealthReadsTheOutboxBySeekNeverByScan) {
  local->run("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)");
  faultyDriver();
  sync();
  local->run(
      "WITH RECURSIVE n(i) AS (VALUES(1) UNION ALL SELECT i+1 FROM n WHERE i<1000) "
      "INSERT INTO t SELECT i, 'v' || i FROM n");
  std::vector<std::string> seen;
  faulty->failWhen = [&](const std::string& sql) {
    seen.push_back(sql);
    return false;
  };
  json h = health();
  drv->engine().metricsText(drv->now());
  drv->engine().nextRunAt(drv->now());
  faulty->failWhen = nullptr;
  EXPECT_EQ(h["pendingChanges"], 1000);
  ASSERT_FALSE(seen.empty());
  for (const auto& sql : seen) {
    auto plan = local->exec("EXPLAIN QUERY PLAN " + sql);
    ASSERT_TRUE(plan.ok) << plan.error;
    for (size_t i = 0; i < plan.rows.size(); ++i) {
      const std::string& detail = plan.rows.at(i, plan.rows.columns - 1);
      // A table scan reads "SCAN <table>"; "SCAN CONSTANT ROW" is the outer SELECT of values.
      EXPECT_FALSE(has(detail, "SCAN") && !has(detail, "CONSTANT ROW"))
          << detail << "\n  in: " << sql;
    }
  }
}

TEST_F(Issue10, TheQuarantineListIsPaged) {
  local->run("CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT)");
  d1->query("CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT CHECK (name <> 'poison'))");
  local->run(
      "WITH RECURSIVE n(i) AS (VALUES(1) UNION ALL SELECT i+1 FROM n WHERE i<7) "
      "INSERT INTO items SELECT i, 'poison' FROM n");
  driver();
  sync();
  EXPECT_EQ(health()["quarantined"], 7);
  auto all = json::parse(drv->engine().quarantinedJson());
  ASSERT_EQ(all.size(), 7u);
  auto first = json::parse(drv->engine().quarantinedJson(0, 3));
  ASSERT_EQ(first.size(), 3u);
  auto rest = json::parse(drv->engine().quarantinedJson(first[2]["id"].get<int64_t>(), 100));
  ASSERT_EQ(rest.size(), 4u);
  EXPECT_EQ(rest[0]["key"], all[3]["key"]);
  local->run("UPDATE items SET name = 'fine'");
  ASSERT_TRUE(drv->engine().retryQuarantined(drv->now()).ok());
  EXPECT_EQ(health()["quarantined"], 0);
  sync();
  expectSame("items");
}

// A batch rewrites the small state document, not every table's: with many tables, the bytes
// written per batch stay those of one document.
TEST_F(Issue10, ABatchRewritesTheStateDocumentNotTheTablesOnes) {
  std::string ddl;
  for (int i = 0; i < 20; ++i)
    ddl += "CREATE TABLE t" + std::to_string(i) + "(id INTEGER PRIMARY KEY, v TEXT);";
  local->run(ddl + "INSERT INTO t0 VALUES (1, 'a')");
  driver();
  sync();
  EXPECT_EQ(local->exec("SELECT count(*) FROM _d1sync_tables").rows.at(0, 0), "20");
  local->run(
      // Temporary: neither replicated nor captured.
      "CREATE TEMP TABLE writes(tbl TEXT); "
      "CREATE TEMP TRIGGER count_tables AFTER INSERT ON main._d1sync_tables BEGIN "
      "INSERT INTO writes VALUES ('tables'); END; "
      "CREATE TEMP TRIGGER count_state AFTER INSERT ON main._d1sync_state BEGIN "
      "INSERT INTO writes VALUES ('state'); END");
  for (int i = 2; i < 12; ++i) {
    local->run("INSERT INTO t0 VALUES (" + std::to_string(i) + ", 'x')");
    sync();
  }
  EXPECT_EQ(local->exec("SELECT count(*) FROM writes WHERE tbl='tables'").rows.at(0, 0), "0");
  EXPECT_GE(std::stoi(local->exec("SELECT count(*) FROM writes WHERE tbl='state'").rows.at(0, 0)),
            10);
  EXPECT_EQ(local->exec("SELECT instr(doc, '\"tables\"') FROM _d1sync_state").rows.at(0, 0), "0");
  expectSame("t0");
}

// A database an older d1sync kept in one document (tables inside) resumes where it was, and
// its tables move to _d1sync_tables.
TEST_F(Issue10, AnOlderStateDocumentWithItsTablesInsideResumesWithoutACopy) {
  local->run("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)");
  local->run(
      "WITH RECURSIVE n(i) AS (VALUES(1) UNION ALL SELECT i+1 FROM n WHERE i<300) "
      "INSERT INTO t SELECT i, 'v' || i FROM n");
  driver();
  sync();
  const std::string core = local->exec("SELECT doc FROM _d1sync_state").rows.at(0, 0);
  const std::string table =
      local->exec("SELECT doc FROM _d1sync_tables WHERE name='t'").rows.at(0, 0);
  json old = json::parse(core);
  old["tables"] = {{"t", json::parse(table)}};
  local->run("DELETE FROM _d1sync_tables; UPDATE _d1sync_state SET doc = " + quoteText(old.dump()));
  const int64_t replicated = health()["rowsReplicated"];
  drv->restart();
  local->run("INSERT INTO t VALUES (301, 'new')");
  sync();
  expectSame("t");
  EXPECT_EQ(health()["rowsReplicated"].get<int64_t>(), replicated + 1) << "no recopy";
  EXPECT_EQ(local->exec("SELECT doc FROM _d1sync_tables WHERE name='t'").rows.at(0, 0), table);
  EXPECT_EQ(local->exec("SELECT instr(doc, '\"tables\"') FROM _d1sync_state").rows.at(0, 0), "0");
}

// Keys come back from the outbox as text anyone with the local database can write: each is
// checked as the table's key in SQL literals before it goes into a query, local or D1's.
TEST_F(Issue10, OutboxKeysThatAreNotLiteralsAreQuarantinedNeverRun) {
  local->run(
      "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT);"
      "CREATE TABLE w(k TEXT, n INTEGER, v, PRIMARY KEY(k, n)) WITHOUT ROWID;"
      "CREATE TABLE r(v TEXT);"  // keyed by rowid
      "INSERT INTO t VALUES (1, 'a'); INSERT INTO w VALUES ('x', 1, 'y'); INSERT INTO r VALUES "
      "('z')");
  driver();
  sync();
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"t", "1); DROP TABLE t; --"},    // SQL, not a literal
      {"t", "1,2"},                     // two literals for a one-column key
      {"w", "'x'"},                     // one literal for a two-column key
      {"w", "'x',1 UNION SELECT 1,2"},  // trailing SQL
      {"r", "'1'"},                     // a rowid must be an INTEGER literal
      {"t", "(1*pow(2,0))+0"},          // an expression around an exact REAL
      {"t", "X'0'"},                    // odd hex
  };
  for (const auto& [table, key] : bad)
    local->run("INSERT INTO _d1sync_log(tbl, op, key, at_ms) VALUES (" + quoteText(table) +
               ", 'U', " + quoteText(key) + ", 0)");
  local->run("INSERT INTO t VALUES (2, 'b'); UPDATE w SET v = 'y2'; INSERT INTO r VALUES ('z2')");
  sync();
  EXPECT_EQ(local->exec("SELECT count(*) FROM t").rows.at(0, 0), "2") << "nothing ran locally";
  expectSame("t");
  expectSame("w");
  expectSame("r", "", "rowid");
  auto q = json::parse(drv->engine().quarantinedJson());
  ASSERT_EQ(q.size(), bad.size());
  std::vector<std::pair<std::string, std::string>> held;
  for (const auto& e : q) {
    held.emplace_back(e["table"], e["key"]);
    EXPECT_EQ(e["code"], "INTERNAL");
    EXPECT_TRUE(has(e["error"].get<std::string>(), "not the table's key as SQL literals"))
        << e["error"];
  }
  auto expected = bad;
  std::sort(held.begin(), held.end());
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(held, expected);
  EXPECT_EQ(health()["pendingChanges"], 0);
}

}  // namespace
}  // namespace d1sync::native

namespace d1sync::native {
namespace {

// Seeds of `d1sync_faults 10000 10001` that stopped with "INTERNAL: D1 refused the watermark
// update alone" (D1's faults only, as the run that found them).
TEST(Issue10Harness, SeedsWhoseWatermarkAloneWasRefusedConverge) {
  for (uint64_t seed : {14350, 14351, 14352, 14634, 14679}) {
    HarnessResult r = runSeed(seed, 40, /*localFaults=*/false);
    EXPECT_TRUE(r.ok) << r.failure;
    EXPECT_EQ(r.lost, 0);
    EXPECT_EQ(r.duplicated, 0);
  }
}

}  // namespace
}  // namespace d1sync::native

namespace d1sync::native {
namespace {

TEST(Issue10Options, EveryNumberIsCheckedAndNamed) {
  Options o;
  EXPECT_EQ(parseOptions(R"({"sourceId":"x","flushRetryMs":0})", o), "");
  EXPECT_EQ(o.flushRetryMs, 0);
  Options d;
  EXPECT_EQ(parseOptions(R"({"sourceId":"x"})", d), "");
  EXPECT_EQ(d.flushRetryMs, kDefaultFlushRetryMs);
  for (const char* bad :
       {R"({"sourceId":"x","flushRetryMs":-1})", R"({"sourceId":"x","flushRetryMs":1.5})",
        R"({"sourceId":"x","flushRetryMs":"10"})", R"({"sourceId":"x","flushRetryMs":1e300})",
        R"({"sourceId":"x","flushRetryMs":86400001})"}) {
    Options b;
    EXPECT_NE(parseOptions(bad, b).find("flushRetryMs"), std::string::npos) << bad;
  }
  for (const char* bad : {R"({"sourceId":"x","limits":{"pageChanges":-1}})",
                          R"({"sourceId":"x","limits":{"pageChanges":2.5}})",
                          R"({"sourceId":"x","limits":{"pageChanges":1e300}})",
                          R"({"sourceId":"x","limits":{"pageChanges":"7"}})"}) {
    Options b;
    EXPECT_NE(parseOptions(bad, b).find("limits.pageChanges"), std::string::npos) << bad;
  }
}

}  // namespace
}  // namespace d1sync::native
