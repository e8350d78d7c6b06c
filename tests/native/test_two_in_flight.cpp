// lookAhead 2 (Engine::sendAhead): the next batch sent before the answer to the one in flight,
// guarded by the id and watermark that one sets. D1 must apply them in order or not at all.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "paged_fixture.hpp"

namespace d1sync::native {
namespace {

using nlohmann::json;

class TwoInFlight : public PagedTest {
 protected:
  // Requests a fresh copy of 1,000 rows in pages of 100 takes with lookAhead 1.
  size_t serialRequests() {
    fill(1000);
    driver(paged(1));
    sync();
    size_t n = drv->requests;
    SetUp();
    return n;
  }
};

TEST_F(TwoInFlight, SendsTheNextBatchBeforeTheAnswerAndD1GetsTheSame) {
  const size_t serial = serialRequests();
  fill(1000);
  driver(paged(2));
  sync();
  expectSame("t");
  EXPECT_EQ(drv->requests, serial);
  // Every copy page after the first went out while the one before it was unanswered.
  EXPECT_GE(drv->sentAhead, 9u);
  EXPECT_EQ(d1->committed, d1->batches);
  json h = json::parse(drv->engine().healthJson(drv->now()));
  EXPECT_EQ(h["lookAhead"]["used"], drv->aheadUsed());
  EXPECT_EQ(h["lookAhead"]["sentBeforeAnswer"], drv->sentAhead);
  EXPECT_EQ(json::parse(savedState())["pendingAhead"], "");
}

TEST_F(TwoInFlight, ABatchThatOvertakesTheOneBeforeIsRefusedAndSentAgain) {
  fill(1000);
  driver(paged(2));
  int overtaken = 0;
  drv->overtakes = [&] { return ++overtaken <= 3; };
  sync();
  expectSame("t");
  EXPECT_GT(overtaken, 3);
  // Each batch that arrived first was refused by its guard, and so was the one sent behind it
  // before its answer came back; nothing else failed.
  EXPECT_EQ(d1->batches - d1->committed, 6u);
  json h = json::parse(drv->engine().healthJson(drv->now()));
  EXPECT_EQ(h["state"], "idle");
  EXPECT_EQ(d1Count("SELECT count(*) FROM t"), 1000);
  // Losing a race is not an error of D1's: health() counts none.
  EXPECT_EQ(h["syncErrors"], 0);
  EXPECT_TRUE(h["lastError"].is_null()) << h["lastError"];
}

TEST_F(TwoInFlight, WhenTheFirstFailsTheSecondIsRefusedAndBothGoAgain) {
  fill(1000);
  driver(paged(2));
  drv->runRequests(4);  // the claim, the schema, two copy pages
  const int64_t before = d1Count("SELECT count(*) FROM t");
  ASSERT_GT(before, 0);
  const size_t committed = d1->committed;
  d1->inject({Fault::FailBeforeCommit, transientMessages()[0]});
  drv->runRequests(2);  // a page that fails, and the one sent behind it
  EXPECT_EQ(d1->committed, committed);
  EXPECT_EQ(d1Count("SELECT count(*) FROM t"), before);
  sync();
  expectSame("t");
}

TEST_F(TwoInFlight, AFirstAnswerLostIsProvedCommittedByTheSecond) {
  const size_t serial = serialRequests();
  fill(1000);
  driver(paged(2));
  drv->runRequests(4);
  d1->inject({Fault::LoseAnswer, "Network connection lost."});
  sync();
  expectSame("t");
  // No probe: the second batch's guard needed the first in D1.
  EXPECT_EQ(drv->requests, serial);
  EXPECT_EQ(d1->committed, d1->batches);
}

TEST_F(TwoInFlight, BothAnswersLostTheProbeFindsTheSecond) {
  const size_t serial = serialRequests();
  fill(1000);
  driver(paged(2));
  drv->runRequests(4);
  d1->inject({Fault::LoseAnswer, "Network connection lost."});
  d1->inject({Fault::LoseAnswer, "Network connection lost."});
  sync();
  expectSame("t");
  // One probe, and nothing sent twice.
  EXPECT_EQ(drv->requests, serial + 1);
  EXPECT_EQ(d1->committed, d1->batches);
}

// A Durable Object reset after a deferred foreign key fails at commit answers every request
// in flight with that failure, the one that committed too: D1 is asked, not believed.
TEST_F(TwoInFlight, OneFailureAnsweredToBothIsProbedNotBelieved) {
  const std::string reset =
      "Durable Object was reset and rolled back to its last known good state because the "
      "following SQLite statement failed: FOREIGN KEY constraint failed";
  fill(1000);
  driver(paged(2));
  drv->runRequests(4);
  const size_t committed = d1->committed;
  d1->inject({Fault::LoseAnswer, reset});        // commits, answered as failed
  d1->inject({Fault::FailBeforeCommit, reset});  // the one behind it
  drv->runRequests(2);
  EXPECT_EQ(d1->committed, committed + 1);
  sync();
  expectSame("t");
  EXPECT_EQ(local->exec("SELECT count(*) FROM _d1sync_quarantine").rows.at(0, 0), "0");
}

TEST_F(TwoInFlight, ACrashWithTwoInFlightLosesNothing) {
  fill(1000);
  driver(paged(2));
  drv->runRequests(4);
  std::string saved;
  drv->inFlight = [&](bool after) {
    if (after) saved = savedState();
  };
  // Two batches reach D1 and both answers are lost with the engine.
  drv->runRequests(2, /*dropLastAnswer=*/true);
  drv->inFlight = nullptr;
  ASSERT_NE(json::parse(saved)["pendingAhead"], "");
  EXPECT_EQ(json::parse(savedState())["pendingAhead"], json::parse(saved)["pendingAhead"]);
  const int64_t landed = d1Count("SELECT count(*) FROM t");
  drv->restart();
  sync();
  expectSame("t");
  EXPECT_GT(landed, 300);
}

TEST_F(TwoInFlight, StreamingChangesGoTwoAtATime) {
  fill(10);
  driver(paged(2));
  sync();
  local->run(
      "WITH RECURSIVE n(i) AS (VALUES(1) UNION ALL SELECT i+1 FROM n WHERE i<1000) "
      "INSERT INTO t SELECT 100 + i, 'new ' || i FROM n;"
      "UPDATE t SET v = 'changed' WHERE id % 7 = 0; DELETE FROM t WHERE id % 11 = 0");
  const size_t ahead = drv->sentAhead;
  sync();
  expectSame("t");
  EXPECT_GE(drv->sentAhead - ahead, 10u);
  EXPECT_EQ(drv->engine().appliedSeq(), drv->engine().capturedSeq());
}

}  // namespace
}  // namespace d1sync::native
