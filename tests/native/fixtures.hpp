// Shared setup for the engine tests: a local SQLite, a D1 simulator and a driver.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "driver.hpp"

namespace d1sync::native {

// Outbox rows waiting for D1: the newest applied row stays behind as the high-water mark.
constexpr const char* kPendingOutbox =
    "SELECT count(*) FROM _d1sync_log WHERE seq > coalesce((SELECT "
    "json_extract(doc, '$.appliedSeq') FROM _d1sync_state WHERE id = 1), 0)";

inline Options defaultOptions(const std::string& sourceId = "src-1", uint64_t seed = 1) {
  Options o;
  o.sourceId = sourceId;
  o.seed = seed;
  return o;
}

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    local = std::make_unique<SqliteLocal>(":memory:");
    d1 = std::make_unique<D1Simulator>();
  }
  Driver& driver(Options o = defaultOptions()) {
    drv = std::make_unique<Driver>(*local, *d1, std::move(o));
    return *drv;
  }
  // Runs to idle and expects it to get there.
  void sync() {
    Step s = drv->run();
    ASSERT_EQ(s.kind, Step::Idle) << codeName(s.code) << ": " << s.message;
  }
  void expectSame(const std::string& table, const std::string& tenantWhere = "",
                  const std::string& rowidColumn = "") {
    EXPECT_EQ(diffTable(local->handle(), d1->handle(), table, tenantWhere, rowidColumn), "");
  }
  int64_t d1Count(const std::string& sql) {
    auto r = d1->query(sql);
    EXPECT_TRUE(r.ok) << r.error;
    return r.ok && r.rows.size() ? std::stoll(r.rows.at(0, 0)) : -1;
  }
  std::unique_ptr<SqliteLocal> local;
  std::unique_ptr<D1Simulator> d1;
  std::unique_ptr<Driver> drv;
};

}  // namespace d1sync::native
