// The log's event queue (wasm/events.hpp): levels, line shape, and its bound.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "events.hpp"

using namespace d1sync;

namespace {

std::vector<nlohmann::json> lines(const std::string& text) {
  std::vector<nlohmann::json> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(nlohmann::json::parse(line));
  return out;
}

}  // namespace

TEST(Events, KeepsOnlyTheLevelsAskedForAndLeadsWithLevelAndEvent) {
  Events e;
  e.add(LogLevel::Warn, "retry", {{"code", "D1_TRANSIENT"}});
  EXPECT_EQ(e.take(), "");  // Off by default
  e.setLevel(LogLevel::Info);
  e.add(LogLevel::Warn, "retry", {{"code", "D1_TRANSIENT"}, {"delayMs", 250}});
  e.add(LogLevel::Info, "batch", {{"rows", 3}});
  e.add(LogLevel::Debug, "batch", {{"rows", 4}});
  std::string text = e.take();
  EXPECT_EQ(text.rfind("{\"level\":\"warn\",\"event\":\"retry\",", 0), 0u) << text;
  auto got = lines(text);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0]["delayMs"], 250);
  EXPECT_EQ(got[1]["level"], "info");
  EXPECT_EQ(got[1]["rows"], 3);
  EXPECT_EQ(e.take(), "");  // drained
}

TEST(Events, AnUndrainedQueueIsBoundedAndCountsWhatItDropped) {
  Events e;
  e.setLevel(LogLevel::Debug);
  for (int i = 0; i < 1500; ++i) e.add(LogLevel::Info, "batch", {{"i", i}});
  auto first = lines(e.take());
  ASSERT_EQ(first.size(), 1000u);
  EXPECT_EQ(first.back()["i"], 999);
  e.add(LogLevel::Info, "batch", {{"i", 1500}});
  auto next = lines(e.take());
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(next[0]["dropped"], 500);
  e.add(LogLevel::Info, "batch", {{"i", 1501}});
  EXPECT_FALSE(lines(e.take())[0].contains("dropped"));
}

TEST(Events, InvalidUtf8InANameIsReplacedNotThrown) {
  Events e;
  e.setLevel(LogLevel::Warn);
  e.add(LogLevel::Warn, "quarantined", {{"table", std::string("t\xff")}});
  auto got = lines(e.take());
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0]["table"], "t\xef\xbf\xbd");
}

TEST(Events, LevelNames) {
  LogLevel l = LogLevel::Off;
  EXPECT_TRUE(parseLogLevel("debug", l));
  EXPECT_EQ(l, LogLevel::Debug);
  EXPECT_TRUE(parseLogLevel("off", l));
  EXPECT_EQ(l, LogLevel::Off);
  EXPECT_FALSE(parseLogLevel("error", l));
  EXPECT_FALSE(parseLogLevel("", l));
}
