// uninstall(): capture and bookkeeping leave the local database, whatever state the engine is in.
#include "fixtures.hpp"

namespace d1sync::native {
namespace {

int64_t localCount(SqliteLocal& db, const std::string& sql) {
  auto r = db.exec(sql);
  EXPECT_TRUE(r.ok) << r.error;
  return r.ok && r.rows.size() ? std::stoll(r.rows.at(0, 0)) : -1;
}

constexpr const char* kOurObjects =
    "SELECT count(*) FROM sqlite_master WHERE substr(name,1,8)='_d1sync_'";

TEST_F(EngineTest, Issue10UninstallRemovesCaptureAndBookkeeping) {
  local->run(
      "CREATE TABLE a(id INTEGER PRIMARY KEY, v TEXT UNIQUE);"
      "CREATE TABLE b(k TEXT PRIMARY KEY, n INT) WITHOUT ROWID;"
      "INSERT INTO a VALUES (1, 'x'), (2, 'y'); INSERT INTO b VALUES ('p', 1)");
  driver();
  sync();
  EXPECT_GT(localCount(*local, kOurObjects), 5);
  local->run("INSERT INTO a VALUES (3, 'z')");  // pending when uninstalled
  Status s = drv->engine().uninstall();
  ASSERT_TRUE(s.ok()) << s.message;
  EXPECT_EQ(localCount(*local, kOurObjects), 0);
  // Writes no longer capture, and the application's tables and rows are untouched.
  local->run("INSERT OR REPLACE INTO a VALUES (4, 'x'); DELETE FROM b");
  EXPECT_EQ(localCount(*local, "SELECT count(*) FROM a"), 3);
  EXPECT_EQ(localCount(*local, "SELECT count(*) FROM sqlite_master WHERE name='_d1sync_log'"), 0);
}

TEST_F(EngineTest, Issue10UninstallWorksAfterAStartRefusedForAnotherSourceId) {
  local->run("CREATE TABLE a(id INTEGER PRIMARY KEY, v TEXT); INSERT INTO a VALUES (1, 'x')");
  driver(defaultOptions("first"));
  sync();
  // The error names uninstall() as the way out; it must work from the refused engine.
  Driver& other = driver(defaultOptions("second"));
  Step refused = other.run();
  ASSERT_EQ(refused.kind, Step::Failed);
  EXPECT_EQ(refused.code, ErrorCode::Config);
  EXPECT_NE(refused.message.find("uninstall"), std::string::npos) << refused.message;
  Status s = other.engine().uninstall();
  ASSERT_TRUE(s.ok()) << s.message;
  EXPECT_EQ(localCount(*local, kOurObjects), 0);
  // d1sync starts again from scratch as the new sourceId, into a fresh D1.
  d1 = std::make_unique<D1Simulator>();
  driver(defaultOptions("second"));
  sync();
  local->run("UPDATE a SET v = 'y'");
  sync();
  expectSame("a");
}

}  // namespace
}  // namespace d1sync::native
