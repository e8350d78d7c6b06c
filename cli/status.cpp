// status: the file's health as the engine sees it, and D1's watermark for this source, read
// without writing to the file. In sync means D1's applied sequence is everything captured.
#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "fence.hpp"
#include "json_fields.hpp"
#include "progress.hpp"
#include "session.hpp"
#include "sql_text.hpp"

namespace d1sync::cli {
namespace {

using nlohmann::json;

// Milliseconds since the epoch as UTC ISO 8601; "never" for 0.
std::string isoTime(int64_t ms) {
  if (ms <= 0) return "never";
  const time_t t = static_cast<time_t>(ms / 1000);
  tm u{};
  gmtime_r(&t, &u);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &u);
  return buf;
}

int finish(const Args& args, json out, int code) {
  out["exitCode"] = code;
  if (args.json) {
    std::printf("%s\n", out.dump(2).c_str());
    return code;
  }
  if (out.contains("error")) {
    std::fprintf(stderr, "d1sync status: %s\n", textField(out, "error").c_str());
    return code;
  }
  const json& h = jsonField(out, "health");
  const json& d1 = jsonField(out, "d1");
  std::printf("%s: %s\n", textField(out, "file").c_str(), textField(out, "summary").c_str());
  std::printf("  state %s, captured %s, sent %s, pending %s, quarantined %s\n",
              textField(h, "state").c_str(), jsonField(h, "capturedSeq").dump().c_str(),
              jsonField(h, "appliedSeq").dump().c_str(),
              jsonField(h, "pendingChanges").dump().c_str(),
              jsonField(h, "quarantined").dump().c_str());
  std::printf("  rows replicated %s in %s requests; last success %s\n",
              withCommas(intField(h, "rowsReplicated", 0)).c_str(),
              withCommas(intField(h, "batchesSent", 0)).c_str(),
              isoTime(intField(h, "lastSuccessAt", 0)).c_str());
  if (!jsonField(h, "lastError").is_null())
    std::printf("  last error %s: %s\n", textField(h, "lastErrorCode").c_str(),
                textField(h, "lastError").c_str());
  if (d1.is_object())
    std::printf("  %s: applied %s, epoch %s, owner %s\n", textField(out, "target").c_str(),
                jsonField(d1, "appliedSeq").dump().c_str(), jsonField(d1, "epoch").dump().c_str(),
                jsonField(d1, "incarnation").dump().c_str());
  return code;
}

}  // namespace

int runStatus(const Args& args) {
  Session s;
  std::string err;
  json out = {{"command", "status"}, {"file", args.file}};
  int code = openFile(args, true, s, err);
  if (code < 0) code = buildOptions(args, s, err);
  if (code < 0 && !s.replicatedBefore) {
    out["summary"] = "not replicated yet: run d1sync push";
    out["inSync"] = false;
    return finish(args, out, kBehind);
  }
  if (code >= 0) {
    out["error"] = err;
    return finish(args, out, code);
  }
  Engine engine(s.file, s.options);
  if (Status st = engine.inspect(); !st.ok()) {
    out["error"] = st.message;
    return finish(args, out, exitFor(st.code));
  }
  const int64_t now = wallMs();
  json health = json::parse(engine.healthJson(now), nullptr, false);
  out["health"] = health;
  if ((code = openTarget(args, s, err)) >= 0) {
    out["error"] = err;
    return finish(args, out, code);
  }
  out["target"] = s.where;
  FenceId id;
  id.sourceId = s.options.sourceId;
  BatchResult r = s.target->query(sourceRowQuery(id));
  if (!r.ok) {
    out["error"] = "reading D1's watermark: " + r.failure.message;
    return finish(args, out, exitFor(codeFor(r.failure.kind)));
  }
  const SourceRow row = parseSourceRow(r.results.at(0));
  const int64_t captured = intField(health, "capturedSeq", -1);
  if (row.present)
    out["d1"] = {{"appliedSeq", row.appliedSeq},
                 {"epoch", row.epoch},
                 {"incarnation", row.incarnation},
                 {"lastBatch", row.lastBatch}};
  const bool copied = boolField(jsonField(health, "initialSync"), "done", false);
  const bool inSync = row.present && copied && captured >= 0 && row.appliedSeq >= captured;
  out["inSync"] = inSync;
  out["summary"] = inSync ? "in sync: D1 has every change captured"
                   : !row.present
                       ? "D1 has no record of this source: run d1sync push"
                       : "D1 is behind by " +
                             std::to_string(std::max<int64_t>(0, captured - row.appliedSeq)) +
                             " changes" + (copied ? "" : " and the initial copy is unfinished");
  return finish(args, out, inSync ? kOk : kBehind);
}

}  // namespace d1sync::cli
