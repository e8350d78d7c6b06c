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

// O(1) in the backlog: sequence numbers above the watermark are contiguous (changesPage
// treats a gap as rows deleted behind d1sync's back and recopies), so the pending count is
// the newest sequence minus the watermark; the oldest pending change is the first row above
// the watermark, found through the primary key; the quarantined count is kept by the engine.
// Both reads are index seeks, never scans, however long the outbox is.
Engine::LiveFigures Engine::liveFigures() {
  LiveFigures f;
  if (quarantined_ < 0 && !countQuarantined()) {
    f.error = state_.counters.lastError;
    return f;
  }
  f.quarantined = quarantined_;
  std::string a = std::to_string(state_.appliedSeq);
  auto r = local_.exec(
      "SELECT (SELECT max(seq) FROM _d1sync_log), (SELECT at_ms FROM _d1sync_log WHERE seq>" + a +
      " ORDER BY seq LIMIT 1)");
  if (!r.ok) {
    f.error = "reading the outbox: " + r.error;
    return f;
  }
  f.captured = std::max(cellInt(r.rows, 0), state_.appliedSeq);
  f.pending = f.captured - state_.appliedSeq;
  f.oldestAt = cellInt(r.rows, 1);
  return f;
}

std::optional<int64_t> Engine::nextRunAt(int64_t nowMs) {
  return nextRunAt(nowMs, phase_ == Phase::Init ? LiveFigures{} : liveFigures());
}

// The one answer to "when should the host call next() again", for nextRetryAt() and health().
// Due work reports the time it was first seen due, so two calls a moment apart agree.
std::optional<int64_t> Engine::nextRunAt(int64_t nowMs, const LiveFigures& live) {
  if (phase_ == Phase::Failed) return {};
  if (retryAtMs_ != 0) return retryAtMs_;
  bool due = (phase_ != Phase::Running && !inspected_) || !initialSyncDone() || page_ ||
             needProbe_ || resyncAll_ || !resyncRequests_.empty() || live.pending > 0 ||
             !live.error.empty();
  if (!due) {
    dueSinceMs_ = 0;
    return {};
  }
  if (dueSinceMs_ == 0) dueSinceMs_ = nowMs;
  return dueSinceMs_;
}

