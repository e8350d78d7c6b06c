// verify() and repair() against the D1 simulator: equal databases compare equal, seeded
// corruptions of D1 are each found under exactly their key, and repair() sends exactly those.
#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>
#include <random>
#include <set>

#include "fingerprint.hpp"
#include "fixtures.hpp"

namespace d1sync::native {
namespace {

const char* kSchema = R"sql(
  CREATE TABLE t(id INTEGER PRIMARY KEY, a TEXT, r REAL, n INTEGER, b BLOB, u);
  CREATE TABLE tags(name TEXT, v INTEGER, note, PRIMARY KEY(name, v)) WITHOUT ROWID;
  CREATE TABLE log(msg TEXT, x REAL);
)sql";

double randomDouble(std::mt19937_64& rng) {
  for (;;) {
    uint64_t bits = rng();
    double d;
    std::memcpy(&d, &bits, sizeof d);
    if (d == d) return d;
  }
}

// u holds an integer for even ids, text for id % 4 == 1 and a REAL for id % 4 == 3.
void fill(SqliteLocal& db, int rows, uint64_t seed) {
  db.run(kSchema);
  std::mt19937_64 rng(seed);
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db.handle(), "INSERT INTO t VALUES (?1, ?2, ?3, ?4, ?5, ?6)", -1, &st,
                     nullptr);
  db.run("BEGIN");
  for (int i = 1; i <= rows; ++i) {
    std::string a;
    for (uint64_t k = rng() % 24; k; --k) a += static_cast<char>(' ' + rng() % 95);
    sqlite3_bind_int(st, 1, i);
    if (i % 17 == 0)
      sqlite3_bind_null(st, 2);
    else
      sqlite3_bind_text(st, 2, a.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_double(st, 3, randomDouble(rng));
    sqlite3_bind_int64(st, 4, static_cast<int64_t>(rng()));
    uint64_t bits = rng();
    sqlite3_bind_blob(st, 5, &bits, static_cast<int>(rng() % 9), SQLITE_TRANSIENT);
    if (i % 2 == 0)
      sqlite3_bind_int64(st, 6, static_cast<int64_t>(rng() % 1000000));
    else if (i % 4 == 1)
      sqlite3_bind_text(st, 6, "x", -1, SQLITE_STATIC);
    else
      sqlite3_bind_double(st, 6, randomDouble(rng));
    sqlite3_step(st);
    sqlite3_reset(st);
  }
  sqlite3_finalize(st);
  db.run(
      "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i<3000) "
      "INSERT INTO tags SELECT printf('tag-%05d', i / 3), i % 3, CASE i % 4 WHEN 0 THEN NULL "
      "WHEN 1 THEN '' WHEN 2 THEN X'' ELSE i / 7.0 END FROM c");
  db.run(
      "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i<2500) "
      "INSERT INTO log SELECT 'line ' || i, i / 3.0 FROM c; DELETE FROM log WHERE rowid % 11 = 0");
  db.run("COMMIT");
}

class Verify : public EngineTest {
 protected:
  void SetUp() override {
    EngineTest::SetUp();
    fill(*local, rows, 11);
    driver();
    sync();
  }
  nlohmann::json verify(const std::string& request = "{}") {
    Status s = drv->engine().beginVerify(request, drv->now());
    EXPECT_TRUE(s.ok()) << s.message;
    Step step = drv->run();
    EXPECT_EQ(step.kind, Step::Idle) << step.message;
    std::string report = drv->engine().verifyReport();
    EXPECT_NE(report, "");
    return report.empty() ? nlohmann::json() : nlohmann::json::parse(report);
  }
  const nlohmann::json& tableOf(const nlohmann::json& report, const std::string& name) {
    for (const auto& t : report["tables"])
      if (t["table"] == name) return t;
    static nlohmann::json none;
    ADD_FAILURE() << "no table " << name << " in the report";
    return none;
  }
  void d1Run(const std::string& sql) {
    auto r = d1->query(sql);
    ASSERT_TRUE(r.ok) << r.error << " in " << sql;
  }
  int rows = 100000;
};

// The same on a fifth of the rows, for what does not depend on the table's size.
class VerifySmall : public Verify {
 protected:
  VerifySmall() { rows = 20000; }
};

TEST_F(Verify, EqualDatabasesCompareEqualInFewRoundTrips) {
  auto report = verify();
  ASSERT_TRUE(report["equal"].get<bool>()) << report.dump().substr(0, 2000);
  const auto& t = tableOf(report, "t");
  EXPECT_EQ(t["rowsLocal"], rows);
  EXPECT_EQ(t["rowsD1"], rows);
  EXPECT_EQ(t["differences"].size(), 0u);
  EXPECT_EQ(tableOf(report, "tags")["rowsD1"], 3000);
  EXPECT_EQ(tableOf(report, "log")["rowsD1"], 2500 - 2500 / 11);
  // 100 ranges of 1,000 rows for t, one each for the small tables, 20 statements a batch.
  EXPECT_LE(report["batches"].get<int>(), 12);
  EXPECT_EQ(report["rowsReadLocal"], rows + 3000 + 2500 - 2500 / 11);
  auto health = nlohmann::json::parse(drv->engine().healthJson(drv->now()));
  EXPECT_EQ(health["lastVerifyEqual"], true);
  EXPECT_GT(health["lastVerifiedAt"].get<int64_t>(), 0);
  EXPECT_NE(drv->engine().metricsText(drv->now()).find("d1sync_verify_differences{"),
            std::string::npos);
}

TEST_F(Verify, AThousandSeededCorruptionsAreEachFoundUnderTheirKeyAndRepaired) {
  std::mt19937_64 rng(77);
  std::set<int64_t> used;
  std::set<std::string> expected;  // keys verify must report
  std::set<std::string> onlyD1;    // keys D1 has and the local database does not
  sqlite3* h = d1->handle();
  for (int i = 0; i < 1000; ++i) {
    int64_t id;
    do id = 1 + static_cast<int64_t>(rng() % rows);
    while (!used.insert(id).second || (i % 9 == 4 && id % 2 != 0));
    const std::string key = std::to_string(id);
    switch (i % 9) {
      case 0: {  // a REAL one ULP off
        sqlite3_stmt* st;
        sqlite3_prepare_v2(h, "SELECT r FROM t WHERE id=?1", -1, &st, nullptr);
        sqlite3_bind_int64(st, 1, id);
        sqlite3_step(st);
        const double r = sqlite3_column_double(st, 0);
        sqlite3_finalize(st);
        sqlite3_prepare_v2(h, "UPDATE t SET r=?1 WHERE id=?2", -1, &st, nullptr);
        double next = std::nextafter(r, INFINITY);
        if (std::isinf(next)) next = std::nextafter(r, 0.0);
        sqlite3_bind_double(st, 1, next);
        sqlite3_bind_int64(st, 2, id);
        sqlite3_step(st);
        sqlite3_finalize(st);
        break;
      }
      case 1:  // one byte of a text
        d1Run(
            "UPDATE t SET a=CASE WHEN a IS NULL OR a='' THEN 'q' ELSE substr(a,1,length(a)-1)"
            "||char((unicode(substr(a,-1))|1)-(unicode(substr(a,-1))&1)) END WHERE id=" +
            key);
        break;
      case 2:  // to NULL (or from it)
        d1Run("UPDATE t SET a=iif(a IS NULL,'',NULL) WHERE id=" + key);
        break;
      case 3:  // to '' (a blob of no bytes is not '')
        d1Run("UPDATE t SET b=iif(b=X'','',X'') WHERE id=" + key);
        break;
      case 4:  // an INTEGER 1 becomes the REAL 1.0
        d1Run("UPDATE t SET u=CAST(u AS REAL) WHERE id=" + key);
        break;
      case 5:  // one byte of a blob
        d1Run("UPDATE t SET b=X'00'||b WHERE id=" + key);
        break;
      case 6:  // a row deleted
        d1Run("DELETE FROM t WHERE id=" + key);
        break;
      case 7: {  // a row added
        const std::string extra = std::to_string(rows + 1000 + i);
        d1Run("INSERT INTO t(id,a) VALUES (" + extra + ",'extra')");
        expected.insert(extra);
        onlyD1.insert(extra);
        break;
      }
      case 8: {  // a key changed
        const std::string moved = std::to_string(rows + 5000 + i);
        d1Run("UPDATE t SET id=" + moved + " WHERE id=" + key);
        expected.insert(moved);
        onlyD1.insert(moved);
        break;
      }
    }
    if (i % 9 != 7) expected.insert(key);
  }
  auto report = verify("{\"maxDifferences\": 5000}");
  EXPECT_FALSE(report["equal"].get<bool>());
  const auto& t = tableOf(report, "t");
  std::set<std::string> found;
  for (const auto& d : t["differences"]) {
    const std::string key = d["key"];
    found.insert(key);
    // What each side holds: nothing where the row is missing, a tuple where it is there.
    EXPECT_EQ(d["local"].is_null(), onlyD1.count(key) == 1) << key;
    const bool goneFromD1 = d1Count("SELECT count(*) FROM t WHERE id=" + key) == 0;
    EXPECT_EQ(d["d1"].is_null(), goneFromD1) << key << " " << d.dump();
  }
  EXPECT_EQ(found, expected);
  EXPECT_EQ(t["unresolved"].size(), 0u);
  EXPECT_EQ(tableOf(report, "tags")["differences"].size(), 0u);

  auto before = nlohmann::json::parse(drv->engine().healthJson(drv->now()));
  Status s = drv->engine().repair(report.dump(), drv->now());
  ASSERT_TRUE(s.ok()) << s.message;
  sync();
  auto after = nlohmann::json::parse(drv->engine().healthJson(drv->now()));
  // Every key present locally written once, nothing else.
  EXPECT_EQ(after["rowsReplicated"].get<int64_t>() - before["rowsReplicated"].get<int64_t>(),
            static_cast<int64_t>(expected.size() - onlyD1.size()));
  expectSame("t");
  EXPECT_TRUE(verify()["equal"].get<bool>());
}

TEST_F(VerifySmall, CompositeTextKeysAndRowidTablesAreNarrowedToTheKey) {
  d1Run("UPDATE tags SET note=X'00' WHERE name='tag-00500' AND v=1");
  d1Run("INSERT INTO tags VALUES ('tag-00500', 7, NULL)");
  d1Run("UPDATE log SET x=x+1e-9 WHERE rowid=(SELECT rowid FROM log LIMIT 1 OFFSET 1000)");
  auto report = verify();
  EXPECT_FALSE(report["equal"].get<bool>());
  std::set<std::string> tags;
  for (const auto& d : tableOf(report, "tags")["differences"]) tags.insert(d["key"]);
  EXPECT_EQ(tags, (std::set<std::string>{"'tag-00500',1", "'tag-00500',7"}));
  const auto& log = tableOf(report, "log")["differences"];
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0]["key"], d1->query("SELECT CAST(\"rowid\" AS TEXT) FROM log LIMIT 1 "
                                     "OFFSET 1000")
                               .rows.at(0, 0));
  ASSERT_TRUE(drv->engine().repair(report.dump(), drv->now()).ok());
  sync();
  EXPECT_TRUE(verify()["equal"].get<bool>());
}

