// An engine in remote mode replicating through a SyncEndpoint into the D1 simulator: the same
// exactly-once guarantees as the direct path, under D1 faults and lost answers, per tenant.
#include "endpoint_schema.hpp"
#include "endpoint_target.hpp"

namespace d1sync::native {
namespace {

const char* kLocal = kEndpointLocal;
const char* kD1 = kEndpointD1;

EndpointConfig config() {
  EndpointConfig c;
  c.tables = {"tasks", "notes"};
  c.tenantColumn = "user_id";
  return c;
}

class SyncEndpointTest : public EngineTest {
 protected:
  void SetUp() override {
    EngineTest::SetUp();
    ASSERT_TRUE(d1->query(kD1).ok);
    local->run(kLocal);
    endpoint = std::make_unique<SyncEndpoint>(config());
    target = std::make_unique<EndpointTarget>(*endpoint, *d1, Caller{"dev-a", "'alice'"});
    drv = std::make_unique<Driver>(*local, *target, remoteOptions("dev-a", 3));
  }
  void write(int from, int to) {
    local->run("WITH RECURSIVE n(i) AS (SELECT " + std::to_string(from) +
               " UNION ALL SELECT i+1 FROM n WHERE i<" + std::to_string(to) +
               ") INSERT OR REPLACE INTO tasks SELECT i, 't' || i || char(0), i % 2, i * 0.1, "
               "randomblob(i % 5) FROM n; INSERT INTO notes VALUES ('n" +
               std::to_string(from) + "')");
  }
  void expectAlice() {
    expectSame("tasks", "user_id='alice'");
    expectSame("notes", "user_id='alice'", "rowid");
  }
  std::unique_ptr<SyncEndpoint> endpoint;
  std::unique_ptr<EndpointTarget> target;
};

TEST_F(SyncEndpointTest, CopiesAndStreamsIntoTheCallersTenant) {
  write(1, 300);
  sync();
  expectAlice();
  local->run("UPDATE tasks SET title = 'x' WHERE id % 3 = 0; DELETE FROM tasks WHERE id > 250;");
  write(400, 420);
  sync();
  expectAlice();
  EXPECT_EQ(d1Count("SELECT count(*) FROM tasks WHERE user_id <> 'alice'"), 0);
  EXPECT_EQ(d1Count("SELECT count(*) FROM _d1sync_sources WHERE source_id = "
                    "'endpoint:user_id=''alice''' AND incarnation LIKE 'dev-a/%'"),
            1);
}

TEST_F(SyncEndpointTest, TransientFaultsAndLostAnswersNeitherLoseNorDouble) {
  write(1, 200);
  sync();
  for (int round = 0; round < 6; ++round) {
    write(1000 + round * 50, 1040 + round * 50);
    local->run("DELETE FROM tasks WHERE id % 7 = " + std::to_string(round));
    d1->inject(
        Fault{round % 2 ? Fault::LoseAnswer : Fault::FailBeforeCommit, "Network connection lost."});
    sync();
    expectAlice();
  }
  EXPECT_EQ(d1->pendingFaults(), 0u);
}

TEST_F(SyncEndpointTest, ACrashAfterSendingResumesExactlyOnce) {
  write(1, 500);
  drv->runRequests(3, /*dropLastAnswer=*/true);
  drv->restart();
  sync();
  expectAlice();
  write(600, 700);
  drv->runRequests(2, true);
  drv->restart();
  sync();
  expectAlice();
}

TEST_F(SyncEndpointTest, ASecondDeviceIsFencedUntilItTakesOver) {
  write(1, 50);
  sync();
  SqliteLocal other(":memory:");
  other.run(kLocal);
  other.run("INSERT INTO tasks(id, title) VALUES (1, 'from b')");
  EndpointTarget asB(*endpoint, *d1, Caller{"dev-b", "'alice'"});
  Driver b(other, asB, remoteOptions("dev-b", 4));
  Step s = b.run();
  ASSERT_EQ(s.kind, Step::Failed);
  EXPECT_EQ(s.code, ErrorCode::Fenced) << s.message;
  Options take = remoteOptions("dev-b", 5);
  take.takeover = true;
  Driver taker(other, asB, take);
  ASSERT_EQ(taker.run().kind, Step::Idle);
  EXPECT_EQ(diffTable(other.handle(), d1->handle(), "tasks", "user_id='alice'"), "");
  write(60, 70);
  s = drv->run();
  ASSERT_EQ(s.kind, Step::Failed);
  EXPECT_EQ(s.code, ErrorCode::Fenced);
  EXPECT_EQ(diffTable(other.handle(), d1->handle(), "tasks", "user_id='alice'"), "");
}

TEST_F(SyncEndpointTest, ALocalColumnD1LacksStopsWithSchemaNamingIt) {
  local->run("ALTER TABLE tasks ADD COLUMN secret TEXT");
  Step s = drv->run();
  ASSERT_EQ(s.kind, Step::Failed);
  EXPECT_EQ(s.code, ErrorCode::Schema);
  EXPECT_NE(s.message.find("secret"), std::string::npos) << s.message;
}

TEST_F(SyncEndpointTest, ATableD1LacksStopsWithSchemaNamingIt) {
  local->run("CREATE TABLE extra(id INTEGER PRIMARY KEY)");
  Step s = drv->run();
  ASSERT_EQ(s.kind, Step::Failed);
  EXPECT_EQ(s.code, ErrorCode::Schema);
  EXPECT_NE(s.message.find("extra"), std::string::npos) << s.message;
}

TEST_F(SyncEndpointTest, RequestLimitsAreKeptByTheClient) {
  EndpointConfig small = config();
  small.rowsPerRequest = 40;
  small.requestBytes = 8000;
  SyncEndpoint ep(small);
  EndpointTarget t(ep, *d1, Caller{"dev-c", "'carol'"});
  local->run("DELETE FROM tasks");
  write(1, 400);
  Driver c(*local, t, remoteOptions("dev-c", 6));
  ASSERT_EQ(c.run().kind, Step::Idle);
  EXPECT_EQ(t.last.status, 200);
  EXPECT_GE(c.requests, 10u);
  EXPECT_EQ(diffTable(local->handle(), d1->handle(), "tasks", "user_id='carol'"), "");
}

}  // namespace
}  // namespace d1sync::native

namespace d1sync::native {
namespace {

TEST_F(SyncEndpointTest, ASourceIdTheCallerDoesNotOwnStopsWithConfigAtOnce) {
  EndpointTarget asOther(*endpoint, *d1, Caller{"dev-x", "'alice'"});
  Driver wrong(*local, asOther, remoteOptions("dev-a", 9));
  Step s = wrong.run();
  ASSERT_EQ(s.kind, Step::Failed);
  EXPECT_EQ(s.code, ErrorCode::Config);
  EXPECT_NE(s.message.find("FORBIDDEN"), std::string::npos) << s.message;
  EXPECT_EQ(wrong.requests, 1u);
}

}  // namespace
}  // namespace d1sync::native