std::string Engine::healthJson(int64_t nowMs) {
  LiveFigures live = phase_ == Phase::Init && !loaded_ ? LiveFigures{} : liveFigures();
  const Counters& c = state_.counters;
  std::string st;
  bool copying = false;
  for (const auto& [name, t] : state_.tables)
    if (t.phase != TablePhase::Live) copying = true;
  if (phase_ == Phase::Failed) {
    st = "error";
  } else if (retryAtMs_ > nowMs || backoff_.failures() > 0) {
    st = "backoff";
  } else if ((phase_ != Phase::Running && !inspected_) || copying || state_.hydrate.active) {
    st = "initial_sync";
  } else if (live.pending > 0 || page_) {
    st = "streaming";
  } else {
    st = "idle";
  }
  json tables = json::object();
  for (const auto& [name, t] : state_.tables)
    tables[name] = {{"copied", t.copied}, {"total", t.total}, {"phase", phaseName(t.phase)}};
  const bool known = live.error.empty();
  auto figure = [&](int64_t v) { return known ? json(v) : json(nullptr); };
  auto next = nextRunAt(nowMs, live);
  json h = {
      {"state", st},
      // Quarantined changes are missing from D1 until someone looks at them; figures that
      // could not be read are no sign of health either.
      {"healthy", st != "error" && st != "backoff" && live.quarantined == 0 && known},
      {"sourceId", state_.sourceId},
      {"lastSyncAt", c.lastSyncAt},
      {"lastSuccessAt", c.lastSuccessAt},
      {"lastError", c.lastError.empty() ? json(nullptr) : json(c.lastError)},
      {"lastErrorCode", c.lastErrorCode.empty() ? json(nullptr) : json(c.lastErrorCode)},
      {"totalSyncs", c.totalSyncs},
      {"syncErrors", c.syncErrors},
      {"errorRate", c.totalSyncs ? static_cast<double>(c.syncErrors) / c.totalSyncs : 0.0},
      {"retries", c.retries},
      {"pendingChanges", figure(live.pending)},
      {"quarantined", figure(live.quarantined)},
      {"lagMs",
       figure(live.pending > 0 && live.oldestAt > 0 ? std::max<int64_t>(0, nowMs - live.oldestAt)
                                                    : 0)},
      {"capturedSeq", figure(live.captured)},
      {"appliedSeq", state_.appliedSeq},
      {"rowsReplicated", c.rowsReplicated},
      {"statementsSent", c.statementsSent},
      {"batchesSent", c.batchesSent},
      {"bytesSent", c.bytesSent},
      {"d1RowsRead", c.d1RowsRead},
      {"d1RowsWritten", c.d1RowsWritten},
      {"rowsHydrated", c.rowsHydrated + state_.hydrate.rows},
      {"lastVerifiedAt", c.lastVerifiedAt ? json(c.lastVerifiedAt) : json(nullptr)},
      {"lastVerifyEqual", c.lastVerifiedAt ? json(c.lastVerifyEqual) : json(nullptr)},
      {"epoch", state_.epoch},
      {"nextRetryAt", next ? json(*next) : json(nullptr)},
      {"warnings", warnings_},
      // Batches prepared while the one before was in flight, how many were sent as prepared
      // (the rest were read again), and how many of those went before the answer to the one
      // before (lookAhead 2): since this engine started.
      {"lookAhead",
       {{"prepared", aheadPrepared_}, {"used", aheadUsed_}, {"sentBeforeAnswer", aheadSent_}}},
      {"initialSync", {{"done", initialSyncDone()}, {"tables", tables}}},
  };
  if (!known) h["error"] = "health figures unavailable: " + live.error;
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
  if (!live.error.empty()) {
    // Unknown figures are left out rather than reported as zeros.
    std::string why = live.error;
    for (char& ch : why)
      if (ch == '\n') ch = ' ';
    o += "# d1sync: pending, lag and quarantined figures unavailable: " + why + "\n";
  }
  o += "# HELP d1sync_sync_duration_seconds Time from sending a batch to D1's answer.\n"
       "# TYPE d1sync_sync_duration_seconds summary\n";
  o += "d1sync_sync_duration_seconds_sum{" + src + "} " + number(c.syncSecondsSum) + "\n";
  o += "d1sync_sync_duration_seconds_count{" + src + "} " + std::to_string(c.batchesSent) + "\n";
  o += "# HELP d1sync_last_success_timestamp_seconds When D1 last accepted a batch.\n"
       "# TYPE d1sync_last_success_timestamp_seconds gauge\n";
  o += "d1sync_last_success_timestamp_seconds{" + src + "} " + number(c.lastSuccessAt / 1000.0) +
       "\n";
  const bool known = live.error.empty();
  o += "# HELP d1sync_pending_changes Captured changes D1 does not have yet.\n"
       "# TYPE d1sync_pending_changes gauge\n";
  if (known) o += "d1sync_pending_changes{" + src + "} " + std::to_string(live.pending) + "\n";
  double lag = live.pending > 0 && live.oldestAt > 0 ? (nowMs - live.oldestAt) / 1000.0 : 0.0;
  o += "# HELP d1sync_lag_seconds Age of the oldest change D1 does not have yet.\n"
       "# TYPE d1sync_lag_seconds gauge\n";
  if (known) o += "d1sync_lag_seconds{" + src + "} " + number(lag < 0 ? 0 : lag) + "\n";
  o += "# HELP d1sync_rows_total Rows written to D1.\n# TYPE d1sync_rows_total counter\n";
  o += "d1sync_rows_total{" + src + "} " + std::to_string(c.rowsReplicated) + "\n";
  o += "# HELP d1sync_d1_rows_read_total Rows D1 reported reading for the batches it "
       "committed.\n# TYPE d1sync_d1_rows_read_total counter\n";
  o += "d1sync_d1_rows_read_total{" + src + "} " + std::to_string(c.d1RowsRead) + "\n";
  o += "# HELP d1sync_d1_rows_written_total Rows D1 reported writing for the batches it "
       "committed.\n# TYPE d1sync_d1_rows_written_total counter\n";
  o += "d1sync_d1_rows_written_total{" + src + "} " + std::to_string(c.d1RowsWritten) + "\n";
  // Only once a verify ran: no family is left without samples.
  if (c.lastVerifiedAt)
    o += "# HELP d1sync_verify_differences Keys the last verify() found differing between the "
         "local database and D1.\n# TYPE d1sync_verify_differences gauge\n"
         "d1sync_verify_differences{" +
         src + "} " + std::to_string(c.lastVerifyDifferences) + "\n";
  o += "# HELP d1sync_quarantined Changes D1 refused for good.\n# TYPE d1sync_quarantined gauge\n";
  if (known) o += "d1sync_quarantined{" + src + "} " + std::to_string(live.quarantined) + "\n";
  return o;
}

std::string Engine::quarantinedJson(int64_t after, size_t limit) {
  auto r = local_.exec("SELECT id, tbl, key, code, error, at_ms FROM _d1sync_quarantine WHERE id>" +
                       std::to_string(after) + " ORDER BY id" +
                       (limit ? " LIMIT " + std::to_string(limit) : std::string()));
  json out = json::array();
  if (!r.ok) {
    // An error, not an empty list that reads as "nothing quarantined".
    return json({{"error", "reading _d1sync_quarantine: " + r.error}}).dump();
  }
  for (size_t i = 0; i < r.rows.size(); ++i)
    out.push_back({{"id", std::strtoll(r.rows.at(i, 0).c_str(), nullptr, 10)},
                   {"table", r.rows.at(i, 1)},
                   {"key", r.rows.at(i, 2)},
                   {"code", r.rows.at(i, 3)},
                   {"error", r.rows.at(i, 4)},
                   {"at", std::strtoll(r.rows.at(i, 5).c_str(), nullptr, 10)}});
  return out.dump();
}

}  // namespace d1sync
