#include "fault_harness.hpp"
#include "fixtures.hpp"

#include <memory>
#include <vector>

#include "backoff.hpp"
#include "driver.hpp"
#include "endpoint_target.hpp"
#include "faulty_local.hpp"

namespace d1sync::native {

namespace {

const char* kSchema = R"sql(
  CREATE TABLE parent(id INTEGER PRIMARY KEY, name TEXT, v REAL);
  CREATE TABLE child(a TEXT NOT NULL, b INTEGER NOT NULL, parent INTEGER REFERENCES parent(id),
                     data BLOB, PRIMARY KEY(a, b)) WITHOUT ROWID;
  CREATE TABLE loose(x, y);
  CREATE TABLE uniq(id INTEGER PRIMARY KEY, u TEXT UNIQUE, n INTEGER);
)sql";

class Workload {
 public:
  Workload(SqliteLocal& db, Random& rng) : db_(db), rng_(rng) {}

  int64_t pick(int64_t n) { return static_cast<int64_t>(rng_.next() % static_cast<uint64_t>(n)); }

  std::string value() {
    switch (pick(9)) {
      case 0:
        return "NULL";
      case 1:
        return std::to_string(static_cast<int64_t>(rng_.next()));
      case 2:
        return "'it''s " + std::to_string(pick(1000)) + "'";
      case 3:
        return "'a'||char(0)||'b" + std::to_string(pick(9)) + "'";
      case 4:
        return "X'" + std::string(2 * static_cast<size_t>(pick(5)), 'F') + "'";
      case 5:
        return std::to_string(pick(100000)) + ".25";
      case 6:
        return "''";
      case 7:
        return "'😀" + std::to_string(pick(50)) + "'";
      default:
        return pick(40) == 0 ? "zeroblob(30000)" : "'" + std::to_string(pick(7)) + "'";
    }
  }

  void step() {
    std::string id = std::to_string(1 + pick(60));
    std::string sql;
    switch (pick(12)) {
      case 0:
      case 1:
        sql = "INSERT OR REPLACE INTO parent(id, name, v) VALUES (" + id + ", " + value() + ", " +
              value() + ")";
        break;
      case 2:
        sql = "UPDATE parent SET name = " + value() + " WHERE id = " + id;
        break;
      case 3:
        sql = "DELETE FROM parent WHERE id = " + id;
        break;
      case 4:
        sql = "UPDATE parent SET id = " + std::to_string(100 + pick(60)) + " WHERE id = " + id;
        break;
      case 5:
        sql = "INSERT OR REPLACE INTO child VALUES ('k" + std::to_string(pick(5)) + "', " + id +
              ", " + id + ", " + value() + ")";
        break;
      case 6:
        sql = "DELETE FROM child WHERE b = " + id;
        break;
      case 7:
        sql = "UPDATE child SET a = 'm" + std::to_string(pick(3)) + "' WHERE b = " + id;
        break;
      case 8:
        sql = "INSERT INTO loose VALUES (" + value() + ", " + value() + ")";
        break;
      case 9:
        sql = "DELETE FROM loose WHERE rowid % 7 = " + std::to_string(pick(7));
        break;
      case 10:
        sql = "INSERT OR REPLACE INTO uniq VALUES (" + id + ", 'u" + std::to_string(pick(8)) +
              "', " + std::to_string(pick(100)) + ")";
        break;
      default:
        sql = "UPDATE uniq SET u = 'u" + std::to_string(pick(8)) + "' WHERE id = " + id;
        break;
    }
    // A UNIQUE clash of a plain UPDATE is the application's error, not ours: skip it.
    db_.exec(sql);
  }

  // Now and then the schema moves: a column added, a table created or dropped and recreated.
  void schemaChange(int& added) {
    switch (pick(3)) {
      case 0:
        db_.run("ALTER TABLE parent ADD COLUMN extra" + std::to_string(++added) + " INTEGER");
        break;
      case 1:
        db_.run(
            "CREATE TABLE IF NOT EXISTS late(id INTEGER PRIMARY KEY, v); INSERT INTO late(v) "
            "VALUES (" +
            value() + ")");
        break;
      default:
        db_.run("DROP TABLE IF EXISTS late");
        break;
    }
  }

 private:
  SqliteLocal& db_;
  Random& rng_;
};

// D1's tables as an application's migrations would create them for the endpoint: the tenant
// column t leads every key.
const char* kEndpointD1 = R"sql(
  CREATE TABLE parent(t TEXT NOT NULL, id INTEGER, name TEXT, v REAL, PRIMARY KEY(t, id));
  CREATE TABLE child(t TEXT NOT NULL, a TEXT NOT NULL, b INTEGER NOT NULL, parent INTEGER,
                     data BLOB, PRIMARY KEY(t, a, b));
  CREATE TABLE loose(t TEXT NOT NULL, rowid INTEGER NOT NULL, x, y, PRIMARY KEY(t, rowid));
  CREATE TABLE uniq(t TEXT NOT NULL, id INTEGER, u TEXT, n INTEGER, PRIMARY KEY(t, id));
)sql";

