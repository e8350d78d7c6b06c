// hydrate() and verify() through a sync endpoint (its "read" op): a second device starts from
// what D1 holds for its tenant, verify finds what was damaged in D1 and repair() restores it,
// and every read the endpoint cannot trust is refused.
#include <nlohmann/json.hpp>

#include "endpoint_schema.hpp"
#include "endpoint_target.hpp"

namespace d1sync::native {
namespace {

// A table D1 has that the endpoint does not serve.
const char* kSecrets =
    "CREATE TABLE secrets(user_id TEXT NOT NULL, k INTEGER NOT NULL, v TEXT, "
    "PRIMARY KEY(user_id, k))";

Options remote(const std::string& device, uint64_t seed) {
  return remoteOptions(device, seed);
}

class EndpointRead : public EngineTest {
 protected:
  void SetUp() override {
    EngineTest::SetUp();
    ASSERT_TRUE(d1->query(kEndpointD1).ok);
    ASSERT_TRUE(d1->query(kSecrets).ok);
    ASSERT_TRUE(d1->query("INSERT INTO secrets VALUES ('alice', 1, 'not served')").ok);
    local->run(kEndpointLocal);
    local->run(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i<3000) "
        "INSERT INTO tasks SELECT i, 't' || i || char(0) || 'x', i % 2, i / 7.0, randomblob(i % 9) "
        "FROM n; INSERT INTO notes VALUES ('one'), ('two'), (NULL)");
    EndpointConfig c;
    c.tables = {"tasks", "notes"};
    c.tenantColumn = "user_id";
    endpoint = std::make_unique<SyncEndpoint>(c);
    asA = std::make_unique<EndpointTarget>(*endpoint, *d1, Caller{"dev-a", "'alice'"});
    drv = std::make_unique<Driver>(*local, *asA, remoteOptions("dev-a", 3));
    sync();
    // Bob's rows share the tables: nothing of them may come down or be read.
    ASSERT_TRUE(d1->query("INSERT INTO tasks(user_id, id, title) VALUES ('bob', 7, 'bob''s')").ok);
  }
  nlohmann::json verify(Driver& d) {
    EXPECT_TRUE(d.engine().beginVerify("{}", d.now()).ok());
    Step s = d.run();
    EXPECT_EQ(s.kind, Step::Idle) << s.message;
    return nlohmann::json::parse(d.engine().verifyReport());
  }
  // The endpoint's answer to one read request as dev-a.
  // dev-a reads as the partition's owner, any other device with an incarnation of its own.
  EndpointStep read(const std::string& reads, const std::string& device = "dev-a") {
    const std::string incarnation =
        device == "dev-a" ? d1->query(
                                  "SELECT incarnation FROM _d1sync_sources WHERE source_id="
                                  "'endpoint:user_id=''alice'''")
                                .rows.at(0, 0)
                          : device + "/x";
    const std::string body = "{\"v\":1,\"sourceId\":\"" + device + "\",\"incarnation\":\"" +
                             incarnation + "\",\"reads\":[" + reads + "]}";
    EndpointStep s = endpoint->begin("read", body, Caller{device, "'alice'"}, 1);
    while (s.kind == EndpointStep::Run)
      s = endpoint->resume(s.context, d1->apply({0, s.statements}), 1);
    return s;
  }
  std::unique_ptr<SyncEndpoint> endpoint;
  std::unique_ptr<EndpointTarget> asA;
};

TEST_F(EndpointRead, ASecondDeviceHydratesItsTenantAndTakesOver) {
  // Long values come down in pieces through the endpoint too.
  local->run(
      "INSERT INTO tasks VALUES (5000, printf('%.*c', 50000, 'z'), 0, 0.5, randomblob(300000))");
  sync();
  SqliteLocal fresh(":memory:");
  EndpointTarget asB(*endpoint, *d1, Caller{"dev-b", "'alice'"});
  Options o = remoteOptions("dev-b", 5);
  o.hydrate = o.takeover = true;
  o.limits.copyPageRows = 700;
  Driver b(fresh, asB, o);
  Step s = b.run();
  ASSERT_EQ(s.kind, Step::Idle) << s.message;
  EXPECT_EQ(diffTable(fresh.handle(), local->handle(), "tasks"), "");
  EXPECT_EQ(diffTable(fresh.handle(), local->handle(), "notes", "", "rowid"), "");
  EXPECT_EQ(fresh.exec("SELECT count(*) FROM sqlite_master WHERE name='secrets'").rows.at(0, 0),
            "0");
  auto h = nlohmann::json::parse(b.engine().healthJson(b.now()));
  EXPECT_EQ(h["rowsHydrated"], 3004);
  // It replicates on as the partition's owner; the first device is fenced.
  fresh.run("UPDATE tasks SET title='from b' WHERE id=5");
  ASSERT_EQ(b.run().kind, Step::Idle);
  EXPECT_EQ(diffTable(fresh.handle(), d1->handle(), "tasks", "user_id='alice'"), "");
  local->run("UPDATE tasks SET title='stale' WHERE id=6");
  EXPECT_EQ(drv->run().code, ErrorCode::Fenced);
  EXPECT_TRUE(verify(b)["equal"].get<bool>());
}

TEST_F(EndpointRead, VerifyFindsTheDamageAndRepairRestoresIt) {
  auto equal = verify(*drv);
  ASSERT_TRUE(equal["equal"].get<bool>()) << equal.dump().substr(0, 500);
  for (const auto& t : equal["tables"])
    EXPECT_EQ(t["rowsD1"], t["table"] == "tasks" ? 3000 : 3) << t.dump();
  ASSERT_TRUE(d1->query("UPDATE tasks SET score=score*2 WHERE user_id='alice' AND id=1234; "
                        "DELETE FROM notes WHERE user_id='alice' AND rowid=2")
                  .ok);
  auto bad = verify(*drv);
  std::set<std::string> keys;
  for (const auto& t : bad["tables"])
    for (const auto& d : t["differences"])
      keys.insert(t["table"].get<std::string>() + ":" + d["key"].get<std::string>());
  EXPECT_EQ(keys, (std::set<std::string>{"tasks:1234", "notes:2"}));
  ASSERT_TRUE(drv->engine().repair(bad.dump(), drv->now()).ok());
  sync();
  EXPECT_TRUE(verify(*drv)["equal"].get<bool>());
  EXPECT_EQ(d1Count("SELECT count(*) FROM tasks WHERE user_id='bob'"), 1);
}

TEST_F(EndpointRead, ReadsTheEndpointCannotTrustAreRefused) {
  const std::string cols = "\"columns\":[\"id\",\"title\"]";
  EXPECT_EQ(read("{\"kind\":\"rows\",\"table\":\"tasks\"," + cols + ",\"after\":null,\"limit\":5}")
                .status,
            200);
  // Another device's sourceId, a table outside the allow-list, the tenant column, a column
  // D1 lacks, a literal that is not one, an unknown read.
  EXPECT_EQ(read("{\"kind\":\"tables\"}", "dev-z").status, 409);  // not the owner
  EXPECT_EQ(endpoint
                ->begin("read",
                        "{\"v\":1,\"sourceId\":\"dev-b\",\"incarnation\":\"dev-b/x\","
                        "\"reads\":[{\"kind\":\"tables\"}]}",
                        Caller{"dev-a", "'alice'"}, 1)
                .status,
            403);
  EXPECT_EQ(read("{\"kind\":\"rows\",\"table\":\"secrets\",\"columns\":[\"v\"],\"after\":null,"
                 "\"limit\":5}")
                .status,
            403);
  EXPECT_EQ(read("{\"kind\":\"rows\",\"table\":\"tasks\",\"columns\":[\"user_id\"],\"after\":null,"
                 "\"limit\":5}")
                .status,
            403);
  EXPECT_EQ(read("{\"kind\":\"rows\",\"table\":\"tasks\",\"columns\":[\"nope\"],\"after\":null,"
                 "\"limit\":5}")
                .status,
            422);
  EXPECT_EQ(read("{\"kind\":\"rows\",\"table\":\"tasks\"," + cols +
                 ",\"after\":\"1) OR (1\",\"limit\":5}")
                .status,
            400);
  EXPECT_EQ(read("{\"kind\":\"range\",\"table\":\"tasks\",\"keys\":[\"id\"]," + cols +
                 ",\"seed\":\"1\",\"inlineBlocks\":1,\"from\":\"1;DROP TABLE tasks\",\"to\":null}")
                .status,
            400);
  EXPECT_EQ(read("{\"kind\":\"drop\",\"table\":\"tasks\",\"keys\":[\"id\"]," + cols + "}").status,
            400);
  EXPECT_EQ(read("{\"kind\":\"range\",\"table\":\"tasks\",\"keys\":[\"title\"]," + cols +
                 ",\"seed\":\"1\",\"inlineBlocks\":1,\"from\":null,\"to\":null}")
                .status,
            422);
  EXPECT_EQ(d1Count("SELECT count(*) FROM tasks"), 3001);
  // The rows read are the caller's tenant's only.
  auto page = nlohmann::json::parse(
      read("{\"kind\":\"rows\",\"table\":\"tasks\"," + cols + ",\"after\":\"2995\",\"limit\":50}")
          .body);
  EXPECT_EQ(page["results"][0].size(), 5u);
  EXPECT_EQ(page["results"][0][0][0], "2996");
}

}  // namespace
}  // namespace d1sync::native
