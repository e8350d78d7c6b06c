// The randomized fault harness in CI: a three hundred seeds, each a random workload with random
// D1 faults, crashes and a second writer; D1 must end equal to the local database.
#include <gtest/gtest.h>

#include "fault_harness.hpp"

namespace d1sync::native {
namespace {

TEST(FaultHarness, ThreeHundredSeedsConvergeExactly) {
  int64_t faults = 0, rows = 0, sentAhead = 0, overtook = 0;
  for (uint64_t seed = 1; seed <= 300; ++seed) {
    HarnessResult r = runSeed(seed);
    ASSERT_TRUE(r.ok) << r.failure;
    EXPECT_EQ(r.lost, 0);
    EXPECT_EQ(r.duplicated, 0);
    for (const auto& [kind, n] : r.faults) faults += n;
    rows += r.rowsCompared;
    sentAhead += r.sentAhead;
    overtook += r.overtook;
  }
  // The harness must actually inject faults and compare rows, or it proves nothing.
  EXPECT_GT(faults, 400);
  EXPECT_GT(rows, 5000);
  // lookAhead 2 (the default): batches sent before the answer to the one before, some of
  // them reaching D1 first.
  EXPECT_GT(sentAhead, 1000);
  EXPECT_GT(overtook, 100);
}

// lookAhead 1: the next batch read while one is in flight, sent after its answer.
TEST(FaultHarness, LookAheadOneOneHundredSeeds) {
  int64_t used = 0;
  for (uint64_t seed = 1; seed <= 100; ++seed) {
    SeedOptions o;
    o.lookAhead = 1;
    o.writesInFlight = true;
    HarnessResult r = runSeed(seed, o);
    ASSERT_TRUE(r.ok) << r.failure;
    EXPECT_EQ(r.lost, 0);
    EXPECT_EQ(r.duplicated, 0);
    EXPECT_EQ(r.sentAhead, 0);
    used += r.aheadUsed;
  }
  EXPECT_GT(used, 100);
}

// The same through the sync endpoint: the client in remote mode, the endpoint applying its
// changesets to a tenant partition, every fault striking the endpoint's D1 batches.
TEST(FaultHarness, ThroughTheSyncEndpointTooOneHundredSeeds) {
  int64_t secondWriters = 0, rows = 0;
  for (uint64_t seed = 1; seed <= 100; ++seed) {
    HarnessResult r = runSeed(seed, 40, true, /*endpoint=*/true);
    ASSERT_TRUE(r.ok) << r.failure;
    EXPECT_EQ(r.lost, 0);
    EXPECT_EQ(r.duplicated, 0);
    secondWriters += r.faults["second_writer"];
    rows += r.rowsCompared;
  }
  EXPECT_GT(secondWriters, 50);
  EXPECT_GT(rows, 2000);
}

// Pipelined: the application writes, and now and then changes a table, while each request is
// in flight, before and after the engine reads the next page ahead; a page read ahead must be
// dropped whenever the batch in flight fails or the schema moved.
TEST(FaultHarness, WritesWhileRequestsAreInFlightThreeHundredSeeds) {
  int64_t rows = 0, crashes = 0, prepared = 0, used = 0;
  for (uint64_t seed = 1; seed <= 300; ++seed) {
    SeedOptions o;
    o.writesInFlight = true;
    HarnessResult r = runSeed(seed, o);
    ASSERT_TRUE(r.ok) << r.failure;
    EXPECT_EQ(r.lost, 0);
    EXPECT_EQ(r.duplicated, 0);
    rows += r.rowsCompared;
    crashes += r.faults["crash_after_send"];
    prepared += r.aheadPrepared;
    used += r.aheadUsed;
  }
  EXPECT_GT(rows, 5000);
  EXPECT_GT(crashes, 100);
  // Both ways out of a look-ahead must be exercised: sent as prepared, and dropped.
  EXPECT_GT(used, 1000);
  EXPECT_GT(prepared - used, 1000);
}

TEST(FaultHarness, WritesInFlightThroughTheSyncEndpointOneHundredSeeds) {
  int64_t rows = 0, used = 0;
  for (uint64_t seed = 1; seed <= 100; ++seed) {
    SeedOptions o;
    o.endpoint = true;
    o.writesInFlight = true;
    HarnessResult r = runSeed(seed, o);
    ASSERT_TRUE(r.ok) << r.failure;
    EXPECT_EQ(r.lost, 0);
    EXPECT_EQ(r.duplicated, 0);
    rows += r.rowsCompared;
    used += r.aheadUsed;
  }
  EXPECT_GT(rows, 2000);
  EXPECT_GT(used, 100);
}

// Without look-ahead (lookAhead: 0), each page read when the batch before it is answered.
TEST(FaultHarness, WithoutLookAheadOneHundredSeeds) {
  for (uint64_t seed = 1; seed <= 100; ++seed) {
    SeedOptions o;
    o.lookAhead = 0;
    o.writesInFlight = true;
    HarnessResult r = runSeed(seed, o);
    ASSERT_TRUE(r.ok) << r.failure;
    EXPECT_EQ(r.lost, 0);
    EXPECT_EQ(r.duplicated, 0);
    EXPECT_EQ(r.aheadPrepared, 0);
  }
}

}  // namespace
}  // namespace d1sync::native