const char* const kFaultKinds[] = {"transient",          "lost_answer",  "statement_too_long",
                                   "too_many_variables", "crash",        "crash_after_send",
                                   "second_writer",      "local_before", "local_after"};

// How often a local call of the engine's fails, by seed: most seeds see some local faults.
double localFaultRate(int64_t pick) {
  static const double kRates[] = {0, 0.005, 0.02, 0.05};
  return kRates[pick];
}

}  // namespace

HarnessResult runSeed(uint64_t seed, const SeedOptions& so) {
  const int rounds = so.rounds;
  const bool localFaults = so.localFaults, endpoint = so.endpoint;
  HarnessResult result;
  Random rng(seed * 0x9E3779B97F4A7C15ULL + 1);
  SqliteLocal local(":memory:");
  D1Simulator d1;
  local.run(kSchema);
  EndpointConfig config;
  config.tables = {"parent", "child", "loose", "uniq"};
  config.tenantColumn = "t";
  SyncEndpoint syncEndpoint(config);
  EndpointTarget viaEndpoint(syncEndpoint, d1, Caller{"harness", "'h'"});
  if (endpoint) d1.query(kEndpointD1);
  Target& target = endpoint ? static_cast<Target&>(viaEndpoint) : d1;
  const std::string tenantWhere = endpoint ? "t='h'" : "";
  const std::string fenceRow = endpoint ? "endpoint:t=''h''" : "harness";
  Workload work(local, rng);
  for (int i = 0; i < 30; ++i) work.step();
  Options options;
  options.sourceId = "harness";
  options.seed = seed;
  options.limits.copyPageRows = 1 + static_cast<size_t>(work.pick(40));
  options.limits.pageChanges = 1 + static_cast<size_t>(work.pick(60));
  options.remote = endpoint;
  options.lookAhead = so.lookAhead;
  // Any local call of the engine's may fail, before it runs or after (see FaultyLocal).
  FaultyLocal faulty(local, seed ^ 0x5bd1e995ULL);
  // Its own generator: the workload and D1's faults stay what they were for each seed.
  faulty.probability = localFaults ? localFaultRate(static_cast<int64_t>(
                                         Random(seed * 0x2545F4914F6CDD1DULL + 7).next() % 4))
                                   : 0;
  Driver driver(local, target, options, &faulty);
  Random overtaking(seed * 0x9E3779B97F4A7C15ULL + 11);
  driver.overtakes = [&] {
    bool first = overtaking.next() % 6 == 0;
    result.overtook += first;
    return first;
  };
  int added = 0;
  if (so.writesInFlight) {
    driver.inFlight = [&](bool) {
      for (int64_t n = work.pick(3); n > 0; --n) work.step();
      if (!endpoint && work.pick(30) == 0) work.schemaChange(added);
    };
  }
  auto fail = [&](const std::string& why) {
    if (result.ok) result.failure = "seed " + std::to_string(seed) + ": " + why;
    result.ok = false;
  };
  for (int round = 0; round < rounds && result.ok; ++round) {
    for (int64_t n = work.pick(6); n > 0; --n) work.step();
    if (work.pick(15) == 0 && !endpoint) work.schemaChange(added);
    switch (work.pick(10)) {
      case 0: {
        const auto& msgs = transientMessages();
        d1.inject({Fault::FailBeforeCommit,
                   msgs[static_cast<size_t>(work.pick(static_cast<int64_t>(msgs.size())))]});
        ++result.faults["transient"];
        break;
      }
      case 1:
        d1.inject({Fault::LoseAnswer, "Network connection lost."});
        ++result.faults["lost_answer"];
        break;
      case 2:
        d1.inject({Fault::FailBeforeCommit, "D1_ERROR: statement too long: SQLITE_TOOBIG"});
        ++result.faults["statement_too_long"];
        break;
      case 3:
        d1.inject({Fault::FailBeforeCommit,
                   "D1_ERROR: too many SQL variables at offset 42: SQLITE_ERROR"});
        ++result.faults["too_many_variables"];
        break;
      default:
        break;
    }
    Step s = driver.runRequests(static_cast<size_t>(work.pick(4)));
    if (s.kind == Step::Failed)
      fail(std::string("engine failed: ") + codeName(s.code) + ": " + s.message);
    switch (work.pick(12)) {
      case 0:
        driver.restart();
        ++result.faults["crash"];
        break;
      case 1:
        driver.runRequests(1, /*dropLastAnswer=*/true);
        driver.restart();
        ++result.faults["crash_after_send"];
        break;
      case 2: {
        // Another database claims our sourceId: it must be refused and keep its changes.
        auto claimed = d1.query("SELECT 1 FROM _d1sync_sources WHERE source_id='" + fenceRow + "'");
        if (!claimed.ok || claimed.rows.size() == 0) break;  // not ours yet: nothing to fence
        SqliteLocal other(":memory:");
        other.run(
            "CREATE TABLE parent(id INTEGER PRIMARY KEY, name TEXT, v REAL);"
            "INSERT INTO parent VALUES (1, 'intruder', 0)");
        Options o = options;
        o.seed = seed + 1000003;
        // Through the endpoint: another device of the same tenant, which owns one partition.
        EndpointTarget asIntruder(syncEndpoint, d1, Caller{"intruder", "'h'"});
        if (endpoint) o.sourceId = "intruder";
        Driver intruder(other, endpoint ? static_cast<Target&>(asIntruder) : d1, o);
        Step t = intruder.run(50);
        other.run("INSERT INTO parent VALUES (2, 'later', 0)");
        if (t.kind != Step::Failed || t.code != ErrorCode::Fenced)
          fail("a second writer was not fenced: " + t.message);
        if (other.exec(kPendingOutbox).rows.at(0, 0) == "0")
          fail("the fenced writer's outbox lost its change");
        ++result.faults["second_writer"];
        break;
      }
      default:
        break;
    }
  }
  while (d1.pendingFaults()) d1.batch({"SELECT 1"});  // let queued faults pass harmlessly
  if (result.ok) {
    driver.inFlight = nullptr;  // the application stops writing: D1 must catch up
    Step s = driver.run();      // local faults still strike
    if (s.kind != Step::Idle)
      fail(std::string("did not converge: ") + codeName(s.code) + ": " + s.message);
  }
  result.aheadPrepared = driver.aheadPrepared();
  result.aheadUsed = driver.aheadUsed();
  result.sentAhead = static_cast<int64_t>(driver.sentAhead);
  result.faults["local_before"] += faulty.failedBefore;
  result.faults["local_after"] += faulty.failedAfter;
  faulty.probability = 0;  // the checks below read through the engine
  // A lone row refused twice in a row by injected limit errors is quarantined, as a row D1
  // keeps refusing would be. Account for each with its reason, then send them again.
  if (result.ok) {
    auto q = local.exec("SELECT code, error FROM _d1sync_quarantine");
    result.quarantined = static_cast<int64_t>(q.rows.size());
    for (size_t i = 0; i < q.rows.size(); ++i) {
      const std::string& why = q.rows.at(i, 1);
      bool injected = q.rows.at(i, 0) == "D1_LIMIT" &&
                      (why.find("statement too long") != std::string::npos ||
                       why.find("too many SQL variables") != std::string::npos);
      if (!injected) fail("quarantined for a reason no fault explains: " + why);
    }
    if (result.ok && result.quarantined) {
      local.run("BEGIN");
      driver.engine().retryQuarantined(driver.now());
      local.run("COMMIT");
      Step s = driver.run();
      if (s.kind != Step::Idle)
        fail("did not converge after re-sending quarantined changes: " + s.message);
    }
  }
  if (result.ok) {
    auto tables = local.exec(
        "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE "
        "'sqlite_%' AND name NOT LIKE '_d1sync_%'");
    for (size_t i = 0; i < tables.rows.size(); ++i) {
      const std::string& t = tables.rows.at(i, 0);
      bool rowid = t == "loose";
      std::string diff =
          diffTable(local.handle(), d1.handle(), t, tenantWhere, rowid ? "rowid" : "");
      int64_t localRows =
          std::stoll(local.exec("SELECT count(*) FROM \"" + t + "\"").rows.at(0, 0));
      auto remote = d1.query("SELECT count(*) FROM \"" + t + "\"" +
                             (endpoint ? " WHERE " + tenantWhere : ""));
      int64_t d1Rows = remote.ok ? std::stoll(remote.rows.at(0, 0)) : 0;
      result.rowsCompared += localRows;
      if (d1Rows < localRows) result.lost += localRows - d1Rows;
      if (d1Rows > localRows) result.duplicated += d1Rows - localRows;
      if (!diff.empty()) fail(diff);
    }
    auto applied =
        d1.query("SELECT applied_seq FROM _d1sync_sources WHERE source_id='" + fenceRow + "'");
    std::string captured = std::to_string(driver.engine().capturedSeq());
    if (!applied.ok || applied.rows.size() != 1 || applied.rows.at(0, 0) != captured)
      fail("D1's watermark " + (applied.rows.size() ? applied.rows.at(0, 0) : "?") +
           " is not the last captured sequence " + captured);
    if (local.exec("SELECT count(*) FROM _d1sync_quarantine").rows.at(0, 0) != "0")
      fail("changes stayed quarantined: " + driver.engine().quarantinedJson());
  }
  for (const char* k : kFaultKinds) result.faults[k] += 0;
  return result;
}

}  // namespace d1sync::native
