// The D1 REST API's envelope as the engine's BatchResult, and the request budget.
#include <gtest/gtest.h>

#include "rate_budget.hpp"
#include "rest_answer.hpp"

namespace d1sync::cli {
namespace {

HttpAnswer answer(long status, std::string body, std::string retryAfter = "") {
  HttpAnswer a;
  a.status = status;
  a.body = std::move(body);
  a.retryAfter = std::move(retryAfter);
  return a;
}

TEST(RestAnswer, BatchBodyCarriesEachStatementSeparately) {
  EXPECT_EQ(batchBody({"SELECT 1", "SELECT 'a\"b'"}),
            R"({"batch":[{"sql":"SELECT 1"},{"sql":"SELECT 'a\"b'"}]})");
}

TEST(RestAnswer, SuccessGivesRowsAsTextAndSumsD1Meta) {
  auto r = decodeAnswer(7, 2, answer(200, R"({"success":true,"errors":[],"messages":[],"result":[
      {"results":{"columns":["a","b","c"],"rows":[["x",9007199254740993,null],["",1.5,true]]},
       "success":true,"meta":{"rows_read":3,"rows_written":0}},
      {"results":{"columns":[],"rows":[]},"success":true,"meta":{"rows_read":1,"rows_written":2}}]})"),
                        0);
  ASSERT_TRUE(r.ok) << r.failure.message;
  EXPECT_EQ(r.id, 7u);
  ASSERT_EQ(r.results.size(), 2u);
  const Rows& rows = r.results[0];
  ASSERT_EQ(rows.columns, 3u);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows.at(0, 0), "x");
  EXPECT_EQ(rows.at(0, 1), "9007199254740993");  // an integer beyond 2^53 stays exact
  EXPECT_TRUE(rows.isNull(0, 2));
  EXPECT_FALSE(rows.isNull(1, 0));
  EXPECT_EQ(rows.at(1, 1), "1.5");
  EXPECT_EQ(rows.at(1, 2), "1");
  EXPECT_EQ(r.rowsRead, 4);
  EXPECT_EQ(r.rowsWritten, 2);
}

TEST(RestAnswer, SqlErrorsAreClassifiedByD1sMessage) {
  auto body = [](const std::string& m) {
    return R"({"success":false,"errors":[{"code":7500,"message":")" + m +
           R"("}],"messages":[],"result":[]})";
  };
  struct Case {
    std::string message;
    D1Failure kind;
  } cases[] = {
      {"too many SQL variables at offset 10: SQLITE_ERROR", D1Failure::Limit},
      {"statement too long: SQLITE_TOOBIG", D1Failure::Limit},
      {"no such table: t: SQLITE_ERROR", D1Failure::Schema},
      {"UNIQUE constraint failed: t.a: SQLITE_CONSTRAINT", D1Failure::Row},
      {"d1sync: FENCED (another writer)", D1Failure::Fenced},
      {"D1 DB is overloaded. Too many requests queued.", D1Failure::Transient},
      {"something new", D1Failure::Other},
  };
  for (const auto& c : cases) {
    auto r = decodeAnswer(1, 3, answer(400, body(c.message)), 0);
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.failure.kind, c.kind) << c.message;
    EXPECT_EQ(r.failure.statement, -1);
    EXPECT_NE(r.failure.message.find(c.message), std::string::npos);
    EXPECT_NE(r.failure.message.find("code 7500"), std::string::npos);
  }
}

TEST(RestAnswer, HttpStatusesMapToTheEngineClasses) {
  const std::string err =
      R"({"success":false,"errors":[{"code":10000,"message":"Authentication error"}]})";
  EXPECT_EQ(decodeAnswer(1, 1, answer(401, err), 0).failure.kind, D1Failure::Refused);
  EXPECT_EQ(decodeAnswer(1, 1, answer(403, err), 0).failure.kind, D1Failure::Refused);
  auto nf = decodeAnswer(
      1, 1, answer(404, R"({"success":false,"errors":[{"code":7404,"message":"not found"}]})"), 0);
  EXPECT_EQ(nf.failure.kind, D1Failure::Refused);
  EXPECT_NE(nf.failure.message.find("no such D1 database"), std::string::npos);
  auto busy = decodeAnswer(1, 1, answer(429, "{}", "7"), 0);
  EXPECT_EQ(busy.failure.kind, D1Failure::Transient);
  EXPECT_EQ(busy.failure.retryAfterMs, 7000);
  EXPECT_EQ(decodeAnswer(1, 1, answer(503, "<html>unavailable</html>"), 0).failure.kind,
            D1Failure::Transient);
  EXPECT_EQ(decodeAnswer(1, 1, answer(413, ""), 0).failure.kind, D1Failure::Limit);
  HttpAnswer none;
  none.transportError = "Timeout was reached";
  auto lost = decodeAnswer(1, 1, none, 0);
  EXPECT_EQ(lost.failure.kind, D1Failure::Transient);
  EXPECT_NE(lost.failure.message.find("Timeout was reached"), std::string::npos);
}

TEST(RestAnswer, MalformedSuccessIsNeverTakenForACommit) {
  // A result count that does not match the statements sent, a row of the wrong width, or a
  // statement marked failed inside a successful envelope: none is a commit the engine may count.
  EXPECT_FALSE(
      decodeAnswer(
          1, 2, answer(200, R"({"success":true,"result":[{"results":{"columns":[],"rows":[]}}]})"),
          0)
          .ok);
  EXPECT_FALSE(
      decodeAnswer(
          1, 1,
          answer(200,
                 R"({"success":true,"result":[{"results":{"columns":["a"],"rows":[[1,2]]}}]})"),
          0)
          .ok);
  EXPECT_FALSE(
      decodeAnswer(1, 1, answer(200, R"({"success":true,"result":[{"success":false}]})"), 0).ok);
  EXPECT_FALSE(decodeAnswer(1, 1, answer(200, "not json"), 0).ok);
  EXPECT_FALSE(decodeAnswer(1, 1, answer(200, R"({"success":"yes","result":[{}]})"), 0).ok);
}

TEST(RestAnswer, RetryAfterInSecondsOrAsAnHttpDate) {
  EXPECT_EQ(retryAfterMs("", 0), 0);
  EXPECT_EQ(retryAfterMs("3", 0), 3000);
  EXPECT_EQ(retryAfterMs("Wed, 21 Oct 2015 07:28:10 GMT", 1445412480000), 10000);
  EXPECT_EQ(retryAfterMs("Wed, 21 Oct 2015 07:28:00 GMT", 1445412490000), 0);  // in the past
  EXPECT_EQ(retryAfterMs("soon", 0), 0);
}

TEST(RestAnswer, ScrubHidesTheToken) {
  EXPECT_EQ(scrub("Bearer abc123 and abc123", "abc123"), "Bearer *** and ***");
  EXPECT_EQ(scrub("nothing", ""), "nothing");
}

TEST(RateBudget, WaitsOnlyWhenTheWindowIsFull) {
  RateBudget b(3, 1000);
  for (int64_t t : {0, 10, 20}) {
    EXPECT_EQ(b.waitMs(t), 0);
    b.sent(t);
  }
  EXPECT_EQ(b.waitMs(30), 970);  // the first request leaves the window at 1000
  EXPECT_EQ(b.waitMs(1000), 0);
  b.sent(1000);
  EXPECT_EQ(b.waitMs(1001), 9);  // now the one sent at 10 is the oldest
}

}  // namespace
}  // namespace d1sync::cli
