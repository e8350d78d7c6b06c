// pull: D1 into a new or empty file through the engine's hydrate (engine_hydrate.cpp): the
// file ends up as D1 holds it and replicating as this source. A pull that fails removes a file
// it created, so a half-written copy is never mistaken for D1's.
#include <unistd.h>

#include <cstdio>

#include "drive.hpp"
#include "json_fields.hpp"

namespace d1sync::cli {

using nlohmann::json;

int runPull(const Args& args) {
  Session s;
  std::string err;
  int code = openFile(args, false, s, err, true);
  if (code < 0) code = buildOptions(args, s, err);
  if (code < 0) code = openTarget(args, s, err);
  if (code >= 0) {
    if (s.file.created()) s.file.closeAndRemove();
    if (args.json)
      std::printf(
          "%s\n",
          json{
              {"command", "pull"}, {"ok", false}, {"exitCode", code}, {"error", {{"message", err}}}}
              .dump()
              .c_str());
    else
      std::fprintf(stderr, "d1sync pull: %s\n", err.c_str());
    return code;
  }
  s.target->setInterrupt(&gInterrupted);
  const int64_t startMs = wallMs();
  Engine engine(s.file, s.options);
  Progress progress(stderr, isatty(2) != 0, args.quiet || args.json);
  progress.start(startMs, 0);
  Outcome o = drive(s, engine, progress, args.verbose);
  progress.finish();
  json out = summary("pull", s, engine, o, 0, startMs);
  out["rows"] = intField(jsonField(out, "health"), "rowsHydrated", 0);
  if (o.exit != kOk && s.file.created()) {
    s.file.closeAndRemove();
    out["removed"] = true;
  }
  if (args.json) {
    std::printf("%s\n", out.dump(2).c_str());
  } else if (o.exit != kOk) {
    printHuman("pull", out, args.quiet);
    if (s.file.created()) std::fprintf(stderr, "  %s was removed\n", args.file.c_str());
  } else if (!args.quiet) {
    std::fprintf(stderr, "pulled %s rows from %s into %s in %.1f s (%s requests)\n",
                 withCommas(out["rows"].get<int64_t>()).c_str(), s.where.c_str(), args.file.c_str(),
                 out["seconds"].get<double>(), withCommas(s.target->stats().requests).c_str());
  }
  return o.exit;
}

}  // namespace d1sync::cli
