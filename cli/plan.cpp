// push --dry-run: the plan of a push, found by running it. The engine runs over the file inside
// one transaction that is rolled back at the end, against the D1 simulator (SQLite with D1's
// limits, in a temporary file) seeded with what D1 holds that the engine reads (its tables'
// schema and d1sync's _d1sync_sources rows), so the tables, rows, statements, requests and
// request bytes are those the push would send — nothing is sent and the file keeps nothing.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "d1_simulator.hpp"
#include "json_fields.hpp"
#include "progress.hpp"
#include "rest_answer.hpp"
#include "session.hpp"
#include "sql_text.hpp"

namespace d1sync::cli {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

std::string literal(const Rows& rows, size_t r, size_t c) {
  if (rows.isNull(r, c)) return "NULL";
  const std::string& v = rows.at(r, c);
  bool integer = !v.empty() && v.size() < 19;
  for (size_t i = 0; i < v.size(); ++i)
    integer = integer && ((v[i] >= '0' && v[i] <= '9') || (i == 0 && v[i] == '-'));
  return integer ? v : quoteText(v);
}

// D1's schema and _d1sync_sources rows into the simulator. Returns an error, empty on success.
std::string seed(RestTarget& d1, native::D1Simulator& sim) {
  BatchResult schema = d1.query(
      "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND type IN ('table','index') AND "
      "substr(name,1,4)<>'_cf_' AND substr(name,1,7)<>'sqlite_' ORDER BY type='index'");
  if (!schema.ok) return "reading D1's schema: " + schema.failure.message;
  for (size_t i = 0; i < schema.results[0].size(); ++i) {
    QueryResult r = sim.query(schema.results[0].at(i, 0));
    if (!r.ok) return "copying D1's schema: " + r.error;
  }
  BatchResult sources = d1.query(
      "SELECT * FROM _d1sync_sources WHERE EXISTS (SELECT 1 FROM sqlite_master WHERE "
      "name='_d1sync_sources')");
  if (!sources.ok) {
    // No such table yet: nothing to seed.
    if (sources.failure.kind == D1Failure::Schema) return "";
    return "reading D1's _d1sync_sources: " + sources.failure.message;
  }
  const Rows& rows = sources.results[0];
  for (size_t r = 0; r < rows.size(); ++r) {
    std::string values;
    for (size_t c = 0; c < rows.columns; ++c) {
      if (c) values += ',';
      values += literal(rows, r, c);
    }
    QueryResult q = sim.query("INSERT INTO _d1sync_sources VALUES(" + values + ")");
    if (!q.ok) return "copying D1's _d1sync_sources: " + q.error;
  }
  return "";
}

struct PlanFigures {
  int64_t requests = 0, statements = 0, bytes = 0;
};

}  // namespace

int runPlan(const Args& args) {
  Session s;
  std::string err, note;
  json out = {{"command", "push"}, {"dryRun", true}, {"file", args.file}};
  auto refuse = [&](int code) {
    out["exitCode"] = code;
    out["error"] = err;
    if (args.json)
      std::printf("%s\n", out.dump(2).c_str());
    else
      std::fprintf(stderr, "d1sync push --dry-run: %s\n", err.c_str());
    return code;
  };
  int code = openFile(args, false, s, err);
  if (code < 0) code = buildOptions(args, s, err);
  if (code >= 0) return refuse(code);
  const fs::path simPath =
      fs::temp_directory_path() / ("d1sync-plan-" + std::to_string(getpid()) + ".sqlite");
  fs::remove(simPath);
  struct Cleanup {
    fs::path p;
    ~Cleanup() {
      std::error_code ec;
      fs::remove(p, ec);
      fs::remove(p.string() + "-journal", ec);
    }
  } cleanup{simPath};
  native::D1Simulator sim(simPath.string());
  if ((code = openTarget(args, s, err)) < 0) {
    if (std::string e = seed(*s.target, sim); !e.empty()) {
      err = e;
      return refuse(kConfig);
    }
    out["target"] = s.where;
  } else if (!s.replicatedBefore) {
    note = "D1 was not consulted (" + err + "): planned as if it were empty";
    err.clear();
  } else {
    return refuse(code);
  }
  if (FileError e = s.file.hold()) {
    err = e.message;
    return refuse(kFile);
  }
  Engine engine(s.file, s.options);
  engine.beginDrive(-1, false, 0);
  PlanFigures f;
  Step step;
  const int64_t now = wallMs();
  for (;;) {
    step = engine.next(now);
    if (step.kind != Step::Send) break;
    ++f.requests;
    f.statements += static_cast<int64_t>(step.batch.statements.size());
    f.bytes += static_cast<int64_t>(batchBody(step.batch.statements).size());
    engine.complete(sim.apply(step.batch), now);
  }
  const json health = json::parse(engine.healthJson(now), nullptr, false);
  s.file.release();
  if (step.kind != Step::Idle) {
    err = "the push would stop: " + step.message;
    return refuse(exitFor(step.code));
  }
  json tables = json::object();
  const json& copied = jsonField(jsonField(health, "initialSync"), "tables");
  if (copied.is_object())
    for (const auto& [name, t] : copied.items()) tables[name] = intField(t, "copied", 0);
  const int64_t budget = s.target ? s.target->config().budgetRequests : 1200;
  const int64_t windowMs = s.target ? s.target->config().budgetWindowMs : 300000;
  out["plan"] = {{"tables", tables},
                 {"rows", intField(health, "rowsReplicated", 0)},
                 {"statements", f.statements},
                 {"requests", f.requests},
                 {"bytes", f.bytes},
                 {"minutesAtRateBudget",
                  budget > 0 ? static_cast<double>(f.requests / budget) * windowMs / 60000.0 : 0}};
  if (!note.empty()) out["note"] = note;
  out["exitCode"] = kOk;
  if (args.json) {
    std::printf("%s\n", out.dump(2).c_str());
    return kOk;
  }
  const json& p = out["plan"];
  std::printf("plan for %s -> %s (nothing sent)\n", args.file.c_str(),
              s.where.empty() ? "an empty D1" : s.where.c_str());
  for (const auto& [name, n] : tables.items())
    std::printf("  %-30s %s rows to copy\n", name.c_str(), withCommas(n.get<int64_t>()).c_str());
  std::printf("  %s rows, %s statements in %s requests, %s bytes\n",
              withCommas(intField(p, "rows", 0)).c_str(), withCommas(f.statements).c_str(),
              withCommas(f.requests).c_str(), withCommas(f.bytes).c_str());
  if (f.requests >= budget && budget > 0)
    std::printf("  the API allows %s requests per %lld s: at least %.0f minutes\n",
                withCommas(budget).c_str(), static_cast<long long>(windowMs / 1000),
                p["minutesAtRateBudget"].get<double>());
  if (!note.empty()) std::printf("  note: %s\n", note.c_str());
  return kOk;
}

}  // namespace d1sync::cli
