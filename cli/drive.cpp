#include "drive.hpp"

#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <thread>

#include "json_fields.hpp"

namespace d1sync::cli {

std::atomic<bool> gInterrupted{false};

using nlohmann::json;

// The process's peak resident memory: VmHWM, this process's own high-water mark. (getrusage's
// ru_maxrss starts from the parent's size when a large process forks us.)
int64_t maxRssKb() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::strtoll(line.c_str() + 6, nullptr, 10);
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;
}

namespace {

// One engine call inside one local transaction, as every host runs it.
template <typename F>
bool inTransaction(Session& s, Outcome& o, F&& call) {
  if (FileError e = s.file.begin()) {
    o.exit = kFile;
    o.error = e.message;
    return false;
  }
  call();
  if (FileError e = s.file.commit()) {
    o.exit = kFile;
    o.error = e.message;
    return false;
  }
  return true;
}

void sleepUntil(int64_t untilMs) {
  while (!gInterrupted && wallMs() < untilMs)
    std::this_thread::sleep_for(
        std::chrono::milliseconds(std::min<int64_t>(100, untilMs - wallMs())));
}

}  // namespace

Status repairInTransaction(Session& s, Engine& engine, const std::string& report) {
  if (FileError e = s.file.begin()) return {ErrorCode::Internal, e.message};
  Status st = engine.repair(report, wallMs());
  if (!st.ok()) {
    s.file.rollback();
    return st;
  }
  if (FileError e = s.file.commit()) return {ErrorCode::Internal, e.message};
  return st;
}

Outcome drive(Session& s, Engine& engine, Progress& progress, int verbose) {
  Outcome o;
  engine.beginDrive(-1, false);
  for (;;) {
    if (gInterrupted) {
      o.interrupted = true;
      o.exit = kInterrupted;
      return o;
    }
    Step step;
    const bool ran = inTransaction(s, o, [&] { step = engine.next(wallMs()); });
    progress.events(engine.takeEvents());
    if (!ran) return o;
    o.last = step;
    if (step.kind == Step::Idle) return o;
    if (step.kind == Step::Failed || step.kind == Step::Rejected) {
      o.exit = step.kind == Step::Rejected ? kUnavailable : exitFor(step.code);
      // The engine retries a local write that failed; the file's disk being full is not
      // going to pass while it waits.
      if (step.d1Message.find("disk is full") != std::string::npos ||
          step.d1Message.find("disk I/O error") != std::string::npos) {
        o.exit = kFile;
        o.error = s.file.path() + ": cannot write: " + step.d1Message;
      }
      return o;
    }
    if (step.kind == Step::Wait) {
      if (verbose)
        progress.line("waiting " + std::to_string(step.waitUntilMs - wallMs()) +
                      " ms before retrying: " + step.message);
      sleepUntil(step.waitUntilMs);
      continue;
    }
    const int64_t t0 = wallMs();
    BatchResult r = s.target->apply(step.batch);
    if (verbose)
      progress.line("request: " + std::to_string(step.batch.statements.size()) + " statements, " +
                    std::to_string(step.batch.bytes()) + " bytes, " +
                    std::to_string(wallMs() - t0) + " ms" +
                    (r.ok ? "" : ", failed: " + r.failure.message));
    const bool done = inTransaction(s, o, [&] { engine.complete(r, wallMs()); });
    progress.events(engine.takeEvents());
    if (!done) return o;
    const json health = json::parse(engine.healthJson(wallMs()), nullptr, false);
    progress.update(health, wallMs());
  }
}

json summary(const char* command, const Session& s, Engine& engine, const Outcome& o,
             int64_t rowsBefore, int64_t startMs) {
  json health = json::parse(engine.healthJson(wallMs()), nullptr, false);
  const int64_t rows = intField(health, "rowsReplicated", 0) - rowsBefore;
  const double seconds = (wallMs() - startMs) / 1000.0;
  json out = {{"command", command},
              {"file", s.file.path()},
              {"target", s.where},
              {"ok", o.exit == kOk},
              {"exitCode", o.exit},
              {"rows", rows},
              {"requests", s.target->stats().requests},
              {"bytesSent", s.target->stats().bytesSent},
              {"waitedForRateBudgetMs", s.target->stats().waitedForBudgetMs},
              {"seconds", seconds},
              {"rowsPerSecond", seconds > 0 ? rows / seconds : 0.0},
              {"maxRssKb", maxRssKb()},
              {"health", health}};
  if (o.exit != kOk) {
    std::string message = o.error;
    if (message.empty() && o.interrupted)
      message = "interrupted: run the same push again to resume";
    if (message.empty()) message = o.last.message;
    out["error"] = {{"code", o.error.empty() ? codeName(o.last.code) : "FILE"},
                    {"message", message},
                    {"d1Message", o.last.d1Message}};
  }
  return out;
}

void printHuman(const char* command, const json& out, bool quiet) {
  if (out.contains("error")) {
    const json& e = jsonField(out, "error");
    std::fprintf(stderr, "d1sync %s: %s: %s\n", command, textField(e, "code").c_str(),
                 textField(e, "message").c_str());
    const std::string d1 = textField(e, "d1Message");
    if (!d1.empty() && d1 != textField(e, "message"))
      std::fprintf(stderr, "  D1 said: %s\n", d1.c_str());
    return;
  }
  if (quiet) return;
  const json& seconds = jsonField(out, "seconds");
  std::fprintf(stderr, "pushed %s rows to %s in %.1f s (%s requests, %s bytes)\n",
               withCommas(intField(out, "rows", 0)).c_str(), textField(out, "target").c_str(),
               seconds.is_number() ? seconds.get<double>() : 0.0,
               withCommas(intField(out, "requests", 0)).c_str(),
               withCommas(intField(out, "bytesSent", 0)).c_str());
}

}  // namespace d1sync::cli
