// Classification of D1's messages (SPEC "Errors, classified in this order") and the backoff
// that paces retries.
#include <set>

#include "backoff.hpp"
#include "errors.hpp"
#include "fixtures.hpp"

namespace d1sync::native {
namespace {

// The message D1 (here the simulator) answers for a batch.
std::string d1Message(D1Simulator& d1, const std::vector<std::string>& stmts) {
  auto r = d1.batch(stmts);
  EXPECT_FALSE(r.ok) << "expected the batch to fail: " << (stmts.empty() ? "" : stmts.back());
  return r.failure.message;
}

TEST(Errors, CodeNamesAreStable) {
  EXPECT_STREQ(codeName(ErrorCode::D1Transient), "D1_TRANSIENT");
  EXPECT_STREQ(codeName(ErrorCode::D1Limit), "D1_LIMIT");
  EXPECT_STREQ(codeName(ErrorCode::D1Constraint), "D1_CONSTRAINT");
  EXPECT_STREQ(codeName(ErrorCode::Schema), "SCHEMA");
  EXPECT_STREQ(codeName(ErrorCode::Fenced), "FENCED");
  EXPECT_STREQ(codeName(ErrorCode::Config), "CONFIG");
  EXPECT_STREQ(codeName(ErrorCode::Internal), "INTERNAL");
  EXPECT_STREQ(codeName(ErrorCode::None), "");
}

TEST(Errors, CodeForEachFailure) {
  EXPECT_EQ(codeFor(D1Failure::Fenced), ErrorCode::Fenced);
  EXPECT_EQ(codeFor(D1Failure::DeferredFk), ErrorCode::D1Constraint);
  EXPECT_EQ(codeFor(D1Failure::Transient), ErrorCode::D1Transient);
  EXPECT_EQ(codeFor(D1Failure::Limit), ErrorCode::D1Limit);
  EXPECT_EQ(codeFor(D1Failure::Schema), ErrorCode::Schema);
  EXPECT_EQ(codeFor(D1Failure::Row), ErrorCode::D1Constraint);
  EXPECT_EQ(codeFor(D1Failure::Other), ErrorCode::Internal);
}

// 1. The guard.
TEST(Errors, GuardFailureIsFencedOnEverySqliteVersion) {
  // SQLite 3.40 (the simulator, sqlite-wasm before 3.45) and D1's newer SQLite word it differently.
  EXPECT_EQ(classifyD1Error("D1_ERROR: JSON path error near 'd1sync: FENCED': SQLITE_ERROR"),
            D1Failure::Fenced);
  EXPECT_EQ(classifyD1Error("D1_ERROR: bad JSON path: '$d1sync: FENCED': SQLITE_ERROR"),
            D1Failure::Fenced);
  EXPECT_EQ(classifyD1Error("bad JSON path: '$d1sync: FENCED'"), D1Failure::Fenced);
  // The guard's text wins over anything else in the message (first match wins).
  EXPECT_EQ(classifyD1Error("Network connection lost. bad JSON path: '$d1sync: FENCED'"),
            D1Failure::Fenced);
}

TEST(Errors, TheGuardAsTheSimulatorAnswersIsFenced) {
  D1Simulator d1;
  std::string m = d1Message(
      d1, {"SELECT CASE WHEN (SELECT 0) THEN 1 ELSE json_extract('{}','$d1sync: FENCED') END"});
  EXPECT_NE(m.find("d1sync: FENCED"), std::string::npos) << m;
  EXPECT_EQ(classifyD1Error(m), D1Failure::Fenced) << m;
  // A missing row fails too: the scalar subquery is NULL.
  d1.batch({"CREATE TABLE s(source_id TEXT PRIMARY KEY, epoch INTEGER)"});
  m = d1Message(d1, {"SELECT CASE WHEN (SELECT epoch=1 FROM s WHERE source_id='x') THEN 1 ELSE "
                     "json_extract('{}','$d1sync: FENCED') END"});
  EXPECT_EQ(classifyD1Error(m), D1Failure::Fenced) << m;
}

// 2. A deferred foreign key failing at commit.
TEST(Errors, DeferredForeignKeyAtCommitIsAConstraintNotTransient) {
  const std::string m =
      "Durable Object was reset and rolled back to its last known good state because the "
      "following SQLite statement failed: FOREIGN KEY constraint failed";
  EXPECT_EQ(classifyD1Error(m), D1Failure::DeferredFk);
  EXPECT_EQ(codeFor(classifyD1Error(m)), ErrorCode::D1Constraint);
  EXPECT_EQ(classifyD1Error("Durable Object was reset and rolled back ... FOREIGN KEY constraint "
                            "failed: SQLITE_CONSTRAINT"),
            D1Failure::DeferredFk);
}

TEST(Errors, DeferredForeignKeyAsTheSimulatorAnswersIsDeferredFk) {
  D1Simulator d1;
  ASSERT_TRUE(d1.batch({"CREATE TABLE p(id INTEGER PRIMARY KEY)",
                        "CREATE TABLE c(id INTEGER PRIMARY KEY, p INTEGER REFERENCES p(id))"})
                  .ok);
  std::string m = d1Message(d1, {"PRAGMA defer_foreign_keys = ON", "INSERT INTO c VALUES (1, 99)"});
  EXPECT_NE(m.find("Durable Object was reset"), std::string::npos) << m;
  EXPECT_EQ(classifyD1Error(m), D1Failure::DeferredFk) << m;
  // An immediate FK failure is an ordinary row constraint.
  m = d1Message(d1, {"INSERT INTO c VALUES (2, 98)"});
  EXPECT_EQ(classifyD1Error(m), D1Failure::Row) << m;
}

// 3. Transient.
TEST(Errors, EveryTransientMessageIsTransient) {
  ASSERT_EQ(transientMessages().size(), 6u);
  for (const auto& m : transientMessages()) {
    EXPECT_EQ(classifyD1Error(m), D1Failure::Transient) << m;
    EXPECT_EQ(classifyD1Error("D1_ERROR: " + m), D1Failure::Transient) << m;
    EXPECT_EQ(codeFor(classifyD1Error(m)), ErrorCode::D1Transient) << m;
  }
}

TEST(Errors, TransientWinsOverLaterClasses) {
  // First match wins: a transient message that happens to mention a limit word is transient.
  EXPECT_EQ(classifyD1Error("D1 DB is overloaded. Too many requests queued (out of memory)."),
            D1Failure::Transient);
  // A reset that is not a deferred FK is transient, not DeferredFk.
  EXPECT_EQ(classifyD1Error("Internal error in D1 DB storage caused object to be reset."),
            D1Failure::Transient);
}

// 4. Limits: split.
TEST(Errors, LimitMessagesSplit) {
  for (const char* m :
       {"D1_ERROR: statement too long: SQLITE_TOOBIG",
        "D1_ERROR: too many SQL variables at offset 412: SQLITE_ERROR",
        "D1_ERROR: out of memory: SQLITE_NOMEM", "D1_ERROR: string or blob too big: SQLITE_TOOBIG",
        "statement too long", "string or blob too big"}) {
    EXPECT_EQ(classifyD1Error(m), D1Failure::Limit) << m;
    EXPECT_EQ(codeFor(classifyD1Error(m)), ErrorCode::D1Limit) << m;
  }
}

TEST(Errors, LimitMessagesAsTheSimulatorAnswersSplit) {
  D1Simulator d1;
  std::string tooLong = "SELECT '" + std::string(100001, 'a') + "'";
  std::string vars = "SELECT ?";  // 101 anonymous parameters, as a host binding them would
  for (int i = 2; i <= 101; ++i) vars += ",?";
  std::string nomem = "SELECT 1 FROM (VALUES (0)";
  for (int i = 1; i < 20000; ++i) nomem += ",(0)";
  nomem += ")";
  for (const std::string& sql : {tooLong, vars, std::string("SELECT zeroblob(3000000)"), nomem}) {
    std::string m = d1Message(d1, {sql});
    EXPECT_EQ(classifyD1Error(m), D1Failure::Limit) << m;
  }
}

// 5. Schema.
TEST(Errors, SchemaMessagesMigrate) {
  D1Simulator d1;
  ASSERT_TRUE(d1.batch({"CREATE TABLE t(a)"}).ok);
  for (const std::string& sql :
       {std::string("INSERT INTO nope VALUES (1)"), std::string("SELECT b FROM t"),
        std::string("INSERT INTO t(b) VALUES (1)"), std::string("ALTER TABLE t ADD COLUMN a"),
        std::string("CREATE TABLE t(a)")}) {
    std::string m = d1Message(d1, {sql});
    EXPECT_EQ(classifyD1Error(m), D1Failure::Schema) << m;
    EXPECT_EQ(codeFor(classifyD1Error(m)), ErrorCode::Schema) << m;
  }
  EXPECT_EQ(classifyD1Error("D1_ERROR: no such table: main.t: SQLITE_ERROR"), D1Failure::Schema);
  EXPECT_EQ(classifyD1Error("D1_ERROR: no such column: x at offset 7: SQLITE_ERROR"),
            D1Failure::Schema);
}

// 6. Constraint failures on a row.
TEST(Errors, RowConstraintsQuarantine) {
  D1Simulator d1;
  ASSERT_TRUE(d1.batch({"CREATE TABLE t(a INTEGER PRIMARY KEY, b TEXT NOT NULL UNIQUE, c CHECK (c "
                        "> 0))",
                        "CREATE TABLE s(a INTEGER) STRICT", "INSERT INTO t VALUES (1, 'x', 1)"})
                  .ok);
  for (const std::string& sql : {std::string("INSERT INTO t VALUES (1, 'y', 1)"),
                                 std::string("INSERT INTO t VALUES (2, 'x', 1)"),
                                 std::string("INSERT INTO t VALUES (3, NULL, 1)"),
                                 std::string("INSERT INTO t VALUES (4, 'z', -1)"),
                                 std::string("INSERT INTO s VALUES ('abc')"),
                                 std::string("INSERT INTO t VALUES ('abc', 'w', 1)")}) {
    std::string m = d1Message(d1, {sql});
    EXPECT_EQ(classifyD1Error(m), D1Failure::Row) << m;
    EXPECT_EQ(codeFor(classifyD1Error(m)), ErrorCode::D1Constraint) << m;
  }
}

// 7. Anything else.
TEST(Errors, UnknownMessagesAreOther) {
  for (const char* m : {"", "D1_ERROR: near \"SELEC\": syntax error: SQLITE_ERROR",
                        "D1_TYPE_ERROR: Type 'bigint' not supported", "database is locked",
                        "Durable Object was reset and rolled back for no stated reason"}) {
    EXPECT_EQ(classifyD1Error(m), D1Failure::Other) << m;
    EXPECT_EQ(codeFor(classifyD1Error(m)), ErrorCode::Internal) << m;
  }
}

TEST(Errors, OrderIsFencedThenDeferredFkThenTransientThenLimitThenSchemaThenRow) {
  const std::string fenced = "bad JSON path: '$d1sync: FENCED'";
  const std::string fk = "Durable Object was reset and rolled back: FOREIGN KEY constraint failed";
  const std::string transient = "Network connection lost.";
  const std::string limit = "statement too long";
  const std::string schema = "no such table: t";
  const std::string row = "UNIQUE constraint failed: t.a";
  EXPECT_EQ(classifyD1Error(fk + " " + fenced), D1Failure::Fenced);
  EXPECT_EQ(classifyD1Error(transient + " " + fk), D1Failure::DeferredFk);
  EXPECT_EQ(classifyD1Error(limit + " " + transient), D1Failure::Transient);
  EXPECT_EQ(classifyD1Error(schema + " " + limit), D1Failure::Limit);
  EXPECT_EQ(classifyD1Error(row + " " + schema), D1Failure::Schema);
  EXPECT_EQ(classifyD1Error(row), D1Failure::Row);
}

// Backoff.
TEST(Backoff, DelaysGrowUntilTheCapThenStayJitteredBelowIt) {
  const int64_t base = 250, cap = 60000;
  Backoff b(42, base, cap);
  int64_t nominal = base;
  int64_t previous = -1;
  bool capped = false;
  for (int i = 0; i < 40; ++i) {
    int64_t d = b.nextDelayMs();
    EXPECT_GE(d, nominal / 2) << "attempt " << i;
    EXPECT_LT(d, nominal) << "attempt " << i;
    EXPECT_LE(d, cap);
    // Uncapped, each delay lies in [n/2, n) and the next in [n, 2n): strictly growing.
    if (!capped && nominal < cap) EXPECT_GT(d, previous) << "attempt " << i;
    previous = d;
    capped = nominal == cap;
    nominal = std::min(cap, nominal * 2);
    EXPECT_EQ(b.failures(), i + 1);
  }
  EXPECT_TRUE(capped);
}

TEST(Backoff, ManyFailuresNeitherOverflowNorExceedTheCap) {
  Backoff b(7, 1000, 300000);
  for (int i = 0; i < 5000; ++i) {
    int64_t d = b.nextDelayMs();
    ASSERT_GT(d, 0) << i;
    ASSERT_LT(d, 300000) << i;
    if (i >= 9) ASSERT_GE(d, 150000) << i;  // from the 10th delay on the nominal is the cap
  }
}

TEST(Backoff, JitterSpansItsRange) {
  // Over many sequences the first delay (nominal 1000) takes values across [500, 1000).
  int64_t lo = 1000, hi = 0;
  std::set<int64_t> seen;
  for (uint64_t seed = 0; seed < 500; ++seed) {
    Backoff b(seed, 1000, 60000);
    int64_t d = b.nextDelayMs();
    ASSERT_GE(d, 500);
    ASSERT_LT(d, 1000);
    lo = std::min(lo, d);
    hi = std::max(hi, d);
    seen.insert(d);
  }
  EXPECT_LT(lo, 550);
  EXPECT_GT(hi, 950);
  EXPECT_GT(seen.size(), 200u);
}

TEST(Backoff, SameSeedSameSequenceAndResetStartsOver) {
  Backoff a(123), b(123), c(124);
  std::vector<int64_t> sa, sb, sc;
  for (int i = 0; i < 20; ++i) {
    sa.push_back(a.nextDelayMs());
    sb.push_back(b.nextDelayMs());
    sc.push_back(c.nextDelayMs());
  }
  EXPECT_EQ(sa, sb);
  EXPECT_NE(sa, sc);
  a.reset();
  EXPECT_EQ(a.failures(), 0);
  int64_t d = a.nextDelayMs();
  EXPECT_GE(d, 125);  // default base 250: back to the first step
  EXPECT_LT(d, 250);
}

TEST(Backoff, RandomIsDeterministicAndUnitIsInRange) {
  Random r1(99), r2(99);
  for (int i = 0; i < 1000; ++i) {
    ASSERT_EQ(r1.next(), r2.next());
    double u = r1.unit();
    r2.unit();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
  }
}

}  // namespace
}  // namespace d1sync::native
