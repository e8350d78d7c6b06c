// health() as JSON and metrics() as Prometheus text, from the persisted counters and what the
// outbox holds right now.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "engine.hpp"

namespace d1sync {

using json = nlohmann::json;

namespace {

int64_t cellInt(const Rows& r, size_t c) {
  return r.size() && !r.isNull(0, c) ? std::strtoll(r.at(0, c).c_str(), nullptr, 10) : 0;
}

std::string promLabel(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

std::string number(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

}  // namespace

Engine::LiveFigures Engine::liveFigures() {
  LiveFigures f;
  std::string a = std::to_string(state_.appliedSeq);
  auto r = local_.exec(
      "SELECT (SELECT max(seq) FROM _d1sync_log), (SELECT count(*) FROM "
      "_d1sync_log WHERE seq>" +
      a +
      "), (SELECT min(at_ms) FROM _d1sync_log "
      "WHERE seq>" +
      a + "), (SELECT count(*) FROM _d1sync_quarantine)");
  if (!r.ok) return f;
  f.captured = std::max(cellInt(r.rows, 0), state_.appliedSeq);
  f.pending = cellInt(r.rows, 1);
  f.oldestAt = cellInt(r.rows, 2);
  f.quarantined = cellInt(r.rows, 3);
  return f;
}

std::string Engine::healthJson(int64_t nowMs) {
  LiveFigures live = phase_ == Phase::Init ? LiveFigures{} : liveFigures();
  const Counters& c = state_.counters;
  std::string st;
  bool copying = false;
  for (const auto& [name, t] : state_.tables)
    if (t.phase != TablePhase::Live) copying = true;
  if (phase_ == Phase::Failed) {
    st = "error";
  } else if (retryAtMs_ > nowMs || backoff_.failures() > 0) {
    st = "backoff";
  } else if (phase_ != Phase::Running || copying) {
    st = "initial_sync";
  } else if (live.pending > 0 || page_) {
    st = "streaming";
  } else {
    st = "idle";
  }
  json tables = json::object();
  for (const auto& [name, t] : state_.tables)
    tables[name] = {{"copied", t.copied}, {"total", t.total}, {"phase", phaseName(t.phase)}};
  json h = {
      {"state", st},
      // Quarantined changes are missing from D1 until someone looks at them.
      {"healthy", st != "error" && st != "backoff" && live.quarantined == 0},
      {"sourceId", state_.sourceId},
      {"lastSyncAt", c.lastSyncAt},
      {"lastSuccessAt", c.lastSuccessAt},
      {"lastError", c.lastError.empty() ? json(nullptr) : json(c.lastError)},
      {"lastErrorCode", c.lastErrorCode.empty() ? json(nullptr) : json(c.lastErrorCode)},
      {"totalSyncs", c.totalSyncs},
      {"syncErrors", c.syncErrors},
      {"errorRate", c.totalSyncs ? static_cast<double>(c.syncErrors) / c.totalSyncs : 0.0},
      {"retries", c.retries},
      {"pendingChanges", live.pending},
      {"quarantined", live.quarantined},
      {"lagMs",
       live.pending > 0 && live.oldestAt > 0 ? std::max<int64_t>(0, nowMs - live.oldestAt) : 0},
      {"capturedSeq", live.captured},
      {"appliedSeq", state_.appliedSeq},
      {"rowsReplicated", c.rowsReplicated},
      {"statementsSent", c.statementsSent},
      {"batchesSent", c.batchesSent},
      {"bytesSent", c.bytesSent},
      {"epoch", state_.epoch},
      {"nextRetryAt", retryAtMs_ ? json(retryAtMs_) : json(nullptr)},
      {"warnings", warnings_},
      {"initialSync", {{"done", initialSyncDone()}, {"tables", tables}}},
  };
  return h.dump();
}

std::string Engine::metricsText(int64_t nowMs) {
  LiveFigures live = phase_ == Phase::Init ? LiveFigures{} : liveFigures();
  const Counters& c = state_.counters;
  const std::string src =
      "source=\"" + promLabel(state_.sourceId.empty() ? options_.sourceId : state_.sourceId) + "\"";
  std::string o;
  o +=
      "# HELP d1sync_syncs_total D1 batches sent, by outcome.\n# TYPE d1sync_syncs_total counter\n";
  o += "d1sync_syncs_total{" + src + ",status=\"ok\"} " +
       std::to_string(c.totalSyncs - c.syncErrors) + "\n";
  o += "d1sync_syncs_total{" + src + ",status=\"error\"} " + std::to_string(c.syncErrors) + "\n";
  o += "# HELP d1sync_sync_duration_seconds Time from sending a batch to D1's answer.\n"
       "# TYPE d1sync_sync_duration_seconds summary\n";
  o += "d1sync_sync_duration_seconds_sum{" + src + "} " + number(c.syncSecondsSum) + "\n";
  o += "d1sync_sync_duration_seconds_count{" + src + "} " + std::to_string(c.batchesSent) + "\n";
  o += "# HELP d1sync_last_success_timestamp_seconds When D1 last accepted a batch.\n"
       "# TYPE d1sync_last_success_timestamp_seconds gauge\n";
  o += "d1sync_last_success_timestamp_seconds{" + src + "} " + number(c.lastSuccessAt / 1000.0) +
       "\n";
  o += "# HELP d1sync_pending_changes Captured changes D1 does not have yet.\n"
       "# TYPE d1sync_pending_changes gauge\n";
  o += "d1sync_pending_changes{" + src + "} " + std::to_string(live.pending) + "\n";
  double lag = live.pending > 0 && live.oldestAt > 0 ? (nowMs - live.oldestAt) / 1000.0 : 0.0;
  o += "# HELP d1sync_lag_seconds Age of the oldest change D1 does not have yet.\n"
       "# TYPE d1sync_lag_seconds gauge\n";
  o += "d1sync_lag_seconds{" + src + "} " + number(lag < 0 ? 0 : lag) + "\n";
  o += "# HELP d1sync_rows_total Rows written to D1.\n# TYPE d1sync_rows_total counter\n";
  o += "d1sync_rows_total{" + src + "} " + std::to_string(c.rowsReplicated) + "\n";
  o += "# HELP d1sync_quarantined Changes D1 refused for good.\n# TYPE d1sync_quarantined gauge\n";
  o += "d1sync_quarantined{" + src + "} " + std::to_string(live.quarantined) + "\n";
  return o;
}

std::string Engine::quarantinedJson() {
  auto r = local_.exec("SELECT tbl, key, code, error, at_ms FROM _d1sync_quarantine ORDER BY id");
  json out = json::array();
  if (!r.ok) return out.dump();
  for (size_t i = 0; i < r.rows.size(); ++i)
    out.push_back({{"table", r.rows.at(i, 0)},
                   {"key", r.rows.at(i, 1)},
                   {"code", r.rows.at(i, 2)},
                   {"error", r.rows.at(i, 3)},
                   {"at", std::strtoll(r.rows.at(i, 4).c_str(), nullptr, 10)}});
  return out.dump();
}

}  // namespace d1sync
