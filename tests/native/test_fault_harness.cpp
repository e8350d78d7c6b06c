// The randomized fault harness in CI: a three hundred seeds, each a random workload with random
// D1 faults, crashes and a second writer; D1 must end equal to the local database.
#include <gtest/gtest.h>

#include "fault_harness.hpp"

namespace d1sync::native {
namespace {

TEST(FaultHarness, ThreeHundredSeedsConvergeExactly) {
  int64_t faults = 0, rows = 0;
  for (uint64_t seed = 1; seed <= 300; ++seed) {
    HarnessResult r = runSeed(seed);
    ASSERT_TRUE(r.ok) << r.failure;
    EXPECT_EQ(r.lost, 0);
    EXPECT_EQ(r.duplicated, 0);
    for (const auto& [kind, n] : r.faults) faults += n;
    rows += r.rowsCompared;
  }
  // The harness must actually inject faults and compare rows, or it proves nothing.
  EXPECT_GT(faults, 400);
  EXPECT_GT(rows, 5000);
}

}  // namespace
}  // namespace d1sync::native
