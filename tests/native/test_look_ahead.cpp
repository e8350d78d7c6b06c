// Look-ahead (Engine::lookAhead), lookAhead 1: the next batch read and rendered while one is in
// flight, sent only when the batch before it committed and nothing else moved. lookAhead 2 is
// in test_two_in_flight.cpp.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "paged_fixture.hpp"

namespace d1sync::native {
namespace {

using nlohmann::json;

using LookAhead = PagedTest;

TEST_F(LookAhead, SendsTheSameBatchesAsReadingAfterEachAnswer) {
  fill(1000);
  driver(paged(0));
  sync();
  const size_t serial = drv->requests;
  const std::string d1Serial = d1->query("SELECT group_concat(v) FROM t").rows.at(0, 0);
  EXPECT_EQ(drv->aheadPrepared(), 0);

  SetUp();
  fill(1000);
  driver(paged(1));
  sync();
  expectSame("t");
  EXPECT_EQ(drv->requests, serial);
  EXPECT_EQ(d1->query("SELECT group_concat(v) FROM t").rows.at(0, 0), d1Serial);
  // Every copy page but the first was read while the one before it was in flight.
  EXPECT_GE(drv->aheadUsed(), 9);
  EXPECT_EQ(drv->aheadUsed(), drv->aheadPrepared());
  json h = json::parse(drv->engine().healthJson(drv->now()));
  EXPECT_EQ(h["lookAhead"]["used"], drv->aheadUsed());
}

TEST_F(LookAhead, WritesMadeWhileABatchIsInFlightReachD1) {
  fill(500);
  driver(paged(1));
  int n = 0;
  drv->inFlight = [&](bool after) {
    ++n;
    local->run("INSERT INTO t VALUES (" + std::to_string(10000 + n) + ", 'in flight " +
               std::string(after ? "after" : "before") +
               "');"
               "UPDATE t SET v = v || '+' WHERE id = " +
               std::to_string(1 + n % 500) +
               ";"
               "DELETE FROM t WHERE id = " +
               std::to_string(499 - n % 400));
  };
  for (int round = 0; round < 5; ++round) drv->runRequests(6);
  drv->inFlight = nullptr;
  sync();
  expectSame("t");
  EXPECT_GT(n, 20);
  EXPECT_GT(drv->aheadUsed(), 10);
}

TEST_F(LookAhead, ThePreparedPageIsDroppedWhenTheBatchInFlightFails) {
  fill(500);
  driver(paged(1));
  drv->runRequests(3);  // the claim with the schema, two copy pages
  ASSERT_EQ(d1Count("SELECT count(*) FROM t"), 200);
  d1->inject({Fault::FailBeforeCommit, transientMessages()[0]});
  Step s = drv->runRequests(1);  // the third page fails; the fourth was read meanwhile
  ASSERT_EQ(s.kind, Step::Send);
  EXPECT_EQ(d1Count("SELECT count(*) FROM t"), 200);
  EXPECT_GT(drv->aheadPrepared(), drv->aheadUsed());
  // The probe (did it commit?), then the third page again, not the fourth read for after it.
  drv->runRequests(2);
  EXPECT_EQ(d1Count("SELECT count(*) FROM t"), 300);
  EXPECT_EQ(d1Count("SELECT max(id) FROM t"), 300);
  sync();
  expectSame("t");
}

TEST_F(LookAhead, ALostAnswerLeavesNothingPreparedBehind) {
  fill(500);
  driver(paged(1));
  drv->runRequests(3);
  d1->inject({Fault::LoseAnswer, "Network connection lost."});
  drv->runRequests(1);
  sync();
  expectSame("t");
  EXPECT_EQ(d1Count("SELECT count(*) FROM t"), 500);
}

TEST_F(LookAhead, ASchemaChangeInFlightIsFollowedNotSentStale) {
  fill(500);
  driver(paged(1));
  drv->runRequests(4);
  bool altered = false;
  drv->inFlight = [&](bool after) {
    if (!after || altered) return;
    altered = true;  // after the next page was read with the old columns
    local->run("ALTER TABLE t ADD COLUMN w INTEGER; UPDATE t SET w = id * 2");
  };
  drv->runRequests(1);
  drv->inFlight = nullptr;
  ASSERT_TRUE(altered);
  sync();
  expectSame("t");
  EXPECT_EQ(d1Count("SELECT count(*) FROM t WHERE w = id * 2"), 500);
}

TEST_F(LookAhead, TheGuessIsNeverSavedAndACrashInFlightLosesNothing) {
  fill(500);
  driver(paged(1));
  drv->runRequests(3);
  std::string before;
  drv->inFlight = [&](bool after) {
    if (after) before = savedState();
  };
  // The answer of the batch in flight never arrives (a crash): what was saved is the state
  // from before it, whatever the engine read ahead meanwhile.
  drv->runRequests(1, /*dropLastAnswer=*/true);
  drv->inFlight = nullptr;
  EXPECT_EQ(savedState(), before);
  EXPECT_GT(drv->aheadPrepared(), 0);
  drv->restart();
  sync();
  expectSame("t");
}

TEST_F(LookAhead, StreamingChangesOverManyPages) {
  fill(10);
  driver(paged(1));
  sync();
  local->run(
      "WITH RECURSIVE n(i) AS (VALUES(1) UNION ALL SELECT i+1 FROM n WHERE i<1000) "
      "INSERT INTO t SELECT 100 + i, 'new ' || i FROM n;"
      "UPDATE t SET v = 'changed' WHERE id % 7 = 0; DELETE FROM t WHERE id % 11 = 0");
  const int64_t used = drv->aheadUsed();
  sync();
  expectSame("t");
  EXPECT_GE(drv->aheadUsed() - used, 10);
}

TEST_F(LookAhead, TheOptionTakesZeroOneOrTwo) {
  Options o, fresh;
  EXPECT_EQ(parseOptions(R"({"sourceId":"s","lookAhead":0})", o), "");
  EXPECT_EQ(o.lookAhead, 0);
  EXPECT_EQ(parseOptions(R"({"sourceId":"s","lookAhead":1})", o), "");
  EXPECT_EQ(o.lookAhead, 1);
  EXPECT_EQ(parseOptions(R"({"sourceId":"s"})", fresh), "");
  EXPECT_EQ(fresh.lookAhead, 2);
  for (const char* bad :
       {R"({"sourceId":"s","lookAhead":3})", R"({"sourceId":"s","lookAhead":true})",
        R"({"sourceId":"s","lookAhead":-1})"})
    EXPECT_NE(parseOptions(bad, o).find("lookAhead must be 0, 1 or 2"), std::string::npos) << bad;
}

}  // namespace
}  // namespace d1sync::native
