// push: the file into D1, resumably (drive.hpp runs the engine).
#include <unistd.h>

#include <cstdio>

#include "drive.hpp"
#include "json_fields.hpp"

namespace d1sync::cli {

using nlohmann::json;

int runPush(const Args& args) {
  if (args.dryRun) return runPlan(args);
  if (args.snapshot) return runSnapshot(args);
  Session s;
  std::string err;
  int code = openFile(args, false, s, err);
  if (code < 0) code = buildOptions(args, s, err);
  if (code < 0) code = openTarget(args, s, err);
  if (code >= 0) {
    if (args.json)
      std::printf(
          "%s\n",
          json{
              {"command", "push"}, {"ok", false}, {"exitCode", code}, {"error", {{"message", err}}}}
              .dump()
              .c_str());
    else
      std::fprintf(stderr, "d1sync push: %s\n", err.c_str());
    return code;
  }
  s.target->setInterrupt(&gInterrupted);
  const int64_t startMs = wallMs();
  int64_t rowsBefore = 0;
  if (s.replicatedBefore) {
    // What earlier pushes sent, read by an engine that only looks, so this run counts its own.
    Engine before(s.file, s.options);
    if (before.inspect().ok())
      rowsBefore =
          intField(json::parse(before.healthJson(startMs), nullptr, false), "rowsReplicated", 0);
  }
  Engine engine(s.file, s.options);
  Progress progress(stderr, isatty(2) != 0, args.quiet || args.json);
  progress.start(startMs, rowsBefore);
  Outcome o = drive(s, engine, progress, args.verbose);
  progress.finish();
  json out = summary("push", s, engine, o, rowsBefore, startMs);
  if (args.json)
    std::printf("%s\n", out.dump(2).c_str());
  else
    printHuman("push", out, args.quiet);
  return o.exit;
}

}  // namespace d1sync::cli
