// The D1 half on its own: a changeset (decoded from bytes, as a sync endpoint would receive
// it) planned into jobs and rendered into statements that the D1 simulator applies.
#include <gtest/gtest.h>

#include <string>

#include "changeset.hpp"
#include "d1_simulator.hpp"
#include "planner.hpp"

namespace d1sync::native {
namespace {

std::string scalar(D1Simulator& d1, const std::string& sql) {
  auto r = d1.query(sql);
  EXPECT_TRUE(r.ok) << r.error;
  return r.ok && r.rows.size() ? r.rows.at(0, 0) : "";
}

Changeset decoded(const std::string& text) {
  Changeset c;
  auto st = decodeChangeset(text, c);
  EXPECT_TRUE(st.ok()) << st.message;
  return c;
}

std::vector<TargetShape> shapesOf(const Changeset& c) {
  std::vector<TargetShape> out;
  for (const auto& t : c.tables) out.push_back(shapeFor(t, t.name, std::nullopt, ""));
  return out;
}

// Applies every job of the plan, as the engine would between its guard and advance.
void applyAll(D1Simulator& d1, const Planner& p, const Changeset& c) {
  const auto shapes = shapesOf(c);
  for (const Job& job : p.plan(c, shapes)) {
    auto r = d1.batch(p.render(job, c, shapes));
    ASSERT_TRUE(r.ok) << r.failure.message;
  }
}

const char* kHeader =
    "D1SYNC-CHANGESET 1\n"
    "H source=\"s\" incarnation=\"i\" epoch=1 applied=0 last=\"\" from=0 upto=9 batch=\"b\"\n";

TEST(Planner, AChangesetFromBytesReachesD1RangesDeletesAndUpserts) {
  D1Simulator d1;
  ASSERT_TRUE(d1.batch({"CREATE TABLE p(id INTEGER PRIMARY KEY, name TEXT)",
                        "CREATE TABLE c(k TEXT, n INTEGER, v, PRIMARY KEY(k, n)) WITHOUT ROWID",
                        "INSERT INTO p VALUES (1,'one'),(2,'two'),(3,'three'),(9,'nine')",
                        "INSERT INTO c VALUES ('a',1,'x'),('a',2,'y'),('b',1,'z')"})
                  .ok);
  // The tuple's columns name the D1 columns; the key comes first, whatever the table's order.
  Changeset c = decoded(std::string(kHeader) +
                        "T \"p\" key=1 (\"id\",\"name\")\n"
                        "R (1) (3)\n"
                        "U (2,'deux')\n"
                        "U (4,CAST(X'6100ff' AS TEXT))\n"
                        "T \"c\" key=2 (\"k\",\"n\",\"v\")\n"
                        "D ('a',2)\n"
                        "U ('a',1,(3*pow(2,-1)))\n"
                        "U ('c',7,X'00')\n"
                        "END\n");
  Limits limits;
  Chunker chunker(limits);
  Planner planner(limits, chunker);
  applyAll(d1, planner, c);
  // (1,3] was deleted, then 2 came back as 'deux'; 1 and 9 lie outside the range.
  EXPECT_EQ(scalar(d1,
                   "SELECT group_concat(id||':'||hex(name), ' ') FROM (SELECT * FROM p "
                   "ORDER BY id)"),
            "1:6F6E65 2:64657578 4:6100FF 9:6E696E65");
  EXPECT_EQ(scalar(d1, "SELECT typeof(name) FROM p WHERE id=4"), "text");
  EXPECT_EQ(scalar(d1,
                   "SELECT group_concat(k||n||'='||quote(v), ' ') FROM (SELECT * FROM c "
                   "ORDER BY k, n)"),
            "a1=1.5 b1='z' c7=X'00'");
}

TEST(Planner, DeletesGoChildrenFirstAndUpsertsParentsFirst) {
  Changeset c = decoded(std::string(kHeader) +
                        "T \"parent\" key=1 (\"id\")\nD (1)\nU (2)\n"
                        "T \"child\" key=1 (\"id\")\nD (3)\nU (4)\nEND\n");
  Limits limits;
  Chunker chunker(limits);
  Planner planner(limits, chunker);
  auto jobs = planner.plan(c, shapesOf(c));
  ASSERT_EQ(jobs.size(), 1u);
  const auto& s = jobs[0].slices;
  ASSERT_EQ(s.size(), 4u);
  EXPECT_EQ(s[0].kind, Slice::Delete);
  EXPECT_EQ(s[0].table, 1u);  // child
  EXPECT_EQ(s[1].kind, Slice::Delete);
  EXPECT_EQ(s[1].table, 0u);
  EXPECT_EQ(s[2].kind, Slice::Upsert);
  EXPECT_EQ(s[2].table, 0u);  // parent
  EXPECT_EQ(s[3].kind, Slice::Upsert);
  EXPECT_EQ(s[3].table, 1u);
  EXPECT_EQ(jobs[0].rows(), 2u);
  EXPECT_EQ(jobs[0].records(), 4u);
}

TEST(Planner, JobsStayWithinTheBatchLimitsAndCoverEveryRecordOnce) {
  std::string text = std::string(kHeader) + "T \"t\" key=1 (\"id\",\"v\")\n";
  for (int i = 0; i < 500; ++i) text += "D (" + std::to_string(10000 + i) + ")\n";
  for (int i = 0; i < 3000; ++i)
    text += "U (" + std::to_string(i) + ",'" + std::string(40, 'x') + "')\n";
  text += "END\n";
  Changeset c = decoded(text);
  Limits limits;
  limits.maxStatementsPerBatch = 8;
  limits.maxStatementBytes = 4000;
  limits.maxBatchBytes = 20000;
  Chunker chunker(limits);
  Planner planner(limits, chunker);
  const auto shapes = shapesOf(c);
  auto jobs = planner.plan(c, shapes);
  ASSERT_GT(jobs.size(), 5u);
  size_t deletes = 0, upserts = 0, next[2] = {0, 0};
  for (const Job& job : jobs) {
    auto stmts = planner.render(job, c, shapes);
    // The engine adds the guard and the advance: two more statements, a few hundred bytes.
    EXPECT_LE(stmts.size() + 2, static_cast<size_t>(limits.maxStatementsPerBatch));
    size_t bytes = 0;
    for (const auto& s : stmts) {
      EXPECT_LE(s.size(), limits.maxStatementBytes);
      bytes += s.size();
    }
    EXPECT_LE(bytes, limits.maxBatchBytes);
    for (const Slice& s : job.slices) {
      size_t& expected = next[s.kind == Slice::Delete ? 0 : 1];
      EXPECT_EQ(s.first, expected) << "records in order, none twice, none skipped";
      expected += s.count;
      (s.kind == Slice::Delete ? deletes : upserts) += s.count;
    }
  }
  EXPECT_EQ(deletes, 500u);
  EXPECT_EQ(upserts, 3000u);
}

// What a host will send a sync endpoint: each job as a changeset of its own, which the
// receiver decodes, plans and renders into the very statements the sender would have sent.
TEST(Planner, EachJobTravelsAsAChangesetOfItsOwnAndRendersTheSame) {
  std::string text = std::string(kHeader) + "T \"p\" key=1 (\"id\",\"v\")\nR (0) (900)\n";
  for (int i = 0; i < 40; ++i) text += "D (" + std::to_string(1000 + i) + ")\n";
  for (int i = 0; i < 400; ++i)
    text += "U (" + std::to_string(i) + ",'p" + std::to_string(i) + "')\n";
  text += "T \"c\" rowid (\"rowid\",\"p\",\"x\")\n";
  for (int i = 0; i < 30; ++i) text += "D (" + std::to_string(5000 + i) + ")\n";
  for (int i = 0; i < 300; ++i)
    text += "U (" + std::to_string(i) + "," + std::to_string(i % 400) + ",X'0A0B')\n";
  text += "END\n";
  Changeset c = decoded(text);
  Limits limits;
  limits.maxStatementsPerBatch = 8;
  limits.maxStatementBytes = 1500;
  limits.maxBatchBytes = 2000;
  Chunker chunker(limits);
  Planner planner(limits, chunker);
  const auto shapes = shapesOf(c);
  auto jobs = planner.plan(c, shapes);
  ASSERT_GT(jobs.size(), 5u);
  size_t records = 0;
  for (const Job& job : jobs) {
    Changeset part;
    ASSERT_TRUE(jobChangeset(job, c, c.header, part).ok());
    std::string bytes;
    ASSERT_TRUE(encodeChangeset(part, bytes).ok());
    Changeset received = decoded(bytes);
    const auto theirShapes = shapesOf(received);
    auto theirJobs = planner.plan(received, theirShapes);
    ASSERT_EQ(theirJobs.size(), 1u);
    EXPECT_EQ(planner.render(theirJobs[0], received, theirShapes), planner.render(job, c, shapes));
    records += theirJobs[0].records();
  }
  EXPECT_EQ(records, 1u + 40 + 400 + 30 + 300);
}

TEST(Planner, SplittingAJobHalvesItsRecordsAcrossSlices) {
  Job job;
  job.slices = {Slice{Slice::Delete, 1, 0, 3}, Slice{Slice::Upsert, 0, 5, 4}};
  job.maxRows = 7;
  Job a, b;
  splitJob(job, a, b);
  EXPECT_EQ(a.records() + b.records(), 7u);
  EXPECT_EQ(a.records(), 3u);
  ASSERT_EQ(b.slices.size(), 1u);
  EXPECT_EQ(b.slices[0].first, 5u);
  Job c, d;
  splitJob(b, c, d);
  ASSERT_EQ(c.slices.size(), 1u);
  EXPECT_EQ(c.slices[0].first, 5u);
  EXPECT_EQ(c.slices[0].count, 2u);
  EXPECT_EQ(d.slices[0].first, 7u);
  EXPECT_EQ(d.slices[0].count, 2u);
  EXPECT_EQ(c.maxRows, 7u);
}

TEST(Planner, ALoneRecordNamesItsKeyAsTheOutboxKeepsIt) {
  Changeset c = decoded(std::string(kHeader) +
                        "T \"c\" key=2 (\"k\",\"n\",\"v\")\nD ('x',(3*pow(2,-1)))\n"
                        "U ('it''s',2,'v')\nEND\n");
  Job job;
  job.slices = {Slice{Slice::Upsert, 0, 0, 1}};
  auto r = loneRecord(job, c);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->table, "c");
  EXPECT_EQ(r->key, "'it''s',2");
  EXPECT_TRUE(r->upsert);
  job.slices = {Slice{Slice::Delete, 0, 0, 1}};
  r = loneRecord(job, c);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->key, "'x',(3*pow(2,-1))");
  EXPECT_FALSE(r->upsert);
  job.slices = {Slice{Slice::Upsert, 0, 0, 1}, Slice{Slice::Delete, 0, 0, 1}};
  EXPECT_FALSE(loneRecord(job, c).has_value());
}

