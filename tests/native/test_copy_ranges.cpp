// The copy as a queue of key ranges (state.hpp KeyRange): a full copy is one range; any set
// of ranges copies exactly those keys and replaces D1's rows in them, which is what a repair
// of the ranges where D1 differs needs.
#include <nlohmann/json.hpp>

#include "fixtures.hpp"
#include "sql_text.hpp"

namespace d1sync::native {
namespace {

using json = nlohmann::json;

class CopyRanges : public EngineTest {
 protected:
  json tableDoc(const std::string& table) {
    return json::parse(
        local->exec("SELECT doc FROM _d1sync_tables WHERE name=" + quoteText(table)).rows.at(0, 0));
  }
  void setTableDoc(const std::string& table, const json& doc) {
    local->run("UPDATE _d1sync_tables SET doc=" + quoteText(doc.dump()) +
               " WHERE name=" + quoteText(table));
  }
  std::string d1Values() {
    auto r =
        d1->query("SELECT group_concat(id || '=' || v, ' ') FROM (SELECT * FROM t ORDER BY id)");
    EXPECT_TRUE(r.ok) << r.error;
    return r.rows.at(0, 0);
  }
};

TEST_F(CopyRanges, QueuedRangesCopyTheirKeysAndReplaceD1sRowsInThem) {
  local->run(
      "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT);"
      "WITH RECURSIVE n(i) AS (VALUES(1) UNION ALL SELECT i+1 FROM n WHERE i<12) "
      "INSERT INTO t SELECT i, 'L' FROM n");
  driver();
  sync();
  // D1 drifts: every value stale, and a row the local table never had.
  d1->query("UPDATE t SET v = 'S'");
  d1->query("INSERT INTO t VALUES (13, 'X')");
  json doc = tableDoc("t");
  doc["phase"] = "copy";
  doc["copyStarted"] = true;
  doc["ranges"] = json::array({{{"low", nullptr}, {"upto", "2"}, {"high", "2"}},
                               {{"low", "6"}, {"upto", "20"}, {"high", "20"}}});
  setTableDoc("t", doc);
  drv->restart();
  sync();
  EXPECT_EQ(d1Values(), "1=L 2=L 3=S 4=S 5=S 6=S 7=L 8=L 9=L 10=L 11=L 12=L");
  json after = tableDoc("t");
  EXPECT_EQ(after["phase"], "live");
  EXPECT_TRUE(after["ranges"].empty());
}

TEST_F(CopyRanges, ARangeSpanningPagesMovesItsCursorAndResumesAfterARestart) {
  local->run(
      "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT);"
      "WITH RECURSIVE n(i) AS (VALUES(1) UNION ALL SELECT i+1 FROM n WHERE i<1000) "
      "INSERT INTO t SELECT i, 'v' || i FROM n");
  Options o = defaultOptions();
  o.limits.copyPageRows = 150;
  driver(o);
  drv->runRequests(4);  // the claim, the schema, two copy pages
  json doc = tableDoc("t");
  ASSERT_EQ(doc["phase"], "copy");
  ASSERT_EQ(doc["ranges"].size(), 1u);
  const std::string cursor = doc["ranges"][0]["low"];
  EXPECT_EQ(doc["ranges"][0]["upto"], "1000");
  EXPECT_TRUE(doc["ranges"][0]["high"].is_null()) << "a full copy deletes above its last key";
  EXPECT_GT(std::stoi(cursor), 0);
  EXPECT_LT(std::stoi(cursor), 1000);
  // An older engine kept the same progress as one cursor: it is read as the one range.
  json old = doc;
  old.erase("ranges");
  old["hasCursor"] = true;
  old["cursor"] = cursor;
  old["bounded"] = true;
  old["upto"] = "1000";
  setTableDoc("t", old);
  const int64_t sent = json::parse(drv->engine().healthJson(drv->now()))["rowsReplicated"];
  drv->restart();
  sync();
  expectSame("t");
  const int64_t total = json::parse(drv->engine().healthJson(drv->now()))["rowsReplicated"];
  EXPECT_EQ(total - sent, 1000 - std::stoi(cursor)) << "resumed after row " << cursor;
}

}  // namespace
}  // namespace d1sync::native