// 5,000 rows only D1 has, past the last local key: the last range is split at D1's quantiles
// (D1 holds more there), the extra keys listed, and repair deletes exactly them.
TEST_F(VerifySmall, RowsOnlyD1HasAreSplitAtD1sQuantilesAndRemoved) {
  d1Run(
      "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i<5000) "
      "INSERT INTO t(id, a) SELECT 100000 + i, 'only in D1' FROM c");
  auto report = verify("{\"table\":\"t\",\"maxDifferences\":10000}");
  const auto& t = tableOf(report, "t");
  EXPECT_EQ(t["rowsD1"], rows + 5000);
  ASSERT_EQ(t["differences"].size(), 5000u);
  for (const auto& d : t["differences"]) {
    EXPECT_TRUE(d["local"].is_null());
    EXPECT_EQ(d["d1"].get<std::string>().substr(0, 7),
              "(" + d["key"].get<std::string>().substr(0, 6));
  }
  EXPECT_LE(report["statements"].get<int>(), 20 + 1 + 17 + 5 * 17 + 50);
  Status repaired = drv->engine().repair(report.dump(), drv->now());
  ASSERT_TRUE(repaired.ok()) << codeName(repaired.code) << ": " << repaired.message;
  sync();
  EXPECT_EQ(d1Count("SELECT count(*) FROM t WHERE id > 100000"), 0);
  EXPECT_TRUE(verify()["equal"].get<bool>());
}

