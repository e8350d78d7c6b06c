// push --snapshot: the file into D1 without ever writing to it (read-only files, databases
// other tools own). The file is opened read-only; the engine keeps its bookkeeping in TEMP
// tables and captures nothing (Options::snapshot). Tables D1 lacks are created and copied;
// for the others, the engine's verify() finds by range fingerprints which keys differ and
// repair() sends exactly those, until a verify finds D1 equal. Each run takes the source over
// from the previous snapshot run; a file that replicates by capture is refused.
#include <unistd.h>

#include <cstdio>

#include "drive.hpp"
#include "json_fields.hpp"

namespace d1sync::cli {
namespace {

using nlohmann::json;

constexpr int64_t kDifferencesPerRound = 100000;
// Each round repairs up to kDifferencesPerRound keys; a D1 that differs in more than this many
// rounds' worth is better recopied (push without --snapshot, or a new database).
constexpr int kMaxRounds = 20;

}  // namespace

int runSnapshot(const Args& args) {
  Session s;
  std::string err;
  int code = openFile(args, true, s, err);
  if (code < 0 && s.replicatedBefore) {
    code = kConfig;
    err = args.file +
          " replicates through change capture (an earlier push installed it): push it without "
          "--snapshot";
  }
  if (code < 0) code = buildOptions(args, s, err);
  if (code < 0) code = openTarget(args, s, err);
  if (code >= 0) {
    if (args.json)
      std::printf("%s\n", json{{"command", "push"},
                               {"snapshot", true},
                               {"ok", false},
                               {"exitCode", code},
                               {"error", {{"message", err}}}}
                              .dump()
                              .c_str());
    else
      std::fprintf(stderr, "d1sync push --snapshot: %s\n", err.c_str());
    return code;
  }
  s.options.snapshot = true;
  s.target->setInterrupt(&gInterrupted);
  const int64_t startMs = wallMs();
  Engine engine(s.file, s.options);
  Progress progress(stderr, isatty(2) != 0, args.quiet || args.json);
  progress.start(startMs, 0);
  // The tables D1 lacks, created and copied.
  Outcome o = drive(s, engine, progress, args.verbose);
  json rounds = json::array();
  bool equal = false;
  for (int round = 0; o.exit == kOk && !o.interrupted && !equal && round < kMaxRounds; ++round) {
    json request = {{"maxDifferences", kDifferencesPerRound}};
    if (Status st = engine.beginVerify(request.dump(), wallMs()); !st.ok()) {
      o.exit = exitFor(st.code);
      o.error = st.message;
      break;
    }
    o = drive(s, engine, progress, args.verbose);
    if (o.exit != kOk || o.interrupted) break;
    json report = json::parse(engine.verifyReport(), nullptr, false);
    if (!report.is_object() || report.contains("errorCode")) {
      o.exit =
          report.is_object() ? exitFor(codeFromName(textField(report, "errorCode"))) : kInternal;
      o.error = report.is_object() ? textField(report, "error") : "the verify gave no report";
      break;
    }
    int64_t keys = 0;
    for (const auto& t : jsonField(report, "tables"))
      keys += static_cast<int64_t>(jsonField(t, "differences").size());
    rounds.push_back({{"differences", keys},
                      {"rowsReadD1", intField(report, "rowsReadD1", 0)},
                      {"requests", intField(report, "batches", 0)}});
    equal = report.value("equal", false);
    if (equal) break;
    if (Status st = repairInTransaction(s, engine, report.dump()); !st.ok()) {
      o.exit = exitFor(st.code);
      o.error = st.message;
      break;
    }
    o = drive(s, engine, progress, args.verbose);
  }
  progress.finish();
  if (o.exit == kOk && !o.interrupted && !equal) {
    o.exit = kInternal;
    o.error = "D1 still differed after " + std::to_string(kMaxRounds) + " rounds of repairs";
  }
  json out = summary("push", s, engine, o, 0, startMs);
  out["snapshot"] = true;
  out["rounds"] = rounds;
  if (o.exit == kOk) out["equal"] = true;
  if (args.json)
    std::printf("%s\n", out.dump(2).c_str());
  else
    printHuman("push", out, args.quiet);
  return o.exit;
}

}  // namespace d1sync::cli
