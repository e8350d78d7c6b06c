// Reading a Worker project's D1 bindings from wrangler.toml / wrangler.json(c).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "wrangler_config.hpp"

namespace d1sync::cli {
namespace {

namespace fs = std::filesystem;

struct Project {
  fs::path dir;
  Project() {
    dir = fs::temp_directory_path() /
          ("d1sync-wrangler-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
           "-" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  ~Project() { fs::remove_all(dir); }
  void write(const std::string& name, const std::string& text) {
    std::ofstream(dir / name) << text;
  }
};

TEST(WranglerConfig, TomlBindings) {
  Project p;
  p.write("wrangler.toml", R"(name = "app"
account_id = "acc1"
[[d1_databases]]
binding = "DB"
database_name = "app-db"
database_id = "0b1c2d3e-0000-4000-8000-000000000001"
preview_database_id = "preview-1"

[[d1_databases]]
binding = "LOGS"
database_name = "logs"
database_id = "0b1c2d3e-0000-4000-8000-000000000002"
)");
  WranglerConfig c;
  ASSERT_EQ(readWranglerConfig("", p.dir.string(), c), "");
  EXPECT_EQ(c.accountId, "acc1");
  ASSERT_EQ(c.d1.size(), 2u);
  D1Binding b;
  EXPECT_EQ(findBinding(c, "LOGS", b), "");
  EXPECT_EQ(b.databaseName, "logs");
  EXPECT_EQ(findBinding(c, "DB", b), "");
  EXPECT_EQ(b.previewDatabaseId, "preview-1");
  // Two bindings and none chosen: the message names both.
  std::string e = findBinding(c, "", b);
  EXPECT_NE(e.find("DB, LOGS"), std::string::npos) << e;
  EXPECT_NE(findBinding(c, "NOPE", b).find("no D1 binding named 'NOPE'"), std::string::npos);
}

TEST(WranglerConfig, JsoncWithCommentsComesBeforeToml) {
  Project p;
  p.write("wrangler.toml", "[[d1_databases]]\nbinding = \"FROM_TOML\"\n");
  p.write("wrangler.jsonc", R"({
    // the app's database
    "d1_databases": [ { "binding": "DB", "database_name": "n", "database_id": "i" } ] /* one */
  })");
  WranglerConfig c;
  ASSERT_EQ(readWranglerConfig("", p.dir.string(), c), "");
  D1Binding b;
  ASSERT_EQ(findBinding(c, "", b), "");
  EXPECT_EQ(b.binding, "DB");
  EXPECT_EQ(b.databaseId, "i");
}

TEST(WranglerConfig, ErrorsNameTheFileAndTheProblem) {
  Project p;
  WranglerConfig c;
  EXPECT_NE(readWranglerConfig("", p.dir.string(), c).find("no wrangler.json"), std::string::npos);
  p.write("wrangler.toml", "name = \n");
  std::string e = readWranglerConfig("", p.dir.string(), c);
  EXPECT_NE(e.find("wrangler.toml:1"), std::string::npos) << e;
  p.write("bad.json", "{ \"d1_databases\": [1] }");
  e = readWranglerConfig((p.dir / "bad.json").string(), "", c);
  EXPECT_NE(e.find("not an object"), std::string::npos) << e;
  p.write("none.toml", "name = \"x\"\n");
  ASSERT_EQ(readWranglerConfig((p.dir / "none.toml").string(), "", c), "");
  D1Binding b;
  EXPECT_NE(findBinding(c, "", b).find("declares no d1_databases"), std::string::npos);
}

}  // namespace
}  // namespace d1sync::cli
