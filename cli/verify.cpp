// verify: the file compared with D1 by key-range fingerprints (the engine's verify(),
// wasm/verify.hpp), after what is pending was sent as a push would send it. Prints the keys
// that differ; exit 0 equal, 1 different. --repair sends exactly those keys again and verifies
// once more.
#include <unistd.h>

#include <cstdio>

#include "drive.hpp"
#include "json_fields.hpp"

namespace d1sync::cli {
namespace {

using nlohmann::json;

// Runs one verify to its end. False (with `o` saying why) when the drive did not get there.
bool verifyOnce(Session& s, Engine& engine, Progress& progress, const Args& args, Outcome& o,
                json& report) {
  json request = {{"maxDifferences", args.maxDifferences}};
  if (Status st = engine.beginVerify(request.dump(), wallMs()); !st.ok()) {
    o.exit = exitFor(st.code);
    o.error = st.message;
    return false;
  }
  o = drive(s, engine, progress, args.verbose);
  if (o.exit != kOk || o.interrupted) return false;
  report = json::parse(engine.verifyReport(), nullptr, false);
  if (!report.is_object()) {
    o.exit = kInternal;
    o.error = "the verify ended without a report";
    return false;
  }
  if (report.contains("errorCode")) {
    o.exit = exitFor(codeFromName(textField(report, "errorCode")));
    o.error = textField(report, "error");
    return false;
  }
  return true;
}

void printReport(const json& report, const char* heading) {
  int64_t rows = 0, tables = 0;
  for (const auto& t : jsonField(report, "tables")) {
    rows += intField(t, "rowsLocal", 0);
    ++tables;
  }
  std::fprintf(stderr, "%s: %s rows in %s tables %s; read %s rows of D1 in %s requests (%.1f s)\n",
               heading, withCommas(rows).c_str(), withCommas(tables).c_str(),
               report.value("equal", false) ? "equal in D1" : "differ from D1",
               withCommas(intField(report, "rowsReadD1", 0)).c_str(),
               withCommas(intField(report, "batches", 0)).c_str(),
               intField(report, "ms", 0) / 1000.0);
  for (const auto& t : jsonField(report, "tables")) {
    const std::string name = textField(t, "table");
    if (intField(t, "rowsLocal", 0) != intField(t, "rowsD1", 0))
      std::fprintf(stderr, "  %s: %s rows in the file, %s in D1\n", name.c_str(),
                   withCommas(intField(t, "rowsLocal", 0)).c_str(),
                   withCommas(intField(t, "rowsD1", 0)).c_str());
    for (const auto& d : jsonField(t, "differences")) {
      const json& l = jsonField(d, "local");
      const json& r = jsonField(d, "d1");
      std::fprintf(stderr, "  %s key %s: file %s, D1 %s\n", name.c_str(),
                   textField(d, "key").c_str(),
                   l.is_string() ? l.get<std::string>().c_str() : "(no row)",
                   r.is_string() ? r.get<std::string>().c_str() : "(no row)");
    }
    for (const auto& u : jsonField(t, "unresolved"))
      std::fprintf(
          stderr, "  %s: more differences between keys %s and %s (%s rows here, %s in D1)\n",
          name.c_str(), jsonField(u, "from").dump().c_str(), jsonField(u, "to").dump().c_str(),
          withCommas(intField(u, "rowsLocal", 0)).c_str(),
          withCommas(intField(u, "rowsD1", 0)).c_str());
  }
}

}  // namespace

int runVerify(const Args& args) {
  Session s;
  std::string err;
  json out = {{"command", "verify"}, {"file", args.file}};
  int code = openFile(args, false, s, err);
  if (code < 0) code = buildOptions(args, s, err);
  if (code < 0 && !s.replicatedBefore) {
    code = kConfig;
    err = args.file + " was never pushed: run d1sync push first";
  }
  if (code < 0) code = openTarget(args, s, err);
  if (code >= 0) {
    out["ok"] = false;
    out["exitCode"] = code;
    out["error"] = {{"message", err}};
    if (args.json)
      std::printf("%s\n", out.dump(2).c_str());
    else
      std::fprintf(stderr, "d1sync verify: %s\n", err.c_str());
    return code;
  }
  s.target->setInterrupt(&gInterrupted);
  Engine engine(s.file, s.options);
  Progress progress(stderr, isatty(2) != 0, true);
  Outcome o;
  json report;
  bool ran = verifyOnce(s, engine, progress, args, o, report);
  if (ran) out["report"] = report;
  if (ran && args.repair && !report.value("equal", false)) {
    out["repaired"] = report;
    if (Status st = repairInTransaction(s, engine, report.dump()); !st.ok()) {
      o.exit = exitFor(st.code);
      o.error = st.message;
      ran = false;
    } else {
      o = drive(s, engine, progress, args.verbose);
      ran = o.exit == kOk && !o.interrupted && verifyOnce(s, engine, progress, args, o, report);
      if (ran) out["report"] = report;
    }
  }
  const bool equal = ran && report.value("equal", false);
  const int exit = !ran ? (o.exit == kOk ? kInternal : o.exit) : equal ? kOk : kBehind;
  out["ok"] = ran;
  out["equal"] = equal;
  out["exitCode"] = exit;
  if (!ran) {
    std::string message = o.error.empty() ? o.last.message : o.error;
    if (o.interrupted) message = "interrupted";
    out["error"] = {{"code", codeName(o.last.code)}, {"message", message}};
  }
  if (args.json) {
    std::printf("%s\n", out.dump(2).c_str());
    return exit;
  }
  if (out.contains("repaired") && !args.quiet) printReport(out["repaired"], "before the repair");
  if (ran && !args.quiet) printReport(report, args.repair ? "after the repair" : "verify");
  if (ran && args.quiet && !equal) printReport(report, "verify");
  if (!ran) std::fprintf(stderr, "d1sync verify: %s\n", textField(out["error"], "message").c_str());
  return exit;
}

}  // namespace d1sync::cli
