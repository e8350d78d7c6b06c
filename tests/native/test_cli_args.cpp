// The command line's parsing: commands, defaults, refusals and their exit codes.
#include <gtest/gtest.h>

#include <vector>

#include "args.hpp"

namespace d1sync::cli {
namespace {

struct Parsed {
  int code;
  Args args;
  std::string out, err;
};

Parsed parse(std::vector<const char*> argv) {
  argv.insert(argv.begin(), "d1sync");
  Parsed p;
  p.code = parseArgs(static_cast<int>(argv.size()), argv.data(), p.args, p.out, p.err);
  return p;
}

TEST(CliArgs, PushWithEveryCommonOption) {
  auto p = parse({"push", "app.sqlite", "--tables", "a,b", "--tenant", "room_id=42", "--source-id",
                  "laptop", "--json", "-v", "-v", "--database", "my-db", "--retry-for", "1000"});
  ASSERT_EQ(p.code, -1) << p.err;
  EXPECT_EQ(p.args.command, "push");
  EXPECT_EQ(p.args.file, "app.sqlite");
  EXPECT_EQ(p.args.tables, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(p.args.tenant, "room_id=42");
  EXPECT_EQ(p.args.sourceId, "laptop");
  EXPECT_TRUE(p.args.json);
  EXPECT_EQ(p.args.verbose, 2);
  EXPECT_EQ(p.args.database, "my-db");
  EXPECT_EQ(p.args.retryForMs, 1000);
  EXPECT_EQ(p.args.busyTimeoutMs, 5000);  // the default
}

TEST(CliArgs, HelpIsExitZeroOnStdoutAndNamesTheExitCodes) {
  auto p = parse({"push", "--help"});
  EXPECT_EQ(p.code, kOk);
  EXPECT_NE(p.out.find("Usage: d1sync push"), std::string::npos);
  EXPECT_NE(p.out.find("Exit codes"), std::string::npos);
  EXPECT_NE(p.out.find("CLOUDFLARE_API_TOKEN"), std::string::npos);
  EXPECT_TRUE(p.err.empty());
}

TEST(CliArgs, UsageErrorsAreExitTwoWithAMessage) {
  for (auto argv : std::vector<std::vector<const char*>>{
           {},                                            // no command
           {"fly", "app.sqlite"},                         // unknown command
           {"push"},                                      // no file
           {"push", "a.sqlite", "--busy-timeout", "-5"},  // negative
           {"push", "a.sqlite", "--timeout", "soon"},     // not a number
           {"push", "a.sqlite", "--rate", "1200"},        // not requests/seconds
           {"push", "a.sqlite", "--tenant", "room_id"},   // no value
           {"push", "a.sqlite", "--tenant", "=5"},        // no column
           {"push", "a.sqlite", "--no-such-option"},
       }) {
    auto p = parse(argv);
    EXPECT_EQ(p.code, kUsage) << (argv.empty() ? "(none)" : argv[0]);
    EXPECT_FALSE(p.err.empty());
  }
}

TEST(CliArgs, RateAndTenantForms) {
  int64_t r = 0, w = 0;
  EXPECT_TRUE(parseRate("1200/300", r, w));
  EXPECT_EQ(r, 1200);
  EXPECT_EQ(w, 300000);
  EXPECT_FALSE(parseRate("0/300", r, w));
  EXPECT_FALSE(parseRate("10/x", r, w));
  EXPECT_FALSE(parseRate("/5", r, w));
  std::string c, v;
  EXPECT_EQ(tenantOption("room_id=42", c, v), "");
  EXPECT_EQ(c, "room_id");
  EXPECT_EQ(v, "42");
  EXPECT_EQ(tenantOption("room_id=-7", c, v), "");
  EXPECT_EQ(v, "-7");
  EXPECT_EQ(tenantOption("room_id=007", c, v), "");  // a leading zero: text
  EXPECT_EQ(v, "\"007\"");
  EXPECT_EQ(tenantOption("user=ann=b", c, v), "");
  EXPECT_EQ(c, "user");
  EXPECT_EQ(v, "\"ann=b\"");
  EXPECT_NE(tenantOption("user", c, v), "");
}

}  // namespace
}  // namespace d1sync::cli