TEST_F(VerifySmall, ChangesCapturedBeforeTheVerifyAreShippedFirst) {
  local->run("UPDATE t SET a='changed' WHERE id<=50; DELETE FROM t WHERE id BETWEEN 51 AND 60");
  auto report = verify("{\"table\":\"t\"}");
  EXPECT_TRUE(report["equal"].get<bool>()) << report.dump().substr(0, 1000);
  EXPECT_EQ(report["tables"].size(), 1u);
  EXPECT_EQ(report["appliedSeq"], drv->engine().appliedSeq());
}

TEST_F(VerifySmall, TransientFailuresAreRetriedAndARefusedStatementEndsOnlyTheVerify) {
  d1->inject({Fault::FailBeforeCommit, "Network connection lost."});
  d1->inject({Fault::LoseAnswer, "D1 DB is overloaded. Too many requests queued."});
  auto report = verify();
  EXPECT_TRUE(report["equal"].get<bool>());
  d1->inject({Fault::FailBeforeCommit, "no such function: atan2: SQLITE_ERROR", 1});
  report = verify();
  EXPECT_FALSE(report["equal"].get<bool>());
  EXPECT_EQ(report["errorCode"], "INTERNAL");
  EXPECT_NE(report["error"].get<std::string>().find("atan2"), std::string::npos);
  EXPECT_FALSE(drv->engine().terminal());
  local->run("UPDATE t SET a='after' WHERE id=1");
  sync();
  expectSame("t");
}