TEST(Planner, ARowLongerThanAStatementIsAppendedInParts) {
  D1Simulator d1;
  ASSERT_TRUE(d1.batch({"CREATE TABLE big(id INTEGER PRIMARY KEY, t TEXT, b BLOB)"}).ok);
  std::string hexText, hexBlob;
  for (int i = 0; i < 30000; ++i) hexText += "41";
  for (int i = 0; i < 25000; ++i) hexBlob += (i % 2 ? "00" : "FF");
  Changeset c =
      decoded(std::string(kHeader) + "T \"big\" key=1 (\"id\",\"t\",\"b\")\nU (1,CAST(X'" +
              hexText + "' AS TEXT),X'" + hexBlob + "')\nU (2,'small',NULL)\nEND\n");
  Limits limits;
  limits.maxStatementBytes = 20000;
  limits.partBytes = 5000;
  Chunker chunker(limits);
  Planner planner(limits, chunker);
  const auto shapes = shapesOf(c);
  size_t statements = 0;
  for (const Job& job : planner.plan(c, shapes)) {
    auto stmts = planner.render(job, c, shapes);
    for (const auto& s : stmts) EXPECT_LE(s.size(), limits.maxStatementBytes);
    statements += stmts.size();
    ASSERT_TRUE(d1.batch(stmts).ok);
  }
  EXPECT_GT(statements, 10u) << "the large values went in parts";
  EXPECT_EQ(scalar(d1, "SELECT hex(t) FROM big WHERE id=1"), hexText);
  EXPECT_EQ(scalar(d1, "SELECT hex(b) FROM big WHERE id=1"), hexBlob);
  EXPECT_EQ(scalar(d1, "SELECT typeof(t)||typeof(b) FROM big WHERE id=1"), "textblob");
  EXPECT_EQ(scalar(d1, "SELECT t FROM big WHERE id=2"), "small");
}

}  // namespace
}  // namespace d1sync::native