TEST_F(VerifySmall, BadRequestsAreRefusedWithTheirReason) {
  Engine& e = drv->engine();
  EXPECT_EQ(e.beginVerify("{\"tabel\":\"t\"}", 0).message, "verify(): unknown option 'tabel'");
  EXPECT_EQ(e.beginVerify("{\"tenant\":\"x\"}", 0).message,
            "verify(): this replicator has no tenant");
  EXPECT_EQ(e.beginVerify("{\"maxDifferences\":0}", 0).code, ErrorCode::Config);
  auto report = verify("{\"table\":\"nope\"}");
  EXPECT_EQ(report["errorCode"], "CONFIG");
  EXPECT_EQ(e.repair("{}", 0).code, ErrorCode::Config);
  EXPECT_EQ(
      e.repair("{\"tables\":[{\"table\":\"t\",\"differences\":[{\"key\":\"1,2\"}]}]}", 0).message,
      "repair(): '1,2' is not a key of t");
}

// Blocks folded inline or in the loop are the same sum: the verifier may size them per table.
TEST(Fingerprint, InlineBlocksGiveTheSameValueAndSeeEveryBlock) {
  SqliteLocal db(":memory:");
  db.run(
      "CREATE TABLE w(id INTEGER PRIMARY KEY, a TEXT, b BLOB);"
      "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i<200) "
      "INSERT INTO w SELECT i, hex(randomblob(i * 2)), randomblob(i % 50) FROM c");
  FpSource src;
  src.table = "\"w\"";
  src.keys = {"_t.\"id\""};
  src.columns = {"_t.\"id\"", "_t.\"a\"", "_t.\"b\""};
  src.integerKey = true;
  FpParams prm = makeFpParams(3, 42);
  auto fingerprint = [&](int inlineBlocks) {
    prm.inlineBlocks = inlineBlocks;
    auto r = db.exec(fpRangeStatement(src, prm, {}));
    EXPECT_TRUE(r.ok) << r.error;
    return r.ok ? r.rows.at(0, 0) + "/" + r.rows.at(0, 1) + "/" + r.rows.at(0, 2) : "";
  };
  const std::string base = fingerprint(1);
  EXPECT_EQ(base.substr(0, 4), "200/");
  for (int inl : {2, 3, 4}) EXPECT_EQ(fingerprint(inl), base) << inl;
  // One character in the third block (digits 577..864) of row 150, then in its tenth block.
  for (int at : {230, 900}) {
    db.run("UPDATE w SET a=substr(a,1," + std::to_string(at) + ")||'Z'||substr(a," +
           std::to_string(at + 2) + ") WHERE id=150");
    const std::string changed = fingerprint(1);
    EXPECT_NE(changed, base) << at;
    EXPECT_EQ(fingerprint(3), changed) << at;
  }
}

TEST(Fingerprint, IntegerRangesWeighOnlyTheDigitsThatVary) {
  EXPECT_EQ(fpVaryingDigits({std::string("0"), std::string("1000")}).size(), 2u);
  EXPECT_EQ(fpVaryingDigits({std::string("1024"), std::string("1056")}).size(), 1u);
  EXPECT_EQ(fpVaryingDigits({std::string("-5"), std::string("5")}).size(), 13u);
  EXPECT_EQ(fpVaryingDigits({std::nullopt, std::string("5")}).size(), 13u);
}

}  // namespace
}  // namespace d1sync::native
